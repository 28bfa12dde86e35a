"""Rhythm class of a short recording (a strip): CinC 2017's ``N``, ``A``, ``O``, ``~``.

The strip model (:mod:`edge.rhythm.model`, kind ``"strip"``) reads: the
:mod:`edge.rhythm.features` vector over the strip's RR intervals (the last
:data:`STRIP_MAX_INTERVALS`), the medians of a few window features over the strip's
40-beat windows, beat-series plausibility (beats per second, share of implausible
intervals, longest and shortest interval, duration), and the atrial-activity and
beat-consistency features of :mod:`edge.rhythm.atrial` (P-wave presence, QRS repeatability).
``O`` (other rhythm) and ``~`` (noise) are learned from what these show of them.

Beats come from the device's own streaming detector (:func:`edge.dsp.detection.detect_signal`)
unless given.

A strip with fewer than ``MIN_INTERVALS + 1`` beats (too short, or a detector that found
almost nothing) is ``~`` without asking the model; the reason is logged and returned.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dsp.detection import detect_signal
from edge.errors import SignalError
from edge.rhythm.atrial import ATRIAL_FEATURE_NAMES, atrial_features
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    beat_window_features,
    rr_window_features,
)
from edge.rhythm.model import TreeModel, default_model_path, load_tree_model

__all__ = ["STRIP_CLASSES", "STRIP_FEATURE_NAMES", "STRIP_MAX_INTERVALS", "StripResult",
           "strip_features", "rr_strip_features", "classify_strip", "load_strip_model"]

logger = logging.getLogger(__name__)

STRIP_CLASSES = ("N", "A", "O", "~")
STRIP_MAX_INTERVALS = 200
_WINDOW_MEDIANS = ("cv_rr", "nrmssd", "turning_point_ratio", "cosen", "pnn50",
                   "nrmssd_no_ectopy")
STRIP_FEATURE_NAMES = (tuple(f"strip_{n}" for n in FEATURE_NAMES)
                       + tuple(f"win_median_{n}" for n in _WINDOW_MEDIANS)
                       + ("beats_per_s", "implausible_rr_share", "max_rr_s", "min_rr_s",
                          "duration_s")
                       + ATRIAL_FEATURE_NAMES)
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


def rr_strip_features(sample_index: np.ndarray, fs_hz: float, duration_s: float) -> np.ndarray:
    """The RR part of :data:`STRIP_FEATURE_NAMES` (all but the atrial features) of a strip's
    beats (input samples at ``fs_hz``) lasting ``duration_s`` seconds.

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


def strip_features(x_mv: np.ndarray, fs_hz: float, sample_index: np.ndarray) -> np.ndarray:
    """The :data:`STRIP_FEATURE_NAMES` vector of a strip (mV at ``fs_hz``) and its beats.

    Raises
    ------
    SignalError
        As :func:`rr_strip_features`.
    """
    x = np.asarray(x_mv, dtype=np.float64)
    rr = rr_strip_features(sample_index, fs_hz, x.size / float(fs_hz))
    return np.concatenate([rr, atrial_features(x, fs_hz, sample_index)])


def classify_strip(x_mv: np.ndarray, fs_hz: float, *, sample_index: np.ndarray | None = None,
                   model: TreeModel | None = None) -> StripResult:
    """CinC 2017 class of a short recording (one channel, mV at ``fs_hz``); beats from the
    streaming detector unless ``sample_index`` (input samples) is given.

    Raises
    ------
    SignalError
        When ``x_mv`` is not 1-D or ``fs_hz`` is not > 0 (a strip too short or without enough
        beats is ``~``, not an error).
    """
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"classify_strip expects one channel (1-D), got shape {x.shape}")
    if not (np.isfinite(fs_hz) and fs_hz > 0):
        raise SignalError(f"fs_hz must be > 0, got {fs_hz}")
    if x.size == 0:
        logger.info("strip is '~': no samples")
        return StripResult("~", {}, "no samples")
    idx = detect_signal(np.nan_to_num(x), fs_hz) if sample_index is None else sample_index
    try:
        feats = strip_features(x, fs_hz, idx)
    except SignalError as exc:
        logger.info("strip is '~': %s", exc)
        return StripResult("~", {}, str(exc))
    m = model if model is not None else load_strip_model()
    prob = m.predict_proba(feats)[0]
    probs = {c: float(v) for c, v in zip(m.classes, prob)}
    return StripResult(m.classes[int(np.argmax(prob))], probs)
