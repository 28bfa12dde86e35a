"""VF window screening (issue 18): the same episodes, less CPU.

The VF detector (:class:`edge.rhythm.ventricular.VfDetector`) screens windows: the costlier half
of the features and P are computed only for windows the model's exact bound over the cheaper
half does not rule out (``VentricularConfig.screen``). This runs every record twice through the
device's conditioning and the detector at 1-s chunks, screening off and on (the conditioning
computed once, outside the timing, with the R-peak detector's beats the daemon feeds the
organised-rhythm veto; one core, ``time.process_time``), and checks, per record:

* the episode changes (onset/end, dates, rhythm, P, evidence) are identical;
* every window screening scored has the unscreened P, features and veto flag bit for bit;
  every screened
  window's unscreened P is below ``p_shockable`` and below its bound ``p_max``, and its screen
  features are the unscreened ones.

It reports the share of windows screened and the detector's CPU both ways. No score of any
kind is computed (identity and cost only), so running it on DS2 records is no look at a test
set.

    MITDB_DIR=... CUDB_DIR=... python benchmarks/efficiency_vf_screen.py [--records 100 ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_efficiency import git_revision  # noqa: E402
from edge.dsp.preprocess import PreprocessConfig, Preprocessor  # noqa: E402
from edge.dsp.rpeak import DetectorConfig, RPeakDetector  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.io.records import find_data_dir, read_record  # noqa: E402
from edge.rhythm.ventricular import VentricularConfig, VfDetector, load_vf_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _records(database: str) -> list[str]:
    base = find_data_dir(database, None)
    names = (base / "RECORDS").read_text().split() if (base / "RECORDS").is_file() else \
        sorted(p.stem for p in base.glob("*.hea"))
    return names if database == "mitdb" else [f"{database}/{n}" for n in names]


def _conditioned(record: str) -> tuple[list, list, int, float]:
    """The record's conditioned 1-s chunks, the R-peak detector's beats of each (peaks,
    decision times; for the organised-rhythm veto, as the daemon feeds them), its decision
    lag and the processing rate."""
    db, name = record.split("/") if "/" in record else ("mitdb", record)
    rec = read_record(name, database=db)
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    step = max(1, int(round(fs)))
    conds = [pre.process(x[i:i + step]) for i in range(0, x.size, step)] + [pre.flush()]
    peaks = RPeakDetector(DetectorConfig(fs_hz=pre.config.fs_out_hz))
    beats = []
    for k, c in enumerate(conds):
        r = peaks.process(c) if k < len(conds) - 1 else peaks.finish(c)
        beats.append((r, peaks.decided_at))
    return conds, beats, peaks.decision_lag_samples, pre.config.fs_out_hz


def _run(conds: list, beats: list, lag: int, config: VentricularConfig,
         model) -> tuple[list, list, VfDetector, float]:  # noqa: ANN001
    det = VfDetector(config, model)
    t0 = time.process_time()
    outs = []
    for c, (r, d) in zip(conds, beats, strict=True):
        det.add_beats(r, d, lag_samples=lag)
        outs.append(det.process(c))
    end = det.end()
    cpu = time.process_time() - t0
    return ([w for o in outs for w in o.windows], [c for o in outs for c in o.changes] + end,
            det, cpu)


def check_record(record: str, model) -> dict:  # noqa: ANN001
    conds, beats, lag, fs_proc = _conditioned(record)
    base = VentricularConfig(fs_hz=fs_proc)
    w0, c0, _, cpu0 = _run(conds, beats, lag, replace(base, screen=False), model)
    w1, c1, det, cpu1 = _run(conds, beats, lag, replace(base, screen=True), model)
    bad = 0
    for a, b in zip(w0, w1, strict=True):
        if a.end_index != b.end_index:
            bad += 1
        elif np.isfinite(b.p_max):  # screened
            known = np.isfinite(b.features)
            bad += not (np.isnan(b.p) and a.p < base.p_shockable and a.p <= b.p_max + 1e-12
                        and np.array_equal(a.features[known], b.features[known]))
        else:
            bad += not (np.array_equal([a.p], [b.p], equal_nan=True)
                        and np.array_equal(a.features, b.features, equal_nan=True)
                        and a.organised == b.organised)
    return {"record": record, "windows": len(w1), "screened": det.n_screened,
            "vetoed": det.n_vetoed,
            "changes": len(c1), "changes_identical": repr(c0) == repr(c1),
            "window_mismatches": int(bad), "cpu_s_unscreened": round(cpu0, 4),
            "cpu_s_screened": round(cpu1, 4)}


def render(rows: list[dict], command: str) -> str:
    n_w = sum(r["windows"] for r in rows)
    n_s = sum(r["screened"] for r in rows)
    c0 = sum(r["cpu_s_unscreened"] for r in rows)
    c1 = sum(r["cpu_s_screened"] for r in rows)
    ok = all(r["changes_identical"] and r["window_mismatches"] == 0 for r in rows)
    lines = ["# VF window screening: identity and cost", "",
             f"- Command: `{command}`",
             f"- Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}; code: git {git_revision()}; "
             "one core, `time.process_time`, 1-s chunks, conditioning outside the timing",
             "- No score is computed (identity and cost only): no look at a test set.", "",
             f"Records: {len(rows)}; windows: {n_w}; screened: **{n_s} "
             f"({100.0 * n_s / max(n_w, 1):.1f} %)**; episode changes identical and every "
             f"scored window bit-identical on every record: **{'yes' if ok else 'NO'}**.", "",
             f"VF detector CPU: unscreened **{c0:.2f} s**, screened **{c1:.2f} s** "
             f"({100.0 * (1 - c1 / max(c0, 1e-9)):.0f} % less). Windows the organised-rhythm "
             f"veto stopped: {sum(r.get('vetoed', 0) for r in rows)}.", "",
             "| record | windows | screened | vetoed | changes | identical | window mismatches | "
             "CPU s off | CPU s on |", "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['record']} | {r['windows']} | {r['screened']} | "
                     f"{r.get('vetoed', 0)} | {r['changes']} | "
                     f"{'yes' if r['changes_identical'] else 'NO'} | {r['window_mismatches']} | "
                     f"{r['cpu_s_unscreened']:.3f} | {r['cpu_s_screened']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import results_stem  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", nargs="+", help="MIT-BIH names or database/name "
                    "(default: all of MIT-BIH and CUDB)")
    ap.add_argument("--out-stem", type=results_stem, default="efficiency_vf_screen",
                    help="output name in benchmarks/results (or an absolute path without suffix)")
    args = ap.parse_args(argv)
    try:
        records = args.records or _records("mitdb") + _records("cudb")
        model = load_vf_model()
        rows = []
        for rec in records:
            rows.append(check_record(rec, model))
            r = rows[-1]
            print(f"{rec}: {r['screened']}/{r['windows']} screened, changes identical "
                  f"{r['changes_identical']}, mismatches {r['window_mismatches']}, CPU "
                  f"{r['cpu_s_unscreened']:.2f} -> {r['cpu_s_screened']:.2f} s", flush=True)
    except EdgeError as exc:
        print(f"efficiency_vf_screen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("efficiency_vf_screen: interrupted", file=sys.stderr)
        return 130
    stem = Path(args.out_stem)
    stem = stem if stem.is_absolute() else RESULTS / stem
    command = "python benchmarks/efficiency_vf_screen.py" + (
        " --records " + " ".join(args.records) if args.records else "")
    stem.with_suffix(".md").write_text(render(rows, command))
    stem.with_suffix(".json").write_text(json.dumps({"command": command, "records": rows},
                                                    indent=1) + "\n")
    print(f"wrote {stem.with_suffix('.md')}")
    ok = all(r["changes_identical"] and r["window_mismatches"] == 0 for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":  # an unwritable output or Ctrl-C: one line, not a traceback
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import run_bench  # noqa: E402

    sys.exit(run_bench("efficiency_vf_screen", main))
