"""Settings of patient adaptation: :class:`AdaptConfig`, validated at construction.

The defaults were chosen on DS1 only, with the patient-specific protocol (first 5 minutes
adapt, last 25 scored), using for each DS1 record the ensemble member trained without that
patient; see ``benchmarks/bench_adapt.py --tune-ds1`` and :mod:`edge.model.adapt`.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError

__all__ = ["AdaptConfig"]

logger = logging.getLogger(__name__)

#: How each field is written in JSON (a head file's ``config``): the kind of value it takes.
_BOOL = ("use_embedding", "use_rr", "template_vote_unadapted")
_INT = ("min_beats", "max_iter", "template_k", "max_templates")
_NUMBER = ("adapt_s", "weight_l2", "bias_l2", "class_balance", "prob_floor", "max_disagreement",
           "template_weight", "template_floor")
_OPTIONAL_NUMBER = ("max_fallback_gain", "template_novelty", "novel_ectopic_log")
_CLASS_TUPLE = ("exact_fallback", "template_classes")


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


    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "AdaptConfig":
        """An :class:`AdaptConfig` from its :meth:`to_dict` form (JSON types: lists for the
        class tuples); every value is type-checked, and a :class:`~edge.errors.ConfigError`
        names the field (also for an unknown key)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting; settings are {sorted(known)}")
        kw: dict[str, Any] = {}
        for key, value in values.items():
            if key in _BOOL and not isinstance(value, bool):
                raise ConfigError(key, f"expected true or false, got {value!r}")
            if key in _INT and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(key, f"expected an integer, got {value!r}")
            if key in _NUMBER + _OPTIONAL_NUMBER and not (
                    value is None and key in _OPTIONAL_NUMBER) and (
                    isinstance(value, bool) or not isinstance(value, (int, float))
                    or math.isnan(value)):
                raise ConfigError(key, f"expected a number, got {value!r}")
            if key in _CLASS_TUPLE:
                if not isinstance(value, (list, tuple)):
                    raise ConfigError(key, f"expected a list of classes, got {value!r}")
                value = tuple(value)
            if key == "class_min_beats" and isinstance(value, Mapping):
                value = dict(value)
            kw[key] = value
        return cls(**kw)
