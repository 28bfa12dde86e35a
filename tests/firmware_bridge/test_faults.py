"""Tests of firmware_bridge/faults.py."""
from __future__ import annotations

import pytest

from firmware_bridge.errors import ConfigError
from firmware_bridge.faults import FaultConfig, FaultInjector


@pytest.mark.parametrize("kw, field", [
    (dict(ber=0.7), "ber"), (dict(drop_byte_prob=-0.1), "drop_byte_prob"),
    (dict(drop_frame_prob=2.0), "drop_frame_prob"),
    (dict(garbage_bursts_per_s=-1.0), "garbage_bursts_per_s"),
    (dict(garbage_max_bytes=0), "garbage_max_bytes"),
    (dict(disconnect_after_s=-1.0), "disconnect_after_s"),
    (dict(reconnect_after_s=float("nan")), "reconnect_after_s"),
])
def test_config_validation(kw, field):
    with pytest.raises(ConfigError) as info:
        FaultConfig(**kw)
    assert info.value.field == field


def test_no_faults_is_identity():
    inj = FaultInjector(FaultConfig())
    assert inj.process(b"abc", 0.1) == b"abc"


def test_faults_are_reproducible_and_counted():
    cfg = FaultConfig(ber=1e-3, drop_byte_prob=1e-3, drop_frame_prob=0.05,
                      garbage_bursts_per_s=2.0)
    frame = bytes(range(200))
    a = FaultInjector(cfg, seed=4)
    b = FaultInjector(cfg, seed=4)
    out_a = [a.process(frame, 0.1) for _ in range(2000)]
    out_b = [b.process(frame, 0.1) for _ in range(2000)]
    assert out_a == out_b
    st = a.stats
    assert 50 <= st.frames_dropped <= 160
    assert 2000 * 1600 * 1e-3 * 0.7 <= st.bits_flipped <= 2000 * 1600 * 1e-3 * 1.3
    assert 250 <= st.garbage_bursts <= 550 and st.garbage_bytes >= st.garbage_bursts
    a.reset()
    assert a.stats.frames_in == 0 and a.process(frame, 0.1) == out_b[0]
