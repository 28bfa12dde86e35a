"""Tests of firmware_bridge/replay/cli.py: the ``ecg-sim`` command line.

The golden digests are of the raw bytes ``python -m firmware_bridge.replay`` wrote to its pty,
taken from the single-module ``firmware_bridge/replay.py`` before the split into a package.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.replay import main as package_main
from firmware_bridge.replay.cli import build_arg_parser, config_from_args, main, parse_speed
from firmware_bridge.replay.spawn import spawn_replay
from tests.firmware_bridge.replay.support import read_until_idle


def ecg_sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware_bridge.replay", *args],
                          capture_output=True, text=True, timeout=60)


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
    assert config_from_args(build_arg_parser().parse_args(["100"])).speed == 1.0


@pytest.mark.parametrize("text, speed", [("max", None), ("MAX", None), (" Max ", None),
                                         ("1", 1.0), ("0.25", 0.25), ("1e3", 1000.0)])
def test_speed_max_is_the_spelling_for_as_fast_as_possible(text, speed):
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["0", "0.0", "-1", "-0", "nan", "inf", "fast", ""])
def test_speed_zero_negative_nan_is_an_error_not_max(text):
    # before: "0" (and "inf") silently meant max, while `ecg-edge demo --speed 0` is an error
    with pytest.raises(ConfigError) as info:
        parse_speed(text)
    assert info.value.field == "--speed" and "'max'" in str(info.value)


def test_speed_zero_exits_2_with_one_line(mitdb_dir):
    run = ecg_sim("100", "--data-dir", str(mitdb_dir), "--speed", "0")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        "ecg-sim: error: --speed: must be a number > 0 (1 = real time) or 'max' (as fast as "
        "possible), got '0'"]


@pytest.mark.parametrize("argv,said", [
    (["--drop-frames", "2"], "--drop-frames: must be a probability in [0, 1.0], got 2.0"),
    (["--fs-hz", "0"], "--fs-hz: must be 1..100000 Hz, got 0.0"),
    (["--duration-s", "-1"], "--duration-s: must be > 0 s, got -1.0"),
])
def test_a_wrong_option_is_named_as_typed(mitdb_dir, argv, said):
    """Session 48 audit: errors named the fields (``drop_frame_prob``) and offered None."""
    run = ecg_sim("100", "--data-dir", str(mitdb_dir), *argv)
    assert run.returncode == 2 and run.stderr.splitlines() == [f"ecg-sim: error: {said}"]


@pytest.mark.parametrize("argv, said", [(["--log-level", "LOUD"], "invalid choice: 'LOUD'"),
                                        (["--linger-s", "nan"], "must be a number of seconds")])
def test_log_level_and_linger_are_checked(argv, said, capsys):
    """Audit (session 49): both were taken as typed (an unknown level silently meant INFO)."""
    with pytest.raises(SystemExit) as exc:
        build_arg_parser().parse_args(["100", *argv])
    assert exc.value.code == 2 and said in capsys.readouterr().err
    ns = build_arg_parser().parse_args(["100", "--log-level", "debug", "--linger-s", "-1"])
    assert (ns.log_level, ns.linger_s) == ("DEBUG", -1.0)


def test_speed_help_says_max():
    action = next(a for a in build_arg_parser()._actions if a.dest == "speed")
    assert "'max' = as fast as possible" in action.help


def test_missing_record_exits_2_with_one_line(mitdb_dir):
    run = ecg_sim("999", "--data-dir", str(mitdb_dir))
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "'999'" in run.stderr
    assert run.stderr.startswith("ecg-sim: error: record '999' not found")


def test_entry_points():
    """``ecg-sim`` (setup.py: firmware_bridge.replay:main) and ``python -m`` still work."""
    assert package_main is main
    assert ecg_sim("--help").returncode == 0
    exe = shutil.which("ecg-sim")
    if exe is None:
        pytest.skip("the ecg-sim console script is not installed (pip install -e .)")
    run = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "'max' = as fast as possible" in " ".join(run.stdout.split())


@pytest.mark.parametrize("args, n_bytes, digest", [
    (["--duration-s", "10"], 18400,
     "14de5c6e434db59e9078001efad6d197c574738cf13a47db1e93026054b1e27f"),
    (["--duration-s", "30", "--ber", "1e-4", "--drop-frames", "0.01", "--garbage-bursts", "1",
      "--seed", "5", "--fs-hz", "250"], 42262,
     "bbc87d396c65f31dc2f1c230d1e79efa64ae2a72e5d0ee5fa1f9930897668d35"),
])
def test_bytes_written_are_identical_to_the_single_module_simulator(mitdb_dir, args, n_bytes,
                                                                    digest):
    with spawn_replay(["100", "--data-dir", str(mitdb_dir), "--speed", "max", *args]) as proc:
        got = read_until_idle(proc.device_path)
    assert (len(got), hashlib.sha256(got).hexdigest()) == (n_bytes, digest)
