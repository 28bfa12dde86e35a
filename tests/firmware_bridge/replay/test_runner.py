"""Tests of firmware_bridge/replay/runner.py: pacing the simulated device onto a real pty.

Must-show items covered here: record 100 through the pty into SerialSource -- exact ADC
samples in order at real time (rate within 1 %, on an 8 s excerpt) and as fast as possible
(whole 30 min record); a fault-injection run (BER 1e-4, 1 % dropped frames, garbage bursts,
a disconnect) through the pty with reconnection via the --link symlink; the bytes on the pty
are exactly the device's items.
"""
from __future__ import annotations

import time

import numpy as np

from firmware_bridge.faults import FaultConfig
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice
from firmware_bridge.replay.runner import start_replay
from firmware_bridge.replay.spawn import spawn_replay
from firmware_bridge.serial_source import SerialConfig, SerialSource
from firmware_bridge.sources import LinkState
from tests.firmware_bridge.replay.support import check_consistent, drain, read_until_idle


def test_pty_round_trip_real_time_rate(mitdb_dir, record100):
    """8 s of record 100 at --speed 1: exact samples, rate within 1 % of 360 Hz."""
    with spawn_replay(["100", "--data-dir", str(mitdb_dir), "--speed", "1",
                       "--duration-s", "8"]) as proc:
        assert proc.device_path.startswith("/dev/")
        with SerialSource(SerialConfig(port=proc.device_path)) as src:
            chunks = drain(src, n_expected=8 * 360, limit_s=30)
    got = np.concatenate([c.samples for c in chunks])
    np.testing.assert_array_equal(got, record100.adc[:8 * 360])
    assert chunks[0].sample_index == 0 and all(c.gap_samples == 0 for c in chunks)
    ends = np.array([c.end_index for c in chunks], float)
    t = np.array([c.t_host_s for c in chunks])
    rate_hz = np.polyfit(t, ends, 1)[0]
    assert abs(rate_hz / 360.0 - 1.0) < 0.01, rate_hz
    assert abs((t[-1] - t[0]) - (ends[-1] - ends[0]) / 360.0) < 0.08


def test_pty_round_trip_as_fast_as_possible_whole_record(mitdb_dir, record100):
    n = record100.adc.shape[0]
    t0 = time.monotonic()
    with spawn_replay(["100", "--data-dir", str(mitdb_dir), "--speed", "max"]) as proc:
        with SerialSource(SerialConfig(port=proc.device_path)) as src:
            chunks = drain(src, n_expected=n, limit_s=60)
            stats = src.decoder_stats
    elapsed = time.monotonic() - t0
    got = np.concatenate([c.samples for c in chunks])
    np.testing.assert_array_equal(got, record100.adc)
    assert stats.gaps == 0 and stats.bytes_discarded == 0
    assert elapsed < 30  # 30 min of signal in well under a minute (about 1-2 s here)


def test_fault_injection_through_the_pty(mitdb_dir, record100, tmp_path):
    link = tmp_path / "ecg0"
    args = ["100", "--data-dir", str(mitdb_dir), "--speed", "max", "--duration-s", "120",
            "--ber", "1e-4", "--drop-frames", "0.01", "--garbage-bursts", "1",
            "--disconnect-after-s", "60", "--reconnect-after-s", "0.3", "--seed", "11",
            "--link", str(link)]
    with spawn_replay(args) as proc:
        with SerialSource(SerialConfig(port=str(link), backoff_initial_s=0.02)) as src:
            chunks = drain(src, n_expected=None, idle_s=1.5, limit_s=60)
            events = [e.state for e in src.drain_events()]
            dstats, lstats = src.decoder_stats, src.link_stats
        assert proc.process.poll() is None  # the simulator did not crash either
    check_consistent(chunks, record100.adc)
    delivered = sum(c.n_samples for c in chunks)
    span = chunks[-1].end_index - chunks[0].sample_index
    assert delivered + dstats.samples_lost == span
    assert chunks[-1].end_index == 120 * 360
    assert dstats.frames_rejected + dstats.headers_rejected > 0 and dstats.gaps > 5
    assert events[-2:] == [LinkState.RECONNECTING, LinkState.CONNECTED]
    assert lstats.connects == 2 and lstats.disconnects == 1


def test_bytes_on_the_pty_are_the_devices_items(mitdb_dir):
    """start_replay writes exactly the frames (after faults) the device yields, in order."""
    cfg = ReplayConfig(record="100", data_dir=str(mitdb_dir), speed=None, duration_s=30,
                       seed=4, faults=FaultConfig(ber=1e-4, drop_frame_prob=0.02,
                                                  garbage_bursts_per_s=1.0))
    items = list(ReplayDevice(cfg).items())
    expected = b"".join(it.data for it in items)
    with start_replay(cfg) as handle:
        got = read_until_idle(handle.device_path)
        assert handle.wait(5.0) and handle.error is None
        stats = handle.stats
    assert got == expected
    assert stats.bytes_written == len(expected) and stats.frames_generated == 300
    assert stats.faults["frames_dropped"] > 0 and stats.faults["garbage_bursts"] > 0
    # a dropped frame still puts its garbage burst, if any, on the wire
    assert stats.frames_written == sum(1 for it in items if it.data)
