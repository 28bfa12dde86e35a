"""Electrode polarity and gain: the beat classifier on patients it never saw, with the signal as
recorded, inverted (an electrode pair placed the other way round) and scaled, and the R-peak
detector on the inverted signal. Design data only (DS2 is not read).

Usage::

    python benchmarks/bench_polarity.py RUN_DIR [RUN_DIR ...] [--out-stem PATH]

Each ``RUN_DIR`` is the output of ``python -m training.train --svdb`` (an ensemble with its
``member<k>/`` folders). Member *k* never trained on DS1 patient fold *k* nor SVDB fold *k*; it
classifies those records (float Keras, reference beats, the device's own conditioning and
features) and the members' calls are pooled -- an out-of-fold score of the recipe. DS1 fold *k*
is the fold member *k* was early-stopped on (it flatters a little); SVDB fold *k* was never
used by it. Needs ``MITDB_DIR``, ``SVDB_DIR`` and TensorFlow (the training extra).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from edge.errors import EdgeError  # noqa: E402

#: Signal variants: name -> factor applied to the raw record (mV).
VARIANTS = {"as recorded": 1.0, "inverted": -1.0, "gain x0.3": 0.3, "gain x3": 3.0}


@functools.lru_cache(maxsize=None)
def _qrs_score(record: str, factor: float, lead: str):  # noqa: ANN202
    """Our detector on ``factor`` x the record against its reference beats (the same for
    every training run: computed once per record and signal)."""
    from edge.dsp.detection import detect_signal
    from edge.eval.scoring import score_detection
    from training.data import reference_beats
    from training.dataset import record_signal

    x, fs = record_signal(record, lead)
    ref = reference_beats(record)
    return score_detection(ref.sample_index, detect_signal(factor * x, fs, chunk_s=None), fs)


def evaluate_run(run: Path) -> dict:
    """Pooled out-of-fold scores of one training run under every :data:`VARIANTS` signal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from edge.aami import AAMI_CLASSES
    from edge.eval.scoring import class_metrics, confusion_matrix
    from training.contract import dataset_config, load_model, model_inputs
    from training.data import FOLDS, SVDB_FOLDS, reference_beats
    from training.dataset import record_signal, signal_beats

    true = {v: [] for v in VARIANTS}
    pred = {v: [] for v in VARIANTS}
    det = {v: [0, 0, 0] for v in ("as recorded", "inverted")}
    for folds in (FOLDS, SVDB_FOLDS):
        for k, fold in enumerate(folds):
            model, contract = load_model(run / f"member{k}" / "beat_cnn.keras")
            cfg = dataset_config(contract)
            for rec in fold:
                x, fs = record_signal(rec, cfg.lead)
                ref = reference_beats(rec)
                for name, factor in VARIANTS.items():
                    xx = factor * x
                    beat, feats, _ = signal_beats(xx, fs, ref.sample_index, cfg)
                    prob = model.predict(model_inputs(beat, feats, contract), batch_size=4096,
                                         verbose=0)
                    true[name] += list(ref.aami)
                    pred[name] += [AAMI_CLASSES[i] for i in prob.argmax(1)]
                    if name in det:
                        s = _qrs_score(rec, factor, cfg.lead)
                        det[name] = [det[name][0] + s.tp, det[name][1] + s.fn,
                                     det[name][2] + s.fp]
    out = {"run": str(run), "variants": {}}
    for name in VARIANTS:
        m = class_metrics(confusion_matrix(true[name], pred[name]))
        pc = m["per_class"]
        row = {"beats": len(true[name]), "accuracy": m["accuracy"],
               **{f"{c}_{k}": pc[c][k] for c in ("S", "V") for k in ("se", "ppv", "f1")}}
        if name in det:
            tp, fn, fp = det[name]
            row["qrs_se"], row["qrs_ppv"] = 100 * tp / (tp + fn), 100 * tp / (tp + fp)
        out["variants"][name] = row
    return out


def render(results: list[dict], command: str, seconds: float) -> str:
    L = ["# Electrode polarity and gain (design data, out of fold)", "",
         f"Reproduce: `{command}` ({seconds:.0f} s). Each training run's members classify the "
         "DS1 and SVDB patient folds they never trained on (float, reference beats, pooled); "
         "the signal as recorded, negated (electrodes the other way round) and scaled. QRS: "
         "our detector, EC57 matcher. DS2 is not read.", "",
         "| run | signal | beats | acc | SVEB Se / +P / F1 | VEB Se / +P / F1 | QRS Se / +P |",
         "|---|---|---:|---:|---|---|---|"]
    for r in results:
        for name, v in r["variants"].items():
            qrs = (f"{v['qrs_se']:.2f} / {v['qrs_ppv']:.2f}" if "qrs_se" in v else "–")
            L.append(f"| `{Path(r['run']).name}` | {name} | {v['beats']} | "
                     f"{100 * v['accuracy']:.1f} | {v['S_se']:.3f} / {v['S_ppv']:.3f} / "
                     f"{v['S_f1']:.3f} | {v['V_se']:.3f} / {v['V_ppv']:.3f} / {v['V_f1']:.3f} | "
                     f"{qrs} |")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import output_stem  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python benchmarks/bench_polarity.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="training.train --svdb output folders")
    p.add_argument("--out-stem", type=output_stem, default=ROOT / "benchmarks/results/polarity")
    a = p.parse_args(argv)
    for run in a.runs:
        if not (run / "member0" / "beat_cnn.keras").is_file():
            p.error(f"{run}: not a training run with member folders (member0/beat_cnn.keras)")
    t0 = time.monotonic()
    try:
        results = [evaluate_run(run) for run in a.runs]
    except EdgeError as exc:  # a damaged member model or contract, a missing record
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{p.prog}: interrupted", file=sys.stderr)
        return 130
    command = "python benchmarks/bench_polarity.py " + " ".join(str(r) for r in a.runs)
    md = render(results, command, time.monotonic() - t0)
    a.out_stem.parent.mkdir(parents=True, exist_ok=True)
    a.out_stem.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    a.out_stem.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
