"""Atrial-activity and beat-consistency features of a strip, from its conditioned waveform.

In sinus rhythm every QRS is preceded by the same P wave, so the P-wave segment
(``P_SEGMENT_S`` before the R peak) of each beat matches the median one; in atrial fibrillation
that segment holds fibrillatory waves that do not repeat, and in noise even the QRS does not
repeat. The features (:data:`ATRIAL_FEATURE_NAMES`):

* ``p_snr``: the median P segment's standard deviation over the median standard deviation of
  each beat's residual from it (P-wave presence);
* ``p_corr``: median correlation of a beat's P segment with the median one;
* ``qrs_corr``: median correlation of a beat's QRS segment with the median one;
* ``p_to_qrs``: peak-to-peak of the median P segment over that of the median QRS;
* ``resid_to_qrs``: median residual standard deviation in the P segment over the median
  QRS peak-to-peak (f-waves or noise);
* ``qrs_amp_cv``: coefficient of variation of the beats' QRS peak-to-peak;
* ``p_absent_share``: share of beats whose P segment correlates < 0.5 with the median one;
* ``qrs_outlier_share``: share of beats whose QRS correlates < 0.9 with the median one
  (ectopic morphology or noise);
* ``qrs_width_s``: time the median QRS segment spends above 30 % of its peak magnitude (s).

The signal is conditioned by the device's own front end
(:class:`edge.dsp.preprocess.Preprocessor`, processing rate) before the segments are cut.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.dsp.detection import to_processing_index
from edge.dsp.preprocess import PreprocessConfig, Preprocessor

__all__ = ["ATRIAL_FEATURE_NAMES", "P_SEGMENT_S", "QRS_SEGMENT_S", "condition", "corr_rows",
           "atrial_features"]

logger = logging.getLogger(__name__)

ATRIAL_FEATURE_NAMES = ("p_snr", "p_corr", "qrs_corr", "p_to_qrs", "resid_to_qrs",
                        "qrs_amp_cv", "p_absent_share", "qrs_outlier_share", "qrs_width_s")
P_SEGMENT_S = (-0.28, -0.08)  # P-wave segment relative to the R peak (s)
QRS_SEGMENT_S = (-0.06, 0.06)  # QRS segment relative to the R peak (s)
_MIN_BEATS = 4


def condition(x_mv: np.ndarray, fs_hz: float) -> tuple[np.ndarray, float]:
    """The conditioned signal (mV at the processing rate, sample 0 aligned with the input's
    sample 0) and that rate (Hz)."""
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs_hz))
    parts = [pre.process(np.asarray(x_mv, dtype=np.float64)), pre.flush()]
    y = np.concatenate([p.filtered_mv for p in parts]) if parts else np.zeros(0)
    start = parts[0].sample_index if parts and len(parts[0]) else 0
    if start > 0:
        y = np.r_[np.zeros(start), y]
    return y, pre.config.fs_out_hz


def corr_rows(rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of ``rows`` with ``ref``."""
    a = rows - rows.mean(axis=1, keepdims=True)
    b = ref - ref.mean()
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum()) + 1e-12
    return (a @ b) / den


def atrial_features(x_mv: np.ndarray, fs_hz: float, sample_index: np.ndarray) -> np.ndarray:
    """The :data:`ATRIAL_FEATURE_NAMES` vector of a strip (``x_mv`` at ``fs_hz``, beats at
    input sample indices); zeros when fewer than 4 beats have whole segments."""
    y, fs_p = condition(x_mv, fs_hz)
    r = to_processing_index(np.asarray(sample_index, dtype=np.int64), fs_hz, fs_p)
    p0, p1 = (int(round(v * fs_p)) for v in P_SEGMENT_S)
    q0, q1 = (int(round(v * fs_p)) for v in QRS_SEGMENT_S)
    r = r[(r + p0 >= 0) & (r + q1 < y.size)]
    if r.size < _MIN_BEATS:
        return np.zeros(len(ATRIAL_FEATURE_NAMES))
    p = y[r[:, None] + np.arange(p0, p1)[None, :]]
    q = y[r[:, None] + np.arange(q0, q1)[None, :]]
    tp, tq = np.median(p, axis=0), np.median(q, axis=0)
    resid = np.median((p - tp).std(axis=1))
    qrs_ptp = float(np.ptp(tq)) + 1e-6
    amp = np.ptp(q, axis=1)
    pc = corr_rows(p, tp)
    qc = corr_rows(q, tq)
    mag = np.abs(tq - np.median(tq))
    return np.array([
        float(tp.std()) / (float(resid) + 1e-6),
        float(np.median(pc)),
        float(np.median(qc)),
        float(np.ptp(tp)) / qrs_ptp,
        float(resid) / qrs_ptp,
        float(amp.std() / (amp.mean() + 1e-6)),
        float(np.mean(pc < 0.5)),
        float(np.mean(qc < 0.9)),
        float(np.count_nonzero(mag > 0.3 * mag.max())) / fs_p if mag.max() > 0 else 0.0,
    ])
