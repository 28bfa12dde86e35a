"""Score ``ecg-edge annotate`` over the DS2 records with the EC57 matcher.

For every DS2 record the command-line tool itself (``ecg-edge annotate``) writes a WFDB
annotation file twice -- at the reference beat positions (``--reference-beats atr``) and at the
beats its own streaming detector finds -- with the given int8 model; the files are read back
with ``wfdb.rdann`` and scored against the reference annotations:

* reference positions: per-class Se/+P/F1 over all reference beats (comparable with the
  literature and with the float model's report);
* end to end (detected beats): EC57 beat matching (150 ms); a reference beat that was not
  detected counts as a false negative of its class, a detection matching no reference beat as
  a false positive of the class it was given.

Both modes report the plain one-vs-rest Se/+P/F1 of :func:`edge.eval.scoring.class_metrics` (the
conservative numbers) and, next to them, the VEB/SVEB gross statistics by the EC57 rules as
PhysioNet's ``bxb`` computes them (:func:`edge.eval.scoring.ec57_gross`: a reference F or Q beat
called V is not a false VEB, a Q beat called S not a false SVEB).

    MITDB_DIR=... python benchmarks/bench_annotate.py [--model edge/models/default.tflite]
    python benchmarks/bench_annotate.py --from-json benchmarks/results/annotate.json

Writes ``benchmarks/results/annotate.json`` and ``.md``. ``--from-json`` runs nothing: it
recomputes the derived statistics from the confusion matrices stored in an earlier result and
rewrites both files (same predictions, same numbers).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    check_model,
    check_records,
    output_dir,
    parse_names,
    read_json,
    run_bench,
)
from edge.aami import AAMI_CLASSES  # noqa: E402
from edge.cli.main import main as cli_main  # noqa: E402
from edge.eval.scoring import class_metrics, ec57_gross, match_beats  # noqa: E402
from edge.model.bundled import default_model_path  # noqa: E402
from training.data import DS2, reference_beats  # noqa: E402

NONE = "-"  # a missed reference beat (column) or an extra detection (row)
CLASSES = AAMI_CLASSES + (NONE,)


def detection_confusion(ref_idx, ref_cls, det_idx, det_lab, fs_hz: float,
                        start: int = 0) -> np.ndarray:
    """EC57-matched confusion (rows reference, columns predicted, ``-`` = missed / extra) of
    labelled detections against reference beats; the whole record is matched, and only
    reference beats and unmatched detections at or after sample ``start`` are counted."""
    index = {c: i for i, c in enumerate(CLASSES)}
    cm = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    ro, do = np.argsort(ref_idx, kind="stable"), np.argsort(det_idx, kind="stable")
    r2d, d2r = match_beats(ref_idx, det_idx, fs_hz)
    rc, dl = ref_cls[ro], det_lab[do]
    ri, di = np.asarray(ref_idx)[ro], np.asarray(det_idx)[do]
    for r, d in enumerate(r2d):
        if ri[r] >= start:
            cm[index[rc[r]], index[dl[d]] if d >= 0 else index[NONE]] += 1
    for d in np.flatnonzero(d2r < 0):
        if di[d] >= start:
            cm[index[NONE], index[dl[d]]] += 1
    return cm


def detection_metrics(cm: np.ndarray) -> dict:
    m = class_metrics(cm, CLASSES)
    n = cm[:5, :5]
    m["accuracy"] = float(np.trace(n) / cm.sum())  # missed and extra beats are errors
    m["per_class"].pop(NONE)
    return m


def add_ec57(res: dict) -> dict:
    """Set ``res[mode]["ec57"]`` (EC57/bxb VEB and SVEB gross statistics) of both modes from
    their stored confusion matrices; returns ``res``."""
    for mode in ("reference", "detected"):
        m = res[mode]
        m["ec57"] = ec57_gross(np.array(m["confusion"]), tuple(m["classes"]))
    return res


def run(model: str, records, data_dir: str | None, extra_args: tuple[str, ...] = (),
        quiet: bool = False) -> dict:
    """Annotate ``records`` in both modes (``extra_args`` added to every ``ecg-edge annotate``)
    and score them."""
    from edge.model.classifier import BeatClassifier  # noqa: PLC0415

    out = {"model": model, "model_version": BeatClassifier(model).model_version,
           "date": time.strftime("%Y-%m-%d", time.gmtime()), "records": list(records),
           "per_record": {}, "extra_args": list(extra_args)}
    totals = {"reference": 0, "detected": 0}
    cms = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            row = {}
            ref = reference_beats(rec, data_dir=data_dir)
            for mode, extra in (("reference", ["--reference-beats", "atr"]), ("detected", [])):
                ext = "ref" if mode == "reference" else "det"
                argv = ["annotate", rec, "--model", model, "--out-dir", tmp, "--ext", ext,
                        *extra, *extra_args] + (["--data-dir", data_dir] if data_dir else [])
                t0 = time.process_time()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = cli_main(argv)
                if code == 130:  # the command took the Ctrl-C: the benchmark's own end
                    raise KeyboardInterrupt
                if code != 0:
                    raise SystemExit(f"ecg-edge {' '.join(argv)} failed")
                cpu = time.process_time() - t0
                got = wfdb.rdann(str(Path(tmp) / rec), ext)
                cm = detection_confusion(ref.sample_index, ref.aami,
                                         np.asarray(got.sample, dtype=np.int64),
                                         np.asarray(got.symbol, dtype=object), ref.fs_hz)
                cms[mode] = cms.get(mode, 0) + cm
                m = detection_metrics(cm)
                row[mode] = {"cpu_s": round(cpu, 2), "accuracy": m["accuracy"],
                             "S": m["per_class"]["S"], "V": m["per_class"]["V"],
                             "missed": int(cm[:5, 5].sum()), "extra": int(cm[5, :5].sum())}
                totals[mode] += cpu
            out["per_record"][rec] = row
            if not quiet:
                print(f"{rec}: ref acc {row['reference']['accuracy']:.4f} | detected acc "
                      f"{row['detected']['accuracy']:.4f} missed {row['detected']['missed']} "
                      f"extra {row['detected']['extra']}", flush=True)
    for mode, cm in cms.items():
        out[mode] = {"confusion": cm.tolist(), "classes": list(CLASSES), **detection_metrics(cm),
                     "cpu_s": round(totals[mode], 1)}
    return add_ec57(out)


def _version_line(res: dict) -> str:
    """`` (version), measured DATE`` and, when the bundled model is another version now, a
    warning that the figures are of an earlier model."""
    version, date = res.get("model_version"), res.get("date")
    if version is None:
        return ""
    out = f" ({version}), measured {date}" if date else f" ({version})"
    if Path(res["model"]).name == default_model_path().name:
        from edge.model.classifier import BeatClassifier  # noqa: PLC0415

        now = BeatClassifier(default_model_path()).model_version
        if now != version:
            out += (f". **Not the bundled model** (now {now}): these are an earlier model's "
                    f"figures; the bundled model's DS2 figures are in `rhythm.md` and "
                    f"`generalisation.md`")
    return out


def markdown(res: dict, command: str) -> str:
    recs = list(res["records"])
    where = ("DS2" if set(recs) == set(DS2) else "DS2 records" if set(recs) <= set(DS2)
             else "records " + ", ".join(recs[:8]) + (" ..." if len(recs) > 8 else "")
             + " (not DS2 alone: not an inter-patient test figure)")
    lines = [f"# `ecg-edge annotate` on {where} ({len(recs)} records), scored with the "
             "EC57 matcher", "", f"Model: `{Path(res['model']).name}`{_version_line(res)}. "
             f"Reproduce: `{command}`", "",
             "| mode | accuracy | S Se | S +P | S F1 | V Se | V +P | V F1 | missed | extra |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for mode, name in (("reference", "reference beat positions"),
                       ("detected", "end to end (detected beats)")):
        m = res[mode]
        cm = np.array(m["confusion"])
        s, v = m["per_class"]["S"], m["per_class"]["V"]
        lines.append(f"| {name} | {100 * m['accuracy']:.2f} | {100 * s['se']:.1f} | "
                     f"{100 * s['ppv']:.1f} | {100 * s['f1']:.1f} | {100 * v['se']:.1f} | "
                     f"{100 * v['ppv']:.1f} | {100 * v['f1']:.1f} | {int(cm[:5, 5].sum())} | "
                     f"{int(cm[5, :5].sum())} |")
    lines += ["", "EC57 gross statistics, the rules of the standard and of PhysioNet's `bxb` "
              "(same predictions: a reference F or Q beat classified V is not a false VEB, a Q "
              "beat classified S not a false SVEB; Se is unchanged, +P and F1 can only rise). "
              "The plain one-vs-rest table above counts those beats as false positives too and "
              "is the conservative one.", "",
              "| mode | S Se | S +P | S F1 | V Se | V +P | V F1 | false S (plain → EC57) | "
              "false V (plain → EC57) |", "|---|---|---|---|---|---|---|---|---|"]
    for mode, name in (("reference", "reference beat positions"),
                       ("detected", "end to end (detected beats)")):
        m = res[mode]
        s, v = m["ec57"]["S"], m["ec57"]["V"]
        lines.append(f"| {name} | {100 * s['se']:.1f} | {100 * s['ppv']:.1f} | "
                     f"{100 * s['f1']:.1f} | {100 * v['se']:.1f} | {100 * v['ppv']:.1f} | "
                     f"{100 * v['f1']:.1f} | {m['per_class']['S']['fp']} → {s['fp']} | "
                     f"{m['per_class']['V']['fp']} → {v['fp']} |")
    lines += ["", "Confusion, end to end (rows reference, columns predicted; `-` = missed / "
              "extra):", "", "| | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1)
              + "|"]
    for i, c in enumerate(CLASSES):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in res["detected"]["confusion"][i])
                     + " |")
    return "\n".join(lines) + "\n"


def reproduce_command(model: str) -> str:
    """The command that re-runs the benchmark with ``model``."""
    return "python benchmarks/bench_annotate.py" + (
        f" --model {model}" if model != str(default_model_path()) else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(default_model_path()))
    ap.add_argument("--records", default=",".join(DS2))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--from-json", metavar="PATH", default=None,
                    help="re-render an earlier annotate.json (its stored confusion matrices) "
                         "instead of running; --model/--records/--data-dir are ignored")
    args = ap.parse_args(argv)
    if args.from_json:
        res = read_json(ap, "--from-json", args.from_json, "an annotate.json of this benchmark")
        try:  # rendered before anything is written: a file of another kind is one line
            markdown(add_ec57(res), reproduce_command(res["model"]))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            ap.error(f"--from-json {args.from_json}: not an annotate.json of this benchmark "
                     f"({type(exc).__name__}: {exc})")
        return run_bench("bench_annotate", lambda: _write(res, args.out))
    records = parse_names(ap, "--records", args.records)

    def job() -> int:
        check_model(args.model)  # before any work: a damaged model or a missing record
        check_records(records, data_dir=args.data_dir)
        return _write(run(args.model, records, args.data_dir), args.out)

    return run_bench("bench_annotate", job)


def _write(res: dict, out_dir: str) -> int:
    command = reproduce_command(res["model"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "annotate.json").write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res, command)
    (out / "annotate.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
