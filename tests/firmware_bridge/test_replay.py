"""Tests of firmware_bridge/replay.py: the simulated device through a real pty.

Must-show items covered here: record 100 through the pty into SerialSource -- exact ADC
samples in order at real time (rate within 1 %, on an 8 s excerpt) and as fast as possible
(whole 30 min record); a fault-injection run (BER 1e-4, 1 % dropped frames, garbage bursts,
a disconnect) through the pty with reconnection via the --link symlink.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from firmware_bridge.errors import ConfigError, ReplayError
from firmware_bridge.replay import (
    ReplayConfig,
    build_arg_parser,
    config_from_args,
    load_replay_signal,
    spawn_replay,
)
from firmware_bridge.serial_source import SerialConfig, SerialSource
from firmware_bridge.sources import LinkState


def drain(src, n_expected=None, idle_s=1.0, limit_s=60.0):
    """Read until n_expected samples arrived, or nothing came for idle_s."""
    chunks, last = [], time.monotonic()
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        got = src.read(0.1)
        if got:
            chunks += got
            last = time.monotonic()
            if n_expected is not None and sum(c.n_samples for c in chunks) >= n_expected:
                break
        elif time.monotonic() - last > idle_s:
            break
    return chunks


def check_consistent(chunks, adc):
    """Every delivered sample is the record's; every gap is reported in samples."""
    for prev, c in zip(chunks, chunks[1:]):
        assert c.sample_index == prev.end_index + c.gap_samples
    for c in chunks:
        np.testing.assert_array_equal(c.samples, adc[c.sample_index:c.end_index])


@pytest.mark.parametrize("kw, field", [
    (dict(start_s=-1.0), "start_s"), (dict(duration_s=0.0), "duration_s"),
    (dict(channels=(0, 0)), "channels"), (dict(fs_hz=0.5), "fs_hz"),
    (dict(speed=0.0), "speed"), (dict(device_id=1 << 16), "device_id"),
    (dict(samples_per_frame=256), "samples_per_frame"),
])
def test_config_validation(kw, field):
    with pytest.raises(ConfigError) as info:
        ReplayConfig(record="100", **kw)
    assert info.value.field == field


def test_cli_arguments_map_to_config():
    ns = build_arg_parser().parse_args(
        ["100", "--speed", "max", "--start-s", "5", "--duration-s", "10", "--channels", "1",
         "--fs-hz", "250", "--loop", "--ber", "1e-4", "--drop-bytes", "0.001",
         "--drop-frames", "0.01", "--garbage-bursts", "0.5", "--disconnect-after-s", "3",
         "--reconnect-after-s", "0.5", "--seed", "7", "--format", "int24"])
    cfg = config_from_args(ns)
    assert cfg.speed is None and cfg.channels == (1,) and cfg.loop and cfg.fs_hz == 250.0
    assert cfg.faults.ber == 1e-4 and cfg.faults.drop_frame_prob == 0.01
    assert cfg.faults.disconnect_after_s == 3.0 and cfg.seed == 7
    assert config_from_args(build_arg_parser().parse_args(["100", "--speed", "10"])).speed == 10


def test_resampled_signal_emulates_a_250hz_wearable(mitdb_dir, record100):
    sig = load_replay_signal(ReplayConfig(record="100", data_dir=str(mitdb_dir), start_s=10,
                                          duration_s=4, fs_hz=250, channels=(1,)))
    assert sig.fs_hz == 250.0 and sig.adc.shape == (1000, 1) and sig.first_index == 2500
    assert sig.adc_gain == (200.0,) and sig.baseline == (1024,)
    ref = record100.adc[3600:5040, 1].astype(float)
    assert abs(sig.adc[:, 0].mean() - ref.mean()) < 5  # same signal, new rate


def test_missing_record_is_a_replay_error(mitdb_dir):
    with pytest.raises(ReplayError, match="999"):
        load_replay_signal(ReplayConfig(record="999", data_dir=str(mitdb_dir)))
    run = subprocess.run([sys.executable, "-m", "firmware_bridge.replay", "999",
                          "--data-dir", str(mitdb_dir)], capture_output=True, timeout=60)
    assert run.returncode == 2 and b"999" in run.stderr and run.stdout == b""


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
