"""Tests of firmware_bridge/serial_source.py: timeouts, backoff, reconnect (fake + pty)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import serial

from firmware_bridge.errors import ConfigError, LinkError, SourceClosedError
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import EncoderConfig, FrameEncoder
from firmware_bridge.replay import ReplayConfig, start_replay
from firmware_bridge.serial_source import SerialConfig, SerialSource
from firmware_bridge.sources import LinkState, SampleSource


class FakePort:
    """Serial-like object serving a byte string, then failing like an unplugged device."""

    def __init__(self, data: bytes, fail_at_end: bool = True, timeout: float = 0.02):
        self.data = bytearray(data)
        self.fail_at_end = fail_at_end
        self.timeout = timeout
        self.closed = False

    @property
    def in_waiting(self):
        return len(self.data)

    def read(self, n):
        if not self.data:
            if self.fail_at_end:
                raise serial.SerialException("device reports readiness to read but returned "
                                             "no data (device disconnected?)")
            time.sleep(self.timeout)
            return b""
        out, self.data = bytes(self.data[:n]), self.data[n:]
        return out

    def close(self):
        self.closed = True


def frames(n=720, start=0):
    x = np.random.default_rng(start).integers(0, 2048, (n, 2)).astype(np.int32)
    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0),
                                     baseline=(1024, 1024), first_sample_index=start))
    return x, b"".join(enc.process(x) + enc.flush())


def test_config_validation():
    for kw, field in [(dict(port=""), "port"), (dict(read_timeout_s=0), "read_timeout_s"),
                      (dict(backoff_initial_s=0), "backoff_initial_s"),
                      (dict(backoff_max_s=0.01), "backoff_max_s"),
                      (dict(max_reconnect_attempts=0), "max_reconnect_attempts")]:
        args = dict(port="/dev/null")
        args.update(kw)
        with pytest.raises(ConfigError) as info:
            SerialConfig(**args)
        assert info.value.field == field


def test_reconnects_with_backoff_and_reports_the_gap():
    x1, b1 = frames(720, 0)
    x2, b2 = frames(360, 1080)  # 360 samples lost while unplugged
    plan = [FakePort(b1), OSError("no such device"), OSError("no such device"),
            FakePort(b2, fail_at_end=False)]
    opened = []

    def factory(cfg):
        item = plan.pop(0) if plan else FakePort(b"", fail_at_end=False)
        opened.append(time.monotonic())
        if isinstance(item, Exception):
            raise item
        return item

    src = SerialSource(SerialConfig(port="fake", backoff_initial_s=0.02, backoff_max_s=0.1),
                       serial_factory=factory)
    assert isinstance(src, SampleSource)
    chunks = []
    with src:
        end = time.monotonic() + 5
        while sum(c.n_samples for c in chunks) < 1080 and time.monotonic() < end:
            chunks += src.read(0.05)
        events = [e.state for e in src.drain_events()]
    assert events == [LinkState.CONNECTING, LinkState.CONNECTED, LinkState.RECONNECTING,
                      LinkState.CONNECTED]
    assert src.drain_events()[-1].state is LinkState.CLOSED
    gaps = [(c.sample_index, c.gap_samples) for c in chunks if c.gap_samples]
    assert gaps == [(1080, 360)]
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]),
                                  np.concatenate([x1, x2]))
    assert np.diff(opened).min() >= 0.015  # backoff between attempts
    assert src.link_stats.reconnect_attempts == 2 and src.link_stats.connects == 2


def test_open_failure_without_reconnect_raises_link_error():
    def factory(cfg):
        raise serial.SerialException("could not open port")

    src = SerialSource(SerialConfig(port="/dev/nope", reconnect=False), serial_factory=factory)
    with pytest.raises(LinkError) as info:
        src.open()
    assert info.value.port == "/dev/nope" and src.finished


def test_read_never_blocks_past_its_timeout_and_close_from_another_thread():
    src = SerialSource(SerialConfig(port="fake", read_timeout_s=0.05),
                       serial_factory=lambda cfg: FakePort(b"", fail_at_end=False))
    src.open()
    t0 = time.monotonic()
    assert src.read(0.2) == []
    assert 0.15 <= time.monotonic() - t0 < 0.4
    threading.Timer(0.1, src.close).start()
    t0 = time.monotonic()
    for _ in src:  # iteration ends when closed
        pass
    assert time.monotonic() - t0 < 1.0 and src.state is LinkState.CLOSED
    with pytest.raises(SourceClosedError):
        src.read()


def test_pty_disconnect_and_reconnect_through_link(mitdb_dir, record100, tmp_path):
    """The simulator closes its pty mid-stream and re-opens a new one behind --link."""
    link = tmp_path / "ecg-link"
    cfg = ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=None, duration_s=40,
                       faults=FaultConfig(disconnect_after_s=20.0, reconnect_after_s=0.3))
    with start_replay(cfg, link_path=link) as handle:
        with SerialSource(SerialConfig(port=str(link), backoff_initial_s=0.02)) as src:
            chunks, idle = [], time.monotonic()
            while time.monotonic() - idle < 1.0:
                got = src.read(0.1)
                if got:
                    chunks += got
                    idle = time.monotonic()
            events = [e.state for e in src.drain_events()]
            gaps = src.decoder_stats.gaps
        assert handle.stats.disconnects == 1 and handle.stats.reconnects == 1
    assert events == [LinkState.CONNECTING, LinkState.CONNECTED, LinkState.RECONNECTING,
                      LinkState.CONNECTED]
    assert gaps == 1
    for prev, c in zip(chunks, chunks[1:]):
        assert c.sample_index == prev.end_index + c.gap_samples
    for c in chunks:
        np.testing.assert_array_equal(c.samples, record100.adc[c.sample_index:c.end_index])
    assert chunks[0].sample_index == 0 and chunks[-1].end_index == 40 * 360
    lost = [c.gap_samples for c in chunks if c.gap_samples][0]
    assert lost >= 0.3 * 360  # at least the outage itself
