"""Inter-patient evaluation on DS2 (AAMI EC57 classes): inference and the command line.

``python -m training.evaluate --model DIR [--model DIR2 ...] [--int8 FILE.tflite ...]
--out reports/DIR``

``python -m training.evaluate --from-json reports/DIR/report.json --out reports/DIR
[--shipped TEXT] [--notes FILE]`` re-renders ``report.md`` / ``report.json`` from the confusion
matrices of an earlier evaluation without loading any model (the plots are kept as they are).

Two modes per model:

* ``reference`` -- beats at the reference annotation positions (comparable with the
  literature).
* ``end_to_end`` -- beats found by the streaming :class:`edge.dsp.rpeak.RPeakDetector` on the
  conditioned record, matched to the reference with :func:`edge.eval.scoring.match_beats`
  (150 ms). A missed reference beat counts as a false negative of its class, an extra
  detection as a false positive of its predicted class (the ``-`` row/column of the confusion
  matrix, "no beat").

``--int8 FILE.tflite`` (one per ``--model``, in order) measures the full-int8 model made from
it by ``python convert/quantize.py``: its size, its agreement with the float model and its
latency, on the device's own loader (:class:`edge.model.classifier.BeatClassifier`). Training
never converts: conversion is the ``convert`` package's job.

The metrics are :mod:`training.metrics` (plain one-vs-rest per-class numbers, the default
everywhere including the targets, and the EC57/bxb gross statistics next to them), the figures
:mod:`training.plots`, the Markdown :mod:`training.report`. Nothing here is used to choose a
model or threshold: selection happens in :mod:`training.train` on held-out DS1 records.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.inputs import condition_signal, inputs_at
from edge.dsp.rpeak import RPeakDetector
from edge.errors import ModelError
from edge.eval.scoring import match_beats
from edge.model.classifier import BeatClassifier
from training.contract import dataset_config, load_model, model_inputs
from training.data import DS2, reference_beats
from training.dataset import record_signal
from training.metrics import E2E_CLASSES, NO_BEAT, summarize, with_ec57
from training.plots import plot_confusion, plot_strips
from training.report import LITERATURE, write_report
from training.tool import output_dir, run_guarded

__all__ = ["evaluate_reference", "evaluate_end_to_end", "evaluate_model", "int8_agreement",
           "reference_inputs", "write_report", "with_ec57", "LITERATURE", "main"]

logger = logging.getLogger(__name__)

#: Kept importable from here for earlier importers (``tests/edge/dashboard/support.py``).
_summary = summarize

#: Beats compared between the float and the int8 model (drawn from the first six records).
INT8_BEATS = 3000


# --------------------------------------------------------------------------- prediction
def _record_inputs(record: str, contract: dict, beats: np.ndarray | None, data_dir=None):
    """Conditioned signal, beat positions and model inputs of one record (whole record)."""
    cfg = dataset_config(contract)
    x, fs = record_signal(record, cfg.lead, data_dir)
    cond = condition_signal(x, fs)
    if beats is None:
        det = RPeakDetector()
        beats = np.concatenate([det.process(cond), det.flush()]).astype(np.int64)
    inp = inputs_at(cond, beats, cfg.window, cfg.features)
    return cond.filtered_mv, beats, inp.rr_s, inp.beat, inp.features, cfg.window


def _predict(model, contract, beat, feats) -> np.ndarray:
    if beat.shape[0] == 0:
        return np.zeros((0, len(AAMI_CLASSES)), np.float32)
    return model.predict(model_inputs(beat, feats, contract), batch_size=2048, verbose=0)


def evaluate_reference(model, contract, records=DS2, data_dir=None, progress=True) -> dict:
    """Mode (a): predictions at the reference beat positions of each record."""
    out = {}
    it = _progress(records, "reference", progress)
    for rec in it:
        ref = reference_beats(rec, data_dir=data_dir)
        sig, beats, rr, beat, feats, wcfg = _record_inputs(rec, contract, ref.sample_index,
                                                           data_dir)
        prob = _predict(model, contract, beat, feats)
        out[rec] = {"true": list(ref.aami), "pred": [AAMI_CLASSES[i] for i in prob.argmax(1)],
                    "sample_index": beats, "rr_s": rr, "signal": sig, "wcfg": wcfg}
    return out


def evaluate_end_to_end(model, contract, records=DS2, data_dir=None, progress=True) -> dict:
    """Mode (b): detected beats, matched to the reference (missed / extra beats -> ``-``)."""
    out = {}
    it = _progress(records, "end-to-end", progress)
    for rec in it:
        ref = reference_beats(rec, data_dir=data_dir)
        sig, beats, rr, beat, feats, wcfg = _record_inputs(rec, contract, None, data_dir)
        prob = _predict(model, contract, beat, feats)
        pred_det = [AAMI_CLASSES[i] for i in prob.argmax(1)]
        order = np.argsort(ref.sample_index, kind="stable")
        r2d, d2r = match_beats(ref.sample_index, beats, wcfg.fs_hz)
        true, pred, pos, rrs = [], [], [], []
        aami_sorted = ref.aami[order]
        for k, d in enumerate(r2d.tolist()):
            true.append(aami_sorted[k])
            pred.append(pred_det[d] if d >= 0 else NO_BEAT)
            pos.append(ref.sample_index[order][k])
            rrs.append(rr[d] if d >= 0 else np.full(4, np.nan))
        for d in np.flatnonzero(d2r < 0).tolist():
            true.append(NO_BEAT)
            pred.append(pred_det[d])
            pos.append(beats[d])
            rrs.append(rr[d])
        out[rec] = {"true": true, "pred": pred, "sample_index": np.array(pos, np.int64),
                    "rr_s": np.array(rrs).reshape(-1, 4), "signal": sig, "wcfg": wcfg,
                    "n_detected": int(beats.size), "n_reference": int(ref.sample_index.size)}
    return out


def _progress(items, desc, on):
    if not on or not sys.stderr.isatty():  # a log file gets no carriage-return bar lines
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="record", leave=False)


# --------------------------------------------------------------------------- int8
def int8_agreement(model, contract: dict, clf: BeatClassifier, beat: np.ndarray,
                   feats: np.ndarray, *, n_beats: int = INT8_BEATS, seed: int = 0) -> dict:
    """A full-int8 model against its float model on the same beats.

    Parameters
    ----------
    model, contract : the float Keras model and its contract (:func:`training.contract.
        load_model`).
    clf : the int8 model on the device's loader (made by ``python convert/quantize.py``).
    beat, feats : model inputs (raw, unstandardised features) of the beats to compare; up to
        ``n_beats`` of them are drawn with ``np.random.default_rng(seed)``.

    Returns
    -------
    dict
        ``tflite`` (file name), ``int8_bytes`` (file size), ``agreement_with_float`` (fraction
        of beats with the same argmax), ``latency_ms_per_beat`` (one interpreter thread, ms)
        and ``beats_compared``.
    """

    if beat.shape[0] == 0:
        raise ModelError("int8 agreement: no beats to compare")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(beat), size=min(n_beats, len(beat)), replace=False)
    x = model_inputs(beat[pick], feats[pick], contract)
    ref = model.predict(x, batch_size=2048, verbose=0).argmax(1)
    t0 = time.perf_counter()
    got = clf.predict_proba(beat[pick], feats[pick]).argmax(1)
    dt = (time.perf_counter() - t0) / len(pick)
    return {"tflite": Path(clf.path).name, "int8_bytes": Path(clf.path).stat().st_size,
            "agreement_with_float": float(np.mean(got == ref)),
            "latency_ms_per_beat": dt * 1e3, "beats_compared": int(len(pick))}


def load_int8(path: str | os.PathLike, contract: dict) -> BeatClassifier:
    """The int8 model of ``--int8``, checked to be a conversion of the evaluated model.

    Raises
    ------
    ModelError
        The file cannot be loaded by the device, or its contract names another model version
        than ``contract`` (its agreement with the float model would mean nothing).
    """
    clf = BeatClassifier(path)
    want = str(contract.get("model_version"))
    if clf.model_version != want:
        raise ModelError(f"--int8 {path}: model_version {clf.model_version!r} is not the "
                         f"evaluated model's {want!r} (convert that model with "
                         "python convert/quantize.py)")
    return clf


def reference_inputs(contract, records, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (beat, raw features) at the reference positions of a few records."""
    bs, fs = [], []
    for rec in records:
        ref = reference_beats(rec, data_dir=data_dir)
        _, _, _, beat, feats, _ = _record_inputs(rec, contract, ref.sample_index, data_dir)
        bs.append(beat)
        fs.append(feats)
    return np.concatenate(bs), np.concatenate(fs)


#: Earlier name of :func:`reference_inputs`.
evaluate_reference_inputs = reference_inputs


# --------------------------------------------------------------------------- one model
def _plots(kind: str, res: dict, ref: dict, out_dir: Path) -> tuple[dict, dict]:
    """Confusion matrices of both modes and strips of S/V errors at reference positions."""
    plots = {}
    on = ("DS2" if sorted(ref) == sorted(DS2) else
          "records " + ",".join(ref) if len(ref) <= 4 else f"{len(ref)} records")
    for mode, classes in (("reference", AAMI_CLASSES), ("end_to_end", E2E_CLASSES)):
        p = out_dir / f"{kind}_{mode}_confusion.png"
        plot_confusion(np.array(res[mode]["confusion"]["matrix"]), classes,
                       f"{kind.upper()} {on} {mode.replace('_', '-')}", p)
        plots[f"{mode}_confusion"] = p.name
    strips = {}
    for cls in ("S", "V"):
        for kindfx in ("FN", "FP"):
            p = out_dir / f"{kind}_reference_{cls}_{kindfx}_strips.png"
            info = plot_strips(ref, cls, kindfx, p)
            if info:
                plots[f"{cls}_{kindfx}_strips"] = p.name
                strips[f"{cls}_{kindfx}"] = info
    return plots, strips


def _detection(e2e: dict) -> dict:
    """Beat detection counts of the end-to-end mode (a matched pair is a true positive)."""
    tp = sum(sum(1 for t, p in zip(r["true"], r["pred"]) if t != NO_BEAT and p != NO_BEAT)
             for r in e2e.values())
    n_ref = sum(r["n_reference"] for r in e2e.values())
    n_det = sum(r["n_detected"] for r in e2e.values())
    return {"tp": tp, "fn": n_ref - tp, "fp": n_det - tp, "se": tp / n_ref,
            "ppv": tp / max(n_det, 1)}


def evaluate_model(model_path, out_dir: Path, *, records=DS2, data_dir=None,
                   progress: bool = True, int8_path: str | os.PathLike | None = None) -> dict:
    """Evaluate one model in both modes; write its plots; return the JSON-able result.

    ``int8_path`` (a ``.tflite`` made from this model by ``python convert/quantize.py``) adds
    ``"int8"``: :func:`int8_agreement` on the reference beats of the first six records.
    """
    model, contract = load_model(model_path)
    clf = None if int8_path is None else load_int8(int8_path, contract)
    kind = contract["model"]["kind"]
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    ref = evaluate_reference(model, contract, records, data_dir, progress)
    e2e = evaluate_end_to_end(model, contract, records, data_dir, progress)
    res = {"model": str(model_path), "kind": kind, "model_version": contract["model_version"],
           "params": contract["model"]["params"],
           "keras_bytes": _keras_size(model_path),
           "training": {k: contract["training"].get(k) for k in
                        ("records", "validation_records", "selection", "best_epoch",
                         "epochs_run", "seconds", "best_validation", "folds",
                         "extra_folds", "ds1_crossval_members", "svdb_crossval_members")},
           "reference": summarize(ref, AAMI_CLASSES),
           "end_to_end": summarize(e2e, E2E_CLASSES)}
    res["end_to_end"]["detection"] = _detection(e2e)
    res["plots"], res["strips"] = _plots(kind, res, ref, out_dir)
    if clf is not None:
        res["int8"] = int8_agreement(model, contract, clf,
                                     *reference_inputs(contract, records[:6], data_dir))
    res["eval_seconds"] = time.monotonic() - t0
    return res


def _keras_size(model_path) -> int:
    p = Path(model_path)
    if p.is_dir():
        p = sorted(p.glob("*.keras"))[0]
    return p.stat().st_size


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate",
                                description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", action="append",
                     help="model directory or .keras file (repeat to compare)")
    src.add_argument("--from-json", metavar="REPORT_JSON",
                     help="re-render an earlier report.json (its stored confusion matrices) "
                          "instead of evaluating; loads no model")
    p.add_argument("--int8", action="append", metavar="TFLITE",
                   help="full-int8 model made from the --model of the same rank by "
                        "python convert/quantize.py: report its size, agreement with the float "
                        "model and latency (one per --model, in order)")
    p.add_argument("--out", required=True, type=output_dir, help="report directory")
    p.add_argument("--records", nargs="+", default=list(DS2), help="records (default DS2)")
    p.add_argument("--shipped", help="note on the shipped model for the report header")
    p.add_argument("--notes", help="Markdown file inserted after the report header")
    p.add_argument("--no-int8", action="store_true",
                   help="no int8 measurement (the default without --int8; kept for scripts)")
    p.add_argument("--data-dir", help="MIT-BIH directory (default: $MITDB_DIR)")
    p.add_argument("--quiet", action="store_true")
    return p


def _read_text(p: argparse.ArgumentParser, option: str, path: str) -> str:
    """The text of a file an option names; a missing or unreadable one is the parser's
    one-line error (exit 2)."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        p.error(f"{option} {path}: cannot read it ({why})")


def _rerender(p: argparse.ArgumentParser, a: argparse.Namespace, notes: str | None) -> int:
    """``--from-json``: the report re-rendered from an earlier ``report.json``; a file that is
    not one is the parser's one-line error and nothing is written."""
    text = _read_text(p, "--from-json", a.from_json)
    try:
        results = json.loads(text)
    except ValueError as exc:
        p.error(f"--from-json {a.from_json}: not JSON ({exc})")
    try:
        if not (isinstance(results, list) and results
                and all(isinstance(r, dict) for r in results)):
            raise TypeError("expected a list of evaluated models")
        path = write_report(with_ec57(results), Path(a.out), a.shipped, notes)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        p.error(f"--from-json {a.from_json}: not a report.json of python -m training.evaluate "
                f"({type(exc).__name__}: {exc})")
    logger.info("re-rendered %s from %s", path, a.from_json)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    int8 = a.int8 or []
    if int8 and a.no_int8:
        p.error("--int8 and --no-int8 contradict each other")
    if int8 and (a.from_json or len(int8) != len(a.model)):
        p.error(f"--int8: give one .tflite per --model, in order ({len(int8)} for "
                f"{len(a.model or [])} models)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    notes = _read_text(p, "--notes", a.notes) if a.notes else None
    return run_guarded(p.prog, lambda: (_rerender(p, a, notes) if a.from_json
                                        else _evaluate(p, a, int8, notes)),
                       error_tag="error: ",
                       interrupted=f"interrupted; no report written (plots of models already "
                                   f"evaluated may be in {a.out})")


def _evaluate(p: argparse.ArgumentParser, a: argparse.Namespace, int8: list[str],
              notes: str | None) -> int:
    for path in int8:  # fail before the long evaluation, not after it
        if not Path(path).is_file():
            p.error(f"--int8 {path}: no such file")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already running (main called in-process): as it is
        pass
    out = Path(a.out)
    results = []
    for k, mp in enumerate(a.model):
        r = evaluate_model(mp, out, records=tuple(a.records), data_dir=a.data_dir,
                           progress=not a.quiet, int8_path=int8[k] if int8 else None)
        pc = r["reference"]["per_class"]
        logger.info("%s reference: acc %.4f S Se %.3f +P %.3f F1 %.3f; V Se %.3f +P %.3f F1 %.3f",
                    r["kind"], r["reference"]["accuracy"], pc["S"]["se"], pc["S"]["ppv"],
                    pc["S"]["f1"], pc["V"]["se"], pc["V"]["ppv"], pc["V"]["f1"])
        results.append(r)
    path = write_report(results, out, a.shipped, notes)
    logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
