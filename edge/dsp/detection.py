"""Run the streaming front end and R-peak detector over a whole signal or WFDB record.

This is the offline driver of the exact streaming path the device runs: the signal is fed chunk
by chunk (``chunk_s``) through :class:`~edge.dsp.preprocess.Preprocessor` and
:class:`~edge.dsp.rpeak.RPeakDetector`; positions come back at the *input* sample rate.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from edge.dsp.preprocess import PROCESSING_FS_HZ, PreprocessConfig, Preprocessor
from edge.dsp.rpeak import DetectorConfig, RPeakDetector
from edge.errors import ConfigError, SignalError

__all__ = ["detect_signal", "to_input_index", "to_input_sample", "to_processing_index"]

logger = logging.getLogger(__name__)


def to_input_index(processing_index: np.ndarray, fs_in_hz: float,
                   fs_proc_hz: float = PROCESSING_FS_HZ) -> np.ndarray:
    """Processing-rate sample indices -> nearest input-rate sample indices.

    Exact at any rate (359.7 Hz as well as 360 Hz): the resampler's output ``k`` is the input
    at time ``k / fs_proc_hz`` (:mod:`edge.dsp.resample`), the ratio these mappings use both
    ways."""
    p = np.asarray(processing_index, dtype=np.float64)
    return np.round(p * fs_in_hz / fs_proc_hz).astype(np.int64)


def to_input_sample(processing_index: int, fs_in_hz: float,
                    fs_proc_hz: float = PROCESSING_FS_HZ) -> int:
    """One processing-rate sample index -> the nearest input-rate index: what
    :func:`to_input_index` gives for it (the same float64 arithmetic, rounding half to even),
    as a Python int and without numpy's per-call cost (a streaming stage converts one index
    per call)."""
    return round(float(processing_index) * fs_in_hz / fs_proc_hz)


def to_processing_index(input_index: np.ndarray, fs_in_hz: float,
                        fs_proc_hz: float = PROCESSING_FS_HZ) -> np.ndarray:
    """Input-rate sample indices -> nearest processing-rate sample indices."""
    p = np.asarray(input_index, dtype=np.float64)
    return np.round(p * fs_proc_hz / fs_in_hz).astype(np.int64)


def detect_signal(x_mv: np.ndarray, fs_hz: float, *, chunk_s: float | None = 1.0,
                  preprocess: PreprocessConfig | None = None,
                  detector: DetectorConfig | None = None,
                  flutter_beats: bool = False) -> np.ndarray:
    """Detect R peaks in one ECG channel (mV at ``fs_hz``); returns input-rate sample indices.

    ``chunk_s=None`` feeds the signal in one call (same result: every stage is
    chunk-invariant). ``flutter_beats``: also the beats the detector accepted in a stretch it
    took for ventricular flutter (:attr:`~edge.dsp.rpeak.RPeakDetector.flutter_peaks`), as the
    device's beat stream takes them; the default leaves them out, as the models fitted on this
    function's beats (the CinC strip model, the AF and VF training) saw them.

    Raises
    ------
    ConfigError
        When ``chunk_s`` is not a number > 0 (or None).
    SignalError
        When ``x_mv`` is not 1-D.
    """
    if chunk_s is not None and not (np.isfinite(chunk_s) and chunk_s > 0):
        raise ConfigError("chunk_s", f"must be > 0 s (or None: the whole signal at once), "
                                     f"got {chunk_s}")
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"detect_signal expects one channel (1-D), got shape {x.shape}")
    pcfg = preprocess or PreprocessConfig(fs_in_hz=fs_hz)
    if pcfg.fs_in_hz != fs_hz:
        pcfg = replace(pcfg, fs_in_hz=fs_hz)
    pre = Preprocessor(pcfg)
    det = RPeakDetector(detector or DetectorConfig(fs_hz=pcfg.fs_out_hz))
    step = max(1, x.size) if chunk_s is None else max(1, int(round(chunk_s * fs_hz)))
    out: list[np.ndarray] = []
    for i in range(0, x.size, step):
        out.append(det.process(pre.process(x[i:i + step])))
        if flutter_beats:
            out.append(det.flutter_peaks)
    out.append(det.finish(pre.flush()))
    if flutter_beats:
        out.append(det.flutter_peaks)
    peaks = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    if flutter_beats:  # each call's flutter beats interleave with its other beats
        peaks = np.sort(peaks)
    if pre.n_nonfinite:
        logger.info("%d non-finite input samples were held and blanked", pre.n_nonfinite)
    idx = to_input_index(peaks, fs_hz, pcfg.fs_out_hz)
    return idx[(idx >= 0) & (idx < x.size)]
