"""Tests of firmware_bridge/replay/config.py: ReplayConfig validation."""
from __future__ import annotations

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.replay.config import ReplayConfig


@pytest.mark.parametrize("kw, field", [
    (dict(start_s=-1.0), "start_s"), (dict(duration_s=0.0), "duration_s"),
    (dict(channels=(0, 0)), "channels"), (dict(fs_hz=0.5), "fs_hz"),
    (dict(speed=0.0), "speed"), (dict(speed=-2.0), "speed"), (dict(speed=float("nan")), "speed"),
    (dict(speed=float("inf")), "speed"), (dict(device_id=1 << 16), "device_id"),
    (dict(samples_per_frame=256), "samples_per_frame"), (dict(record=""), "record"),
    (dict(faults={}), "faults"),
])
def test_config_validation(kw, field):
    with pytest.raises(ConfigError) as info:
        ReplayConfig(**{"record": "100", **kw})
    assert info.value.field == field


def test_speed_none_is_as_fast_as_possible():
    assert ReplayConfig(record="100", speed=None).speed is None
