"""Benchmark of the firmware_bridge frame decoder on one CPU core.

Measures decoder throughput (MB/s, frames/s) on protocol-v1 frames of the default MIT-BIH
configuration (360 Hz, 2 channels, int16, 36 samples = 184-byte frames, 10 frames/s per
stream), fed in 64 KB reads (serial at speed) and in 244-byte pieces (one BLE notification
per call), with and without merging into SampleChunks, and with faults (BER 1e-4, 1 %
dropped frames, garbage bursts). From frames/s it derives how many simultaneous 360 Hz
two-channel streams one core sustains (requirement: >= 100).

Usage::

    python benchmarks/bench_decoder.py [--seconds-of-signal 3600] [--repeats 3]

Writes ``benchmarks/results/bench_decoder.json`` and ``.md`` and prints the table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import output_dir, positive_float, positive_int  # noqa: E402
from firmware_bridge.decoder import FrameDecoder  # noqa: E402
from firmware_bridge.faults import FaultConfig, FaultInjector  # noqa: E402
from firmware_bridge.protocol import EncoderConfig, FrameEncoder  # noqa: E402
from firmware_bridge.sources import frames_to_chunks  # noqa: E402

FS_HZ = 360.0
N_CH = 2
REQUIRED_STREAMS = 100


def make_stream(seconds: float, seed: int = 0) -> tuple[bytes, int, int]:
    """Frames of a synthetic 11-bit ECG-like stream; returns (bytes, n_frames, frame_bytes)."""
    n = int(seconds * FS_HZ)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS_HZ
    base = 1024 + 150 * np.sin(2 * np.pi * 1.2 * t)[:, None] + rng.normal(0, 8, (n, N_CH))
    x = np.clip(np.rint(base), 0, 2047).astype(np.int32)
    enc = FrameEncoder(EncoderConfig(fs_hz=FS_HZ, adc_gain=(200.0,) * N_CH,
                                     baseline=(1024,) * N_CH))
    frames = enc.process(x)
    return b"".join(frames), len(frames), len(frames[0])


def signal_seconds(text: str) -> float:
    """An argparse type: seconds of signal, enough for one frame (1 s or more)."""
    value = positive_float(text)
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"expected at least 1 s of signal, got {text!r}")
    return value


def run_case(blob: bytes, piece: int, merge: bool, repeats: int) -> tuple[float, int]:
    """Best wall time (s) over ``repeats`` and the frames decoded."""
    best = float("inf")
    n_frames = 0
    for _ in range(repeats):
        dec = FrameDecoder()
        t0 = time.perf_counter()
        n_frames = 0
        for i in range(0, len(blob), piece):
            frames = dec.process(blob[i:i + piece])
            n_frames += len(frames)
            if merge:
                frames_to_chunks(frames, 0.0)
        best = min(best, time.perf_counter() - t0)
    return best, n_frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds-of-signal", type=signal_seconds, default=3600.0)
    ap.add_argument("--repeats", type=positive_int, default=3)
    ap.add_argument("--out-dir", type=output_dir,
                    default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        pinned = True
    except (AttributeError, OSError):
        pinned = False

    clean, n_frames, frame_bytes = make_stream(args.seconds_of_signal)
    inj = FaultInjector(FaultConfig(ber=1e-4, drop_frame_prob=0.01, garbage_bursts_per_s=1.0),
                        seed=1)
    step = frame_bytes
    faulty = b"".join(inj.process(clean[i:i + step], 0.1) for i in range(0, len(clean), step))
    frames_per_stream_s = FS_HZ / ((frame_bytes - 24 - 8 * N_CH) // (2 * N_CH))
    bytes_per_stream_s = frames_per_stream_s * frame_bytes

    cases = [("64 KB reads", clean, 65536, False),
             ("64 KB reads + SampleChunks", clean, 65536, True),
             ("244 B pieces (BLE notifications)", clean, 244, False),
             ("244 B pieces + SampleChunks", clean, 244, True),
             ("64 KB reads, faults (BER 1e-4, 1% drop, garbage)", faulty, 65536, True)]
    rows = []
    for name, blob, piece, merge in cases:
        secs, got = run_case(blob, piece, merge, args.repeats)
        mb_s = len(blob) / secs / 1e6
        fps = got / secs
        streams = int(min(fps / frames_per_stream_s, len(blob) / secs / bytes_per_stream_s))
        rows.append(dict(case=name, bytes=len(blob), frames=got, seconds=round(secs, 4),
                         mb_per_s=round(mb_s, 2), frames_per_s=round(fps),
                         streams_360hz_2ch=streams, ok=streams >= REQUIRED_STREAMS))
    result = dict(
        benchmark="firmware_bridge FrameDecoder",
        python=platform.python_version(), machine=platform.machine(),
        processor=platform.processor() or platform.machine(), pinned_to_one_core=pinned,
        signal_seconds=args.seconds_of_signal, frame_bytes=frame_bytes,
        stream_frames_per_s=frames_per_stream_s, stream_bytes_per_s=bytes_per_stream_s,
        required_streams=REQUIRED_STREAMS, rows=rows,
        command="python benchmarks/bench_decoder.py " + " ".join(argv or sys.argv[1:]))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_decoder.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# firmware_bridge decoder benchmark",
        "",
        f"One core{' (pinned)' if pinned else ''}, Python {result['python']}, "
        f"{result['machine']}. Stream: 360 Hz, 2 channels, int16, {frame_bytes}-byte frames, "
        f"{frames_per_stream_s:g} frames/s = {bytes_per_stream_s:g} B/s per stream; "
        f"{args.seconds_of_signal:g} s of signal, best of {args.repeats}.",
        "",
        "| case | MB/s | frames/s | 360 Hz 2-ch streams | >= 100 |",
        "|---|---:|---:|---:|:--:|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['mb_per_s']:.1f} | {r['frames_per_s']:,} | "
                     f"{r['streams_360hz_2ch']:,} | {'yes' if r['ok'] else 'NO'} |")
    lines += ["", f"Command: `{result['command'].strip()}`", ""]
    (out / "bench_decoder.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":  # an unwritable output or Ctrl-C: one line, not a traceback
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import run_bench  # noqa: E402

    sys.exit(run_bench("bench_decoder", main))
