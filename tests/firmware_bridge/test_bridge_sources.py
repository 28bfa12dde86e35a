"""Tests of firmware_bridge/sources.py: SampleChunk, chunk merging, link status, backoff."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.errors import ConfigError
from firmware_bridge.protocol import EncoderConfig, FrameEncoder
from firmware_bridge.sources import (
    Backoff,
    LinkMonitor,
    LinkState,
    SampleChunk,
    chunk_to_mv,
    frames_to_chunks,
)


def chunk(**kw):
    args = dict(sample_index=10, samples=np.array([[1224, 824]], np.int32), fs_hz=360.0,
                adc_gain=(200.0, 400.0), baseline=(1024, 24), t_host_s=1.0)
    args.update(kw)
    return SampleChunk(**args)


def test_chunk_to_mv_and_properties():
    c = chunk()
    np.testing.assert_allclose(chunk_to_mv(c), [[1.0, 2.0]])
    assert (c.n_samples, c.n_channels, c.end_index) == (1, 2, 11)


def test_the_wire_formats_invalid_value_reads_as_nan():
    """A sample holding the format's invalid value is missing signal (NaN), not -164 mV."""
    from firmware_bridge.protocol import SampleFormat

    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(0, 0),
                                     samples_per_frame=4))
    x = np.array([[100, 5], [-32768, 6], [-32767, 7], [8, -32768]], np.int32)
    frames = FrameDecoder().process(b"".join(enc.process(x)))
    (c,) = frames_to_chunks(frames, t_host_s=0.0)
    assert c.invalid_value == SampleFormat.INT16.invalid_value == -32768
    mv = chunk_to_mv(c)
    assert np.isnan(mv[1, 0]) and np.isnan(mv[3, 1]) and np.isfinite(mv).sum() == 6
    assert mv[2, 0] == -32767 / 200.0
    assert np.isfinite(chunk_to_mv(chunk(samples=np.array([[-32768, 0]], np.int32)))).all()


@pytest.mark.parametrize("kw, field", [
    (dict(samples=np.zeros((2, 2), np.int64)), "samples"),
    (dict(samples=np.zeros(3, np.int32)), "samples"),
    (dict(adc_gain=(1.0,)), "adc_gain"),
    (dict(baseline=(1, 2, 3)), "baseline"),
    (dict(gap_samples=-1), "gap_samples"),
    (dict(fs_hz=0.0), "fs_hz"),
])
def test_chunk_validation_names_field(kw, field):
    with pytest.raises(ConfigError) as info:
        chunk(**kw)
    assert info.value.field == field


def test_frames_to_chunks_merges_contiguous_and_splits_on_gap():
    x = np.arange(360 * 2, dtype=np.int32).reshape(360, 2)
    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(0, 0),
                                     samples_per_frame=36))
    frames = enc.process(x)
    dec = FrameDecoder()
    decoded = dec.process(b"".join(frames[:4] + frames[6:]))
    chunks = frames_to_chunks(decoded, t_host_s=5.0)
    assert [(c.sample_index, c.n_samples, c.gap_samples) for c in chunks] == \
        [(0, 144, 0), (216, 144, 72)]
    assert chunks[1].sample_index == chunks[0].end_index + chunks[1].gap_samples
    assert all(c.t_host_s == 5.0 for c in chunks)
    assert frames_to_chunks([], 0.0) == []


def test_link_monitor_events_and_counters():
    seen = []
    mon = LinkMonitor("x", on_event=seen.append, max_events=3)
    for s in (LinkState.CONNECTING, LinkState.CONNECTED, LinkState.CONNECTED,
              LinkState.RECONNECTING, LinkState.CONNECTED):
        mon.set(s)
    assert [e.state for e in seen] == [LinkState.CONNECTING, LinkState.CONNECTED,
                                       LinkState.RECONNECTING, LinkState.CONNECTED]
    assert len(mon.drain()) == 3 and mon.drain() == []  # bounded queue
    assert mon.stats.connects == 2 and mon.stats.disconnects == 1


@pytest.mark.parametrize("state, expected, level", [
    (LinkState.RECONNECTING, False, logging.WARNING),   # link lost: retrying
    (LinkState.DISCONNECTED, False, logging.WARNING),   # link lost for good / gave up
    (LinkState.DISCONNECTED, True, logging.INFO),       # the stream ended normally
    (LinkState.CLOSED, False, logging.INFO),
])
def test_link_monitor_log_level(caplog, state, expected, level):
    mon = LinkMonitor("x")
    mon.set(LinkState.CONNECTED)
    with caplog.at_level(logging.DEBUG, logger="firmware_bridge.sources"):
        mon.set(state, "why", expected=expected)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == \
        [(level, f"x: connected -> {state.value} why")]


def test_backoff_doubles_up_to_max_and_resets():
    b = Backoff(initial_s=0.1, max_s=0.5, factor=2.0)
    assert [b.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.next_delay() == 0.1
