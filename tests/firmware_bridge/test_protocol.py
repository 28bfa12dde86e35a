"""Tests of firmware_bridge/protocol.py: frame layout, encoder, validation."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.errors import ConfigError, EncodeError
from firmware_bridge.protocol import (
    BLE_MAX_PAYLOAD_BYTES,
    MAX_FRAME_SIZE,
    SYNC,
    EncoderConfig,
    FrameEncoder,
    SampleFormat,
    crc16_ccitt,
    crc32,
    default_samples_per_frame,
    encode_frame,
    frame_size,
    max_samples_per_frame,
)


def _frame(samples, fmt=SampleFormat.INT16, **kw):
    args = dict(device_id=3, seq=7, sample_counter=1000, fs_hz=360.0,
                adc_gain=(200.0,) * samples.shape[1], baseline=(1024,) * samples.shape[1],
                sample_format=fmt)
    args.update(kw)
    return encode_frame(samples, **args)


def test_crc_check_values():
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc32(b"123456789") == 0xCBF43926


def test_header_layout_matches_spec():
    x = np.array([[1, -2], [300, -32768]], dtype=np.int32)
    fr = _frame(x)
    assert fr[:2] == SYNC
    ver, fmt, nch, ns, dev, seq, ctr, fs = struct.unpack_from("<BBBBHHII", fr, 2)
    assert (ver, fmt, nch, ns, dev, seq, ctr, fs) == (1, 1, 2, 2, 3, 7, 1000, 360000)
    assert struct.unpack_from("<H", fr, 18)[0] == crc16_ccitt(fr[:18])
    assert struct.unpack_from("<fifi", fr, 20) == (200.0, 1024, 200.0, 1024)
    assert struct.unpack_from("<4h", fr, 36) == (1, -2, 300, -32768)
    assert struct.unpack_from("<I", fr, len(fr) - 4)[0] == crc32(fr[:-4])
    assert len(fr) == frame_size(2, 2, SampleFormat.INT16) == 24 + 16 + 8


@pytest.mark.parametrize("fmt", list(SampleFormat))
def test_roundtrip_extremes(fmt):
    x = np.array([[fmt.min_value, fmt.max_value, 0], [-1, 1, 12345]], dtype=np.int32)
    (out,) = FrameDecoder().process(_frame(x, fmt))
    assert out.samples.dtype == np.int32
    np.testing.assert_array_equal(out.samples, x)
    assert out.sample_format is fmt and out.fs_hz == 360.0


def test_default_frames_fit_a_ble_notification():
    for fs, nch, fmt in [(360, 2, SampleFormat.INT16), (250, 2, SampleFormat.INT24),
                         (1000, 8, SampleFormat.INT16), (130, 1, SampleFormat.INT24)]:
        n = default_samples_per_frame(fs, nch, fmt)
        assert frame_size(nch, n, fmt) <= BLE_MAX_PAYLOAD_BYTES
    assert default_samples_per_frame(360, 2, SampleFormat.INT16) == 36
    assert max_samples_per_frame(2, SampleFormat.INT16) == 51
    assert MAX_FRAME_SIZE == frame_size(8, 255, SampleFormat.INT24) == 6208


@pytest.mark.parametrize("bad, field", [
    (dict(samples=np.zeros((0, 2), np.int32)), "samples"),
    (dict(samples=np.zeros((256, 1), np.int32)), "samples"),
    (dict(samples=np.zeros((2, 9), np.int32)), "samples"),
    (dict(samples=np.full((2, 2), 40000, np.int32)), "samples"),
    (dict(samples=np.zeros((2, 2), np.float64)), "samples"),
    (dict(device_id=70000), "device_id"),
    (dict(fs_hz=0.0), "fs_hz"),
    (dict(adc_gain=(200.0,)), "adc_gain"),
    (dict(adc_gain=(200.0, -1.0)), "adc_gain"),
    (dict(baseline=(1, 2, 3)), "baseline"),
])
def test_encode_frame_rejects_bad_input_naming_the_field(bad, field):
    args = dict(samples=np.zeros((2, 2), np.int32), device_id=1, seq=0, sample_counter=0,
                fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(0, 0))
    args.update(bad)
    samples = args.pop("samples")
    with pytest.raises(EncodeError) as info:
        encode_frame(samples, **args)
    assert info.value.field == field


@pytest.mark.parametrize("kw, field", [
    (dict(fs_hz=-1.0), "fs_hz"),
    (dict(adc_gain=()), "adc_gain"),
    (dict(baseline=(0,)), "baseline"),
    (dict(device_id=-1), "device_id"),
    (dict(samples_per_frame=0), "samples_per_frame"),
    (dict(first_sample_index=-5), "first_sample_index"),
    (dict(sample_format=9), "sample_format"),
])
def test_encoder_config_validation(kw, field):
    args = dict(fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(1024, 1024))
    args.update(kw)
    with pytest.raises(ConfigError) as info:
        EncoderConfig(**args)
    assert info.value.field == field


def test_encoder_is_chunk_size_invariant():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2048, (1000, 2)).astype(np.int32)
    cfg = EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(1024, 1024))
    ref_enc = FrameEncoder(cfg)
    ref = ref_enc.process(x) + ref_enc.flush()
    for step in (1, 7, 360):
        enc = FrameEncoder(cfg)
        got = []
        for i in range(0, len(x), step):
            got += enc.process(x[i:i + step])
        got += enc.flush()
        assert got == ref
    assert ref_enc.next_sample_index == 1000 and ref_enc.next_seq == len(ref)
    ref_enc.reset()
    assert ref_enc.next_sample_index == 0 and ref_enc.flush() == []


def test_encoder_wraps_seq_and_counter():
    cfg = EncoderConfig(fs_hz=250.0, adc_gain=(1.0,), baseline=(0,), samples_per_frame=10,
                        first_sample_index=2**32 - 15, first_seq=65535)
    enc = FrameEncoder(cfg)
    frames = enc.process(np.arange(30, dtype=np.int32).reshape(30, 1))
    dec = FrameDecoder()
    out = [f for fr in frames for f in dec.process(fr)]
    assert [f.seq for f in out] == [65535, 0, 1]
    assert [f.sample_index for f in out] == [2**32 - 15, 2**32 - 5, 2**32 + 5]
    assert [f.sample_counter for f in out] == [2**32 - 15, 2**32 - 5, 5]
    assert dec.stats.gaps == 0
