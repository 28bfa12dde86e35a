"""Tests of firmware_bridge/replay_source.py: the in-process replay source."""
from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from firmware_bridge.errors import SourceClosedError
from firmware_bridge.faults import FaultConfig
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay_source import ReplaySource
from firmware_bridge.sources import LinkState, SampleSource


def test_exact_replay_and_iteration_end(mitdb_dir, record100):
    src = ReplaySource(ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=None,
                                    start_s=60, duration_s=100, channels=(1,)))
    assert isinstance(src, SampleSource)
    with src:
        chunks = list(src)
    got = np.concatenate([c.samples for c in chunks])
    np.testing.assert_array_equal(got, record100.adc[21600:21600 + 36000, 1:2])
    assert chunks[0].sample_index == 21600
    assert src.state is LinkState.CLOSED
    with pytest.raises(SourceClosedError):
        src.read()


def test_faults_every_frame_correct_every_gap_reported_resync_within_one_frame(
        mitdb_dir, record100):
    faults = FaultConfig(ber=1e-4, drop_byte_prob=1e-5, drop_frame_prob=0.01,
                         garbage_bursts_per_s=2.0, disconnect_after_s=300.0,
                         reconnect_after_s=0.05)
    src = ReplaySource(ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=None,
                                    duration_s=600, faults=faults, seed=5))
    with src:
        chunks = []
        while not src.finished:
            chunks += src.read(0.1)
        events = [e.state for e in src.drain_events()]
    dev, dec = src.device.stats, src.decoder_stats
    fstats = src.device.injector.stats
    for prev, c in zip(chunks, chunks[1:]):
        assert c.sample_index == prev.end_index + c.gap_samples
    for c in chunks:
        np.testing.assert_array_equal(c.samples, record100.adc[c.sample_index:c.end_index])
    delivered = sum(c.n_samples for c in chunks)
    assert delivered + dec.samples_lost == chunks[-1].end_index - chunks[0].sample_index
    # resync within one frame: every frame that left the device intact was decoded
    intact = fstats.frames_in - fstats.frames_dropped - fstats.frames_damaged
    assert dec.frames_ok == intact
    assert fstats.garbage_bursts > 500 and fstats.frames_damaged > 100
    assert dev.disconnects == 1 and dev.frames_lost_disconnected >= 1
    assert LinkState.RECONNECTING in events and events[-1] is LinkState.DISCONNECTED


def test_real_time_pacing(mitdb_dir):
    src = ReplaySource(ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=10.0,
                                    duration_s=10))
    t0 = time.monotonic()
    with src:
        n = sum(c.n_samples for c in src)
    assert n == 3600
    assert 0.9 <= time.monotonic() - t0 <= 1.5


def test_normal_end_is_info_and_a_disconnect_stays_a_warning(mitdb_dir, caplog):
    """The end of the record is not a fault (it was logged as a WARNING); the simulated
    disconnect is, and stays one."""
    faults = FaultConfig(disconnect_after_s=2.0, reconnect_after_s=0.01)
    src = ReplaySource(ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=None,
                                    duration_s=4, faults=faults))
    with caplog.at_level(logging.INFO, logger="firmware_bridge.sources"), src:
        while not src.finished:
            src.read(0.1)
        assert src.state is LinkState.DISCONNECTED
    link = [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "firmware_bridge.sources"]
    assert (logging.WARNING, "replay:100: connected -> reconnecting simulated disconnect") \
        in link
    assert (logging.INFO, "replay:100: connected -> disconnected end of record") in link
    assert [m for lv, m in link if lv >= logging.WARNING] == \
        ["replay:100: connected -> reconnecting simulated disconnect"]


def test_clock_origin_is_unknown_until_the_clock_has_started(mitdb_dir, monkeypatch):
    """A thread waiting for ``clock_origin_s`` (the alarm-path benchmark, a scheduler) must
    never read a value before ``open`` has started the clock: it used to see 0.0 while the
    device was being built, which put the benchmark's steady-state latencies 15 h out."""
    from firmware_bridge.replay import device as device_mod

    src = ReplaySource(ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=1.0,
                                    duration_s=10))
    seen = []
    items = device_mod.ReplayDevice.items

    def spy(self):
        seen.append(src.clock_origin_s)  # open() is half done here
        return items(self)
    monkeypatch.setattr(device_mod.ReplayDevice, "items", spy)
    assert src.clock_origin_s is None
    before = time.monotonic()
    src.open()
    assert seen == [None]
    assert before <= src.clock_origin_s <= time.monotonic()
    src.close()
