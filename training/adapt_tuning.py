"""DS1 tuning of the patient-adaptation defaults (:class:`edge.model.adapt.AdaptConfig`).

The patient-specific protocol (:func:`protocol`): for every record the first ``adapt_s``
(reference labels) fit a wearer head (:func:`edge.model.adapt.fit_head`); only the rest is
scored, next to the base model on the same beats. :func:`tune_ds1` runs that protocol on DS1
over a grid (:class:`TuningGrid`) and keeps the configuration maximising mean(SVEB F1, VEB F1)
(:func:`criterion`); DS2 is never used to choose anything. The stages:

1. the head (``head``); 1b. which non-adapted classes keep the base model's probability
   exactly (``exact_fallback``);
2. with the best head, the wearer-template vote (``template``; ``template_k`` 0 = off is part
   of it);
3. its novelty guard (``novelty``; safety first: the most protective value within
   ``novelty_tolerance`` of the best criterion);
4. the guard's timing condition (``ectopic``), judged on DS1 with Noise Stress Test noise added
   by the NST protocol (``noise_conditions``, :func:`training.nst.nst_noise`): the highest
   safety share (:func:`unseen_morphology_v`) among the values whose mean noisy VEB F1 is within
   ``ectopic_tolerance`` of the best;
5. the templates' vote on a non-adapted V (``unadapted_vote``).

The shipped ensemble was trained on DS1, so its DS1 outputs are in-sample (they make any
adaptation look useless and favour "trust the base"); the tuning therefore uses, for each DS1
record, the ensemble member trained *without* that record's patient fold (float Keras, its own
``head`` activations as the embedding, :func:`heldout_outputs`) -- the view a new wearer gives.
Exact ties on DS1 are broken by ``tie_preference`` (fixed before DS2 was scored), then by grid
order.

Per-record outputs (:func:`record_outputs`, :func:`heldout_outputs`) are dicts of arrays, one
row per reference beat: ``y`` AAMI labels, ``s`` sample positions (360 Hz), ``p`` base
probabilities, ``e`` embeddings, ``f`` standardised and ``r`` raw scalar features.

``python benchmarks/bench_adapt.py --tune-ds1`` runs it and writes the result.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError
from edge.eval.scoring import class_metrics, confusion_matrix, ec57_gross
from edge.io.records import read_record
from edge.model.adapt import AdaptConfig, fit_head
from edge.model.bundled import MODELS_DIR
from edge.model.classifier import BeatClassifier
from training.contract import dataset_config, load_contract, load_model, model_inputs
from training.data import reference_beats
from training.dataset import build_record, record_signal, signal_beats
from training.nst import nst_noise

__all__ = ["GRID", "EXACT_FALLBACK_GRID", "TEMPLATE_GRID", "NOVELTY_GRID", "NOVELTY_TOLERANCE",
           "ECTOPIC_GRID", "ECTOPIC_TOLERANCE", "UNADAPTED_VOTE_GRID", "NOISE_CONDITIONS",
           "TIE_PREFERENCE", "FIRST_PVC_VARIANTS", "SAFETY_VARIANTS", "TuningGrid",
           "template_fields", "grid_config", "rank", "criterion", "record_outputs",
           "heldout_outputs", "window_head", "protocol", "unseen_morphology_v", "tune_ds1"]

logger = logging.getLogger(__name__)

#: Stage 1: the head.
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

#: Variants compared on the first PVCs of wearers whose window had none (exact V fallback).
FIRST_PVC_VARIANTS = {"without the exact V fallback": {"exact_fallback": ()},
                      "without the templates' vote on a non-adapted V":
                          {"template_vote_unadapted": False}}
#: Variants compared on unseen-morphology V beats (the safety check of the template vote).
SAFETY_VARIANTS = {"head only (no templates)": {"template_k": 0},
                   "templates, no novelty guard": {"template_novelty": None},
                   "guard sparing every new beat (no timing condition)":
                       {"novel_ectopic_log": None}}

#: Sample rate of the per-record outputs' positions ``s`` (MIT-BIH), Hz.
FS_HZ = 360.0
C = np.asarray(AAMI_CLASSES, dtype=object)
_ADAPT_FIELDS = {f.name for f in fields(AdaptConfig)}


@dataclass(frozen=True, kw_only=True)
class TuningGrid:
    """The grid :func:`tune_ds1` searches, stage by stage (defaults: the shipped grid).

    Attributes
    ----------
    head : stage 1, :class:`AdaptConfig` field -> values (``min_beats_<class>`` keys set
        :attr:`AdaptConfig.class_min_beats`); every combination is tried.
    exact_fallback : stage 1b, values of :attr:`AdaptConfig.exact_fallback`.
    template : stage 2, template field -> values; every combination is tried, plus "off".
    novelty, novelty_tolerance : stage 3, :attr:`AdaptConfig.template_novelty` values and the
        criterion tolerance of the safety-first rule.
    ectopic, ectopic_tolerance : stage 4, :attr:`AdaptConfig.novel_ectopic_log` values and the
        noisy-VEB-F1 tolerance of its rule.
    unadapted_vote : stage 5, :attr:`AdaptConfig.template_vote_unadapted` values.
    noise_conditions : (NSTDB record, SNR dB) of stage 4's noisy DS1 views.
    tie_preference : field -> value preferred among exact stage-1 ties.
    """

    head: dict = field(default_factory=lambda: dict(GRID))
    exact_fallback: tuple = EXACT_FALLBACK_GRID
    template: dict = field(default_factory=lambda: dict(TEMPLATE_GRID))
    novelty: tuple = NOVELTY_GRID
    novelty_tolerance: float = NOVELTY_TOLERANCE
    ectopic: tuple = ECTOPIC_GRID
    ectopic_tolerance: float = ECTOPIC_TOLERANCE
    unadapted_vote: tuple = UNADAPTED_VOTE_GRID
    noise_conditions: tuple = NOISE_CONDITIONS
    tie_preference: dict = field(default_factory=lambda: dict(TIE_PREFERENCE))

    def __post_init__(self) -> None:
        for name in ("head", "template"):
            for key, values in getattr(self, name).items():
                cls = key.removeprefix("min_beats_")
                known = key in _ADAPT_FIELDS or (key != cls and cls in AAMI_CLASSES)
                if not known:
                    raise ConfigError(f"{name}.{key}", "is not an AdaptConfig field (nor "
                                      "min_beats_<AAMI class>)")
                if len(values) == 0:
                    raise ConfigError(f"{name}.{key}", "needs at least one value")
        for name in ("exact_fallback", "novelty", "ectopic", "unadapted_vote"):
            if len(getattr(self, name)) == 0:
                raise ConfigError(name, "needs at least one value")
        for name in ("novelty_tolerance", "ectopic_tolerance"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(name, f"must be a finite number >= 0, got {v!r}")
        for key in self.tie_preference:
            if key not in self.head:
                raise ConfigError(f"tie_preference.{key}", "names no field of the head grid")


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


def rank(row: dict, tie_preference: dict | None = None) -> tuple:
    """Sort key of a stage-1 row: its criterion, then how many ``tie_preference`` values
    (default :data:`TIE_PREFERENCE`) it has."""
    prefer = TIE_PREFERENCE if tie_preference is None else tie_preference
    return (round(row["criterion"], 12), sum(row[k] == v for k, v in prefer.items()))


def criterion(m: dict) -> float:
    """The tuning criterion of a metrics dict: mean(SVEB F1, VEB F1)."""
    return 0.5 * (m["per_class"]["S"]["f1"] + m["per_class"]["V"]["f1"])


# --------------------------------------------------------------------------- outputs
def record_outputs(clf: BeatClassifier, records, data_dir=None) -> dict:
    """Per record, the int8 two-output model's outputs at the reference beats: labels, sample
    positions, base probabilities, embeddings, standardised and raw scalar features."""
    cfg = dataset_config(clf.contract)
    out = {}
    for rec in records:
        d = build_record(rec, cfg, 0, data_dir=data_dir)
        p, e = clf.predict_with_embedding(d.beat, d.features)
        out[rec] = {"y": C[d.label], "s": d.sample_index, "p": p, "e": e,
                    "f": clf.standardize_features(d.features), "r": d.features}
    return out


def heldout_outputs(model_dir: str | os.PathLike = MODELS_DIR, data_dir=None,
                    noise: tuple[str, float] | None = None) -> dict:
    """DS1 outputs of the ensemble member trained without each record's patient fold.

    With ``noise`` = (NSTDB record, SNR dB), on the record with that noise added by
    :func:`training.nst.nst_noise` (its first channel; the k-th record of the j-th fold reads it
    from sample 37,000 x (k + 7 j) on, wrapping).
    """
    import keras

    model, contract = load_model(model_dir)
    cfg = dataset_config(contract)
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
            x_in = model_inputs(beat, feats, contract)
            p, e = two.predict(x_in, batch_size=1024, verbose=0)
            out[rec] = {"y": y, "s": s, "p": p, "e": e, "r": feats, "f": x_in["features"]}
    return out


# --------------------------------------------------------------------------- protocol
def window_head(d: dict, config: AdaptConfig, fs_hz: float = FS_HZ):
    """The wearer head fitted on a record's first ``adapt_s`` (reference labels), and the masks
    of the adaptation window and of the scored rest."""
    a = d["s"] < int(round(config.adapt_s * fs_hz))
    return fit_head(d["p"][a], d["e"][a], d["f"][a], d["y"][a], config), a, ~a


def protocol(outputs: dict, config: AdaptConfig, fs_hz: float = FS_HZ, *,
             rhythm_context: bool = False) -> dict:
    """Adapt on the first ``adapt_s`` of each record, score the rest; pooled metrics of the
    base model and the adapted one (``base``, ``adapted``: class metrics, ``ec57``,
    ``confusion``), ``per_record`` summaries and ``n_scored``.

    With ``rhythm_context`` both models' calls are read as ``ecg-edge annotate`` and the
    daemon report them: supraventricular runs (:func:`edge.rhythm.svt_run_calls` over all the
    record's beats) reported ``S``, then :func:`edge.rhythm.beat_calls` on the online rhythm
    the AF analyser (:func:`edge.rhythm.analyse_beats`, reading the model's calls) had
    confirmed at each beat."""
    from edge.rhythm import analyse_beats, beat_calls, svt_run_calls

    truth, base, adapted, per_record = [], [], [], {}
    for rec, d in outputs.items():
        head, _, t = window_head(d, config, fs_hz)
        q = head.apply(d["p"][t], head.inputs(d["e"][t], d["f"][t]), d["r"][t])
        lb, la = C[d["p"][t].argmax(1)], C[q.argmax(1)]
        if rhythm_context:  # the analyser reads each model's own calls, as on the device
            calls_b = C[d["p"].argmax(1)]
            calls_a = calls_b.copy()
            calls_a[t] = la
            rr_pre_s = np.diff(np.asarray(d["s"], dtype=np.float64), prepend=np.nan) / fs_hz
            lb = beat_calls(svt_run_calls(calls_b, rr_pre_s)[0][t],
                            analyse_beats(d["s"], fs_hz, calls_b).online[t])
            la = beat_calls(svt_run_calls(calls_a, rr_pre_s)[0][t],
                            analyse_beats(d["s"], fs_hz, calls_a).online[t])
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
        a = d["s"] < int(round(config.adapt_s * FS_HZ))
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


def _short(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


# --------------------------------------------------------------------------- stages
def _head_stage(outs: dict, grid: TuningGrid) -> tuple[list[dict], dict, AdaptConfig]:
    """Stage 1: every head configuration (templates off; stages 2-3 keep the guard without its
    timing condition, as designed); the best by :func:`rank`, first in grid order."""
    head_only = replace(AdaptConfig(), template_k=0, template_novelty=None,
                        novel_ectopic_log=None, exact_fallback=(),
                        template_vote_unadapted=False)
    rows = []
    for values in itertools.product(*grid.head.values()):
        m = protocol(outs, grid_config(dict(zip(grid.head, values)), head_only))["adapted"]
        rows.append({**dict(zip(grid.head, values)), "S_f1": m["per_class"]["S"]["f1"],
                     "V_f1": m["per_class"]["V"]["f1"], "accuracy": m["accuracy"],
                     "criterion": criterion(m)})
        logger.info("DS1 %s", _short(rows[-1]))
    best = max(rows, key=lambda r: rank(r, grid.tie_preference))
    return rows, best, grid_config({k: best[k] for k in grid.head}, head_only)


def _exact_fallback_stage(outs: dict, head_cfg: AdaptConfig,
                          grid: TuningGrid) -> tuple[list[dict], dict]:
    """Stage 1b: which non-adapted classes keep the base probability exactly."""
    rows = []
    for ex in grid.exact_fallback:
        m = protocol(outs, replace(head_cfg, exact_fallback=ex))["adapted"]
        rows.append({"exact_fallback": list(ex), "S_f1": m["per_class"]["S"]["f1"],
                     "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
                     "V_ppv": m["per_class"]["V"]["ppv"], "criterion": criterion(m)})
        logger.info("DS1 exact fallback %s", rows[-1])
    return rows, max(rows, key=lambda r: round(r["criterion"], 12))


def _template_stage(outs: dict, head_cfg: AdaptConfig,
                    grid: TuningGrid) -> tuple[list[dict], dict]:
    """Stage 2: the template vote ("off" first, so it wins exact ties)."""
    rows = []
    for values in [None, *itertools.product(*grid.template.values())]:
        tv = {"template_k": 0} if values is None else dict(zip(grid.template, values))
        m = protocol(outs, replace(head_cfg, **tv))["adapted"]
        if "template_classes" in tv:
            tv["template_classes"] = list(tv["template_classes"])
        rows.append({**tv, "S_f1": m["per_class"]["S"]["f1"], "V_f1": m["per_class"]["V"]["f1"],
                     "V_f1_ec57": m["ec57"]["V"]["f1"], "accuracy": m["accuracy"],
                     "criterion": criterion(m)})
        logger.info("DS1 templates %s", _short(rows[-1]))
    return rows, max(rows, key=lambda r: round(r["criterion"], 12))


def _novelty_stage(outs: dict, tcfg: AdaptConfig,
                   grid: TuningGrid) -> tuple[list[dict], float | None]:
    """Stage 3: the novelty guard. Rule fixed before any DS2 look: the most protective guard
    (smallest multiple) whose criterion is within ``novelty_tolerance`` of the best -- a beat
    the window never showed anything like should not be vetoed."""
    rows = []
    for nov in grid.novelty:
        m = protocol(outs, replace(tcfg, template_novelty=nov))["adapted"]
        rows.append({"template_novelty": nov, "S_f1": m["per_class"]["S"]["f1"],
                     "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
                     "V_f1_ec57": m["ec57"]["V"]["f1"], "criterion": criterion(m)})
        logger.info("DS1 novelty %s", rows[-1])
    top = max(r["criterion"] for r in rows)
    ok = [r for r in rows if r["criterion"] >= top - grid.novelty_tolerance]
    best = min(ok, key=lambda r: np.inf if r["template_novelty"] is None
               else r["template_novelty"])
    return rows, best["template_novelty"]


def _ectopic_stage(outs: dict, final: AdaptConfig, noisy: dict, folds,
                   grid: TuningGrid) -> tuple[list[dict], float | None]:
    """Stage 4: the guard's timing condition on the noisy DS1 views; the last row (no guard at
    all) is for reference only, not a candidate."""
    rows = []
    for ect in (*grid.ectopic, "no guard"):
        cfg = replace(final, template_novelty=None) if ect == "no guard" else \
            replace(final, novel_ectopic_log=ect)
        m = protocol(outs, cfg)["adapted"]
        row = {"novel_ectopic_log": ect, "S_f1": m["per_class"]["S"]["f1"],
               "V_f1": m["per_class"]["V"]["f1"], "criterion": criterion(m),
               "noisy_V_f1": _noisy_v_f1(noisy, cfg), "safety": _called_v(outs, cfg, folds)}
        row["noisy_V_f1_mean"] = float(np.mean(list(row["noisy_V_f1"].values())))
        rows.append(row)
        logger.info("DS1 ectopic %s", row)
    candidates = rows[:len(grid.ectopic)]
    top = max(r["noisy_V_f1_mean"] for r in candidates)
    ok = [r for r in candidates if r["noisy_V_f1_mean"] >= top - grid.ectopic_tolerance]
    return rows, max(ok, key=lambda r: r["safety"])["novel_ectopic_log"]  # first maximum


def _unadapted_vote_stage(outs: dict, final: AdaptConfig, noisy: dict, folds,
                          grid: TuningGrid) -> tuple[list[dict], bool]:
    """Stage 5: the templates' vote on a non-adapted V (wearers whose window had no PVC); same
    criterion, first maximum in grid order (off first); noise and first-PVC safety reported
    next to it."""
    rows = []
    for on in grid.unadapted_vote:
        cfg = replace(final, template_vote_unadapted=on)
        m = protocol(outs, cfg)["adapted"]
        row = {"template_vote_unadapted": on, "S_f1": m["per_class"]["S"]["f1"],
               "V_f1": m["per_class"]["V"]["f1"], "V_se": m["per_class"]["V"]["se"],
               "V_ppv": m["per_class"]["V"]["ppv"], "criterion": criterion(m),
               "first_pvcs": _called_v(outs, cfg, folds, first_pvcs=True)}
        if noisy:
            row["noisy_V_f1_mean"] = float(np.mean(list(_noisy_v_f1(noisy, cfg).values())))
        rows.append(row)
        logger.info("DS1 unadapted vote %s", row)
    return rows, max(rows, key=lambda r: round(r["criterion"], 12))["template_vote_unadapted"]


def tune_ds1(outs: dict | None = None, *, folds=None, noisy: dict | None = None,
             grid: TuningGrid | None = None, data_dir=None,
             model_dir: str | os.PathLike = MODELS_DIR) -> dict:
    """Grid search on DS1 (the protocol on held-out members), stage by stage.

    Parameters
    ----------
    outs : per-record outputs to tune on (default: :func:`heldout_outputs` of ``model_dir``).
    folds : the patient folds of the safety checks (default: the ``training.folds`` of
        ``model_dir/beat_cnn.contract.json``).
    noisy : condition name -> outputs of stage 4's noisy views (default: made with
        :func:`heldout_outputs` for each of ``grid.noise_conditions``, named
        ``"<record> <snr> dB"``, when stage 4 runs).
    grid : the grid (default :class:`TuningGrid`, the shipped one).

    Returns
    -------
    dict
        ``grid``, ``exact_fallback_grid``, ``template_grid``, ``novelty_grid``,
        ``ectopic_grid``, ``unadapted_vote_grid`` (one row per configuration tried), ``best``
        (stage 1), ``exact_fallback``, ``template_best`` (the template fields chosen by stages
        2-5), ``unseen_morphology_v`` (the safety checks of the final configuration), ``base``
        (the base model's DS1 figures) and ``view``.
    """
    grid = TuningGrid() if grid is None else grid
    outs = heldout_outputs(model_dir, data_dir) if outs is None else outs
    base = protocol(outs, AdaptConfig())["base"]
    rows, best, head_cfg = _head_stage(outs, grid)
    xrows, xbest = _exact_fallback_stage(outs, head_cfg, grid)
    head_cfg = replace(head_cfg, exact_fallback=tuple(xbest["exact_fallback"]))
    trows, tbest = _template_stage(outs, head_cfg, grid)
    nrows, erows, urows, safety = [], [], [], None
    if tbest["template_k"]:
        tcfg = replace(head_cfg, **template_fields(tbest))
        nrows, novelty = _novelty_stage(outs, tcfg, grid)
        tbest = {**tbest, "template_novelty": novelty}
        if folds is None:
            folds = load_contract(Path(model_dir) / "beat_cnn.contract.json")[
                "training"]["folds"]
        final = replace(tcfg, template_novelty=novelty)
        noisy = {} if noisy is None else noisy
        if final.template_novelty is not None:
            if not noisy:
                noisy = {f"{kind} {snr:g} dB": heldout_outputs(model_dir, data_dir,
                                                               noise=(kind, snr))
                         for kind, snr in grid.noise_conditions}
            erows, ectopic = _ectopic_stage(outs, final, noisy, folds, grid)
            final = replace(final, novel_ectopic_log=ectopic)
            tbest = {**tbest, "novel_ectopic_log": ectopic}
        else:
            noisy = {}
        urows, on = _unadapted_vote_stage(outs, final, noisy, folds, grid)
        final = replace(final, template_vote_unadapted=on)
        tbest = {**tbest, "template_vote_unadapted": on}
        safety = unseen_morphology_v(outs, final, folds)
        safety["first_pvcs"] = unseen_morphology_v(
            outs, final, folds, first_pvcs=True, variants=FIRST_PVC_VARIANTS)
        logger.info("DS1 unseen-morphology V %s", safety)
    return {"view": "DS1, held-out ensemble member per patient fold (float)", "grid": rows,
            "unseen_morphology_v": safety,
            "best": best, "template_grid": trows, "template_best": tbest,
            "novelty_grid": nrows, "ectopic_grid": erows, "exact_fallback_grid": xrows,
            "unadapted_vote_grid": urows,
            "exact_fallback": xbest["exact_fallback"],
            "base": {"S_f1": base["per_class"]["S"]["f1"],
                     "V_f1": base["per_class"]["V"]["f1"],
                     "accuracy": base["accuracy"]}}


if __name__ == "__main__":
    from training.tool import no_command

    no_command("training.adapt_tuning",
               "the DS1 tuning runs with python benchmarks/bench_adapt.py --tune-ds1")
