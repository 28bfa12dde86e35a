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

from edge.dsp.beats import WindowConfig, extract_windows, rr_features
from edge.dsp.detection import to_processing_index
from edge.dsp.features import FeatureConfig, beat_inputs
from edge.dsp.filters import FilterConfig
from edge.dsp.preprocess import Conditioned, PreprocessConfig, Preprocessor
from edge.errors import SignalError

__all__ = ["BeatInputs", "condition_signal", "inputs_at", "beat_inputs_at", "near_invalid"]


@dataclass(frozen=True)
class BeatInputs:
    """Model inputs of ``n`` beats of one signal.

    ``sample_index``: int64 (n,) input-rate positions as given; ``processing_index``: the same
    at the processing rate; ``rr_s``: float32 (n, 4) RR features in seconds (pre, post, local,
    long); ``beat``: float32 (n, length, 2) and ``features``: float32 (n, n_features), as
    :func:`edge.dsp.features.beat_inputs` returns them; ``near_invalid``: bool (n,), True where
    the beat's window or either RR interval touches invalid samples (a gap, a flat line,
    saturation), so its shape and timing say nothing reliable.
    """

    sample_index: np.ndarray
    processing_index: np.ndarray
    rr_s: np.ndarray
    beat: np.ndarray
    features: np.ndarray
    near_invalid: np.ndarray

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


def near_invalid(valid: np.ndarray, beats: np.ndarray, window: WindowConfig) -> np.ndarray:
    """bool (n,): beat ``i`` (processing-rate positions ``beats``) has an invalid sample in its
    window, between the previous beat and it (its pre RR) or between it and the next beat (its
    post RR)."""
    b = np.asarray(beats, dtype=np.int64)
    v = np.asarray(valid, dtype=bool)
    if b.size == 0 or v.size == 0 or v.all():
        return np.zeros(b.size, dtype=bool)
    bad = np.concatenate([[0], np.cumsum(~v)])  # bad[k] = invalid samples in v[:k]

    def count(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.clip(lo, 0, v.size)
        hi = np.clip(hi, 0, v.size)
        return bad[np.maximum(hi, lo)] - bad[lo]

    centre = b + window.align_samples
    in_window = count(centre - window.before_samples, centre + window.after_samples)
    prev = np.concatenate([[b[0]], b[:-1]])
    nxt = np.concatenate([b[1:], [b[-1]]])
    return (in_window > 0) | (count(prev, b) > 0) | (count(b, nxt + 1) > 0)


def inputs_at(conditioned: Conditioned, beats: np.ndarray, window: WindowConfig,
              features: FeatureConfig | None = None) -> BeatInputs:
    """Model inputs at processing-rate beat positions of a conditioned whole signal."""
    b = np.asarray(beats, dtype=np.int64)
    rr = rr_features(b, window)
    beat, feats = beat_inputs(extract_windows(conditioned.filtered_mv, b, window), rr, features)
    return BeatInputs(b, b, rr, beat, feats, near_invalid(conditioned.valid, b, window))


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
    return BeatInputs(b_in, b, out.rr_s, out.beat, out.features, out.near_invalid)

