"""End to end on every DS2 record: simulated wearable on a pty at full speed -> SerialSource
-> daemon -> WFDB annotation sink, scored against the reference with the EC57 matcher, next to
the offline pipeline (`ecg-edge annotate`) with the same model.

    MITDB_DIR=... python benchmarks/bench_end_to_end.py [--model M] [--records 100,103]

Writes benchmarks/results/end_to_end.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import check_records, parse_names, run_bench  # noqa: E402
from training.data import DS2  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="int8 .tflite model (default: the bundled one)")
    ap.add_argument("--records", default=",".join(DS2),
                    help="comma-separated MIT-BIH records ($MITDB_DIR; default: DS2)")
    args = ap.parse_args(argv)
    args.records = ",".join(parse_names(ap, "--records", args.records))
    return run_bench("bench_end_to_end", lambda: _run(args), data_dir_option=False)


def _run(args: argparse.Namespace) -> int:
    import wfdb

    from edge.eval.compare import compare_beats
    from edge.eval.scoring import DetectionScore, class_metrics
    from edge.io.records import read_annotations, read_record
    from edge.model.bundled import default_model_path
    from edge.model.classifier import BeatClassifier
    from edge.pipeline import BeatPipeline
    from edge.runtime.daemon import Daemon
    from edge.runtime.settings import load_config
    from edge.sinks import WfdbAnnotationSink
    from firmware_bridge.replay import ReplayConfig, start_replay
    from firmware_bridge.serial_source import SerialConfig, SerialSource

    clf = BeatClassifier(args.model or default_model_path())
    check_records(args.records.split(","))  # before any work: a missing one is one line
    cfg = load_config(None, ['source.serial.port="x"', "daemon.idle_exit_s=3",
                             "outputs.status_interval_s=0", "sinks.terminal.enabled=false"])
    rows, tot = [], {"daemon": [DetectionScore(), np.zeros((5, 5), int)],
                     "annotate": [DetectionScore(), np.zeros((5, 5), int)]}
    out_dir = Path(tempfile.mkdtemp(prefix="e2e-"))
    for rec in args.records.split(","):
        t0 = time.monotonic()
        with start_replay(ReplayConfig(record=rec, speed=None)) as h:
            src = SerialSource(SerialConfig(port=h.device_path))
            res = Daemon(cfg, source=src, classifier=clf,
                         sinks=[WfdbAnnotationSink(out_dir, rec, ext="dmn")]).run()
        wall = time.monotonic() - t0
        got = wfdb.rdann(str(out_dir / rec), "dmn")
        x = read_record(rec).signal_mv[:, 0]
        off = BeatPipeline(clf, 360.0).run(x, 360)
        ann = read_annotations(rec)
        a = compare_beats(ann.sample_index, ann.symbol, got.sample, got.symbol, 360.0)
        b = compare_beats(ann.sample_index, ann.symbol, off.sample_index, off.label, 360.0)
        for k, ag in (("daemon", a), ("annotate", b)):
            tot[k][0] = tot[k][0] + ag.detection
            tot[k][1] = tot[k][1] + ag.confusion
        rows.append({"record": rec, "wall_s": round(wall, 2), "gaps": res.counters["gaps"],
                     "daemon": {"se": a.detection.se, "ppv": a.detection.ppv,
                                "acc": a.metrics["accuracy"]},
                     "annotate": {"se": b.detection.se, "ppv": b.detection.ppv,
                                  "acc": b.metrics["accuracy"]},
                     "identical_beats": bool(np.array_equal(got.sample, off.sample_index)
                                             and list(got.symbol) == list(off.label))})
        print(json.dumps(rows[-1]), flush=True)
    gross = {k: {"se": v[0].se, "ppv": v[0].ppv, "acc": class_metrics(v[1])["accuracy"]}
             for k, v in tot.items()}
    diff = {m: 100 * abs(gross["daemon"][m] - gross["annotate"][m]) for m in ("se", "ppv", "acc")}
    result = {"model": str(clf.path), "model_version": clf.model_version, "records": rows,
              "gross": gross, "max_abs_diff_points": diff,
              "within_0_5_points": all(v <= 0.5 for v in diff.values())}
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "end_to_end.json").write_text(json.dumps(result, indent=1))
    md = ["# End to end: pty -> daemon -> WFDB vs `ecg-edge annotate` (DS2)", "",
          f"model: {clf.path.name} ({clf.model_version})", "",
          "| | Se % | +P % | class accuracy % |", "|---|---|---|---|"]
    for k, g in gross.items():
        md.append(f"| {k} | {100 * g['se']:.2f} | {100 * g['ppv']:.2f} | {100 * g['acc']:.2f} |")
    md += ["", f"max difference (points): {diff}; identical beat files: "
               f"{sum(r['identical_beats'] for r in rows)}/{len(rows)} records"]
    (res_dir / "end_to_end.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if result["within_0_5_points"] else 1


if __name__ == "__main__":
    sys.exit(main())
