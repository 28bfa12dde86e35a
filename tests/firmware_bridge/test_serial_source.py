"""Tests of firmware_bridge/serial_source.py: timeouts, backoff, reconnect -- on pyserial's own
``loop://`` port (``serial.serial_for_url("loop://")``: the real pyserial code path, bytes in
a queue) and on the simulator's pty."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import serial
from serial.urlhandler import protocol_loop

from firmware_bridge.errors import ConfigError, LinkError, SourceClosedError
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import EncoderConfig, FrameEncoder
from firmware_bridge.replay import ReplayConfig, start_replay
from firmware_bridge.serial_source import SerialConfig, SerialSource
from firmware_bridge.sources import LinkState, SampleSource


class UnpluggedLoop(protocol_loop.Serial):
    """pyserial's ``loop://`` port that, once everything written to it has been read, fails
    the next read as a vanished USB device does on Linux.

    The one fake left here: ``loop://`` cannot express an unplug (an empty loop port only
    times out), so only that error is injected; opening, reading and timeouts are pyserial's.
    """

    def read(self, size: int = 1) -> bytes:
        if self.is_open and self.in_waiting == 0:
            raise serial.SerialException("device reports readiness to read but returned no "
                                         "data (device disconnected or multiple access on "
                                         "port?)")
        return super().read(size)


def loop_port(config: SerialConfig, data: bytes = b"", *, unplug_at_end: bool = False):
    """A ``loop://`` port opened with the source's settings, holding ``data`` (what the
    wearable sent). With ``unplug_at_end`` the device is unplugged once ``data`` was read."""
    if unplug_at_end:
        port = UnpluggedLoop(None, baudrate=config.baudrate, timeout=config.read_timeout_s)
        port.port = "loop://"
    else:
        port = serial.serial_for_url("loop://", do_not_open=True, baudrate=config.baudrate,
                                     timeout=config.read_timeout_s)
    port.buffer_size = len(data) + 4096  # loop:// blocks a writer beyond its buffer
    port.open()
    port.write(data)
    return port


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


def test_reconnects_with_backoff_and_reports_the_gap(tmp_path):
    x1, b1 = frames(720, 0)
    x2, b2 = frames(360, 1080)  # 360 samples lost while unplugged
    gone = str(tmp_path / "ttyACM0")  # the device node while unplugged: opening it fails
    plan = [(b1, True), gone, gone, (b2, False)]
    opened = []

    def factory(cfg):
        item = plan.pop(0) if plan else (b"", False)
        opened.append(time.monotonic())
        if isinstance(item, str):
            return serial.serial_for_url(item, timeout=cfg.read_timeout_s)  # raises
        data, unplug = item
        return loop_port(cfg, data, unplug_at_end=unplug)

    src = SerialSource(SerialConfig(port="loop://", backoff_initial_s=0.02, backoff_max_s=0.1),
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


def test_frames_arriving_in_pieces_on_loop_are_decoded_whole():
    """A wearable writes while the source reads: frames split at any byte come out whole."""
    x, data = frames(720, 0)
    cfg = SerialConfig(port="loop://", read_timeout_s=0.02, max_read_bytes=97)
    port = loop_port(cfg)

    def wearable():
        for k in range(0, len(data), 301):
            port.write(data[k:k + 301])
            time.sleep(0.002)

    src = SerialSource(cfg, serial_factory=lambda c: port)
    writer = threading.Thread(target=wearable)
    chunks = []
    with src:
        writer.start()
        end = time.monotonic() + 5
        while sum(c.n_samples for c in chunks) < 720 and time.monotonic() < end:
            chunks += src.read(0.05)
        writer.join()
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), x)
    assert src.decoder_stats.gaps == 0 and src.link_stats.bytes_received == len(data)


def test_open_failure_without_reconnect_raises_link_error(tmp_path):
    missing = str(tmp_path / "ttyUSB7")  # pyserial's own "could not open port"
    src = SerialSource(SerialConfig(port=missing, reconnect=False))
    with pytest.raises(LinkError) as info:
        src.open()
    assert info.value.port == missing and src.finished
    assert "could not open port" in str(info.value)


def test_read_never_blocks_past_its_timeout_and_close_from_another_thread():
    src = SerialSource(SerialConfig(port="loop://", read_timeout_s=0.05))  # serial_for_url
    src.open()
    t0 = time.monotonic()
    assert src.read(0.2) == []
    assert 0.15 <= time.monotonic() - t0 < 0.4
    threading.Timer(0.1, src.close).start()
    t0 = time.monotonic()
    for _ in src:  # iteration ends when closed (close cancels the pending loop:// read)
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


def test_a_path_that_can_never_be_a_serial_port_is_refused_at_open(tmp_path):
    """Audit (session 49): a regular file or a folder as the port was retried for ever
    ("Inappropriate ioctl for device"); a missing path is still waited for."""
    from firmware_bridge.serial_source import port_problem

    (tmp_path / "file").write_text("")
    assert port_problem(str(tmp_path / "file")).startswith("not a device")
    assert port_problem(str(tmp_path)).startswith("a folder")
    assert port_problem(str(tmp_path / "missing")) is None
    assert port_problem("/dev/null") is None  # a character device
    for port in (tmp_path / "file", tmp_path):
        with pytest.raises(LinkError, match="not a serial port"):
            SerialSource(SerialConfig(port=str(port))).open()
