"""Class-prior calibration of a trained ensemble, fitted on held-out design data only.

``python -m training.calibrate --model DIR --runs RUN [RUN ...] --out DIR2``

The decision rule stays argmax, on probabilities shifted by per-class log offsets:
``p'_c ∝ p_c · exp(b_c)`` for each member before the members are averaged -- which is exactly
adding ``b`` to the bias of each member's output layer, so the device runs the calibrated
model unchanged (:func:`apply_offsets`). The offsets of S and V (N, F, Q stay 0) are chosen
on a grid to maximise :func:`training.train.selection_score` on **out-of-fold** predictions:
for DS1 fold *k* (and SVDB fold *k* if the runs were trained with ``--svdb``) the average of
member *k* of every run in ``--runs`` (the members that never saw those patients; several
seeds of one recipe give an ensemble like the shipped one). DS2 is never read.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError, EdgeError
from edge.eval.scoring import class_metrics, confusion_matrix

__all__ = ["shift_probabilities", "fit_offsets", "apply_offsets", "out_of_fold", "main",
           "GRID"]

logger = logging.getLogger(__name__)

#: Candidate log offsets for S and for V.
GRID = tuple(np.round(np.arange(-2.0, 1.01, 0.25), 2))


def shift_probabilities(prob: np.ndarray, offsets) -> np.ndarray:
    """``prob`` (n, classes) of one member with log ``offsets`` (classes,) added to its logits:
    ``p · exp(b)``, renormalised per row."""
    p = np.asarray(prob, dtype=np.float64) * np.exp(np.asarray(offsets, dtype=np.float64))
    return p / p.sum(axis=1, keepdims=True)


def _score(members: list[np.ndarray], labels: np.ndarray, offsets) -> tuple[float, dict]:
    from training.train import selection_score
    avg = np.mean([shift_probabilities(p, offsets) for p in members], axis=0)
    true = [AAMI_CLASSES[i] for i in labels]
    pred = [AAMI_CLASSES[i] for i in avg.argmax(1)]
    m = class_metrics(confusion_matrix(true, pred))
    return selection_score(m), m


def fit_offsets(members: list[np.ndarray], labels: np.ndarray, grid=GRID) -> dict:
    """Best S and V log offsets on a grid for averaged, shifted member probabilities.

    Parameters
    ----------
    members : per member of the (out-of-fold) ensemble, (n, 5) probabilities of the same beats.
    labels : (n,) true class indices.

    Returns
    -------
    ``{"offsets": [5 floats], "score": best, "score_uncalibrated": at 0, "metrics": ...}``
    """
    if not members or any(p.shape != members[0].shape for p in members):
        raise ConfigError("members", "need one or more probability arrays of one shape")
    labels = np.asarray(labels)
    base, _ = _score(members, labels, np.zeros(len(AAMI_CLASSES)))
    best = (base, np.zeros(len(AAMI_CLASSES)))
    for s in grid:
        for v in grid:
            off = np.zeros(len(AAMI_CLASSES))
            off[AAMI_CLASSES.index("S")], off[AAMI_CLASSES.index("V")] = s, v
            sc, _ = _score(members, labels, off)
            if sc > best[0] + 1e-9:
                best = (sc, off)
    _, m = _score(members, labels, best[1])
    return {"offsets": [float(x) for x in best[1]], "score": float(best[0]),
            "score_uncalibrated": float(base),
            "per_class": {c: {k: m["per_class"][c][k] for k in ("se", "ppv", "f1")}
                          for c in ("S", "V")}}


def apply_offsets(model, offsets) -> int:
    """Add ``offsets`` to the bias of every member's output layer (``probabilities``) of a
    Keras beat model (single network or ensemble); returns the number of layers changed."""
    off = np.asarray(offsets, dtype=np.float32)
    layers = []
    for layer in model.layers:
        inner = getattr(layer, "layers", None)
        if inner:
            layers += [x for x in inner if x.name == "probabilities"]
        elif layer.name == "probabilities" and hasattr(layer, "bias"):
            layers.append(layer)
    for layer in layers:
        w, b = layer.get_weights()
        layer.set_weights([w, b + off])
    if not layers:
        raise ConfigError("model", "no output layer named 'probabilities' to calibrate")
    return len(layers)


def out_of_fold(runs: list[str], data_dir=None) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Out-of-fold member probabilities over the DS1 folds (and SVDB folds) of ``runs``
    (``python -m training.train`` ensemble outputs of one recipe): for fold *k*, member *k* of
    each run. Returns (per-run probabilities, labels, {set: beats})."""
    from training.contract import load_model, model_inputs
    from training.dataset import DatasetConfig, build_dataset

    contracts = []
    for r in runs:
        found = sorted(Path(r).glob("beat_*.contract.json"))
        if not found:
            raise ConfigError("runs", f"{r}: no beat_*.contract.json (a run of python -m "
                                      f"training.train)")
        try:
            contracts.append(json.loads(found[0].read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError("runs", f"{found[0]}: unreadable contract ({exc})") from None
        if "folds" not in contracts[-1].get("training", {}):
            raise ConfigError("runs", f"{r}: a single model, not an ensemble run (its contract "
                                      f"lists no folds)")
    t0 = contracts[0]["training"]
    sets = [("DS1", t0["folds"])] + ([("SVDB", t0["extra_folds"])] if t0.get("extra_folds")
                                     else [])
    for c in contracts[1:]:
        if c["training"]["folds"] != t0["folds"] or \
                c["training"].get("extra_folds") != t0.get("extra_folds"):
            raise ConfigError("runs", "all runs must share their patient folds")
    probs: list[list[np.ndarray]] = [[] for _ in runs]
    labels, counts = [], {}
    cfg = DatasetConfig(n_augment=0)
    for name, folds in sets:
        counts[name] = 0
        for k, fold in enumerate(folds):
            d = build_dataset(tuple(fold), cfg, progress=False, data_dir=data_dir)
            labels.append(d.label)
            counts[name] += len(d)
            for i, r in enumerate(runs):
                m, c = load_model(Path(r) / f"member{k}")
                probs[i].append(m.predict(model_inputs(d.beat, d.features, c),
                                          batch_size=4096, verbose=0))
    return [np.concatenate(p) for p in probs], np.concatenate(labels), counts


def _finite(text: str) -> float:
    """An argparse type: a finite number (a NaN offset made every output NaN)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate",
                                description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="trained ensemble directory to calibrate")
    p.add_argument("--offsets", type=_finite, nargs=2, metavar=("S", "V"),
                   help="apply these log offsets (e.g. from an earlier fit on the recipe's "
                        "runs, to calibrate its other seeds and members alike) instead of "
                        "fitting")
    p.add_argument("--runs", nargs="+", default=None,
                   help="runs of the same recipe (seeds) whose members give the out-of-fold "
                        "predictions (the model's own directory may be one of them)")
    p.add_argument("--out", required=True, help="output directory (model + contract)")
    p.add_argument("--data-dir", help="MIT-BIH directory (default: $MITDB_DIR)")
    a = p.parse_args(argv)
    if not a.runs and a.offsets is None:
        p.error("give --runs (fit the offsets) or --offsets S V (apply them)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from training.train import _setup_threads
    _setup_threads(2)
    from training.contract import contract_path, load_model, save_contract
    try:
        model, contract = load_model(a.model)
        if a.offsets is not None:
            off = [0.0] * len(AAMI_CLASSES)
            off[AAMI_CLASSES.index("S")], off[AAMI_CLASSES.index("V")] = a.offsets
            fit, counts = {"offsets": off, "given": True}, {}
        else:
            probs, labels, counts = out_of_fold(a.runs, a.data_dir)
            fit = fit_offsets(probs, labels)
        n = apply_offsets(model, fit["offsets"])
    except (EdgeError, OSError) as exc:
        print(f"python -m training.calibrate: {exc}", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    keras_path = out / contract["model"]["keras_file"]
    model.save(keras_path)
    contract["training"]["calibration"] = {
        **fit, "runs": [str(r) for r in a.runs or ()], "beats": counts, "layers": n,
        "rule": "log offsets added to each member's output bias; fitted on out-of-fold "
                "predictions of DS1 (and SVDB) patient folds, grid over S and V"}
    contract["model_version"] = contract["model_version"] + "-cal"
    save_contract(contract, contract_path(keras_path))
    for extra in ("history.json",):
        if (Path(a.model) / extra).is_file():
            shutil.copy(Path(a.model) / extra, out / extra)
    if a.offsets is not None:
        print(f"offsets S {a.offsets[0]:+.2f} V {a.offsets[1]:+.2f} applied; wrote {keras_path}")
        return 0
    pc = fit["per_class"]
    print(f"offsets S {fit['offsets'][1]:+.2f} V {fit['offsets'][2]:+.2f}: out-of-fold score "
          f"{fit['score_uncalibrated']:.4f} -> {fit['score']:.4f} (S F1 {pc['S']['f1']:.3f}, "
          f"V F1 {pc['V']['f1']:.3f}); wrote {keras_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
