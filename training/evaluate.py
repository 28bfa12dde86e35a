"""Inter-patient evaluation on DS2 (AAMI EC57 classes), written as JSON, Markdown and PNG.

``python -m training.evaluate --model DIR [--model DIR2 ...] --out reports/DIR``

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

Metrics come from :mod:`edge.eval.scoring`: the plain one-vs-rest per-class numbers of
:func:`~edge.eval.scoring.class_metrics` (conservative; the default everywhere, including the
targets) and, next to them under ``"ec57"``, the VEB/SVEB gross statistics by the EC57 rules as
PhysioNet's ``bxb`` computes them (:func:`~edge.eval.scoring.ec57_gross`: a reference F or Q beat
called V is not a false VEB, a Q beat called S not a false SVEB). Nothing here is used to choose
a model or threshold: selection happens in :mod:`training.train` on held-out DS1 records.
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
from edge.eval.scoring import class_metrics, confusion_matrix, ec57_gross, match_beats
from training.data import DS2, reference_beats

__all__ = ["evaluate_reference", "evaluate_end_to_end", "evaluate_model", "write_report",
           "with_ec57", "LITERATURE", "main"]

logger = logging.getLogger(__name__)

NO_BEAT = "-"
E2E_CLASSES = AAMI_CLASSES + (NO_BEAT,)

#: Published inter-patient DS2 results (Se/+P in %, or F1 where only that is given).
LITERATURE = [
    {"study": "de Chazal et al. 2004", "S_se": 76.0, "S_ppv": 38.0, "V_se": 77.0, "V_ppv": 82.0},
    {"study": "Zhang et al. 2014", "S_se": 79.1, "S_ppv": 36.0, "V_se": 85.5, "V_ppv": 92.7},
    {"study": "Mar et al. 2011", "S_se": 83.2, "S_ppv": 33.5, "V_se": 86.8, "V_ppv": 75.9},
    {"study": "Garcia et al. 2017", "S_se": 62.0, "S_ppv": 53.0, "V_se": 87.3, "V_ppv": 59.4},
    {"study": "Niu et al. 2020", "S_f1": 76.6, "V_f1": 89.7},
]

#: DS1 records whose beats calibrate the trial int8 conversion (never DS2).
CALIBRATION_RECORDS = ("101", "106", "118", "119", "207", "209", "220", "223")

TARGETS = {"V_f1": 0.90, "V_se": 0.85, "V_ppv": 0.85, "S_f1": 0.55, "S_se": 0.60,
           "accuracy": 0.93}


# --------------------------------------------------------------------------- prediction
def _record_inputs(record: str, contract: dict, beats: np.ndarray | None, data_dir=None):
    """Conditioned signal, beat positions and model inputs of one record (whole record)."""
    from edge.dsp.beats import WindowConfig
    from edge.dsp.features import FeatureConfig
    from training.dataset import record_signal

    w = contract["window"]
    wcfg = WindowConfig(**{k: w[k] for k in ("fs_hz", "before_ms", "after_ms", "align_ms",
                                            "local_beats", "long_beats", "min_rr_s",
                                            "max_rr_s")})
    fcfg = FeatureConfig(**contract["features"]["config"])
    x, fs = record_signal(record, contract.get("lead", "MLII"), data_dir)
    cond = condition_signal(x, fs)
    if beats is None:
        det = RPeakDetector()
        beats = np.concatenate([det.process(cond), det.flush()]).astype(np.int64)
    inp = inputs_at(cond, beats, wcfg, fcfg)
    return cond.filtered_mv, beats, inp.rr_s, inp.beat, inp.features, wcfg


def _predict(model, contract, beat, feats) -> np.ndarray:
    from training.contract import model_inputs
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
    if not on:
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="record", leave=False)


# --------------------------------------------------------------------------- metrics
def _summary(per_record: dict, classes) -> dict:
    true = [t for r in per_record.values() for t in r["true"]]
    pred = [p for r in per_record.values() for p in r["pred"]]
    cm = confusion_matrix(true, pred, classes)
    m = class_metrics(cm, classes)
    m["per_class"] = {c: m["per_class"][c] for c in AAMI_CLASSES}
    f1s = [v["f1"] for v in m["per_class"].values() if v["tp"] + v["fn"] > 0]
    m["macro_f1"] = float(np.nanmean(f1s))
    m["confusion"] = {"classes": list(classes), "matrix": cm.tolist()}
    rows = []
    for rec, r in per_record.items():
        cmr = confusion_matrix(r["true"], r["pred"], classes)
        mr = class_metrics(cmr, classes)
        pc = mr["per_class"]
        rows.append({"record": rec, "beats": int(cmr.sum()), "accuracy": mr["accuracy"],
                     **{f"n_{c}": int(cmr[i].sum()) for i, c in enumerate(AAMI_CLASSES)},
                     **{f"{c}_{k}": pc[c][k] for c in ("S", "V") for k in ("se", "ppv", "f1")},
                     "errors": int(cmr.sum() - np.trace(cmr))})
    m["per_record"] = rows
    conf = []
    for i, t in enumerate(classes):
        for j, p in enumerate(classes):
            if i != j and cm[i, j] > 0:
                recs = sorted(((int(confusion_matrix(r["true"], r["pred"], classes)[i, j]), k)
                               for k, r in per_record.items()), reverse=True)
                conf.append({"true": t, "pred": p, "count": int(cm[i, j]),
                             "top_records": [{"record": k, "count": n} for n, k in recs[:3]
                                             if n > 0]})
    m["dominant_confusions"] = sorted(conf, key=lambda d: -d["count"])[:8]
    m["targets"] = _targets(m)
    m["ec57"] = _ec57(m["confusion"])
    return m


def _ec57(confusion: dict) -> dict:
    """EC57/bxb VEB and SVEB gross statistics of a stored ``{"classes", "matrix"}``."""
    return ec57_gross(np.array(confusion["matrix"]), tuple(confusion["classes"]))


def with_ec57(results: list[dict]) -> list[dict]:
    """Set ``"ec57"`` of both modes of every result from its stored confusion matrix (for
    results written before it existed); returns ``results``."""
    for r in results:
        for mode in ("reference", "end_to_end"):
            r[mode]["ec57"] = _ec57(r[mode]["confusion"])
    return results


def _targets(m: dict) -> dict:
    pc = m["per_class"]
    got = {"V_f1": pc["V"]["f1"], "V_se": pc["V"]["se"], "V_ppv": pc["V"]["ppv"],
           "S_f1": pc["S"]["f1"], "S_se": pc["S"]["se"], "accuracy": m["accuracy"]}
    return {k: {"value": float(v), "target": TARGETS[k], "met": bool(v >= TARGETS[k])}
            for k, v in got.items()}


def trial_int8(model, contract, beat, feats, n_calib: int = 500, seed: int = 0,
               calib: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Trial full-int8 conversion (int8 input/output): size, agreement, latency per beat.

    ``calib`` (beat, features) are the calibration beats (default: drawn from ``beat``);
    agreement and latency are measured on ``beat`` / ``feats``. A measurement only; the
    shipped conversion belongs to the ``convert`` package.
    """
    import tempfile

    from convert.quantize import convert_int8, embed_contract
    from edge.model.classifier import BeatClassifier
    from training.contract import model_inputs

    x = model_inputs(beat, feats, contract)
    xc = x if calib is None else model_inputs(*calib, contract)
    rng = np.random.default_rng(seed)
    cidx = rng.choice(len(xc["beat"]), size=min(n_calib, len(xc["beat"])), replace=False)
    blob = embed_contract(convert_int8(model, contract, xc["beat"][cidx],
                                       xc["features"][cidx]), contract)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trial.tflite"
        path.write_bytes(blob)
        clf = BeatClassifier(path)  # the device's own loader, checks and quantization
    pick = rng.choice(len(beat), size=min(3000, len(beat)), replace=False)
    ref = model.predict(x, batch_size=2048, verbose=0)[pick].argmax(1)
    t0 = time.perf_counter()
    got = clf.predict_proba(beat[pick], feats[pick]).argmax(1)
    dt = (time.perf_counter() - t0) / len(pick)
    return {"int8_bytes": len(blob), "agreement_with_float": float(np.mean(got == ref)),
            "latency_ms_per_beat": dt * 1e3, "beats_compared": int(len(pick))}


# --------------------------------------------------------------------------- plots
def plot_confusion(cm: np.ndarray, classes, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_strips(per_record: dict, cls: str, kind: str, path: Path, n: int = 6,
                seed: int = 0) -> list[dict]:
    """ECG strips of misclassified beats: ``kind`` = "FN" (true ``cls``, predicted other) or
    "FP" (predicted ``cls``, true other), from the records with the most such errors."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    per = []
    for rec, r in per_record.items():
        t, p = np.array(r["true"]), np.array(r["pred"])
        bad = (t == cls) & (p != cls) if kind == "FN" else (p == cls) & (t != cls)
        if bad.any():
            per.append((int(bad.sum()), rec, np.flatnonzero(bad)))
    per.sort(key=lambda v: -v[0])
    picks = []
    for cnt, rec, idx in per[:3]:
        take = rng.choice(idx, size=min(len(idx), max(1, n // min(3, len(per)))), replace=False)
        picks += [(rec, int(k)) for k in sorted(take)]
    picks = picks[:n]
    if not picks:
        return []
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 1.7 * len(picks)), squeeze=False)
    info = []
    for ax, (rec, k) in zip(axes[:, 0], picks):
        r = per_record[rec]
        fs = r["wcfg"].fs_hz
        align = r["wcfg"].align_samples
        pos = int(r["sample_index"][k])
        a, b = max(0, pos - int(1.5 * fs)), min(r["signal"].size, pos + int(1.5 * fs))
        t = (np.arange(a, b) - pos) / fs
        ax.plot(t, r["signal"][a + align:b + align] if b + align <= r["signal"].size
                else r["signal"][a:b], lw=0.8, color="k")
        sidx = np.asarray(r["sample_index"])
        near = np.flatnonzero((sidx >= a) & (sidx < b))
        for j in near:
            x = (sidx[j] - pos) / fs
            tt, pp = r["true"][j], r["pred"][j]
            ax.axvline(x, color="r" if tt != pp else "0.7", lw=0.6, ls="--")
            ax.text(x, 1.0, f"{tt}>{pp}", transform=ax.get_xaxis_transform(), fontsize=7,
                    ha="center", va="bottom", color="r" if tt != pp else "0.4")
        rr = r["rr_s"][k]
        ax.set_title(f"record {rec} @ {pos / fs:.1f} s: true {r['true'][k]}, "
                     f"pred {r['pred'][k]}; RR pre {rr[0]:.2f} post {rr[1]:.2f} "
                     f"local {rr[2]:.2f} long {rr[3]:.2f} s", fontsize=8, loc="left", pad=12)
        ax.set_ylabel("mV", fontsize=7)
        ax.tick_params(labelsize=7)
        info.append({"record": rec, "time_s": pos / fs, "true": r["true"][k],
                     "pred": r["pred"][k], "rr_s": [float(v) for v in rr]})
    axes[-1, 0].set_xlabel("time from beat (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return info


# --------------------------------------------------------------------------- report
def evaluate_model(model_path, out_dir: Path, *, records=DS2, data_dir=None,
                   progress: bool = True, int8: bool = True) -> dict:
    """Evaluate one model in both modes; write plots; return the JSON-able result."""
    from training.contract import load_model

    model, contract = load_model(model_path)
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
                         "ds1_crossval_members")},
           "reference": _summary(ref, AAMI_CLASSES),
           "end_to_end": _summary(e2e, E2E_CLASSES)}
    det_tp = sum(sum(1 for t, p in zip(r["true"], r["pred"]) if t != NO_BEAT and p != NO_BEAT)
                 for r in e2e.values())
    n_ref = sum(r["n_reference"] for r in e2e.values())
    n_det = sum(r["n_detected"] for r in e2e.values())
    res["end_to_end"]["detection"] = {"tp": det_tp, "fn": n_ref - det_tp, "fp": n_det - det_tp,
                                      "se": det_tp / n_ref, "ppv": det_tp / max(n_det, 1)}
    plots = {}
    for mode, data, classes in (("reference", ref, AAMI_CLASSES),
                                ("end_to_end", e2e, E2E_CLASSES)):
        p = out_dir / f"{kind}_{mode}_confusion.png"
        plot_confusion(np.array(res[mode]["confusion"]["matrix"]), classes,
                       f"{kind.upper()} DS2 {mode.replace('_', '-')}", p)
        plots[f"{mode}_confusion"] = p.name
    strips = {}
    for cls in ("S", "V"):
        for kindfx in ("FN", "FP"):
            p = out_dir / f"{kind}_reference_{cls}_{kindfx}_strips.png"
            info = plot_strips(ref, cls, kindfx, p)
            if info:
                plots[f"{cls}_{kindfx}_strips"] = p.name
                strips[f"{cls}_{kindfx}"] = info
    res["plots"] = plots
    res["strips"] = strips
    if int8:
        try:
            d = evaluate_reference_inputs(contract, records[:6], data_dir)
            cal = evaluate_reference_inputs(contract, CALIBRATION_RECORDS, data_dir)
            res["int8_trial"] = trial_int8(model, contract, *d, calib=cal)
        except Exception as exc:  # a measurement, never fatal for the report
            logger.warning("trial int8 conversion failed: %s", exc)
            res["int8_trial"] = {"error": str(exc)}
    res["eval_seconds"] = time.monotonic() - t0
    return res


def evaluate_reference_inputs(contract, records, data_dir=None):
    """Model inputs at reference positions of a few records (for calibration/agreement)."""
    bs, fs = [], []
    for rec in records:
        ref = reference_beats(rec, data_dir=data_dir)
        _, _, _, beat, feats, _ = _record_inputs(rec, contract, ref.sample_index, data_dir)
        bs.append(beat)
        fs.append(feats)
    return np.concatenate(bs), np.concatenate(fs)


def _keras_size(model_path) -> int:
    p = Path(model_path)
    if p.is_dir():
        p = sorted(p.glob("*.keras"))[0]
    return p.stat().st_size


def _pct(v) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"


def write_report(results: list[dict], out_dir: Path, shipped: str | None = None,
                 notes: str | None = None) -> Path:
    """Write ``report.json`` and ``report.md`` for one or more evaluated models; ``notes``
    (Markdown) is inserted after the header."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    L = ["# Beat classifiers: inter-patient evaluation on MIT-BIH DS2", ""]
    L += ["Trained on DS1 only (de Chazal 2004 split, paced records 102/104/107/217 excluded); "
          "checkpoints were selected on held-out DS1 patients; DS2 (22 patients never seen in "
          "training) is used for evaluation only (see the notes on how DS2 was looked at). Classes: AAMI EC57 N, S (SVEB), V (VEB), F, Q. "
          "Metrics from `edge.eval.scoring`.", ""]
    if shipped:
        L += [f"**Shipped model:** {shipped}", ""]
    if notes:
        L += [notes.strip(), ""]
    L += ["## Side by side (DS2)", "",
          "| model | params | .keras KB | int8 KB | int8 agree | ms/beat int8 | mode | acc | "
          "macro F1 | S Se | S +P | S F1 | V Se | V +P | V F1 | F F1 |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        t8 = r.get("int8_trial", {})
        for mode in ("reference", "end_to_end"):
            m = r[mode]
            pc = m["per_class"]
            L.append(f"| {r['kind'].upper()} ({r['model_version']}) | {r['params']} | "
                     f"{r['keras_bytes'] / 1024:.0f} | "
                     f"{t8.get('int8_bytes', float('nan')) / 1024:.0f} | "
                     f"{_pct(t8.get('agreement_with_float'))} | "
                     f"{t8.get('latency_ms_per_beat', float('nan')):.2f} | {mode} | "
                     f"{_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | "
                     f"{_pct(pc['S']['se'])} | {_pct(pc['S']['ppv'])} | {_pct(pc['S']['f1'])} | "
                     f"{_pct(pc['V']['se'])} | {_pct(pc['V']['ppv'])} | {_pct(pc['V']['f1'])} | "
                     f"{_pct(pc['F']['f1'])} |")
    L += ["", "Sizes: `.keras` is the float file; int8 is a trial full-int8 conversion "
          "(int8 input and output tensors, 500 calibration beats from DS1 records "
          f"{', '.join(CALIBRATION_RECORDS)}; agreement = same argmax as float on 3000 beats "
          "of the first six DS2 records; latency = one "
          "LiteRT interpreter thread on this workstation).", ""]
    L += ["## EC57 gross statistics (`bxb` rules, DS2)", "",
          "The same predictions scored by the rules of ANSI/AAMI EC57 as PhysioNet's `bxb` "
          "applies them: a reference F or Q beat classified V is not a false VEB, a Q beat "
          "classified S not a false SVEB. Se is unchanged, +P and F1 can only rise. Every other "
          "figure of ours in this report (including the targets) is plain one-vs-rest: it "
          "counts those beats as false positives too and is the conservative one.", "",
          "| model | mode | S Se | S +P | S F1 | V Se | V +P | V F1 | false S (plain → EC57) | "
          "false V (plain → EC57) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for mode in ("reference", "end_to_end"):
            pc, g = r[mode]["per_class"], r[mode]["ec57"]
            L.append(f"| {r['kind'].upper()} ({r['model_version']}) | {mode} | "
                     f"{_pct(g['S']['se'])} | {_pct(g['S']['ppv'])} | {_pct(g['S']['f1'])} | "
                     f"{_pct(g['V']['se'])} | {_pct(g['V']['ppv'])} | {_pct(g['V']['f1'])} | "
                     f"{pc['S']['fp']} → {g['S']['fp']} | {pc['V']['fp']} → {g['V']['fp']} |")
    L += [""]
    L += ["## Targets (reference positions, float model)", "",
          "| model | " + " | ".join(TARGETS) + " |", "|---|" + "---|" * len(TARGETS)]
    for r in results:
        tg = r["reference"]["targets"]
        L.append(f"| {r['kind'].upper()} | " + " | ".join(
            f"{tg[k]['value']:.3f} {'✓' if tg[k]['met'] else '✗'}" for k in TARGETS) + " |")
    L += ["", "## Literature (inter-patient DS1→DS2, Se/+P %)", "",
          "| study | S Se | S +P | S F1 | V Se | V +P | V F1 |", "|---|---|---|---|---|---|---|"]
    for s in LITERATURE:
        f1 = {c: s.get(f"{c}_f1") or (2 * s[f"{c}_se"] * s[f"{c}_ppv"]
                                      / (s[f"{c}_se"] + s[f"{c}_ppv"])) for c in "SV"}
        L.append(f"| {s['study']} | {s.get('S_se', '–')} | {s.get('S_ppv', '–')} | "
                 f"{f1['S']:.1f} | {s.get('V_se', '–')} | {s.get('V_ppv', '–')} | "
                 f"{f1['V']:.1f} |")
    for r in results:
        pc = r["reference"]["per_class"]
        L.append(f"| **ours, {r['kind'].upper()}** (reference positions) | {_pct(pc['S']['se'])}"
                 f" | {_pct(pc['S']['ppv'])} | {_pct(pc['S']['f1'])} | {_pct(pc['V']['se'])} | "
                 f"{_pct(pc['V']['ppv'])} | {_pct(pc['V']['f1'])} |")
    for r in results:
        g = r["reference"]["ec57"]
        L.append(f"| ours, {r['kind'].upper()} (reference positions, EC57 `bxb` rules) | "
                 f"{_pct(g['S']['se'])} | {_pct(g['S']['ppv'])} | {_pct(g['S']['f1'])} | "
                 f"{_pct(g['V']['se'])} | {_pct(g['V']['ppv'])} | {_pct(g['V']['f1'])} |")
    L += ["", "F1 of the cited studies is computed from their Se/+P where only those are "
          "given. Figures near 99 % reported with intra-patient (beat-level random) splits "
          "are **not comparable**: there, beats of the same patient are in training and test.",
          ""]
    for r in results:
        K = r["kind"].upper()
        tr = r["training"]
        L += [f"## {K}", ""]
        if tr.get("folds"):
            L += [f"Training: ensemble; DS1 folds {' / '.join(', '.join(f) for f in tr['folds'])}"
                  f"; best epochs {tr['best_epoch']} ({tr['epochs_run']} epochs in all); "
                  f"{tr['seconds'] / 60:.1f} min on 2 CPU threads. Selection: {tr['selection']}.",
                  ""]
            cv = tr.get("ds1_crossval_members")
            if cv:
                pc = cv["per_class"]
                L += [f"DS1 cross-validation (each member on its held-out fold): accuracy "
                      f"{_pct(cv['accuracy'])} %, S Se/+P/F1 {_pct(pc['S']['se'])}/"
                      f"{_pct(pc['S']['ppv'])}/{_pct(pc['S']['f1'])}, V Se/+P/F1 "
                      f"{_pct(pc['V']['se'])}/{_pct(pc['V']['ppv'])}/{_pct(pc['V']['f1'])}.", ""]
        else:
            L += [f"Training: records {', '.join(tr['records'])}; validation "
                  f"{', '.join(tr['validation_records'])}; best epoch {tr['best_epoch']} of "
                  f"{tr['epochs_run']}; {tr['seconds'] / 60:.1f} min. Selection: "
                  f"{tr['selection']}.", ""]
        for mode in ("reference", "end_to_end"):
            m = r[mode]
            L += [f"### {K}, {mode.replace('_', '-')}", ""]
            if mode == "end_to_end":
                d = m["detection"]
                L += [f"Detection: Se {_pct(d['se'])} %, +P {_pct(d['ppv'])} % "
                      f"({d['fn']} missed, {d['fp']} extra; `-` = no beat).", ""]
            L += ["| class | Se | +P | spec | F1 | TP | FP | FN |", "|---|---|---|---|---|---|---|---|"]
            for c, v in m["per_class"].items():
                L.append(f"| {c} | {_pct(v['se'])} | {_pct(v['ppv'])} | {_pct(v['spec'])} | "
                         f"{_pct(v['f1'])} | {v['tp']} | {v['fp']} | {v['fn']} |")
            L += ["", f"Accuracy {_pct(m['accuracy'])} %, macro F1 {_pct(m['macro_f1'])} %, "
                  f"{m['n_beats']} beats.", "",
                  f"![confusion]({r['plots'][mode + '_confusion']})", "",
                  "Dominant confusions (reference → predicted: count; top records):", ""]
            for d in m["dominant_confusions"][:6]:
                tops = ", ".join(f"{t['record']} ({t['count']})" for t in d["top_records"])
                L.append(f"- {d['true']} → {d['pred']}: {d['count']} — {tops}")
            L += ["", "<details><summary>Per-record table</summary>", "",
                  "| record | beats | acc | N | S | V | F | Q | S Se | S +P | V Se | V +P | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for row in m["per_record"]:
                L.append(f"| {row['record']} | {row['beats']} | {_pct(row['accuracy'])} | "
                         f"{row['n_N']} | {row['n_S']} | {row['n_V']} | {row['n_F']} | "
                         f"{row['n_Q']} | {_pct(row['S_se'])} | {_pct(row['S_ppv'])} | "
                         f"{_pct(row['V_se'])} | {_pct(row['V_ppv'])} | {row['errors']} |")
            L += ["", "</details>", ""]
        L += [f"### {K}: misclassified beats (reference positions)", "",
              "Strips: 3 s of conditioned ECG around the beat; dashed lines mark beats with "
              "`reference>predicted` labels (red = wrong).", ""]
        for key in ("S_FN", "S_FP", "V_FN", "V_FP"):
            if f"{key}_strips" in r["plots"]:
                L += [f"**{key.replace('_', ' ')}**", "", f"![{key}]({r['plots'][key + '_strips']})",
                      ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(L) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate",
                                description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", action="append",
                     help="model directory or .keras file (repeat to compare)")
    src.add_argument("--from-json", metavar="REPORT_JSON",
                     help="re-render an earlier report.json (its stored confusion matrices) "
                          "instead of evaluating; loads no model")
    p.add_argument("--out", required=True, help="report directory")
    p.add_argument("--records", nargs="*", default=list(DS2), help="records (default DS2)")
    p.add_argument("--shipped", help="note on the shipped model for the report header")
    p.add_argument("--notes", help="Markdown file inserted after the report header")
    p.add_argument("--no-int8", action="store_true", help="skip the trial int8 conversion")
    p.add_argument("--data-dir", help="MIT-BIH directory (default: $MITDB_DIR)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    notes = Path(a.notes).read_text() if a.notes else None
    if a.from_json:
        results = with_ec57(json.loads(Path(a.from_json).read_text()))
        path = write_report(results, Path(a.out), a.shipped, notes)
        logger.info("re-rendered %s from %s", path, a.from_json)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    out = Path(a.out)
    results = []
    for mp in a.model:
        r = evaluate_model(mp, out, records=tuple(a.records), data_dir=a.data_dir,
                           progress=not a.quiet, int8=not a.no_int8)
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
