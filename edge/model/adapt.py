"""Patient adaptation: a small per-wearer head on top of the int8 base model, fitted on the device.

The base model (a two-output full-int8 ``.tflite``, e.g. ``edge/models/default_embed.tflite``)
gives, for every beat, the class probabilities ``p`` and an int8 beat embedding ``e`` (the
members' ``head`` activations). From a labelled recording of the wearer (the first
:attr:`AdaptConfig.adapt_s` seconds; labels from any WFDB annotation file) :func:`fit_head` fits
a *residual* multinomial logistic regression::

    logits = log(p) + [z, 1] @ W,     z = standardise([e, standardised RR features])

with an L2 prior pulling ``W`` back to zero (zero = the base model), so with little data the
head *is* the base model. A class with fewer than :attr:`AdaptConfig.min_beats` labelled beats
is not adapted: its column of ``W`` stays zero and the file, the log and ``ecg-edge adapt`` say
so; a non-adapted V (:attr:`AdaptConfig.exact_fallback`) keeps exactly the base model's
probability under the head, so a head that never saw the wearer's PVCs cannot lower the V score
of the first ones (only the template vote below, which spares new ectopic beats, can).

On top, the window's labelled beats are kept as *wearer templates* (standardised head inputs, a
few hundred rows): each new beat's nearest templates vote on its V score, as a Holter analyser
matches beats to the templates a technician labelled, so a beat unlike the wearer's own PVCs
loses its V call (for a wearer whose window had no PVC none of the templates is V: a beat like
the wearer's own beats loses the base model's V call). A *novelty guard* keeps the vote away
from beats farther from every template than the templates are from each other (a morphology the
window never showed, e.g. a new ventricular focus) *when its timing is ectopic* (premature, or
followed by a pause): the head alone decides those. A new morphology on time -- in practice a
normal beat deformed by motion or muscle noise -- is still voted on. :class:`AdaptedClassifier`
counts the new beats (and warns once when they become common: time to adapt again). Everything
is numpy (+ ``scipy.optimize`` L-BFGS) and takes well under a second for five minutes of beats.

:class:`WearerHead` is the adapted model file (``.npz``, up to ~200 kB with its templates): the
weights, the templates, the standardisation, which classes are adapted or fell back, the label
counts, the configuration, and the SHA-256 and version of the base model it belongs to.
:class:`AdaptedClassifier` wraps the base :class:`~edge.model.classifier.BeatClassifier` with the
same
interface (``predict_proba``, ``classes``, ``window``, ``filters``, ``feature_config``,
``model_version``...), so the daemon and :class:`~edge.pipeline.BeatPipeline` run it unchanged;
it refuses a head made for another base model.

Hyper-parameters (defaults of :class:`AdaptConfig`: ``weight_l2``, ``bias_l2``,
``class_balance``, ``min_beats``, ``class_min_beats`` (F needs 20 beats),
``max_fallback_gain`` (0: a non-adapted class never gains probability over the base model;
DS1 cannot tell 0 from no cap, so the tie-break fixed beforehand chose it), ``exact_fallback``
(V), the template vote (``template_k`` 15, ``template_weight`` 8, ``template_floor`` 0.5, on V
only, also when V is not adapted: ``template_vote_unadapted``) and its novelty
guard (``template_novelty`` 1.0, by a safety-first rule fixed in advance; its timing condition
``novel_ectopic_log`` 0.1, on DS1 with Noise Stress Test noise added)) were chosen on DS1
only, with the patient-specific protocol (first 5 minutes adapt, last 25 scored), using for
each DS1 record the ensemble member trained without that patient (the shipped ensemble saw
DS1); see ``benchmarks/bench_adapt.py --tune-ds1``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES, aami_classes
from edge.dsp.features import FEATURE_NAMES
from edge.dsp.inputs import beat_inputs_at
from edge.errors import AdaptedModelError, AdaptError, ConfigError, ModelError
from edge.model.bundled import MODELS_DIR
from edge.model.classifier import BeatClassifier

__all__ = ["AdaptConfig", "WearerHead", "AdaptResult", "AdaptedClassifier", "ADAPTED_FORMAT",
           "model_sha256", "beat_model_inputs", "fit_head", "adapt_recording", "ectopic_timing"]

logger = logging.getLogger(__name__)

#: Warn (once) when more than this share of at least NEW_BEATS_MIN scored beats were new to the
#: wearer (on DS1 about 6 % of the scored beats lie beyond the templates' reach).
NEW_BEATS_WARN_SHARE = 0.25
NEW_BEATS_MIN = 500

#: Beats per slice of the template search (a slice's distance matrix is VOTE_ROWS x templates).
VOTE_ROWS = 512

#: Feature columns of the timing condition: premature against the local or the long-term mean
#: RR, or followed by a longer interval than the one before it (a pause).
_PREMATURE = (FEATURE_NAMES.index("log_pre_over_local"), FEATURE_NAMES.index("log_pre_over_long"))
_PAUSE = FEATURE_NAMES.index("log_post_over_pre")

#: Format tag (and version) of the adapted model file.
ADAPTED_FORMAT = "ecg-edge-adapted-head/1"


@dataclass(frozen=True, kw_only=True)
class AdaptConfig:
    """Settings of the per-wearer head.

    Attributes
    ----------
    adapt_s : seconds at the start of the labelled recording used for adaptation (the
        patient-specific protocol uses 300 s = 5 minutes).
    min_beats : a class needs at least this many labelled beats in the adaptation window to be
        adapted; otherwise the base model's score is kept for it (fallback).
    weight_l2 : L2 penalty on the head's weights over the standardised inputs (larger = closer
        to the base model).
    bias_l2 : L2 penalty on the per-class logit offsets.
    class_balance : exponent of the inverse-frequency class weights (0 = every beat counts
        alike, 1 = every adapted class counts alike).
    use_embedding : feed the int8 beat embedding to the head.
    use_rr : feed the standardised RR / template features to the head.
    prob_floor : base probabilities are floored here before the log (int8 outputs can be 0).
    max_iter : L-BFGS iterations.
    max_disagreement : warn when more than this fraction of the labelled beats disagree with a
        confident base model (a sign of mislabelled or shifted annotations).
    class_min_beats : per-class override of ``min_beats`` (default ``{"F": 20}``: fusion beats
        are few and look like V, so F needs more of them); ``None`` as a value means the class
        is never adapted (always the base model's score).
    max_fallback_gain : at most this many natural-log units by which the head may raise the
        probability of a *non-adapted* (fallback) class above the base model's, per beat
        (``0`` = a fallback class never gains probability; ``None`` = no limit). It bounds how
        far a head fitted without, e.g., V beats can push atypical beats toward V when it
        lowers its adapted classes' scores; the excess goes back to the adapted classes in
        proportion.
    exact_fallback : non-adapted classes that keep *exactly* the base model's probability
        under the linear head (the adapted classes share what is left; only the template vote,
        see ``template_vote_unadapted``, may then change it). Default V: a head fitted on a
        window without PVCs only knows the wearer's other beats and would otherwise lower
        every beat's V score, suppressing the wearer's first PVCs (on DS1 it halved the share
        of unseen PVCs called V). S is not listed: lowering the base model's false S on a
        wearer's own normal beats is what adaptation is for.
    template_k : wearer templates: the adaptation window's labelled beats (of adapted classes)
        are kept, standardised, in the file; each new beat's ``template_k`` nearest of them
        vote, and the score of every class in ``template_classes`` is multiplied by
        ``(share of its votes + template_floor) ** template_weight`` (then renormalised). This
        is the Holter analyser's template matching on the learned embedding: a beat that
        looks like none of the wearer's labelled V beats loses V score. ``0`` = off.
    template_weight : exponent of the vote factor (0 = no effect).
    template_floor : added to the vote share, so no vote cannot veto a class outright.
    template_classes : classes whose scores the templates adjust (adapted ones; see
        ``template_vote_unadapted`` for the others).
    template_vote_unadapted : the templates also vote on a class of ``template_classes`` that
        was not adapted (a window without PVCs): none of the wearer's templates is V, so a
        beat that matches the wearer's own beats loses its V score, while a beat new to the
        wearer and ectopic (the guard) keeps the base model's. ``False``: such a class keeps
        the base model's score untouched.
    max_templates : at most this many labelled beats are kept as templates (evenly spaced
        over the window when there are more); bounds the file size and the search per beat.
    template_novelty : a beat farther from every template than ``template_novelty`` times the
        largest nearest-neighbour distance among the templates themselves is *new* to this
        wearer (a morphology the window never showed, e.g. a new PVC focus): the templates do
        not vote on it and the head alone decides. ``None`` = always vote.
    novel_ectopic_log : the guard spares a new beat only if its timing is ectopic: its RR
        interval is shorter than the local or the long-term mean RR by more than this (natural
        log ratio; 0.1 = about 10 %), or the next interval is longer than its own by more
        (a compensatory pause). A new morphology on time -- a normal beat deformed by noise --
        is voted on like any other. ``None`` = every new beat is spared.
    """

    adapt_s: float = 300.0
    min_beats: int = 5
    weight_l2: float = 3.0
    bias_l2: float = 3e-4
    class_balance: float = 0.5
    use_embedding: bool = True
    use_rr: bool = True
    prob_floor: float = 1e-4
    max_iter: int = 300
    max_disagreement: float = 0.5
    class_min_beats: dict = field(default_factory=lambda: {"F": 20})
    max_fallback_gain: float | None = 0.0
    exact_fallback: tuple = ("V",)
    template_k: int = 15
    template_weight: float = 8.0
    template_floor: float = 0.5
    template_classes: tuple = ("V",)
    template_vote_unadapted: bool = True
    max_templates: int = 1500
    template_novelty: float | None = 1.0
    novel_ectopic_log: float | None = 0.1

    def __post_init__(self) -> None:
        if not self.adapt_s > 0:
            raise ConfigError("adapt_s", f"must be > 0 seconds, got {self.adapt_s}")
        if self.min_beats < 1:
            raise ConfigError("min_beats", f"must be >= 1, got {self.min_beats}")
        if not self.weight_l2 > 0:
            raise ConfigError("weight_l2", f"must be > 0, got {self.weight_l2}")
        if not self.bias_l2 > 0:
            raise ConfigError("bias_l2", f"must be > 0, got {self.bias_l2}")
        if not 0 <= self.class_balance <= 1:
            raise ConfigError("class_balance", f"must be in [0, 1], got {self.class_balance}")
        if not (self.use_embedding or self.use_rr):
            raise ConfigError("use_embedding", "the head needs the embedding, the RR features "
                              "or both")
        if not 0 < self.prob_floor < 0.2:
            raise ConfigError("prob_floor", f"must be in (0, 0.2), got {self.prob_floor}")
        if self.max_iter < 1:
            raise ConfigError("max_iter", f"must be >= 1, got {self.max_iter}")
        if not 0 < self.max_disagreement <= 1:
            raise ConfigError("max_disagreement", "must be in (0, 1]")
        if not isinstance(self.class_min_beats, dict):
            raise ConfigError("class_min_beats", "must be a dict {class: beats or None}, got "
                              f"{type(self.class_min_beats).__name__}")
        for c, m in self.class_min_beats.items():
            if c not in AAMI_CLASSES:
                raise ConfigError("class_min_beats", f"unknown class {c!r}; classes are "
                                  f"{tuple(AAMI_CLASSES)}")
            if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer))
                                  or m < 1):
                raise ConfigError("class_min_beats", f"{c}: must be an int >= 1 or None, "
                                  f"got {m!r}")
        if self.max_fallback_gain is not None and not self.max_fallback_gain >= 0:
            raise ConfigError("max_fallback_gain", f"must be >= 0 or None, got "
                              f"{self.max_fallback_gain}")
        bad = [c for c in self.exact_fallback if c not in AAMI_CLASSES]
        if bad or isinstance(self.exact_fallback, str):
            raise ConfigError("exact_fallback", f"must be a tuple of classes from "
                              f"{tuple(AAMI_CLASSES)}, got {self.exact_fallback!r}")
        if isinstance(self.template_k, bool) or not isinstance(self.template_k,
                                                               (int, np.integer)) \
                or self.template_k < 0:
            raise ConfigError("template_k", f"must be an int >= 0, got {self.template_k!r}")
        if not self.template_weight >= 0:
            raise ConfigError("template_weight", f"must be >= 0, got {self.template_weight}")
        if not self.template_floor > 0:
            raise ConfigError("template_floor", f"must be > 0, got {self.template_floor}")
        bad = [c for c in self.template_classes if c not in AAMI_CLASSES]
        if bad or isinstance(self.template_classes, str):
            raise ConfigError("template_classes", f"must be a tuple of classes from "
                              f"{tuple(AAMI_CLASSES)}, got {self.template_classes!r}")
        if self.template_novelty is not None and not self.template_novelty > 0:
            raise ConfigError("template_novelty", f"must be > 0 or None, got "
                              f"{self.template_novelty}")
        if self.novel_ectopic_log is not None and not self.novel_ectopic_log > 0:
            raise ConfigError("novel_ectopic_log", f"must be > 0 or None, got "
                              f"{self.novel_ectopic_log}")
        if self.max_templates < max(1, self.template_k):
            raise ConfigError("max_templates", f"must be >= max(1, template_k), got "
                              f"{self.max_templates}")

    def min_beats_for(self, cls: str) -> int | None:
        """Labelled beats class ``cls`` needs to be adapted (``None``: never adapted)."""
        return self.class_min_beats.get(cls, self.min_beats)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["template_classes"] = list(self.template_classes)
        d["exact_fallback"] = list(self.exact_fallback)
        return d


def model_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a model file: the identity an adapted head is bound to."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class WearerHead:
    """A fitted per-wearer head (the adapted model file's content).

    Attributes
    ----------
    classes : class order of the base model (``N S V F Q``).
    adapted : classes whose scores the head changes.
    fallback : classes kept at the base model's score, with the reason (``"3 beats < 5"``).
    counts : labelled beats per class in the adaptation window.
    mean, std : standardisation of the head's inputs, float32 (n_inputs,).
    weights : float32 (n_inputs + 1, n_classes); the last row is the per-class offset; the
        columns of non-adapted classes are zero.
    base_sha256, base_model_version, base_file : the base model this head belongs to.
    embedding_size : embedding values per beat (0 when the embedding is not used).
    config : the :class:`AdaptConfig` used, as a dict.
    info : free-form facts (fit time, disagreement with the base model, record name...).
    templates : float32 (m, n_inputs) standardised head inputs of the labelled beats kept as
        wearer templates (``None``: template vote off).
    template_labels : int8 (m,) their class indices into ``classes``.
    template_reach : distance (standardised units) beyond which a beat is new to the wearer
        and the templates do not vote (``inf``: always vote).
    """

    classes: tuple[str, ...]
    adapted: tuple[str, ...]
    fallback: dict[str, str]
    counts: dict[str, int]
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    base_sha256: str
    base_model_version: str
    base_file: str
    embedding_size: int
    config: dict
    info: dict = field(default_factory=dict)
    templates: np.ndarray | None = None
    template_labels: np.ndarray | None = None
    template_reach: float = float("inf")

    def __post_init__(self) -> None:
        n_in = int(self.mean.shape[0])
        if self.std.shape != (n_in,) or self.weights.shape != (n_in + 1, len(self.classes)):
            raise AdaptedModelError(f"inconsistent head shapes: mean {self.mean.shape}, std "
                                    f"{self.std.shape}, weights {self.weights.shape}")
        if (self.templates is None) != (self.template_labels is None):
            raise AdaptedModelError("templates and template_labels go together")
        if self.templates is not None:
            m = self.template_labels.shape[0]
            if self.templates.shape != (m, n_in) or self.template_labels.ndim != 1 or m == 0:
                raise AdaptedModelError(f"inconsistent templates: {self.templates.shape}, "
                                        f"labels {self.template_labels.shape}, {n_in} inputs")
            if not np.all(np.isfinite(self.templates)) or not (
                    0 <= self.template_labels.min() and self.template_labels.max()
                    < len(self.classes)):
                raise AdaptedModelError("templates must be finite with valid class indices")
        if not (np.all(np.isfinite(self.weights)) and np.all(self.std > 0)):
            raise AdaptedModelError("head weights must be finite and std positive")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the head as ``.npz`` (no pickles) and return the path."""
        path = Path(path)
        meta = {"format": ADAPTED_FORMAT, "classes": list(self.classes),
                "adapted": list(self.adapted), "fallback": self.fallback,
                "counts": self.counts, "base_sha256": self.base_sha256,
                "base_model_version": self.base_model_version, "base_file": self.base_file,
                "embedding_size": self.embedding_size, "config": self.config, "info": self.info,
                "template_reach": None if np.isinf(self.template_reach) else
                float(self.template_reach)}
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if self.templates is None else {
            "templates": self.templates.astype(np.float32),
            "template_labels": self.template_labels.astype(np.int8)}
        with open(path, "wb") as fh:  # np.savez would append ".npz" to a bare name
            np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)),
                     mean=self.mean.astype(np.float32), std=self.std.astype(np.float32),
                     weights=self.weights.astype(np.float32), **extra)
        return path

    @staticmethod
    def load(path: str | os.PathLike) -> "WearerHead":
        """Read a head written by :meth:`save`; :class:`AdaptedModelError` if it is not one."""
        path = Path(path)
        if not path.is_file():
            raise AdaptedModelError("adapted model file not found", str(path))
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: np.asarray(z[k], dtype=np.float32) for k in ("mean", "std",
                                                                          "weights")}
                if "templates" in z.files or "template_labels" in z.files:
                    arrays["templates"] = np.asarray(z["templates"], dtype=np.float32)
                    arrays["template_labels"] = np.asarray(z["template_labels"],
                                                           dtype=np.int64)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise AdaptedModelError(f"not an ecg-edge adapted model file ({exc})",
                                    str(path)) from exc
        if not isinstance(meta, dict) or meta.get("format") != ADAPTED_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise AdaptedModelError(f"format {found!r}, expected {ADAPTED_FORMAT!r}", str(path))
        try:
            return WearerHead(classes=tuple(meta["classes"]), adapted=tuple(meta["adapted"]),
                              fallback=dict(meta["fallback"]), counts=dict(meta["counts"]),
                              base_sha256=str(meta["base_sha256"]),
                              base_model_version=str(meta["base_model_version"]),
                              base_file=str(meta["base_file"]),
                              embedding_size=int(meta["embedding_size"]),
                              config=dict(meta["config"]), info=dict(meta.get("info", {})),
                              template_reach=float("inf") if meta.get("template_reach") is None
                              else float(meta["template_reach"]), **arrays)
        except (KeyError, TypeError) as exc:
            raise AdaptedModelError(f"incomplete adapted model file: {exc!r}", str(path)) \
                from exc

    @property
    def voted_classes(self) -> tuple[str, ...]:
        """The classes the wearer templates vote on: the ``template_classes`` that were
        adapted, or all of them with ``template_vote_unadapted``."""
        unadapted = bool(self.config.get("template_vote_unadapted", False))
        return tuple(c for c in self.classes if c in self.config.get("template_classes", ())
                     and (c in self.adapted or unadapted))

    def inputs(self, embedding: np.ndarray | None, features_std: np.ndarray) -> np.ndarray:
        """The head's raw input matrix (before its own standardisation) from the dequantized
        int8 embedding (n, k) and the standardised features (n, 14)."""
        cfg = self.config
        return _head_inputs(embedding, features_std, use_embedding=cfg["use_embedding"],
                            use_rr=cfg["use_rr"])

    def apply(self, proba: np.ndarray, x: np.ndarray,
              features: np.ndarray | None = None) -> np.ndarray:
        """Adapted probabilities (float32, (n, n_classes)) from base probabilities, the head
        inputs of :meth:`inputs` and the beats' unstandardised scalar features (n, 14) (the
        timing condition of the novelty guard reads their RR ratios)."""
        return self.apply_detail(proba, x, features)[0]

    def apply_detail(self, proba: np.ndarray, x: np.ndarray,
                     features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply`, plus a bool mask of the beats the templates found *new* to the wearer
        (farther than :attr:`template_reach` from every template; all False when the templates
        do not vote).

        Raises
        ------
        AdaptError
            The guard has a timing condition (``novel_ectopic_log``) and ``features`` is
            missing or of the wrong shape.
        """
        gain = self.config.get("max_fallback_gain")
        free = np.array([c in self.adapted for c in self.classes])
        exact = np.array([c in self.config.get("exact_fallback", ()) for c in self.classes])
        q = _apply(proba, x, self.mean, self.std, self.weights,
                   float(self.config["prob_floor"]), free=free,
                   max_fallback_gain=None if gain is None else float(gain),
                   fixed=exact & ~free)
        return self._vote(q, x, features)

    def _vote(self, q: np.ndarray, x: np.ndarray,
              features: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``q`` after the wearer-template vote (unchanged when the templates do not vote),
        and the mask of the beats beyond the templates' reach."""
        none_new = np.zeros(len(q), dtype=bool)
        k = int(self.config.get("template_k", 0))
        if self.templates is None or k == 0 or len(q) == 0:
            return q, none_new
        vote = np.isin(self.classes, self.voted_classes)
        if not vote.any():
            return q, none_new
        xs = ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)
        spare = None  # beats the guard may spare (None: any new beat)
        ectopic_log = self.config.get("novel_ectopic_log")
        if ectopic_log is not None and np.isfinite(self.template_reach):
            spare = ectopic_timing(features, float(ectopic_log), len(q))
        q, near = _template_vote(q, xs, self.templates, self.template_labels, k, vote,
                                 float(self.config["template_weight"]),
                                 float(self.config["template_floor"]), self.template_reach,
                                 spare)
        return q, ~near


def _head_inputs(embedding: np.ndarray | None, features_std: np.ndarray, *,
                 use_embedding: bool, use_rr: bool) -> np.ndarray:
    parts = []
    if use_embedding:
        if embedding is None:
            raise ModelError("this head uses the beat embedding; the model has none")
        parts.append(np.asarray(embedding, dtype=np.float64))
    if use_rr:
        parts.append(np.asarray(features_std, dtype=np.float64))
    return np.hstack(parts)


def _log_proba(proba: np.ndarray, floor: float) -> np.ndarray:
    p = np.clip(np.asarray(proba, dtype=np.float64), floor, None)
    return np.log(p / p.sum(axis=1, keepdims=True))


def _apply(proba, x, mean, std, weights, floor, *, free=None,
           max_fallback_gain=None, fixed=None) -> np.ndarray:
    """The residual head on base probabilities; non-adapted (``~free``) classes gain at most
    ``max_fallback_gain`` log units, and the ``fixed`` ones keep exactly the base model's
    (floored, renormalised) probability, the other classes sharing the rest."""
    if len(proba) == 0:
        return np.zeros((0, weights.shape[1]), dtype=np.float32)
    xb = np.hstack([(x - mean) / std, np.ones((x.shape[0], 1))])
    logp = _log_proba(proba, floor)
    z = logp + xb @ weights.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    if max_fallback_gain is not None and free is not None and (~free).any() and free.any():
        # A fallback class's adapted probability is p_f / Z (its residual is zero); cap it at
        # p_f * exp(gain) and hand the excess back to the adapted classes in proportion.
        cap = np.exp(logp[:, ~free] + max_fallback_gain)
        qf = np.minimum(q[:, ~free], cap)
        qa = q[:, free]
        rest = 1.0 - qf.sum(axis=1, keepdims=True)
        qa = qa / np.maximum(qa.sum(axis=1, keepdims=True), 1e-300) * rest
        q = q.copy()
        q[:, ~free], q[:, free] = qf, qa
    q = q.astype(np.float32)
    if fixed is not None and fixed.any():
        pb = np.exp(logp[:, fixed])
        out = q.astype(np.float64)
        rest = out[:, ~fixed]
        left = 1.0 - pb.sum(axis=1, keepdims=True)
        out[:, ~fixed] = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1e-300) * left
        out[:, fixed] = pb
        q = out.astype(np.float32)
    return q


def ectopic_timing(features: np.ndarray | None, log_ratio: float, n: int) -> np.ndarray:
    """Bool mask of beats whose timing is ectopic: RR shorter than the local or the long-term
    mean RR by more than ``log_ratio`` (natural log), or followed by an interval longer than
    their own by more than ``log_ratio``. ``features``: (n, 14) unstandardised scalar features
    (:data:`edge.dsp.features.FEATURE_NAMES`); a non-finite ratio is not ectopic."""
    if features is None:
        raise AdaptError("this head's novelty guard looks at the beats' timing: pass their "
                         "unstandardised features (n, 14)")
    f = np.asarray(features, dtype=np.float64)
    if f.shape != (n, len(FEATURE_NAMES)):
        raise AdaptError(f"features must have shape ({n}, {len(FEATURE_NAMES)}), got {f.shape}")
    with np.errstate(invalid="ignore"):
        return (f[:, _PREMATURE] < -log_ratio).any(axis=1) | (f[:, _PAUSE] > log_ratio)


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(a), len(b)) between the rows of ``a`` and ``b``."""
    return (np.einsum("ij,ij->i", a, a)[:, None] - 2.0 * a @ b.T
            + np.einsum("ij,ij->i", b, b)[None, :])


def _template_vote(q: np.ndarray, xs: np.ndarray, templates: np.ndarray, labels: np.ndarray,
                   k: int, vote: np.ndarray, weight: float, floor: float,
                   reach: float = float("inf"), spare: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Scale the ``vote`` columns of ``q`` by ``(neighbour share + floor) ** weight`` over the
    ``k`` nearest templates (Euclidean, standardised inputs) and renormalise; beats farther
    than ``reach`` from every template keep ``q`` if ``spare`` (bool per beat; None = all)
    allows it. Returns the new scores and the "near" mask.
    Row-wise: the result of a beat does not depend on the batch it comes in (large batches go
    through in slices of :data:`VOTE_ROWS` beats, bounding the distance matrix's memory)."""
    if len(q) > VOTE_ROWS:
        parts = [_template_vote(q[i:i + VOTE_ROWS], xs[i:i + VOTE_ROWS], templates, labels,
                                k, vote, weight, floor, reach,
                                None if spare is None else spare[i:i + VOTE_ROWS])
                 for i in range(0, len(q), VOTE_ROWS)]
        return (np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))
    k = min(k, len(labels))
    d2 = _sq_distances(xs, templates.astype(np.float32))
    # the k nearest, in no particular order (a deterministic selection, row by row)
    nn = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else \
        np.broadcast_to(np.arange(k), d2.shape)
    share = np.zeros(q.shape, dtype=np.float64)
    rows = np.repeat(np.arange(len(q)), k)
    np.add.at(share, (rows, labels[nn].ravel()), 1.0 / k)
    near = np.sqrt(np.maximum(d2.min(axis=1), 0.0)) <= reach
    voted = near if spare is None else near | ~spare
    factor = np.where(vote[None, :] & voted[:, None], (share + floor) ** weight, 1.0)
    out = np.asarray(q, dtype=np.float64) * factor
    out /= out.sum(axis=1, keepdims=True)
    return out.astype(np.float32), near


def _template_reach(templates: np.ndarray, novelty: float | None) -> float:
    """``novelty`` x the largest nearest-neighbour distance among the templates."""
    if novelty is None or len(templates) < 2:
        return float("inf")
    t = templates.astype(np.float64)
    d2 = _sq_distances(t, t)
    np.fill_diagonal(d2, np.inf)
    return float(novelty * np.sqrt(max(float(d2.min(axis=1).max()), 0.0)))


def _pick_templates(xs: np.ndarray, yi: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``m`` templates, evenly spaced over the window (in time order)."""
    if len(yi) > m:
        keep = np.unique(np.linspace(0, len(yi) - 1, m).round().astype(np.int64))
        xs, yi = xs[keep], yi[keep]
    return xs.astype(np.float32), yi.astype(np.int8)


def fit_head(proba: np.ndarray, embedding: np.ndarray | None, features_std: np.ndarray,
             labels: np.ndarray, config: AdaptConfig, *, base: BeatClassifier | None = None,
             base_sha256: str = "", base_model_version: str = "",
             base_file: str = "") -> WearerHead:
    """Fit the residual head on labelled beats.

    Parameters
    ----------
    proba : (n, 5) base-model probabilities of the labelled beats.
    embedding : (n, k) their int8 embeddings (dequantized), or None if ``use_embedding`` is off.
    features_std : (n, 14) their standardised scalar features (as the model sees them).
    labels : (n,) AAMI class letters (``"N"``...).
    config : head settings.
    base : the base classifier (fills in the ``base_*`` identity fields).

    Raises
    ------
    AdaptError
        No labelled beats, or no class has :attr:`AdaptConfig.min_beats` beats.
    """
    from scipy.optimize import minimize

    t0 = time.process_time()
    classes = tuple(AAMI_CLASSES)
    labels = np.asarray(labels, dtype=object)
    n = labels.size
    if n == 0:
        raise AdaptError("no labelled beats in the adaptation window: check the annotation "
                         "file and --adapt-minutes")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise AdaptError(f"labels must be AAMI classes {classes}, got {unknown}")
    counts = {c: int(np.sum(labels == c)) for c in classes}
    need = {c: config.min_beats_for(c) for c in classes}
    adapted = tuple(c for c in classes if need[c] is not None and counts[c] >= need[c])
    fallback = {c: (f"{counts[c]} beats, never adapted (class_min_beats): base model kept"
                    if need[c] is None else
                    f"{counts[c]} beats < min_beats {need[c]}: base model kept")
                for c in classes if c not in adapted}
    if not adapted:
        raise AdaptError(f"no class has {config.min_beats} labelled beats in the adaptation "
                         f"window (counts {counts}, class_min_beats {config.class_min_beats})"
                         "; nothing to adapt")
    for c, why in fallback.items():
        if counts[c] > 0 or c in ("S", "V"):
            logger.warning("class %s not adapted (%s)", c, why)
    x = _head_inputs(embedding, features_std, use_embedding=config.use_embedding,
                     use_rr=config.use_rr)
    keep = np.isin(labels, adapted)  # beats of fallback classes do not steer the head
    x, y_lab, logp = x[keep], labels[keep], _log_proba(proba[keep], config.prob_floor)
    m_rows, k = x.shape[0], len(classes)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    xb = np.hstack([(x - mean) / std, np.ones((m_rows, 1))])
    yi = np.array([classes.index(c) for c in y_lab], dtype=np.int64)
    onehot = np.eye(k)[yi]
    cnt = onehot.sum(axis=0)
    w = (m_rows / (len(adapted) * np.maximum(cnt, 1)))[yi] ** config.class_balance
    w = w / w.sum() * m_rows
    free = np.array([c in adapted for c in classes])
    n_in = x.shape[1]
    lam_w, lam_b = config.weight_l2, config.bias_l2

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wt = theta.reshape(n_in + 1, k)
        z = logp + xb @ wt
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = (-(w * np.log(p[np.arange(m_rows), yi] + 1e-12)).sum() / m_rows
                + 0.5 * lam_w * np.sum(wt[:-1] ** 2) + 0.5 * lam_b * np.sum(wt[-1] ** 2))
        g = xb.T @ ((p - onehot) * w[:, None]) / m_rows
        g[:-1] += lam_w * wt[:-1]
        g[-1] += lam_b * wt[-1]
        g[:, ~free] = 0.0
        return float(loss), g.ravel()

    res = minimize(objective, np.zeros((n_in + 1) * k), jac=True, method="L-BFGS-B",
                   options={"maxiter": config.max_iter})
    weights = res.x.reshape(n_in + 1, k)
    weights[:, ~free] = 0.0
    base_label = np.asarray(classes, dtype=object)[np.asarray(proba).argmax(axis=1)]
    confident = np.asarray(proba).max(axis=1) >= 0.9
    disagree = float(np.mean(base_label[confident] != labels[confident])) if confident.any() \
        else 0.0
    if disagree > config.max_disagreement:
        logger.warning("%.0f %% of the labelled beats disagree with a confident base model: "
                       "are the annotations mislabelled or shifted?", 100 * disagree)
    cpu_s = time.process_time() - t0
    info = {"fit_cpu_s": round(cpu_s, 4), "n_beats": int(n), "n_used": int(m_rows),
            "converged": bool(res.success), "confident_disagreement": round(disagree, 4)}
    if base is not None:
        base_sha256 = base_sha256 or model_sha256(base.path)
        base_model_version = base_model_version or base.model_version
        base_file = base_file or base.path.name
    templates = template_labels = None
    reach = float("inf")
    if config.template_k > 0:
        templates, template_labels = _pick_templates(xb[:, :-1], yi, config.max_templates)
        reach = _template_reach(templates, config.template_novelty)
    return WearerHead(classes=classes, adapted=adapted, fallback=fallback, counts=counts,
                      mean=mean.astype(np.float32), std=std.astype(np.float32),
                      weights=weights.astype(np.float32), templates=templates,
                      template_labels=template_labels, template_reach=reach,
                      base_sha256=base_sha256,
                      base_model_version=base_model_version, base_file=base_file,
                      embedding_size=int(embedding.shape[1]) if config.use_embedding
                      and embedding is not None else 0,
                      config=config.to_dict(), info=info)


def beat_model_inputs(clf: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                      beats_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``(beat, features)`` at given input-rate beat positions of a whole signal,
    through the device's own conditioning (resampling to the model's rate), windows and
    features -- as :func:`edge.pipeline.classify_at` does."""
    inp = beat_inputs_at(x_mv, fs_in_hz, beats_in, window=clf.window,
                         features=clf.feature_config, filter_config=clf.filters)
    return inp.beat, inp.features


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt_recording` did: the head, and the beats it learned from."""

    head: WearerHead
    n_labelled: int
    n_ignored: int
    cpu_s: float


def adapt_recording(base: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                    sample_index: np.ndarray, symbols, config: AdaptConfig | None = None, *,
                    name: str = "") -> AdaptResult:
    """Fit a wearer head from a labelled recording.

    Parameters
    ----------
    base : the two-output base classifier (:attr:`BeatClassifier.embedding_size` > 0).
    x_mv : the recording, 1-D, mV, at ``fs_in_hz`` (any rate: the pipeline resamples).
    sample_index : annotation positions (input-rate samples).
    symbols : their annotation symbols (MIT-BIH beat symbols are mapped to AAMI classes;
        non-beat annotations are ignored).
    config : head settings (defaults: :class:`AdaptConfig`).
    name : the wearer / record name stored in the file.
    """
    config = config or AdaptConfig()
    if base.embedding_size == 0 and config.use_embedding:
        raise ModelError(f"{base.path.name} has no embedding output: adapt with a two-output "
                         "model (edge/models/default_embed.tflite or `python "
                         "convert/quantize.py --embedding`)")
    t0 = time.process_time()
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise AdaptError(f"the recording must be a non-empty 1-D signal, got shape {x.shape}")
    idx = np.asarray(sample_index, dtype=np.int64)
    sym = np.asarray(symbols, dtype=object)
    aami = aami_classes(sym)
    is_beat = np.array([a is not None for a in aami], dtype=bool)
    inside = (idx >= 0) & (idx < x.size)
    beats, labels = idx[is_beat & inside], aami[is_beat & inside]
    order = np.argsort(beats, kind="stable")
    beats, labels = beats[order], labels[order]
    n_adapt = int(round(config.adapt_s * fs_in_hz))
    window = beats < n_adapt
    if not window.any():
        raise AdaptError(f"no labelled beat in the first {config.adapt_s:g} s of the recording "
                         f"({int(is_beat.sum())} beat annotations in all): check the "
                         "annotation file and --adapt-minutes")
    # Features are causal: compute them over the adaptation window plus a little margin (the
    # post-RR of the last beat needs the next one), then keep the window's beats.
    stop = min(x.size, n_adapt + int(round(5.0 * fs_in_hz)))
    use = beats < stop
    beat, feats = beat_model_inputs(base, x[:stop], fs_in_hz, beats[use])
    in_window = window[use]
    beat, feats, lab = beat[in_window], feats[in_window], labels[use][in_window]
    proba, emb = base.predict_with_embedding(beat, feats) if base.embedding_size else \
        (base.predict_proba(beat, feats), None)
    f_std = base.standardize_features(feats)
    head = fit_head(proba, emb, f_std, lab, config, base=base)
    head.info.update({"record": name, "fs_in_hz": float(fs_in_hz),
                      "adapt_beats_ignored_non_beat": int((~is_beat).sum())})
    cpu = time.process_time() - t0
    head.info["adapt_cpu_s"] = round(cpu, 3)
    logger.info("adapted %s: classes %s adapted, %s base (%d beats, %.2f CPU s)", name or
                "wearer", "".join(head.adapted), "".join(head.fallback) or "none", lab.size, cpu)
    return AdaptResult(head, int(lab.size), int((~is_beat).sum()), cpu)


class AdaptedClassifier:
    """A base :class:`BeatClassifier` with a wearer head: the same interface, adapted scores.

    Parameters
    ----------
    base : the loaded two-output base model.
    head : the wearer head; it must have been fitted on this very base model (same SHA-256).

    Raises
    ------
    AdaptedModelError
        The head belongs to another base model, or its inputs do not fit this one.
    """

    def __init__(self, base: BeatClassifier, head: WearerHead) -> None:
        digest = model_sha256(base.path)
        if head.base_sha256 != digest:
            raise AdaptedModelError(
                f"this adapted head was made for base model {head.base_file!r} "
                f"({head.base_model_version}, sha256 {head.base_sha256[:12]}...), not for "
                f"{base.path.name!r} ({base.model_version}, sha256 {digest[:12]}...): adapt "
                "again with this model or run with the model it was made for")
        if tuple(head.classes) != tuple(base.classes):
            raise AdaptedModelError(f"head classes {head.classes} differ from the model's "
                                    f"{base.classes}")
        if head.embedding_size and head.embedding_size != base.embedding_size:
            raise AdaptedModelError(f"head expects a {head.embedding_size}-value embedding, "
                                    f"the model gives {base.embedding_size}")
        self.base = base
        self.head = head
        self.classes = base.classes
        self.window = base.window
        self.filters = base.filters
        self.feature_config = base.feature_config
        self.contract = base.contract
        self.path = base.path
        self.quantized = base.quantized
        self.size_bytes = base.size_bytes
        self.embedding_size = base.embedding_size
        wearer = head.info.get("record") or "wearer"
        self.model_version = f"{base.model_version}+adapted({wearer})"
        self.n_beats = 0
        self.n_new = 0
        self._warned_new = False

    @classmethod
    def load(cls, adapted_path: str | os.PathLike, model_path: str | os.PathLike | None = None,
             *, num_threads: int = 1) -> "AdaptedClassifier":
        """Load a head and its base model (``model_path``, else the bundled model of the
        head's ``base_file`` name next to ``edge/models``)."""
        head = WearerHead.load(adapted_path)
        if model_path is None:
            model_path = MODELS_DIR / head.base_file
        clf = cls(BeatClassifier(model_path, num_threads=num_threads), head)
        logger.info("adapted head %s on %s: adapted %s, base kept for %s", Path(adapted_path).name,
                    clf.path.name, "".join(head.adapted), "".join(head.fallback) or "none")
        return clf

    def predict_proba(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Adapted class probabilities (float32, (n, 5)), same inputs as
        :meth:`BeatClassifier.predict_proba`."""
        if self.head.embedding_size:
            proba, emb = self.base.predict_with_embedding(beat, features)
        else:
            proba, emb = self.base.predict_proba(beat, features), None
        f_std = self.base.standardize_features(features)
        q, new = self.head.apply_detail(proba, self.head.inputs(emb, f_std), features)
        self.n_beats += len(q)
        self.n_new += int(new.sum())
        if (not self._warned_new and self.n_beats >= NEW_BEATS_MIN
                and self.n_new > NEW_BEATS_WARN_SHARE * self.n_beats):
            self._warned_new = True
            logger.warning("%d of %d beats (%.0f %%) look like nothing in the adaptation "
                           "recording of %s: the templates can judge only those on time; consider "
                           "adapting again on a recent labelled recording", self.n_new,
                           self.n_beats, 100.0 * self.n_new / self.n_beats,
                           self.head.info.get("record") or "this wearer")
        return q

    def adaptation_stats(self) -> dict:
        """Counters for the daemon's status event: beats scored, beats new to the wearer."""
        return {"beats": self.n_beats, "new_to_wearer": self.n_new,
                "adapted_classes": "".join(self.head.adapted)}

    def predict(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class labels for a batch of beats."""
        p = self.predict_proba(beat, features)
        return np.asarray(self.classes, dtype=object)[np.argmax(p, axis=1)]
