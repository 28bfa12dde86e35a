"""Patient adaptation on DS2 by the patient-specific protocol, int8, at reference beats.

For every DS2 record the first 5 minutes (reference labels) fit a wearer head
(:func:`edge.model.adapt.fit_head` on the two-output int8 model
``edge/models/default_embed.tflite``);
only the remaining 25 minutes are scored, at the reference beat positions, next to the
inter-patient base model on the same 25 minutes and the literature. Beat inputs come from
:func:`training.dataset.build_record` (the device's own DSP code, cached). The adaptation time
per wearer is measured on the real path (:func:`edge.model.adapt.adapt_recording`: read, condition
and classify the first 5 minutes, fit) in one process pinned to one thread.

Hyper-parameters: ``--tune-ds1`` runs the same protocol on DS1 over a grid and reports the
configuration maximising mean(SVEB F1, VEB F1); DS2 is never used to choose them. The grid has
four stages: the head (``GRID``; then which non-adapted classes keep the base model's
probability exactly, ``EXACT_FALLBACK_GRID``), then, with the best head, the wearer-template vote
(``TEMPLATE_GRID``, ``template_k`` 0 = off is part of it), its novelty guard
(``NOVELTY_GRID``, safety first) and the guard's timing condition (``ECTOPIC_GRID``, judged on
DS1 with Noise Stress Test noise added by the NST protocol, ``NOISE_CONDITIONS``). The shipped
ensemble was trained on DS1, so its DS1 outputs are in-sample (they make any adaptation look
useless and favour "trust the base"); the tuning therefore uses, for each DS1 record, the
ensemble member that was trained *without* that record's patient fold (float Keras, its own
``head`` activations as the embedding) -- the view a new wearer gives. The defaults of
:class:`edge.model.adapt.AdaptConfig` are that grid's best; exact ties on DS1 are broken by
``TIE_PREFERENCE`` (fixed before DS2 was scored), then by grid order.

    MITDB_DIR=... python benchmarks/bench_adapt.py [--tune-ds1]

Writes ``benchmarks/results/adapt.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.aami import AAMI_CLASSES  # noqa: E402
from edge.dsp.features import apply_standardization  # noqa: E402
from edge.eval.scoring import class_metrics, confusion_matrix, ec57_gross  # noqa: E402
from edge.io.records import read_annotations, read_record  # noqa: E402
from edge.model.adapt import AdaptConfig, WearerHead, adapt_recording, fit_head  # noqa: E402
from edge.model.classifier import BeatClassifier  # noqa: E402

MODEL = ROOT / "edge" / "models" / "default_embed.tflite"
LITERATURE = {
    "Kiranyaz et al. 2016 (patient-specific 1-D CNN)": {"S": (64.6, 62.1), "V": (95.0, 89.5)},
    "open reproduction, 5-minute fine-tuning": {"S": (75.1, 91.1), "V": (96.5, 95.2)},
}
GRID = {"weight_l2": (0.3, 1.0, 3.0, 10.0, 100.0, 1000.0),
        "bias_l2": (0.0003, 0.001, 0.003, 0.01, 0.03), "class_balance": (0.0, 0.5, 1.0),
        # labelled beats F / V need before they are adapted (None: F never adapted)
        "min_beats_F": (5, 20, None), "min_beats_V": (5, 10),
        # how far (log units) the head may raise a non-adapted class above the base model
        "max_fallback_gain": (None, 0.0)}
#: Stage 1b: non-adapted classes that keep exactly the base model's probability (same
#: criterion, first maximum in grid order: none first).
EXACT_FALLBACK_GRID = ((), ("V",), ("V", "F"), ("S", "V"))
#: Stage 2: the wearer-template vote on top of the stage-1 head (template_k 0 = no vote).
TEMPLATE_GRID = {"template_k": (5, 9, 15, 25), "template_weight": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
                 "template_floor": (0.02, 0.05, 0.2, 0.5, 1.0),
                 "template_classes": (("V",), ("N", "V"), ("N", "V", "F"))}
#: Stage 3: the templates' novelty guard (None = always vote), chosen by a safety-first rule.
NOVELTY_GRID = (None, 1.0, 1.5, 2.0, 3.0)
NOVELTY_TOLERANCE = 0.002
#: Stage 4: the guard's timing condition (None = the guard spares every new beat), judged on
#: DS1 with NSTDB noise added to the scored part by the NST protocol (from minute 5, 2-minute
#: noisy segments alternating with 2 clean ones) at these (noise record, SNR dB) conditions.
#: Rule: the highest DS1 safety share (`unseen_morphology_v`) among the values whose mean noisy
#: VEB F1 is within ECTOPIC_TOLERANCE of the best value's.
ECTOPIC_GRID = (None, 0.05, 0.1, 0.15, 0.2)
ECTOPIC_TOLERANCE = 0.001
#: Stage 5: the templates also vote on a non-adapted V (a wearer whose window had no PVC).
UNADAPTED_VOTE_GRID = (False, True)
NOISE_CONDITIONS = (("em", 6.0), ("em", 0.0), ("ma", 6.0), ("ma", 0.0))
#: Tie-break, fixed before any DS2 look: among configurations with the same DS1 criterion,
#: prefer a capped fallback gain (the documented contract "a non-adapted class keeps the base
#: model's score" taken literally), then the earlier grid entry.
TIE_PREFERENCE = {"max_fallback_gain": 0.0}
#: Every DS2 scoring so far (kept here so the report carries it).
DS2_LOOKS = (
    ("issue-9 first design (weight_l2=3, bias_l2=3e-4, class_balance=0.5, min_beats 5 for every "
     "class, no fallback cap): acc 97.27 %, SVEB F1 0.863, VEB F1 0.936 (Se 96.8, +P 90.7)."),
    ("this change, DS1-selected (`--tune-ds1`, 1080 configurations): weight_l2=3, "
     "bias_l2=3e-4, class_balance=0.5, class_min_beats={F: 20}, max_fallback_gain=0 (tie-"
     "break): acc 97.31 %, SVEB F1 0.863 (Se 81.3, +P 91.9), VEB F1 0.939 (Se 97.4, +P 90.7) "
     "-- VEB target still NOT met; not iterated further on DS2."),
    ("wearer-template vote (stage 2 on DS1, 361 configurations; its grid was widened three "
     "times on DS1 -- weight to 4 and floor to 1.0, then weight 8, then 16 -- until the best "
     "was interior, all before this look), "
     "plus EC57 gross statistics reported next to the strict ones: template_k=15, "
     "template_weight=8, template_floor=0.5, classes V: acc 97.51 %, SVEB F1 0.862 (Se 81.3, "
     "+P 91.7), VEB F1 0.956 (Se 96.8, +P 94.4); EC57 VEB F1 0.960. Both targets met; the "
     "design was frozen before this look."),
    ("novelty guard on the template vote (stage 3 on DS1; rule fixed before this look: the "
     "most protective guard within 0.002 of the best DS1 criterion -> template_novelty=1.0), "
     "shipped by that rule whatever DS2 said: acc 97.37 %, SVEB F1 0.863 (Se 81.3, +P 91.9), "
     "VEB F1 0.946 (Se 97.1, +P 92.2); EC57 VEB F1 0.9499 -- the VEB target is NOT met again "
     "(record 105's noise beats are 'new' to the wearer and escape the veto). Not reverted: "
     "choosing look 3's design now would be choosing on DS2; the DS1 safety check (PVCs of "
     "an unseen morphology called V: 74.8 % with the guard, 68.5 % without, 77.5 % base) is "
     "why the guard is there."),
    ("the guard's timing condition (stage 4, on DS1 with NSTDB em/ma noise added by the NST "
     "protocol at 6 and 0 dB; rule fixed before this look: the highest DS1 safety share among "
     "the values within 0.001 of the best mean noisy VEB F1 -> novel_ectopic_log=0.1; code and "
     "default committed before this look): acc 97.51 %, SVEB F1 0.863 (Se 81.3, +P 91.9), VEB "
     "F1 0.956 (Se 97.1, +P 94.2); EC57 VEB F1 0.960 -- both targets met. Disclosure: the "
     "direction of this change (noise-deformed beats escaping the guard) came from look 4's "
     "per-record result (record 105); the mechanism and its parameter were chosen on DS1 and "
     "NSTDB only, and DS1 shows what it costs: unseen-morphology PVCs called V 74.0 % (74.8 % "
     "with the plain guard)."),
    ("look 5's design unchanged, scored end to end on the device path (`ecg-edge annotate "
     "--adapted` at detected beats, EC57 matcher), reported only: acc 97.38 %, SVEB F1 0.861, "
     "VEB F1 0.944 (Se 95.8, +P 93.0); EC57 VEB F1 0.949. Nothing was chosen on it."),
    ("exact V fallback (stage 1b on DS1; prompted by a DS1 safety check: on wearers whose "
     "window had no PVC, an N-only head let 47 % of foreign PVCs be called V, base 84 %): acc "
     "97.38 %, SVEB F1 0.862 (Se 80.7, +P 92.6), VEB F1 0.942 (Se 97.2, +P 91.3); EC57 VEB F1 "
     "0.946 -- the VEB target is NOT met (the base model's false V on wearers without PVCs are "
     "back); end to end: VEB F1 0.931, SVEB F1 0.858. Shipped regardless of DS2 by the DS1 "
     "rule, then followed by stage 5."),
    ("the templates' vote on a non-adapted V (stage 5 on DS1, criterion rule; design frozen "
     "before this look), the shipped design: acc 97.39 %, SVEB F1 0.862 (Se 80.7, +P 92.6), "
     "VEB F1 0.942 (Se 97.2, +P 91.4); EC57 VEB F1 0.946 -- the VEB target is NOT met. End to "
     "end: VEB F1 0.932, SVEB F1 0.858. Looks 5-6 met it with a head that suppressed a "
     "wearer's first PVCs (DS1 records whose window had too few PVCs to adapt V: 201, 198 "
     "later PVCs, base model 177 called V, that design 0, this one 164; 124: 30 / 1 / 25; "
     "108: 9 / 0 / 9); DS2 stops here for issue 9."),
)


def template_fields(row: dict) -> dict:
    """The template fields of a tuning row as :class:`AdaptConfig` keyword arguments."""
    return {k: tuple(v) if k == "template_classes" else v for k, v in row.items()
            if k in (*TEMPLATE_GRID, "template_novelty", "novel_ectopic_log",
                     "template_vote_unadapted")}


def grid_config(values: dict, base: AdaptConfig | None = None) -> AdaptConfig:
    """The :class:`AdaptConfig` of one grid point.

    Parameters
    ----------
    values : grid values; ``min_beats_<class>`` keys become :attr:`AdaptConfig.class_min_beats`.
    base : the configuration the other fields come from (defaults: :class:`AdaptConfig`).
    """
    base = base or AdaptConfig()
    per_class = {k.removeprefix("min_beats_"): v for k, v in values.items()
                 if k.startswith("min_beats_")}
    cmb = {c: m for c, m in per_class.items() if m != base.min_beats}
    rest = {k: v for k, v in values.items() if not k.startswith("min_beats_")}
    return replace(base, class_min_beats=cmb, **rest)


def _rank(row: dict) -> tuple:
    return (round(row["criterion"], 12),
            sum(row[k] == v for k, v in TIE_PREFERENCE.items()))
C = np.asarray(AAMI_CLASSES, dtype=object)


def record_outputs(clf: BeatClassifier, records, data_dir=None) -> dict:
    """Per record: labels, sample positions, base probabilities, embeddings, standardised and
    raw scalar features."""
    from convert.quantize import _dataset_config
    from training.dataset import build_record

    cfg = _dataset_config(clf.contract)
    out = {}
    for rec in records:
        d = build_record(rec, cfg, 0, data_dir=data_dir)
        p, e = clf.predict_with_embedding(d.beat, d.features)
        out[rec] = {"y": C[d.label], "s": d.sample_index, "p": p, "e": e,
                    "f": clf.standardize_features(d.features), "r": d.features}
    return out


def window_head(d: dict, config: AdaptConfig, fs_hz: float = 360.0):
    """The wearer head fitted on a record's first ``adapt_s`` (reference labels), and the masks
    of the adaptation window and of the scored rest."""
    a = d["s"] < int(round(config.adapt_s * fs_hz))
    return fit_head(d["p"][a], d["e"][a], d["f"][a], d["y"][a], config), a, ~a


def protocol(outputs: dict, config: AdaptConfig, fs_hz: float = 360.0) -> dict:
    """Adapt on the first ``adapt_s`` of each record, score the rest; pooled metrics."""
    truth, base, adapted, per_record = [], [], [], {}
    for rec, d in outputs.items():
        head, _, t = window_head(d, config, fs_hz)
        q = head.apply(d["p"][t], head.inputs(d["e"][t], d["f"][t]), d["r"][t])
        lb, la = C[d["p"][t].argmax(1)], C[q.argmax(1)]
        truth.append(d["y"][t])
        base.append(lb)
        adapted.append(la)
        mb = class_metrics(confusion_matrix(d["y"][t], lb))
        ma = class_metrics(confusion_matrix(d["y"][t], la))
        per_record[rec] = {"adapted": "".join(head.adapted), "fallback": "".join(head.fallback),
                           "counts_adapt": head.counts, "base_acc": mb["accuracy"],
                           "adapted_acc": ma["accuracy"]}
    truth = np.concatenate(truth)
    out = {"per_record": per_record, "n_scored": int(truth.size)}
    for name, pred in (("base", base), ("adapted", adapted)):
        cm = confusion_matrix(truth, np.concatenate(pred))
        out[name] = {**class_metrics(cm), "ec57": ec57_gross(cm), "confusion": cm.tolist()}
    return out


def _criterion(m: dict) -> float:
    return 0.5 * (m["per_class"]["S"]["f1"] + m["per_class"]["V"]["f1"])


def nst_noise(x_mv: np.ndarray, beats: np.ndarray, noise_mv: np.ndarray, snr_db: float, *,
              offset: int = 0, fs_hz: float = 360.0, start_s: float = 300.0,
              segment_s: float = 120.0) -> np.ndarray:
    """``x_mv`` with ``noise_mv`` added by the Noise Stress Test protocol: from ``start_s`` on,
    ``segment_s`` noisy alternating with ``segment_s`` clean, at ``snr_db`` with the NST
    convention S = (median QRS peak-to-peak)^2 / 8, N = noise variance (as
    ``bench_noise_added.py``); the noise is read from ``offset`` on, wrapping around."""
    from benchmarks.bench_noise_added import nst_scale

    z = np.resize(np.roll(noise_mv, -offset), x_mv.size)
    z = z - z.mean()
    scale = nst_scale(x_mv, beats, z, snr_db)
    seg, start = int(round(segment_s * fs_hz)), int(round(start_s * fs_hz))
    noisy = np.zeros(x_mv.size, dtype=bool)
    for s in range(start, x_mv.size, 2 * seg):
        noisy[s:s + seg] = True
    return np.where(noisy, x_mv + scale * z, x_mv)


def heldout_outputs(model_dir: Path = ROOT / "edge" / "models", data_dir=None,
                    noise: tuple[str, float] | None = None) -> dict:
    """DS1 outputs of the ensemble member trained without each record's patient fold; with
    ``noise`` = (NSTDB record, SNR dB), on the record with that noise added by
    :func:`nst_noise` (its first channel; the k-th record of the j-th fold reads it from
    sample 37,000 x (k + 7 j) on, wrapping)."""
    import keras

    from convert.quantize import _dataset_config
    from training.contract import load_model, model_inputs
    from training.data import reference_beats
    from training.dataset import build_record, record_signal, signal_beats

    model, contract = load_model(model_dir)
    cfg = _dataset_config(contract)
    st = contract["features"]["standardize"]
    kind = contract["model"]["config"]["kind"]
    noise_mv = {} if noise is None else {
        noise[0]: read_record(noise[0], channels=[0], database="nstdb").signal_mv[:, 0]}
    out = {}
    for k, fold in enumerate(contract["training"]["folds"]):
        m = model.get_layer(f"{'ecg_' + kind}_{k}")
        two = keras.Model(m.inputs, [m.get_layer("probabilities").output,
                                     m.get_layer("head").output])
        for j, rec in enumerate(fold):
            if noise is None:
                d = build_record(rec, cfg, 0, data_dir=data_dir)
                y, s, beat, feats = C[d.label], d.sample_index, d.beat, d.features
            else:
                x, fs = record_signal(rec, cfg.lead, data_dir)
                ref = reference_beats(rec, data_dir=data_dir)
                x = nst_noise(x, ref.sample_index, noise_mv[noise[0]], noise[1],
                              offset=(37000 * (j + 7 * k)) % noise_mv[noise[0]].size, fs_hz=fs)
                beat, feats, _ = signal_beats(x, fs, ref.sample_index, cfg)
                y, s = np.asarray(ref.aami, dtype=object), ref.sample_index
            p, e = two.predict(model_inputs(beat, feats, contract), batch_size=1024, verbose=0)
            out[rec] = {"y": y, "s": s, "p": p, "e": e, "r": feats,
                        "f": apply_standardization(feats, st["mean"], st["std"])}
    return out


#: Variants compared on the first PVCs of wearers whose window had none (exact V fallback).
FIRST_PVC_VARIANTS = {"without the exact V fallback": {"exact_fallback": ()},
                      "without the templates' vote on a non-adapted V":
                          {"template_vote_unadapted": False}}
#: Variants compared on unseen-morphology V beats (the safety check of the template vote).
SAFETY_VARIANTS = {"head only (no templates)": {"template_k": 0},
                   "templates, no novelty guard": {"template_novelty": None},
                   "guard sparing every new beat (no timing condition)":
                       {"novel_ectopic_log": None}}


def unseen_morphology_v(outs: dict, config: AdaptConfig, folds, per_record: int = 100,
                        seed: int = 0, variants: dict | None = None,
                        first_pvcs: bool = False) -> dict:
    """Safety check on DS1: how many PVCs of a morphology the wearer's window never showed
    are still called V after adaptation.

    For every DS1 record whose window has enough V beats to adapt V (so the templates vote),
    up to ``per_record`` V beats of each *other* patient of the same fold (same held-out
    ensemble member, hence the same embedding space) stand in for a new ventricular focus;
    the share called V is reported for the base model, ``config`` and each of
    ``variants`` (default :data:`SAFETY_VARIANTS`) of it. With ``first_pvcs`` the wearers
    are the others, those whose window has too few V beats to adapt V: the foreign PVCs stand
    in for the wearer's first ones.
    """
    rng = np.random.default_rng(seed)
    fold_of = {r: i for i, f in enumerate(folds) for r in f}
    variants = {"base model": None, "shipped configuration": config,
                **{k: replace(config, **v) for k, v in
                   (SAFETY_VARIANTS if variants is None else variants).items()}}
    hits = {k: 0 for k in variants}
    n = 0
    for rec, d in outs.items():
        a = d["s"] < int(round(config.adapt_s * 360.0))
        need = config.min_beats_for("V")
        adapts_v = need is not None and int(np.sum(d["y"][a] == "V")) >= need
        if adapts_v == first_pvcs or rec not in fold_of:
            continue
        parts = []
        for other in folds[fold_of[rec]]:
            if other == rec or other not in outs:
                continue
            v = np.flatnonzero(outs[other]["y"] == "V")
            if v.size:
                v = rng.choice(v, size=min(per_record, v.size), replace=False)
                parts.append({k: outs[other][k][v] for k in ("p", "e", "f", "r")})
        if not parts:
            continue
        p, e, f, r = (np.concatenate([q[k] for q in parts]) for k in ("p", "e", "f", "r"))
        n += len(p)
        for name, cfg in variants.items():
            if cfg is None:
                q = p
            else:
                head = window_head(d, cfg)[0]
                q = head.apply(p, head.inputs(e, f), r)
            hits[name] += int(np.sum(q.argmax(1) == AAMI_CLASSES.index("V")))
    return {"n_beats": n, "called_v": {k: h / n if n else float("nan")
                                       for k, h in hits.items()}}


def _noisy_v_f1(noisy: dict, config: AdaptConfig) -> dict:
    """VEB F1 of ``config`` by the protocol on each noisy DS1 view ({condition: outputs})."""
    return {name: protocol(o, config)["adapted"]["per_class"]["V"]["f1"]
            for name, o in noisy.items()}


def _called_v(outs: dict, config: AdaptConfig, folds, first_pvcs: bool = False) -> float:
    """Share of the safety check's foreign PVCs that ``config`` still calls V."""
    return unseen_morphology_v(outs, config, folds, variants={},
                               first_pvcs=first_pvcs)["called_v"]["shipped configuration"]


def tune_ds1(clf: BeatClassifier, data_dir=None, outs: dict | None = None) -> dict:
    """Grid search on DS1 (same protocol, held-out members): the config maximising
    mean(SVEB F1, VEB F1), ties broken by ``TIE_PREFERENCE`` then grid order."""
    outs = heldout_outputs(data_dir=data_dir) if outs is None else outs
    base = protocol(outs, AdaptConfig())["base"]
    rows = []
    # stage 1: the head (stages 2-3 keep the guard without its timing condition, as designed)
    head_only = replace(AdaptConfig(), template_k=0, template_novelty=None,
                        novel_ectopic_log=None, exact_fallback=(),
                        template_vote_unadapted=False)
    for values in itertools.product(*GRID.values()):
        cfg = grid_config(dict(zip(GRID, values)), head_only)
        m = protocol(outs, cfg)["adapted"]
        rows.append({**dict(zip(GRID, values)), "S_f1": m["per_class"]["S"]["f1"],
                     "V_f1": m["per_class"]["V"]["f1"], "accuracy": m["accuracy"],
                     "criterion": _criterion(m)})
        print("DS1", {k: round(v, 4) if isinstance(v, float) else v
                      for k, v in rows[-1].items()}, flush=True)
    best = max(rows, key=_rank)  # first maximum in grid order among exact ties
    head_cfg = grid_config({k: best[k] for k in GRID}, head_only)
    xrows = []  # stage 1b
    for ex in EXACT_FALLBACK_GRID:
        m = protocol(outs, replace(head_cfg, exact_fallback=ex))["adapted"]
        xrows.append({"exact_fallback": list(ex), "S_f1": m["per_class"]["S"]["f1"],
                      "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
                      "V_ppv": m["per_class"]["V"]["ppv"], "criterion": _criterion(m)})
        print("DS1 exact fallback", xrows[-1], flush=True)
    xbest = max(xrows, key=lambda r: round(r["criterion"], 12))
    head_cfg = replace(head_cfg, exact_fallback=tuple(xbest["exact_fallback"]))
    trows = []
    for values in [None, *itertools.product(*TEMPLATE_GRID.values())]:
        tv = {"template_k": 0} if values is None else dict(zip(TEMPLATE_GRID, values))
        m = protocol(outs, replace(head_cfg, **tv))["adapted"]
        if "template_classes" in tv:
            tv["template_classes"] = list(tv["template_classes"])
        trows.append({**tv, "S_f1": m["per_class"]["S"]["f1"], "V_f1": m["per_class"]["V"]["f1"],
                      "V_f1_ec57": m["ec57"]["V"]["f1"], "accuracy": m["accuracy"],
                      "criterion": _criterion(m)})
        print("DS1 templates", {k: round(v, 4) if isinstance(v, float) else v
                                for k, v in trows[-1].items()}, flush=True)
    tbest = max(trows, key=lambda r: round(r["criterion"], 12))  # first maximum: "off" wins ties
    # Stage 3: the novelty guard on the stage-2 vote. Rule fixed before any DS2 look: the most
    # protective guard (smallest multiple) whose criterion is within NOVELTY_TOLERANCE of the
    # best -- a beat the window never showed anything like should not be vetoed.
    nrows = []
    if tbest["template_k"]:
        tcfg = replace(head_cfg, **template_fields(tbest))
        for nov in NOVELTY_GRID:
            m = protocol(outs, replace(tcfg, template_novelty=nov))["adapted"]
            nrows.append({"template_novelty": nov, "S_f1": m["per_class"]["S"]["f1"],
                          "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
                          "V_f1_ec57": m["ec57"]["V"]["f1"], "criterion": _criterion(m)})
            print("DS1 novelty", nrows[-1], flush=True)
        top = max(r["criterion"] for r in nrows)
        ok = [r for r in nrows if r["criterion"] >= top - NOVELTY_TOLERANCE]
        nbest = min(ok, key=lambda r: np.inf if r["template_novelty"] is None
                    else r["template_novelty"])
        tbest = {**tbest, "template_novelty": nbest["template_novelty"]}
    safety, erows, urows, noisy = None, [], [], {}
    if tbest["template_k"]:
        from training.contract import load_contract

        folds = load_contract(ROOT / "edge" / "models" / "beat_cnn.contract.json")[
            "training"]["folds"]
        final = replace(tcfg, template_novelty=tbest["template_novelty"])
        if final.template_novelty is not None:
            # Stage 4: the guard's timing condition, on DS1 with NST noise (rule above).
            noisy = {f"{kind} {snr:g} dB": heldout_outputs(data_dir=data_dir, noise=(kind, snr))
                     for kind, snr in NOISE_CONDITIONS}
            # the last row, for reference only (not a candidate): no guard at all
            for ect in (*ECTOPIC_GRID, "no guard"):
                cfg = replace(final, template_novelty=None) if ect == "no guard" else \
                    replace(final, novel_ectopic_log=ect)
                m = protocol(outs, cfg)["adapted"]
                row = {"novel_ectopic_log": ect, "S_f1": m["per_class"]["S"]["f1"],
                       "V_f1": m["per_class"]["V"]["f1"], "criterion": _criterion(m),
                       "noisy_V_f1": _noisy_v_f1(noisy, cfg),
                       "safety": _called_v(outs, cfg, folds)}
                row["noisy_V_f1_mean"] = float(np.mean(list(row["noisy_V_f1"].values())))
                erows.append(row)
                print("DS1 ectopic", row, flush=True)
            candidates = erows[:len(ECTOPIC_GRID)]
            top = max(r["noisy_V_f1_mean"] for r in candidates)
            ok = [r for r in candidates if r["noisy_V_f1_mean"] >= top - ECTOPIC_TOLERANCE]
            ebest = max(ok, key=lambda r: r["safety"])  # first maximum in grid order
            final = replace(final, novel_ectopic_log=ebest["novel_ectopic_log"])
            tbest = {**tbest, "novel_ectopic_log": ebest["novel_ectopic_log"]}
        # Stage 5: the templates' vote on a non-adapted V (wearers whose window had no PVC);
        # same criterion, first maximum in grid order (off first); noise and first-PVC safety
        # reported next to it.
        for on in UNADAPTED_VOTE_GRID:
            cfg = replace(final, template_vote_unadapted=on)
            m = protocol(outs, cfg)["adapted"]
            row = {"template_vote_unadapted": on, "S_f1": m["per_class"]["S"]["f1"],
                   "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
                   "V_ppv": m["per_class"]["V"]["ppv"], "criterion": _criterion(m),
                   "first_pvcs": _called_v(outs, cfg, folds, first_pvcs=True)}
            if noisy:
                row["noisy_V_f1_mean"] = float(np.mean(list(_noisy_v_f1(noisy, cfg).values())))
            urows.append(row)
            print("DS1 unadapted vote", row, flush=True)
        ubest = max(urows, key=lambda r: round(r["criterion"], 12))
        final = replace(final, template_vote_unadapted=ubest["template_vote_unadapted"])
        tbest = {**tbest, "template_vote_unadapted": ubest["template_vote_unadapted"]}
        safety = unseen_morphology_v(outs, final, folds)
        safety["first_pvcs"] = unseen_morphology_v(
            outs, final, folds, first_pvcs=True, variants=FIRST_PVC_VARIANTS)
        print("DS1 unseen-morphology V", safety, flush=True)
    return {"view": "DS1, held-out ensemble member per patient fold (float)", "grid": rows,
            "unseen_morphology_v": safety,
            "best": best, "template_grid": trows, "template_best": tbest,
            "novelty_grid": nrows, "ectopic_grid": erows, "exact_fallback_grid": xrows,
            "unadapted_vote_grid": urows,
            "exact_fallback": xbest["exact_fallback"],
            "base": {"S_f1": base["per_class"]["S"]["f1"],
                                   "V_f1": base["per_class"]["V"]["f1"],
                                   "accuracy": base["accuracy"]}}


def adapt_wearer(clf: BeatClassifier, rec: str, config: AdaptConfig, out_dir: Path,
                 data_dir=None):
    """What ``ecg-edge adapt`` does for one record (its MLII channel, else channel 0; the
    reference labels): read, adapt on the first ``config.adapt_s``, save ``out_dir/<rec>.npz``.
    Returns the file, the record's rate, the channel and the annotations read."""
    r = read_record(rec, data_dir=data_dir)
    ann = read_annotations(rec, data_dir=data_dir)
    ch = r.sig_names.index("MLII") if "MLII" in r.sig_names else 0
    n = int(round((config.adapt_s + 5.0) * r.fs_hz))
    res = adapt_recording(clf, r.signal_mv[:n, ch], r.fs_hz, ann.sample_index, ann.symbol,
                          config, name=rec)
    return res.head.save(Path(out_dir) / f"{rec}.npz"), r.fs_hz, ch, ann


def time_adaptation(model: Path, records, config: AdaptConfig, data_dir=None) -> dict:
    """CPU seconds of :func:`adapt_wearer` per wearer (read record + condition + classify the
    adaptation window + fit + save), and the adapted file size."""
    clf = BeatClassifier(model, num_threads=1)
    cpu, wall, sizes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            t0, w0 = time.process_time(), time.perf_counter()
            path = adapt_wearer(clf, rec, config, Path(tmp), data_dir)[0]
            cpu.append(time.process_time() - t0)
            wall.append(time.perf_counter() - w0)
            sizes.append(path.stat().st_size)
            WearerHead.load(path)
    return {"cpu_s_max": max(cpu), "cpu_s_mean": float(np.mean(cpu)),
            "wall_s_max": max(wall), "file_bytes_max": max(sizes),
            "model_extra_bytes": model.stat().st_size}


def end_to_end(model: Path, records, config: AdaptConfig, data_dir=None) -> dict:
    """The device path on each record: adapt on the first ``adapt_s`` (reference labels, as
    ``ecg-edge adapt``), then ``ecg-edge annotate --adapted`` over the whole record at the
    beats its own streaming detector finds; scored against the reference on the rest with the
    EC57 matcher (150 ms; missed beats are false negatives, extra detections false positives of
    the class they got). The base model runs the same way (``ecg-edge annotate --model``)."""
    import contextlib
    import io

    import wfdb

    from benchmarks.bench_annotate import CLASSES as D_CLASSES
    from benchmarks.bench_annotate import detection_confusion, detection_metrics
    from edge.cli.main import main as cli_main
    from training.data import aami_beats

    clf = BeatClassifier(model, num_threads=1)
    cms = {"base": 0, "adapted": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            path, fs_hz, ch, ann = adapt_wearer(clf, rec, config, Path(tmp), data_dir)
            ref = aami_beats(ann, rec)
            for name, extra in (("base", []), ("adapted", ["--adapted", str(path)])):
                argv = ["annotate", rec, "--model", str(model), "--channel", str(ch),
                        "--out-dir", tmp, "--ext", name[:3], *extra] + (
                    ["--data-dir", data_dir] if data_dir else [])
                with contextlib.redirect_stdout(io.StringIO()):
                    if cli_main(argv) != 0:
                        raise SystemExit(f"ecg-edge {' '.join(argv)} failed")
                got = wfdb.rdann(str(Path(tmp) / rec), name[:3])
                cms[name] = cms[name] + detection_confusion(
                    ref.sample_index, ref.aami, np.asarray(got.sample, dtype=np.int64),
                    np.asarray(got.symbol, dtype=object), fs_hz,
                    start=int(round(config.adapt_s * fs_hz)))
            print("end to end", rec, flush=True)
    out = {}
    for name, cm in cms.items():
        m = detection_metrics(cm)
        out[name] = {**m, "confusion": cm.tolist(), "classes": list(D_CLASSES),
                     "ec57": ec57_gross(cm, tuple(D_CLASSES)),
                     "missed": int(cm[:5, 5].sum()), "extra": int(cm[5, :5].sum())}
    return out


def head_cost(outputs: dict, config: AdaptConfig, repeats: int = 5) -> dict:
    """CPU microseconds per beat of the head alone (:meth:`WearerHead.apply`: linear head +
    template vote) on each record's scored beats, best of ``repeats``, one thread (the
    process pins BLAS to one thread at import)."""
    per_beat, n_templates = [], []
    for d in outputs.values():
        head, _, t = window_head(d, config)
        x = head.inputs(d["e"][t], d["f"][t])
        best = float("inf")
        for _ in range(repeats):
            t0 = time.process_time()
            head.apply(d["p"][t], x, d["r"][t])
            best = min(best, time.process_time() - t0)
        per_beat.append(1e6 * best / max(1, int(t.sum())))
        n_templates.append(0 if head.templates is None else len(head.template_labels))
    return {"head_us_per_beat_median": float(np.median(per_beat)),
            "head_us_per_beat_max": float(np.max(per_beat)),
            "templates_max": int(np.max(n_templates))}


def _row(name: str, m: dict) -> str:
    s, v = m["per_class"]["S"], m["per_class"]["V"]
    row = (f"| {name} | {100 * m['accuracy']:.2f} | {100 * s['se']:.1f} | {100 * s['ppv']:.1f} "
           f"| {100 * s['f1']:.1f} | {100 * v['se']:.1f} | {100 * v['ppv']:.1f} | "
           f"{100 * v['f1']:.1f} |")
    if "ec57" in m:
        es, ev = m["ec57"]["S"], m["ec57"]["V"]
        row += (f" {100 * es['ppv']:.1f} | {100 * es['f1']:.2f} | {100 * ev['ppv']:.1f} | "
                f"{100 * ev['f1']:.2f} |")
    return row


def _met(x: float, target: float) -> str:
    return "met" if x >= target else "NOT met"


def markdown(res: dict) -> str:
    cfg = res["config"]
    a = res["adapted"]
    tmpl = (f" + wearer-template vote ({cfg['template_k']} nearest of the window's labelled "
            f"beats, classes {''.join(cfg['template_classes'])}, novelty guard "
            f"{cfg.get('template_novelty')}"
            + (f" sparing new beats with ectopic timing, log ratio {cfg['novel_ectopic_log']}"
               if cfg.get("novel_ectopic_log") is not None else "")
            + ("; the templates also vote on a V that was not adapted"
               if cfg.get("template_vote_unadapted") else "") + ")"
            if cfg.get("template_k") else "")
    lines = ["# Patient adaptation on DS2 (int8, reference beats, last 25 minutes)", "",
             f"Model `{Path(res['model']).name}`; head: residual multinomial logistic "
             f"regression over [int8 embedding, standardised RR features] on the first "
             f"{cfg['adapt_s'] / 60:g} minutes of each record{tmpl}; {res['n_scored']} beats "
             f"scored. Reproduce: `{res['command']}`", "",
             "Strict columns count every wrong label as an error (one-vs-rest). EC57 columns "
             "use the ANSI/AAMI EC57 gross statistics as PhysioNet's `bxb` computes them: a "
             "reference F or Q beat called V is not a false VEB, a Q beat called S not a false "
             "SVEB (`edge.eval.scoring.ec57_gross`); sensitivities are the same.", "",
             "| model | acc % | SVEB Se | SVEB +P | SVEB F1 | VEB Se | VEB +P | VEB F1 "
             "| EC57 SVEB +P | EC57 SVEB F1 | EC57 VEB +P | EC57 VEB F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|",
             _row("inter-patient base (same 25 min)", res["base"]),
             _row("**adapted (this work)**", a)]
    for name, lit in LITERATURE.items():
        (sse, sp), (vse, vp) = lit["S"], lit["V"]
        lines.append(f"| {name} (as published) | | {sse} | {sp} | "
                     f"{200 * sse * sp / (sse + sp) / 100:.1f} | {vse} | {vp} | "
                     f"{200 * vse * vp / (vse + vp) / 100:.1f} | | | | |")
    t = res["timing"]
    sf, vf = a["per_class"]["S"]["f1"], a["per_class"]["V"]["f1"]
    lines += ["", f"Adaptation per wearer (read + condition + classify 5 min + fit, one thread):"
              f" max {t['cpu_s_max']:.2f} CPU s, mean {t['cpu_s_mean']:.2f} CPU s (target < 10 s)."
              f" Adapted file: max {t['file_bytes_max']} bytes; the two-output model adds "
              f"{t['model_extra_bytes']} bytes (target < 1 MB)."
              + (f" Scoring cost of the head (linear head + template vote, one thread): median "
                 f"{t['head_us_per_beat_median']:.1f} µs per beat, max "
                 f"{t['head_us_per_beat_max']:.1f} (up to {t['templates_max']} templates)."
                 if "head_us_per_beat_median" in t else ""), "",
              f"Targets, strict: SVEB F1 >= 0.75 -> **{_met(sf, 0.75)}**; VEB F1 >= 0.95 -> "
              f"**{_met(vf, 0.95)}**."]
    if "ec57" in a:
        es, ev = a["ec57"]["S"]["f1"], a["ec57"]["V"]["f1"]
        lines.append(f"Targets, EC57 gross statistics: SVEB F1 >= 0.75 -> **{_met(es, 0.75)}**; "
                     f"VEB F1 >= 0.95 -> **{_met(ev, 0.95)}**.")
    if "end_to_end" in res:
        e = res["end_to_end"]
        lines += ["", "End to end, the device path (reported, not used to choose anything): "
                  "`ecg-edge annotate --adapted` at the beats the streaming detector finds, "
                  "scored on the same 25 minutes with the EC57 matcher (150 ms; a missed "
                  "reference beat is a false negative of its class, an extra detection a false "
                  "positive of the class it got); the base model the same way:", "",
                  "| model | acc % | SVEB Se | SVEB +P | SVEB F1 | VEB Se | VEB +P | VEB F1 "
                  "| EC57 SVEB +P | EC57 SVEB F1 | EC57 VEB +P | EC57 VEB F1 | missed | extra |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, label in (("base", "inter-patient base, detected beats"),
                            ("adapted", "**adapted, detected beats**")):
            lines.append(_row(label, e[name]) + f" {e[name]['missed']} | {e[name]['extra']} |")
    lines += ["", f"Configuration (chosen on DS1, never on DS2): `{json.dumps(cfg)}`", "",
              "| record | adapted | fallback | base acc | adapted acc |", "|---|---|---|---|---|"]
    for rec, r in res["per_record"].items():
        lines.append(f"| {rec} | {r['adapted']} | {r['fallback']} | {100 * r['base_acc']:.1f} |"
                     f" {100 * r['adapted_acc']:.1f} |")
    if "tuning" in res:
        b = res["tuning"]["best"]
        t = res["tuning"]
        lines += ["", f"DS1 tuning ({t['view']}; base there: SVEB F1 {t['base']['S_f1']:.3f}, "
                  f"VEB F1 {t['base']['V_f1']:.3f}). Stage 1, the head: {len(t['grid'])} "
                  f"configurations over {', '.join(GRID)}; selection: highest mean(SVEB F1, "
                  f"VEB F1), exact ties broken by {TIE_PREFERENCE} then grid order (rule fixed "
                  "before the DS2 run; on DS1 the cap never changes a prediction, so it is "
                  "chosen by this rule, not by data); best "
                  + ", ".join(f"{k}={b[k]}" for k in GRID)
                  + f" (SVEB F1 {b['S_f1']:.3f}, VEB F1 {b['V_f1']:.3f}, accuracy "
                  f"{b['accuracy']:.3f}).", "",
                  "Best DS1 row per design option (the rest of its hyper-parameters tuned):", "",
                  "| option | value | SVEB F1 | VEB F1 | criterion |", "|---|---|---|---|---|"]
        for k in ("min_beats_F", "min_beats_V", "max_fallback_gain"):
            for v in GRID[k]:
                r = max((r for r in t["grid"] if r[k] == v), key=_rank)
                lines.append(f"| {k} | {v} | {r['S_f1']:.4f} | {r['V_f1']:.4f} | "
                             f"{r['criterion']:.4f} |")
        if t.get("exact_fallback_grid"):
            lines += ["", "Stage 1b, on the stage-1 head: non-adapted classes that keep exactly "
                      "the base model's probability (the adapted classes share the rest); same "
                      "criterion, first maximum in grid order (none first):", "",
                      "| exact_fallback | SVEB F1 | VEB F1 | VEB Se | VEB +P | criterion |",
                      "|---|---|---|---|---|---|"]
            for r in t["exact_fallback_grid"]:
                lines.append(f"| {''.join(r['exact_fallback']) or 'none'} | {r['S_f1']:.4f} | "
                             f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_ppv']:.4f} | "
                             f"{r['criterion']:.4f} |")
        if "template_grid" in t:
            tb = t["template_best"]
            rows = t["template_grid"]
            lines += ["", f"Stage 2, the wearer-template vote on the stage-1 head: {len(rows)} "
                      f"configurations ({', '.join(TEMPLATE_GRID)}, plus off); same "
                      "criterion, first maximum in grid order (off first). Best per option:",
                      "", "| option | value | SVEB F1 | VEB F1 | EC57 VEB F1 | criterion |",
                      "|---|---|---|---|---|---|"]
            off = rows[0]
            lines.append(f"| template vote | off | {off['S_f1']:.4f} | {off['V_f1']:.4f} | "
                         f"{off['V_f1_ec57']:.4f} | {off['criterion']:.4f} |")
            for k, values in TEMPLATE_GRID.items():
                for v in values:
                    v = list(v) if isinstance(v, tuple) else v
                    r = max((r for r in rows[1:] if r[k] == v),
                            key=lambda r: round(r["criterion"], 12))
                    lines.append(f"| {k} | {''.join(v) if isinstance(v, list) else v} | "
                                 f"{r['S_f1']:.4f} | {r['V_f1']:.4f} | {r['V_f1_ec57']:.4f} "
                                 f"| {r['criterion']:.4f} |")
            if t.get("novelty_grid"):
                lines += ["", "Stage 3, the novelty guard (a beat farther from every template than "
                          "this multiple of the templates' largest nearest-neighbour distance is "
                          "not voted on): rule fixed beforehand -- the smallest multiple whose "
                          f"criterion is within {NOVELTY_TOLERANCE} of the best.", "",
                          "| template_novelty | SVEB F1 | VEB F1 | VEB Se | EC57 VEB F1 | "
                          "criterion |", "|---|---|---|---|---|---|"]
                for r in t["novelty_grid"]:
                    lines.append(f"| {r['template_novelty']} | {r['S_f1']:.4f} | "
                                 f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_f1_ec57']:.4f} | "
                                 f"{r['criterion']:.4f} |")
            if t.get("ectopic_grid"):
                conds = list(t["ectopic_grid"][0]["noisy_V_f1"])
                lines += ["", "Stage 4, the guard's timing condition (a new beat is spared the "
                          "vote only if premature against the local or long-term mean RR, or "
                          "followed by a pause, by more than this natural-log ratio; None = "
                          "every new beat spared). Judged on DS1 with Noise Stress Test noise "
                          "added to the scored part by the NST protocol (from minute 5, 2-minute "
                          "noisy segments alternating with 2 clean ones; NST SNR convention); "
                          "rule: the highest safety share (PVCs of an unseen morphology still "
                          "called V, see below) among the values whose mean noisy VEB F1 is "
                          f"within {ECTOPIC_TOLERANCE} of the best. The last row (templates "
                          "without the guard) is for reference, not a candidate.", "",
                          "| novel_ectopic_log | clean SVEB F1 | clean VEB F1 | "
                          + " | ".join(f"VEB F1, {c}" for c in conds)
                          + " | noisy mean | unseen-morphology V called V |",
                          "|---" * (5 + len(conds)) + "|"]
                for r in t["ectopic_grid"]:
                    lines.append(f"| {r['novel_ectopic_log']} | {r['S_f1']:.4f} | "
                                 f"{r['V_f1']:.4f} | "
                                 + " | ".join(f"{r['noisy_V_f1'][c]:.4f}" for c in conds)
                                 + f" | {r['noisy_V_f1_mean']:.4f} | {100 * r['safety']:.1f} % |")
            if t.get("unadapted_vote_grid"):
                lines += ["", "Stage 5, the templates' vote on a V that was not adapted (a "
                          "wearer whose window had no PVC: a beat matching the wearer's own "
                          "templates loses its V score, a new ectopic beat keeps the base "
                          "model's); same criterion, first maximum in grid order (off first); "
                          "the mean VEB F1 on the noisy DS1 of stage 4 and the first-PVC safety "
                          "check (below) next to it:", "",
                          "| template_vote_unadapted | SVEB F1 | VEB F1 | VEB Se | VEB +P | "
                          "criterion | noisy mean VEB F1 | first PVCs called V |",
                          "|---|---|---|---|---|---|---|---|"]
                for r in t["unadapted_vote_grid"]:
                    noisy_f1 = (f"{r['noisy_V_f1_mean']:.4f}" if "noisy_V_f1_mean" in r
                                else "")
                    lines.append(f"| {r['template_vote_unadapted']} | {r['S_f1']:.4f} | "
                                 f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_ppv']:.4f} | "
                                 f"{r['criterion']:.4f} | {noisy_f1} | "
                                 f"{100 * r['first_pvcs']:.1f} % |")
            if t.get("unseen_morphology_v"):
                sm = t["unseen_morphology_v"]
                lines += ["", "Safety check on DS1 (`unseen_morphology_v`): PVCs of a morphology "
                          "the wearer's window never showed -- V beats of the other patients of "
                          f"the same fold, {sm['n_beats']} in all, scored after each V-adapted "
                          "DS1 wearer's adaptation -- share still called V:", "",
                          "| model | called V |", "|---|---|"]
                for k, v in sm["called_v"].items():
                    lines.append(f"| {k} | {100 * v:.1f} % |")
                if sm.get("first_pvcs"):
                    fp = sm["first_pvcs"]
                    lines += ["", "The same check on the wearers whose window had too few V "
                              "beats to adapt V (V beats of the other patients of the fold as "
                              f"their first PVCs, {fp['n_beats']} in all), share called V:", "",
                              "| model | called V |", "|---|---|"]
                    for k, v in fp["called_v"].items():
                        lines.append(f"| {k} | {100 * v:.1f} % |")
            lines += ["", "Chosen: " + ", ".join(f"{k}={tb[k]}" for k in tb if
                                                  k.startswith(("template", "novel")))
                      + f" (DS1 SVEB F1 {tb['S_f1']:.3f}, VEB F1 {tb['V_f1']:.3f})."]
    lines += ["", "DS2 looks (each a full DS2 scoring of a design fixed on DS1 beforehand; "
              "DS2 never chose anything):", ""] + [f"{i}. {look}" for i, look in
                                                   enumerate(DS2_LOOKS, 1)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from training.data import DS2

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--records", default=",".join(DS2))
    ap.add_argument("--tune-ds1", action="store_true", help="choose hyper-parameters on DS1")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--from-json", type=Path, default=None, metavar="ADAPT_JSON",
                    help="re-render the Markdown of a stored result (no model is run)")
    args = ap.parse_args(argv)
    if args.from_json is not None:
        res = json.loads(args.from_json.read_text())
        res["ds2_looks"] = list(DS2_LOOKS)
        return write_results(res, Path(args.out), echo=False)
    clf = BeatClassifier(args.model)
    config = AdaptConfig()
    res: dict = {"model": args.model}
    if args.tune_ds1:
        res["tuning"] = tune_ds1(clf, args.data_dir)
        best = res["tuning"]["best"]
        config = grid_config({k: best[k] for k in GRID}, config)
        config = replace(config, **template_fields(res["tuning"]["template_best"]),
                         exact_fallback=tuple(res["tuning"]["exact_fallback"]))
    records = args.records.split(",")
    outs = record_outputs(clf, records, args.data_dir)
    res.update(protocol(outs, config))
    res["config"] = config.to_dict()
    res["records"] = records
    res["literature"] = LITERATURE
    res["ds2_looks"], res["tie_preference"] = list(DS2_LOOKS), TIE_PREFERENCE
    res["timing"] = time_adaptation(Path(args.model), records, config, args.data_dir)
    res["timing"].update(head_cost(outs, config))
    res["end_to_end"] = end_to_end(Path(args.model), records, config, args.data_dir)
    res["command"] = "python benchmarks/bench_adapt.py" + (" --tune-ds1" if args.tune_ds1
                                                           else "")
    return write_results(res, Path(args.out))


def write_results(res: dict, out: Path, *, echo: bool = True) -> int:
    """Write ``adapt.json`` and ``adapt.md`` into ``out`` (print the Markdown if ``echo``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapt.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    md = markdown(res)
    (out / "adapt.md").write_text(md)
    if echo:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
