"""Tests of firmware_bridge/replay/spawn.py: ``ecg-sim`` in a subprocess."""
from __future__ import annotations

import os

import pytest

from firmware_bridge.errors import ReplayError
from firmware_bridge.replay.spawn import spawn_replay


def test_device_path_then_stop(mitdb_dir):
    proc = spawn_replay(["100", "--data-dir", str(mitdb_dir), "--loop"])
    try:
        assert os.path.exists(proc.device_path) and proc.process.poll() is None
    finally:
        code = proc.stop()
    assert code == 0  # SIGTERM ends the simulator cleanly
    assert proc.stop() == 0  # idempotent


def test_simulator_that_does_not_start_is_a_replay_error(mitdb_dir):
    with pytest.raises(ReplayError) as info:
        spawn_replay(["999", "--data-dir", str(mitdb_dir)], startup_timeout_s=30)
    assert "did not start" in str(info.value) and "record '999' not found" in str(info.value)
