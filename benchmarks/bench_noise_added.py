"""R-peak detection in noise on records the noise gate was not tuned on.

The detector's noise gate was developed on the Noise Stress Test Database records 118e* and
119e*. This benchmark checks it elsewhere: electrode-motion noise (NSTDB ``em``, channel 0,
a different offset per record) is added throughout ten MIT-BIH DS2 records at a given SNR,
with the NST convention S = (median QRS peak-to-peak amplitude)^2 / 8, N = noise variance, and
the default detector is compared with the gate switched off (``noisy_level_ratio`` huge).

    MITDB_DIR=... NSTDB_DIR=... python benchmarks/bench_noise_added.py [--snr-db 6]

Writes ``benchmarks/results/noise_added.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import check_records, finite_float, output_dir, run_bench  # noqa: E402
from edge.dsp.detection import detect_signal  # noqa: E402
from edge.dsp.rpeak import DetectorConfig  # noqa: E402
from edge.eval.scoring import DetectionScore, score_detection  # noqa: E402
from edge.io.records import read_record  # noqa: E402
from training.data import reference_beats  # noqa: E402
from training.nst import nst_scale  # noqa: E402

RECORDS = ("100", "103", "105", "113", "121", "200", "210", "221", "228", "233")
VARIANTS = {"default (gate on)": None, "gate off": DetectorConfig(noisy_level_ratio=1e9)}


def noisy(record: str, k: int, em: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    x = read_record(record, channels=[0]).signal_mv[:, 0]
    ref = reference_beats(record).sample_index
    noise = np.resize(em[(k * 37000) % 100000:], x.size)
    noise = noise - noise.mean()
    return x + nst_scale(x, ref, noise, snr_db) * noise, ref


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snr-db", type=finite_float, default=6.0)
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    return run_bench("bench_noise_added", lambda: _run(args), data_dir_option=False)


def _run(args: argparse.Namespace) -> int:
    check_records(RECORDS)  # before any work: a missing record is one line
    em = read_record("em", database="nstdb").signal_mv[:, 0]
    totals = {v: DetectionScore() for v in VARIANTS}
    rows = []
    for k, rec in enumerate(RECORDS):
        y, ref = noisy(rec, k, em, args.snr_db)
        row = {"record": rec}
        for name, cfg in VARIANTS.items():
            s = score_detection(ref, detect_signal(y, 360.0, detector=cfg), 360.0)
            totals[name] = totals[name] + s
            row[name] = s.to_dict()
        rows.append(row)
        print(rec, " | ".join(f"{n}: F1 {100 * row[n]['f1']:.2f}" for n in VARIANTS), flush=True)
    lines = [f"# R-peak detection with electrode-motion noise added at {args.snr_db:g} dB",
             "", f"Records {', '.join(RECORDS)} (first channel, all AAMI beats, 150 ms). "
             "Reproduce: `python benchmarks/bench_noise_added.py"
             + ("" if args.snr_db == 6.0 else f" --snr-db {args.snr_db:g}") + "`", "",
             "| detector | Se % | +P % | F1 % |", "|---|---:|---:|---:|"]
    for name, s in totals.items():
        lines.append(f"| {name} | {100 * s.se:.2f} | {100 * s.ppv:.2f} | {100 * s.f1:.2f} |")
    md = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "noise_added.json").write_text(json.dumps(
        {"snr_db": args.snr_db, "records": rows,
         "totals": {n: s.to_dict() for n, s in totals.items()}}, indent=1) + "\n")
    (out / "noise_added.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
