"""Rhythm class of a short recording (a strip): CinC 2017's ``N``, ``A``, ``O``, ``~``.

The strip model (:mod:`edge.rhythm.model`, kind ``"strip"``) reads (:data:`STRIP_FEATURE_NAMES`,
in this order):

* the :mod:`edge.rhythm.features` vector over the strip's RR intervals (the last
  :data:`STRIP_MAX_INTERVALS`), the medians of a few window features over the strip's
  40-beat windows, beat-series plausibility (beats per second, share of implausible
  intervals, longest and shortest interval, duration);
* the atrial-activity and beat-consistency features of :mod:`edge.rhythm.atrial` (P-wave
  presence, QRS repeatability);
* more RR features of the whole strip (:data:`RR_EXTRA_NAMES`, :func:`rr_extra_features`:
  heart rate, extremes, premature intervals, the AFEv-style Lorenz plot of successive
  differences, the most and least irregular 12-interval stretches);
* the waveform features of :mod:`edge.rhythm.waveform` (median-beat morphology, the atrial
  residual after QRST cancellation, signal quality).

``O`` (other rhythm) and ``~`` (noise) are learned from what these show of them.

The strip network (:mod:`edge.rhythm.strip_net`, a small int8 CNN over the conditioned
waveform) gives a second opinion: the class probabilities are the strip model's and the
network's averaged, the network weighing its contract's ``blend_weight``, and the average's
classes scaled by its ``class_scale``: ``A`` by 0.85 in the bundled file
(:data:`training.strip_net.CLASS_SCALE`). ``net=False``: the strip model alone, unscaled.

Beats come from the device's own streaming detector (:func:`edge.dsp.detection.detect_signal`)
unless given, with its amplitude floors off (:data:`STRIP_DETECTOR`): a strip is classified,
not watched for asystole, and some hand-held lead-I strips carry QRS complexes of 0.07-0.1 mV
(with an absolute 0.1-mV floor, 11 of the 5,970 CinC 2017 answers changed, 8 of them AF
recordings called O; session 50). The strip models are fitted on the same beats
(:func:`training.rhythm.cinc_beats`).

A strip with fewer than ``MIN_INTERVALS + 1`` beats (too short, or a detector that found
almost nothing) is ``~`` without asking the model; the reason is logged and returned.
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dsp.detection import detect_signal
from edge.dsp.rpeak import DetectorConfig
from edge.errors import ModelError, SignalError
from edge.rhythm.atrial import ATRIAL_FEATURE_NAMES, atrial_features
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    beat_window_features,
    rr_window_features,
)
from edge.rhythm.model import TreeModel, default_model_path, load_tree_model
from edge.rhythm.strip_net import StripNet, load_strip_net
from edge.rhythm.waveform import WAVEFORM_FEATURE_NAMES, waveform_features

__all__ = ["STRIP_CLASSES", "STRIP_DETECTOR", "STRIP_FEATURE_NAMES", "STRIP_MAX_INTERVALS",
           "STRIP_SETTLE_S", "RR_EXTRA_NAMES", "StripResult", "strip_features", "rr_strip_features",
           "rr_extra_features", "plausible_rr", "classify_strip", "load_strip_model",
           "blend_probabilities", "default_strip_net"]

logger = logging.getLogger(__name__)

#: The R-peak detector's settings for strips: the device's, without the amplitude floors.
STRIP_DETECTOR = DetectorConfig(min_qrs_mv=0.0, qrs_floor_ratio=0.0)

STRIP_CLASSES = ("N", "A", "O", "~")
STRIP_MAX_INTERVALS = 200
_WINDOW_MEDIANS = ("cv_rr", "nrmssd", "turning_point_ratio", "cosen", "pnn50",
                   "nrmssd_no_ectopy")
_MIN_RR_S, _MAX_RR_S = 0.25, 2.5
#: Beats detected in the first second are left out: the front end's filters and the
#: detector's thresholds are still settling there, and a false first beat is common (on CinC,
#: the first interval is > 25 % off the median in 28 % of N recordings, the last in 3 %).
STRIP_SETTLE_S = 1.0
_SUB_WINDOW = 12  # intervals of the short sub-windows (most / least irregular stretch)
_SUB_NAMES = ("nrmssd", "nrmssd_no_ectopy", "pnn12pct", "cosen")
_LORENZ_BIN_S = 0.04  # AFEv-style Lorenz plot of successive differences: bin size (s)
_LORENZ_RANGE_S = 0.6
RR_EXTRA_NAMES = (("median_hr_bpm", "rr_median_over_min", "rr_max_over_median", "rr_skew",
                   "rr_kurtosis", "drr_over_min_rr", "premature_rr_share",
                   "lorenz_occupied_share", "lorenz_origin_share", "lorenz_quadrant_entropy")
                  + tuple(f"sub_max_{n}" for n in _SUB_NAMES)
                  + tuple(f"sub_min_{n}" for n in _SUB_NAMES))
STRIP_FEATURE_NAMES = (tuple(f"strip_{n}" for n in FEATURE_NAMES)
                       + tuple(f"win_median_{n}" for n in _WINDOW_MEDIANS)
                       + ("beats_per_s", "implausible_rr_share", "max_rr_s", "min_rr_s",
                          "duration_s")
                       + ATRIAL_FEATURE_NAMES + RR_EXTRA_NAMES + WAVEFORM_FEATURE_NAMES)


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


@functools.lru_cache(maxsize=1)
def default_strip_net() -> StripNet:
    """The bundled strip network, loaded once per process."""
    return load_strip_net()


def blend_probabilities(tree: np.ndarray, tree_classes: tuple[str, ...], net: np.ndarray,
                        net_classes: tuple[str, ...], net_weight: float,
                        class_scale: dict[str, float] | None = None) -> np.ndarray:
    """``(1 - net_weight) * tree + net_weight * net``, in ``tree_classes`` order (the network's
    classes matched by name; one the network lacks counts 0 there). The last axis is the
    class axis: one strip's vectors, or rows of many strips (the benchmark's). With
    ``class_scale`` (the network file's), those classes' averages are multiplied by their
    factors and each row renormalised to sum 1.

    Raises
    ------
    ModelError
        When the network knows a class the strip model does not, or ``class_scale`` names one.
    """
    extra = (set(net_classes) | set(class_scale or {})) - set(tree_classes)
    if extra:
        raise ModelError(f"the strip network has classes {sorted(extra)} the strip model lacks")
    net = np.asarray(net, dtype=np.float64)
    net_p = np.stack([net[..., net_classes.index(c)] if c in net_classes
                      else np.zeros(net.shape[:-1]) for c in tree_classes], axis=-1)
    p = (1.0 - net_weight) * np.asarray(tree, dtype=np.float64) + net_weight * net_p
    if not class_scale:
        return p
    factor = np.array([class_scale.get(c, 1.0) for c in tree_classes])
    p = p * factor
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[-1]), where=total > 0)


def rr_strip_features(sample_index: np.ndarray, fs_hz: float, duration_s: float) -> np.ndarray:
    """The first RR part of :data:`STRIP_FEATURE_NAMES` (up to ``duration_s``) of a strip's
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
    good = plausible_rr(idx, fs_hz)
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


def plausible_rr(sample_index: np.ndarray, fs_hz: float) -> np.ndarray:
    """The strip's RR intervals (s) within 0.25..2.5 s, the last :data:`STRIP_MAX_INTERVALS`."""
    rr = np.diff(np.asarray(sample_index, dtype=np.int64)) / float(fs_hz)
    return rr[(rr >= _MIN_RR_S) & (rr <= _MAX_RR_S)][-STRIP_MAX_INTERVALS:]


def strip_features(x_mv: np.ndarray, fs_hz: float, sample_index: np.ndarray) -> np.ndarray:
    """The :data:`STRIP_FEATURE_NAMES` vector of a strip (mV at ``fs_hz``) and its beats
    (those in the first :data:`STRIP_SETTLE_S` left out).

    Raises
    ------
    SignalError
        As :func:`rr_strip_features`.
    """
    x = np.asarray(x_mv, dtype=np.float64)
    idx = np.asarray(sample_index, dtype=np.int64)
    idx = idx[idx >= STRIP_SETTLE_S * fs_hz]
    rr = rr_strip_features(idx, fs_hz, x.size / float(fs_hz))
    return np.concatenate([rr, atrial_features(x, fs_hz, idx),
                           rr_extra_features(plausible_rr(idx, fs_hz)),
                           waveform_features(x, fs_hz, idx)])


def classify_strip(x_mv: np.ndarray, fs_hz: float, *, sample_index: np.ndarray | None = None,
                   model: TreeModel | None = None, net: StripNet | None | bool = None
                   ) -> StripResult:
    """CinC 2017 class of a short recording (one channel, mV at ``fs_hz``); beats from the
    streaming detector unless ``sample_index`` (input samples) is given. ``net``: the strip
    network to average with the strip model (``None``: the bundled one; ``False``: none).

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
    idx = (detect_signal(np.nan_to_num(x), fs_hz, detector=STRIP_DETECTOR)
           if sample_index is None else sample_index)
    try:
        feats = strip_features(x, fs_hz, idx)
    except SignalError as exc:
        logger.info("strip is '~': %s", exc)
        return StripResult("~", {}, str(exc))
    m = model if model is not None else load_strip_model()
    prob = m.predict_proba(feats)[0]
    if net is not False:
        n = default_strip_net() if net is None or net is True else net
        prob = blend_probabilities(prob, m.classes, n.predict_proba(x, fs_hz), n.classes,
                                   n.blend_weight, n.class_scale)
    probs = {c: float(v) for c, v in zip(m.classes, prob)}
    return StripResult(m.classes[int(np.argmax(prob))], probs)


def rr_extra_features(rr_s: np.ndarray) -> np.ndarray:
    """The :data:`RR_EXTRA_NAMES` vector of a strip's plausible RR intervals (s, >= 8):
    heart rate, extremes relative to the median and the shortest interval, skew and kurtosis,
    premature intervals (< 85 % of the local median of five), the AFEv-style Lorenz plot of
    successive differences (Sarkar et al. 2008: share of occupied 40-ms bins, share at the
    origin, entropy over the four quadrants), and the most and least irregular 12-interval
    sub-windows.

    Raises
    ------
    SignalError
        As :func:`edge.rhythm.features.rr_window_features` (fewer than 8 intervals, or one
        not finite and > 0).
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    rr_window_features(rr)  # validates
    med = float(np.median(rr))
    mn = float(rr.min())
    c = rr - rr.mean()
    sd = float(c.std())
    skew = float(np.mean(c ** 3) / sd ** 3) if sd > 1e-9 else 0.0
    kurt = float(np.mean(c ** 4) / sd ** 4) if sd > 1e-9 else 0.0
    d = np.diff(rr)
    loc = np.array([np.median(rr[max(0, i - 2):i + 3]) for i in range(rr.size)])
    a, b = d[:-1], d[1:]
    nb = int(round(2 * _LORENZ_RANGE_S / _LORENZ_BIN_S))
    ia = np.clip(((a + _LORENZ_RANGE_S) / _LORENZ_BIN_S).astype(np.int64), 0, nb - 1)
    ib = np.clip(((b + _LORENZ_RANGE_S) / _LORENZ_BIN_S).astype(np.int64), 0, nb - 1)
    n_pairs = max(1, a.size)
    occupied = np.unique(ia * nb + ib).size / n_pairs
    origin = float(np.mean((np.abs(a) < _LORENZ_BIN_S / 2) & (np.abs(b) < _LORENZ_BIN_S / 2)))
    off = ~((np.abs(a) < _LORENZ_BIN_S / 2) & (np.abs(b) < _LORENZ_BIN_S / 2))
    quad = np.bincount((a[off] > 0).astype(int) * 2 + (b[off] > 0).astype(int), minlength=4)
    pq = quad[quad > 0] / max(1, quad.sum())
    q_ent = float(-(pq * np.log2(pq)).sum()) if pq.size else 0.0
    cols = [FEATURE_NAMES.index(n) for n in _SUB_NAMES]
    if rr.size >= _SUB_WINDOW + 4:
        subs = np.array([rr_window_features(rr[i:i + _SUB_WINDOW])[cols]
                         for i in range(0, rr.size - _SUB_WINDOW + 1, 4)])
    else:
        subs = rr_window_features(rr)[cols][None, :]
    return np.concatenate([[60.0 / med, med / mn, float(rr.max()) / med, skew, kurt,
                            float(np.sqrt(np.mean(d * d))) / mn, float(np.mean(rr < 0.85 * loc)),
                            occupied, origin, q_ent], subs.max(axis=0), subs.min(axis=0)])
