"""Golden test: the C reference encoder (firmware_bridge/c/) vs the Python encoder/decoder.

The test compiles ``firmware_bridge/c/ecg_frame.c`` with the golden driver
``golden/gen_golden.c`` using the system C compiler (``cc``), runs it, and checks that its
output equals ``golden/frames_v1.bin`` byte for byte and equals what the Python encoder makes
of the same samples (the driver's LCG and stream table are mirrored below). How to regenerate
the golden file is written at the top of ``gen_golden.c``.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.protocol import SampleFormat, encode_frame

ROOT = Path(__file__).resolve().parents[2]
C_DIR = ROOT / "firmware_bridge" / "c"
GOLDEN = Path(__file__).resolve().parent / "golden"

# (device_id, format, gains, baselines, fs_millihz, first_counter, first_seq, n_frames,
#  samples_per_frame, lo, hi) -- mirror of SPECS in golden/gen_golden.c
GOLDEN_STREAMS = [
    (1, SampleFormat.INT16, (200.0, 200.0), (1024, 1024), 360000, 0, 0, 3, 36, 0, 2047),
    (0xBEEF, SampleFormat.INT24, (1000.5,), (-5,), 250000, 0xFFFFFFF0, 0xFFFE, 4, 10,
     -8388608, 8388607),
    (7, SampleFormat.INT16, (0.25, 1.0, 2.5, 100.0, 200.0, 1000.0, 1e6, 3.0e-3),
     (-32768, -1, 0, 1, 1024, 2048, 32767, 7), 130000, 123456789, 42, 1, 13, -32768, 32767),
    (2, SampleFormat.INT16, (200.0, 400.0), (0, 0), 250000, 5, 65535, 2, 1, -32768, 32767),
    (3, SampleFormat.INT24, (1.0,) * 8, (0,) * 8, 1000000, 0, 0, 1, 255, -8388608, 8388607),
]


class _Lcg:
    def __init__(self, seed: int = 12345) -> None:
        self.x = seed

    def value(self, lo: int, hi: int) -> int:
        self.x = (self.x * 1664525 + 1013904223) & 0xFFFFFFFF
        return lo + (self.x >> 8) % (hi - lo + 1)


def python_golden() -> bytes:
    """The golden stream made by the Python encoder."""
    lcg = _Lcg()
    out = []
    for dev, fmt, gain, base, fs_mhz, ctr, seq, n_frames, spf, lo, hi in GOLDEN_STREAMS:
        nch = len(gain)
        for _ in range(n_frames):
            vals = [lcg.value(lo, hi) for _ in range(spf * nch)]
            if _ == 0 and len(vals) >= 2:
                vals[0], vals[1] = lo, hi
            x = np.array(vals, dtype=np.int64).reshape(spf, nch)
            out.append(encode_frame(x, device_id=dev, seq=seq, sample_counter=ctr,
                                    fs_hz=fs_mhz / 1000.0, adc_gain=gain, baseline=base,
                                    sample_format=fmt))
            seq = (seq + 1) & 0xFFFF
            ctr = (ctr + spf) & 0xFFFFFFFF
    return b"".join(out)


@pytest.fixture(scope="module")
def c_output(tmp_path_factory) -> bytes:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH; install gcc to run the golden test")
    exe = tmp_path_factory.mktemp("cgolden") / "gen_golden"
    cmd = [cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(C_DIR),
           *map(str, sorted(C_DIR.glob("*.c"))), str(GOLDEN / "gen_golden.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    run = subprocess.run([str(exe)], check=True, capture_output=True, timeout=30)
    return run.stdout


def test_c_encoder_matches_golden_file(c_output):
    assert c_output == (GOLDEN / "frames_v1.bin").read_bytes()


def test_python_encoder_matches_golden_file():
    assert python_golden() == (GOLDEN / "frames_v1.bin").read_bytes()


def test_c_frames_decode_to_the_generated_samples(c_output):
    dec = FrameDecoder()
    frames = dec.process(c_output)
    assert len(frames) == sum(s[7] for s in GOLDEN_STREAMS)
    assert dec.stats.bytes_discarded == 0 and dec.stats.gaps == 0
    ref = FrameDecoder().process(python_golden())
    for a, b in zip(frames, ref):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert (a.sample_index, a.seq, a.adc_gain, a.baseline, a.fs_hz) == \
               (b.sample_index, b.seq, b.adc_gain, b.baseline, b.fs_hz)
    wrapped = [f for f in frames if f.device_id == 0xBEEF]
    assert [f.sample_index for f in wrapped] == [2**32 - 16, 2**32 - 6, 2**32 + 4, 2**32 + 14]


def test_c_encoder_refuses_a_gain_the_edge_would_drop(tmp_path):
    """Audit (session 49): the C encoder took an infinite gain, which the Python encoder
    refused; both now keep to protocol.MIN_ADC_GAIN..MAX_ADC_GAIN."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH; install gcc to run the C tests")
    src = tmp_path / "gains.c"
    src.write_text(
        '#include <math.h>\n#include <stdio.h>\n#include "ecg_frame.h"\n'
        "int main(void) {\n"
        "    float gains[] = {200.0f, 1e-3f, 1e9f, INFINITY, NAN, 1e-30f, 0.0f, -1.0f, 2e9f};\n"
        "    int32_t base = 0;\n    ecgf_stream_t s;\n"
        "    for (unsigned i = 0; i < sizeof gains / sizeof gains[0]; i++)\n"
        '        printf("%d ", ecgf_stream_init(&s, 1, ECGF_FMT_INT16, 1, 360000u, &gains[i], '
        "&base, 0u));\n"
        "    return 0;\n}\n")
    exe = tmp_path / "gains"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(C_DIR),
                    *map(str, sorted(C_DIR.glob("*.c"))), str(src), "-o", str(exe), "-lm"],
                   check=True, capture_output=True, timeout=60)
    codes = subprocess.run([str(exe)], check=True, capture_output=True, text=True,
                           timeout=30).stdout.split()
    assert codes == ["0", "0", "0"] + ["-1"] * 6
