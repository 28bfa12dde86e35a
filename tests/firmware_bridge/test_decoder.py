"""Tests of firmware_bridge/decoder.py: chunking, resync, CRC, gaps, properties."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.errors import DecoderInputError, FirmwareBridgeError
from firmware_bridge.protocol import (
    MAX_FRAME_SIZE,
    SYNC,
    EncoderConfig,
    FrameEncoder,
    SampleFormat,
)


def make_frames(n_samples=3600, nch=2, fmt=SampleFormat.INT16, spf=None, device_id=1,
                seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = (0, 2048) if fmt is SampleFormat.INT16 else (-(1 << 23), 1 << 23)
    x = rng.integers(lo, hi, (n_samples, nch)).astype(np.int32)
    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0,) * nch,
                                     baseline=(1024,) * nch, device_id=device_id,
                                     sample_format=fmt, samples_per_frame=spf))
    return x, enc.process(x) + enc.flush()


def feed(dec, blob, step):
    out = []
    if step == "random":
        rng = np.random.default_rng(5)
        i = 0
        while i < len(blob):
            n = int(rng.integers(1, 700))
            out += dec.process(blob[i:i + n])
            i += n
        return out
    for i in range(0, len(blob), step):
        out += dec.process(blob[i:i + step])
    return out


def summary(frames):
    return [(f.device_id, f.seq, f.sample_index, f.gap_samples, f.byte_offset,
             f.samples.tobytes()) for f in frames]


@pytest.mark.parametrize("step", [1, 7, 360, "random", 65536])
def test_chunk_size_invariance(step):
    x, frames = make_frames(n_samples=2000)
    garbage = b"\x00\xa5\x5a\x01junk" * 3
    blob = garbage + b"".join(f + (garbage if i % 5 == 0 else b"") for i, f in enumerate(frames))
    ref_dec = FrameDecoder()
    ref = ref_dec.process(blob)
    dec = FrameDecoder()
    got = feed(dec, blob, step)
    assert summary(got) == summary(ref)
    assert dec.stats == ref_dec.stats
    np.testing.assert_array_equal(np.concatenate([f.samples for f in got]), x)


def test_int24_multichannel_roundtrip():
    x, frames = make_frames(n_samples=1000, nch=5, fmt=SampleFormat.INT24)
    out = FrameDecoder().process(b"".join(frames))
    np.testing.assert_array_equal(np.concatenate([f.samples for f in out]), x)


def test_resync_after_garbage_loses_no_intact_frame():
    rng = np.random.default_rng(2)
    x, frames = make_frames()
    parts = []
    for fr in frames:
        junk = bytearray(rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8))
        if len(junk) > 4:
            junk[1:3] = SYNC  # fake sync markers
        parts += [bytes(junk), fr]
    dec = FrameDecoder()
    out = feed(dec, b"".join(parts), 97)
    assert len(out) == len(frames)
    assert all(f.gap_samples == 0 for f in out)
    np.testing.assert_array_equal(np.concatenate([f.samples for f in out]), x)
    assert dec.stats.bytes_discarded == sum(len(p) for p in parts[0::2])


def test_crc_rejection_and_gap_report():
    x, frames = make_frames(spf=36)
    bad = bytearray(frames[10])
    bad[60] ^= 0x10  # payload bit
    hdr = bytearray(frames[20])
    hdr[5] ^= 0x40  # n_samples field: caught by the header CRC
    stream = frames[:10] + [bytes(bad)] + frames[11:20] + [bytes(hdr)] + frames[21:]
    dec = FrameDecoder()
    out = dec.process(b"".join(stream))
    assert len(out) == len(frames) - 2
    assert dec.stats.frames_rejected == 1 and dec.stats.headers_rejected >= 1
    gaps = [(f.sample_index, f.gap_samples) for f in out if f.gap_samples]
    assert gaps == [(11 * 36, 36), (21 * 36, 36)]
    assert dec.stats.gaps == 2 and dec.stats.samples_lost == 72 and dec.stats.frames_lost == 2
    for f in out:
        np.testing.assert_array_equal(f.samples, x[f.sample_index:f.end_index])


def test_a_restarted_frame_counter_does_not_count_65000_lost_frames():
    """Session 45 audit: a wearable rebooted with its sample counter ahead (a gap of 233
    frames) and its frame counter back at 0: frames_lost read 65,369."""
    from firmware_bridge.protocol import encode_frame

    def frame(seq, counter):
        return encode_frame(np.zeros((36, 1), dtype=np.int32), device_id=1, seq=seq,
                            sample_counter=counter, fs_hz=360.0, adc_gain=(200.0,),
                            baseline=(0,))
    dec = FrameDecoder()
    dec.process(b"".join(frame(i, i * 36) for i in range(400)))
    out = dec.process(frame(0, (400 + 233) * 36) + frame(1, (401 + 233) * 36))
    assert [f.gap_samples for f in out] == [233 * 36, 0]
    assert dec.stats.samples_lost == 233 * 36 and dec.stats.frames_lost == 233


def test_a_restart_from_a_counter_above_2_31_is_a_restart_not_a_41_day_gap():
    """Audit (session 49): a wearable whose counter started near 3e9 (the protocol allows any
    first value) restarted from 0; unwrapped to the nearest value that read as a forward gap
    of 1.29e9 samples (41 days at 360 Hz) and the store's history said so."""
    from firmware_bridge.protocol import encode_frame

    def frame(seq, counter):
        return encode_frame(np.zeros((36, 1), dtype=np.int32), device_id=9, seq=seq,
                            sample_counter=counter, fs_hz=360.0, adc_gain=(200.0,),
                            baseline=(0,))
    dec = FrameDecoder()
    first = dec.process(b"".join(frame(i, 3_000_000_000 + i * 36) for i in range(10)))
    out = dec.process(frame(0, 0) + frame(1, 36))
    assert first[-1].sample_index == 3_000_000_000 + 9 * 36
    assert [(f.sample_index, f.gap_samples) for f in out] == [(0, 0), (36, 0)]
    assert dec.stats.stream_restarts == 1 and dec.stats.samples_lost == 0
    # a real gap within a day is still a gap
    out = dec.process(frame(5, 36 * 2 + 360 * 3600))
    assert out[0].gap_samples == 360 * 3600 and dec.stats.stream_restarts == 1


def test_gaps_are_tracked_per_device_and_restart_counted():
    _, a = make_frames(n_samples=360, device_id=1, spf=36)
    _, b = make_frames(n_samples=360, device_id=2, spf=36, seed=1)
    stream = [a[0], b[0], a[3], b[1], a[0]]  # a loses 2 frames, then a restarts
    dec = FrameDecoder()
    out = dec.process(b"".join(stream))
    assert [(f.device_id, f.gap_samples) for f in out] == [(1, 0), (2, 0), (1, 72), (2, 0),
                                                            (1, 0)]
    assert dec.stats.stream_restarts == 1 and out[-1].sample_index == 0


def test_discard_buffer_keeps_gap_accounting():
    _, frames = make_frames(n_samples=360, spf=36)
    dec = FrameDecoder()
    dec.process(frames[0] + frames[1][:50])
    assert dec.buffered_bytes == 50
    assert dec.discard_buffer() == 50
    out = dec.process(frames[4])
    assert out[0].gap_samples == 3 * 36
    dec.reset()
    assert dec.stats.frames_ok == 0 and dec.buffered_bytes == 0


def test_non_bytes_input_raises_documented_error():
    dec = FrameDecoder()
    with pytest.raises(DecoderInputError):
        dec.process("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dec.process([1, 2, 3])  # type: ignore[arg-type]
    assert dec.process(b"") == [] and dec.process(memoryview(b"\xa5")) == []
    assert dec.buffered_bytes == 1


_, CLEAN = make_frames(n_samples=720, nch=2, spf=36, seed=9)
CLEAN_SET = {bytes(f.samples.tobytes()) + f.sample_index.to_bytes(8, "little")
             for f in FrameDecoder().process(b"".join(CLEAN))}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(1, 4096), max_size=8))
def test_random_bytes_never_raise_and_buffer_stays_bounded(data, cuts):
    dec = FrameDecoder()
    i = 0
    for c in cuts + [len(data)]:
        dec.process(data[i:i + c])
        i += c
        assert dec.buffered_bytes < MAX_FRAME_SIZE
    st_ = dec.stats
    assert st_.bytes_in == len(data)
    assert st_.bytes_discarded + dec.buffered_bytes <= st_.bytes_in


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(st.sampled_from(["flip", "delete", "insert", "dup"]),
                              st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
                    max_size=12),
       step=st.integers(1, 2048))
def test_mutated_frames_only_correct_frames_come_out(ops, step):
    blob = bytearray(b"".join(CLEAN))
    for op, pos, junk in ops:
        p = pos % len(blob)
        if op == "flip":
            blob[p] ^= 1 << (pos % 8)
        elif op == "delete":
            del blob[p:p + len(junk)]
        elif op == "insert":
            blob[p:p] = junk
        else:
            blob[p:p] = SYNC + blob[p:p + 30]
        if not blob:
            blob = bytearray(b"\x00")
    dec = FrameDecoder()
    try:
        out = feed(dec, bytes(blob), step)
    except FirmwareBridgeError:  # pragma: no cover - would be a documented error
        raise AssertionError("decoder raised on damaged input")
    assert dec.buffered_bytes < MAX_FRAME_SIZE
    for f in out:
        key = bytes(f.samples.tobytes()) + f.sample_counter.to_bytes(8, "little")
        assert key in CLEAN_SET  # every delivered frame is an original, intact frame
    # every undamaged original frame whose bytes survive contiguously is found
    survivors = [fr for fr in CLEAN if bytes(blob).find(fr) >= 0]
    assert len(out) >= len(survivors)


@pytest.mark.parametrize("gain", [1e-30, 0.0, float("nan"), float("inf"), -200.0, 1e12])
def test_a_frame_whose_gain_is_not_ecg_is_dropped_and_counted(gain, caplog):
    """Audit (session 49): a frame with good CRCs and an ADC gain of 1e-30 read as +-1e29 mV
    of 'good' signal with V beats; the decoder now drops it (its samples are a gap)."""
    import struct
    import zlib

    _, frames = make_frames(n_samples=360, spf=36)
    bad = bytearray(frames[4])
    struct.pack_into("<f", bad, 20, gain)  # channel 0's gain, right after the header
    struct.pack_into("<I", bad, len(bad) - 4, zlib.crc32(bytes(bad[:-4])))
    dec = FrameDecoder()
    out = dec.process(b"".join(frames[:4] + [bytes(bad)] + frames[5:]))
    assert [f.seq for f in out] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert dec.stats.frames_invalid == 1 and dec.stats.frames_rejected == 0
    assert out[4].gap_samples == 36 and dec.stats.samples_lost == 36
    assert "ADC gain" in caplog.text and "dropped" in caplog.text
    with pytest.raises(FirmwareBridgeError, match="adc_gain"):
        EncoderConfig(fs_hz=360.0, adc_gain=(gain, 200.0), baseline=(0, 0))
