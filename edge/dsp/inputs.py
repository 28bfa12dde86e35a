"""Model inputs of a whole signal at given beat positions: the one path from samples to the
classifier's tensors when the beats are known in advance.

Reference annotations (``ecg-edge annotate --reference-beats``), training examples, evaluation
and the adaptation window all go through :func:`beat_inputs_at`; the streaming device runs the
same stages chunk by chunk (:class:`edge.pipeline.BeatPipeline`)::

    x_mv (device rate) -> Preprocessor (resample, filter, validity; flushed)
        -> beat positions at the processing rate -> extract_windows + rr_features
        -> beat_inputs (template difference, RR ratios, rhythm) -> (beat, features)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.dsp.beats import (
    InvalidFlags,
    WindowConfig,
    extract_windows,
    fill_unknown_rr,
    invalid_flags,
    rr_features,
    rr_intervals_s,
)
from edge.dsp.detection import to_processing_index
from edge.dsp.features import FeatureConfig, beat_inputs
from edge.dsp.filters import FilterConfig
from edge.dsp.preprocess import Conditioned, PreprocessConfig, Preprocessor
from edge.errors import SignalError

__all__ = ["BeatInputs", "condition_signal", "inputs_at", "beat_inputs_at", "near_invalid"]


@dataclass(frozen=True)
class BeatInputs(InvalidFlags):
    """Model inputs of ``n`` beats of one signal.

    ``sample_index``: int64 (n,) input-rate positions as given; ``processing_index``: the same
    at the processing rate; ``rr_s``: float32 (n, 4) RR features in seconds (pre, post, local,
    long; an interval spanning invalid samples is replaced by the local mean, see
    :mod:`edge.dsp.beats`); ``beat``: float32 (n, length, 2) and ``features``: float32
    (n, n_features), as :func:`edge.dsp.features.beat_inputs` returns them;
    ``window_invalid``: bool (n,), the beat's window touches invalid samples (a gap, a flat
    line, saturation: its shape says nothing reliable); ``rr_unknown``: bool (n, 2), the pre /
    post interval does (replaced); ``near_invalid`` (derived): either.
    """

    sample_index: np.ndarray
    processing_index: np.ndarray
    rr_s: np.ndarray
    beat: np.ndarray
    features: np.ndarray
    window_invalid: np.ndarray
    rr_unknown: np.ndarray

    def __len__(self) -> int:
        return int(self.sample_index.size)


def _preprocess_config(fs_in_hz: float, filter_config: FilterConfig | None) -> PreprocessConfig:
    return (PreprocessConfig(fs_in_hz=fs_in_hz) if filter_config is None
            else PreprocessConfig(fs_in_hz=fs_in_hz, filter=filter_config))


def condition_signal(x_mv: np.ndarray, fs_in_hz: float,
                     filter_config: FilterConfig | None = None) -> Conditioned:
    """The device's conditioning of a whole signal (1-D, mV, ``fs_in_hz``), flushed: one
    :class:`~edge.dsp.preprocess.Conditioned` at the processing rate, aligned with the input."""
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"signal must be 1-D (one channel), got shape {x.shape}")
    pre = Preprocessor(_preprocess_config(fs_in_hz, filter_config))
    parts = [pre.process(x), pre.flush()]
    return Conditioned(0, np.concatenate([p.filtered_mv for p in parts]),
                       np.concatenate([p.valid for p in parts]))


def _invalid_counter(valid: np.ndarray):
    """``count(lo, hi)``: invalid samples of ``valid`` in ``[lo, hi)`` (clipped to the signal)."""
    v = np.asarray(valid, dtype=bool)
    bad = np.concatenate([[0], np.cumsum(~v)])  # bad[k] = invalid samples in v[:k]

    def count(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.clip(lo, 0, v.size)
        hi = np.clip(hi, 0, v.size)
        return bad[np.maximum(hi, lo)] - bad[lo]

    return count


def _flags(valid: np.ndarray, beats: np.ndarray,
           window: WindowConfig) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(beats, dtype=np.int64)
    v = np.asarray(valid, dtype=bool)
    if b.size == 0 or v.size == 0 or v.all():
        return np.zeros(b.size, dtype=bool), np.zeros(max(b.size - 1, 0), dtype=bool)
    return invalid_flags(b, window, _invalid_counter(v))


def near_invalid(valid: np.ndarray, beats: np.ndarray, window: WindowConfig) -> np.ndarray:
    """bool (n,): beat ``i`` (processing-rate positions ``beats``) has an invalid sample in its
    window, between the previous beat and it (its pre RR) or between it and the next beat (its
    post RR)."""
    win, unknown = _flags(valid, beats, window)
    return win | _rr_unknown(unknown, win.size).any(axis=1)


def _rr_unknown(interval_unknown: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) pre / post flags from the (n - 1,) interval flags (a first beat's post RR stands
    in for its pre RR)."""
    out = np.zeros((n, 2), dtype=bool)
    if n > 1:
        out[1:, 0] = interval_unknown
        out[:-1, 1] = interval_unknown
        out[0, 0] = interval_unknown[0]
    return out


def inputs_at(conditioned: Conditioned, beats: np.ndarray, window: WindowConfig,
              features: FeatureConfig | None = None) -> BeatInputs:
    """Model inputs at processing-rate beat positions of a conditioned whole signal.

    RR intervals spanning invalid samples are replaced by the local mean
    (:func:`edge.dsp.beats.fill_unknown_rr`) and beats whose window touches them stay out of
    the running template, exactly as the streaming pipeline does."""
    b = np.asarray(beats, dtype=np.int64)
    win, unknown = _flags(conditioned.valid, b, window)
    intervals = None
    if unknown.any():
        intervals = fill_unknown_rr(rr_intervals_s(b, window), unknown, window)
    rr = rr_features(b, window, intervals_s=intervals)
    beat, feats = beat_inputs(extract_windows(conditioned.filtered_mv, b, window), rr, features,
                              exclude=win if win.any() else None)
    rr_unknown = _rr_unknown(unknown, b.size)
    return BeatInputs(b, b, rr, beat, feats, win, rr_unknown)


def beat_inputs_at(x_mv: np.ndarray, fs_in_hz: float, beats_in: np.ndarray, *,
                   window: WindowConfig, features: FeatureConfig | None = None,
                   filter_config: FilterConfig | None = None) -> BeatInputs:
    """Model inputs at given input-rate beat positions (e.g. reference annotations) of a whole
    signal, through the device's conditioning (resampled to the processing rate), windows, RR
    intervals and features.

    Parameters
    ----------
    x_mv : 1-D signal, mV, at ``fs_in_hz``.
    fs_in_hz : its sample rate (Hz).
    beats_in : int sample indices of the beats at ``fs_in_hz``, ascending.
    window, features, filter_config : the model contract's settings (default filter if None).
    """
    cond = condition_signal(x_mv, fs_in_hz, filter_config)
    b_in = np.asarray(beats_in, dtype=np.int64)
    if b_in.size and np.any(np.diff(b_in) < 0):
        raise SignalError("beat positions must be in ascending order")
    b = to_processing_index(b_in, fs_in_hz,
                            _preprocess_config(fs_in_hz, filter_config).fs_out_hz)
    out = inputs_at(cond, b, window, features)
    return BeatInputs(b_in, b, out.rr_s, out.beat, out.features, out.window_invalid,
                      out.rr_unknown)

