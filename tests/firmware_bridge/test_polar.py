"""Tests of firmware_bridge/polar.py on constructed PMD payloads (no H10 here)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.errors import PmdControlError, PmdError
from firmware_bridge.polar import (
    PMD_START_ECG_130HZ,
    PolarEcgAssembler,
    build_pmd_ecg,
    parse_pmd_control_response,
    parse_pmd_ecg,
)

PERIOD_NS = 1e9 / 130.0


def test_start_command_bytes():
    # op start, ECG, sample rate 130 (0x0082), resolution 14 bits (0x000E)
    assert PMD_START_ECG_130HZ.hex() == "02000001820001010e00"


def test_parse_known_payload():
    # type ECG, timestamp 0x0102030405060708, frame type 0, samples 1, -1, -8388608 µV
    payload = bytes([0x00, 8, 7, 6, 5, 4, 3, 2, 1, 0x00,
                     0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80])
    fr = parse_pmd_ecg(payload)
    assert fr.timestamp_ns == 0x0102030405060708
    assert fr.samples_uv.tolist() == [1, -1, -8388608]
    assert build_pmd_ecg(fr.samples_uv, fr.timestamp_ns) == payload


@pytest.mark.parametrize("payload", [b"", b"\x00" * 9, b"\x02" + b"\x00" * 12,
                                     b"\x00" + b"\x00" * 8 + b"\x80" + b"\x00" * 3,
                                     b"\x00" * 10 + b"\x01\x02"])
def test_malformed_payloads_raise_pmd_error(payload):
    with pytest.raises(PmdError):
        parse_pmd_ecg(payload)


def test_control_response():
    assert parse_pmd_control_response(bytes([0xF0, 0x02, 0x00, 0x00, 0x00])) == (2, 0)
    with pytest.raises(PmdControlError) as info:
        parse_pmd_control_response(bytes([0xF0, 0x02, 0x00, 0x06]))
    assert info.value.code == 6
    with pytest.raises(PmdError):
        parse_pmd_control_response(b"\x01\x02")


def make_stream(n_frames=10, per=73, t0_ns=700_000_000_000_000_000):
    rng = np.random.default_rng(0)
    x = rng.integers(-2000, 2000, n_frames * per)
    payloads = []
    for k in range(n_frames):
        last = k * per + per - 1
        payloads.append(build_pmd_ecg(x[k * per:(k + 1) * per],
                                      t0_ns + int(round(last * PERIOD_NS))))
    return x, payloads


def test_assembler_indexes_samples_and_reports_gaps_from_timestamps():
    x, payloads = make_stream()
    asm = PolarEcgAssembler(device_id=5)
    chunks = []
    for k, p in enumerate(payloads):
        if k in (3, 4, 7):
            continue  # lost notifications
        chunks += asm.process(p, t_host_s=float(k))
    assert [c.gap_samples for c in chunks] == [0, 0, 0, 146, 0, 73, 0]
    for c in chunks:
        np.testing.assert_array_equal(c.samples[:, 0], x[c.sample_index:c.end_index])
        assert c.fs_hz == 130.0 and c.adc_gain == (1000.0,) and c.baseline == (0,)
        assert c.device_id == 5
    np.testing.assert_allclose(chunks[0].to_mv()[:, 0], x[:73] / 1000.0)
    assert asm.stats.gaps == 2 and asm.stats.samples_lost == 219


def test_assembler_counts_bad_payloads_without_raising():
    asm = PolarEcgAssembler()
    assert asm.process(b"\x00\x01", 0.0) == []
    assert asm.stats.frames_rejected == 1
    asm.reset()
    assert asm.stats.frames_rejected == 0
