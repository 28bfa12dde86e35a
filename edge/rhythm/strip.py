"""Rhythm class of a short recording (a strip): CinC 2017's ``N``, ``A``, ``O``, ``~``.

The strip model (:mod:`edge.rhythm.model`, kind ``"strip"``) reads RR features only: the
:mod:`edge.rhythm.features` vector over the strip's RR intervals (the last
:data:`STRIP_MAX_INTERVALS`), the medians of a few window features over the strip's
40-beat windows, and beat-series plausibility (beats per second, share of implausible
intervals, longest and shortest interval, duration). ``O`` (other rhythm) and ``~`` (noise)
are learned from what RR timing shows of them; no waveform feature is used yet.

A strip with fewer than ``MIN_INTERVALS + 1`` beats (too short, or a detector that found
almost nothing) is ``~`` without asking the model; the reason is logged and returned.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import SignalError
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    beat_window_features,
    rr_window_features,
)
from edge.rhythm.model import TreeModel, default_model_path, load_tree_model

__all__ = ["STRIP_CLASSES", "STRIP_FEATURE_NAMES", "STRIP_MAX_INTERVALS", "StripResult",
           "strip_features", "classify_strip", "load_strip_model"]

logger = logging.getLogger(__name__)

STRIP_CLASSES = ("N", "A", "O", "~")
STRIP_MAX_INTERVALS = 200
_WINDOW_MEDIANS = ("cv_rr", "nrmssd", "turning_point_ratio", "cosen", "pnn50",
                   "nrmssd_no_ectopy")
STRIP_FEATURE_NAMES = (tuple(f"strip_{n}" for n in FEATURE_NAMES)
                       + tuple(f"win_median_{n}" for n in _WINDOW_MEDIANS)
                       + ("beats_per_s", "implausible_rr_share", "max_rr_s", "min_rr_s",
                          "duration_s"))
_MIN_RR_S, _MAX_RR_S = 0.25, 2.5


@dataclass(frozen=True)
class StripResult:
    """``label`` one of :data:`STRIP_CLASSES`; ``probabilities`` per class (empty when the
    model was not asked); ``reason`` says why a strip is ``~`` without the model."""

    label: str
    probabilities: dict[str, float]
    reason: str = ""


def load_strip_model(path: str | os.PathLike | None = None) -> TreeModel:
    """The strip model at ``path`` (default: bundled), checked against our features."""
    return load_tree_model(default_model_path("strip") if path is None else Path(path),
                           kind="strip", feature_names=STRIP_FEATURE_NAMES)


def strip_features(sample_index: np.ndarray, fs_hz: float, duration_s: float) -> np.ndarray:
    """The :data:`STRIP_FEATURE_NAMES` vector of a strip's beats (input samples at ``fs_hz``)
    lasting ``duration_s`` seconds.

    Raises
    ------
    SignalError
        With fewer than ``MIN_INTERVALS + 1`` beats, or no ``MIN_INTERVALS`` plausible
        intervals.
    """
    idx = np.asarray(sample_index, dtype=np.int64)
    if idx.ndim != 1 or idx.size < MIN_INTERVALS + 1:
        raise SignalError(f"strip has {idx.size} beats, needs >= {MIN_INTERVALS + 1}")
    rr = np.diff(idx) / float(fs_hz)
    ok = (rr >= _MIN_RR_S) & (rr <= _MAX_RR_S)
    good = rr[ok][-STRIP_MAX_INTERVALS:]
    if good.size < MIN_INTERVALS:
        raise SignalError(f"strip has {good.size} plausible RR intervals, needs "
                          f">= {MIN_INTERVALS}")
    whole = rr_window_features(good)
    win, valid = beat_window_features(idx, fs_hz, window_beats=40, min_window_beats=MIN_INTERVALS,
                                      min_rr_s=_MIN_RR_S, max_rr_s=_MAX_RR_S)
    rows = win[valid] if valid.any() else whole[None, :]
    med = np.median(rows[:, [FEATURE_NAMES.index(n) for n in _WINDOW_MEDIANS]], axis=0)
    extra = np.array([idx.size / max(duration_s, 1e-3), 1.0 - float(ok.mean()),
                      float(rr.max()), float(rr.min()), float(duration_s)])
    return np.concatenate([whole, med, extra])


def classify_strip(sample_index: np.ndarray, fs_hz: float, duration_s: float, *,
                   model: TreeModel | None = None) -> StripResult:
    """CinC 2017 class of a short recording from its beats (see the module docstring)."""
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise SignalError(f"duration_s must be > 0, got {duration_s}")
    try:
        x = strip_features(sample_index, fs_hz, duration_s)
    except SignalError as exc:
        logger.info("strip is '~': %s", exc)
        return StripResult("~", {}, str(exc))
    m = model if model is not None else load_strip_model()
    prob = m.predict_proba(x)[0]
    probs = {c: float(v) for c, v in zip(m.classes, prob)}
    return StripResult(m.classes[int(np.argmax(prob))], probs)
