"""RR-rhythm features of one window of beat-to-beat intervals (pure numpy).

One function, :func:`rr_window_features`, turns the RR intervals (s) of a window of beats into
the vector the rhythm model reads (:data:`FEATURE_NAMES`, in that order). They are the
irregularity measures the atrial-fibrillation literature supports:

* dispersion: coefficient of variation, RMSSD over the mean RR (nRMSSD), the median and
  inter-quartile range of the successive differences over the median RR, the 10-90 % range;
* successive-difference fractions: pNN50 (|dRR| > 50 ms) and the share of |dRR| above 12 % of
  the mean RR;
* randomness: turning-point ratio (2/3 for a random series), lag-1 autocorrelation of RR,
  sample entropy (m = 1, r = 30 ms) and the coefficient of sample entropy (COSEn, Lake &
  Moorman 2011: SampEn + ln(2 r) - ln(mean RR)), Shannon entropy of the RR histogram;
* Poincare plot: SD1/SD2 and SD1 over the mean RR;
* ectopy: the share of short-long pairs (a premature beat and its compensatory pause) and the
  nRMSSD left after taking those pairs out -- irregularity that ectopic beats explain is not AF.

Every feature is finite for any window of at least :data:`MIN_INTERVALS` positive intervals;
sample rates do not enter (RR in seconds).
"""
from __future__ import annotations

import logging

import numpy as np

from edge.errors import SignalError

__all__ = ["FEATURE_NAMES", "MIN_INTERVALS", "VENTRICULAR", "rr_window_features",
           "sample_entropy", "beat_window_features", "usable_intervals"]

logger = logging.getLogger(__name__)

#: The model's input vector, in order.
FEATURE_NAMES = (
    "mean_rr_s", "cv_rr", "nrmssd", "nmad_drr", "niqr_drr", "nrange_rr",
    "pnn50", "pnn12pct", "turning_point_ratio", "ac1_rr", "sampen", "cosen",
    "hist_entropy_bits", "sd1_sd2", "nsd1", "short_long_share", "nrmssd_no_ectopy",
)
#: Beat classes whose intervals the window leaves out (:func:`usable_intervals`).
VENTRICULAR = frozenset({"V", "F"})
#: Fewest intervals a window needs.
MIN_INTERVALS = 8
SAMPEN_R_S = 0.03  # tolerance of the sample entropy (s)
_HIST_BIN_S = 0.04  # RR histogram bin (s)
_ECTOPIC_FRACTION = 0.15  # a short-long pair: dRR < -15 % then > +15 % of the median RR


def sample_entropy(x: np.ndarray, r: float, m: int = 1) -> float:
    """Sample entropy of ``x`` with template length ``m`` and tolerance ``r`` (units of ``x``).

    Regularised as ``ln((B + 1) / (A + 1))`` (B: matching template pairs of length m, A: of
    length m + 1), so it is finite for short series.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size - m
    if n < 2:
        return 0.0
    match = np.ones((n, n), dtype=bool)
    for k in range(m):
        seg = x[k:k + n]
        match &= np.abs(seg[:, None] - seg[None, :]) <= r
    nxt = x[m:m + n]
    longer = match & (np.abs(nxt[:, None] - nxt[None, :]) <= r)
    iu = np.triu_indices(n, 1)
    b = float(match[iu].sum())
    a = float(longer[iu].sum())
    return float(np.log((b + 1.0) / (a + 1.0)))


def rr_window_features(rr_s: np.ndarray) -> np.ndarray:
    """The :data:`FEATURE_NAMES` vector (float64) of one window of RR intervals (s).

    Raises
    ------
    SignalError
        When ``rr_s`` is not 1-D, holds fewer than :data:`MIN_INTERVALS` intervals, or an
        interval that is not finite and > 0.
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    if rr.ndim != 1 or rr.size < MIN_INTERVALS:
        raise SignalError(f"rr_s: need a 1-D window of >= {MIN_INTERVALS} RR intervals, got "
                          f"shape {rr.shape}")
    if not np.all(np.isfinite(rr) & (rr > 0)):
        raise SignalError("rr_s: every RR interval must be finite and > 0 s")
    mean = float(rr.mean())
    med = float(np.median(rr))
    d = np.diff(rr)
    ad = np.abs(d)
    sd = float(rr.std())
    rmssd = float(np.sqrt(np.mean(d * d)))
    q25, q75 = np.percentile(d, [25, 75])
    p10, p90 = np.percentile(rr, [10, 90])
    # turning points: d changes sign
    tp = float(np.count_nonzero(d[:-1] * d[1:] < 0)) / max(1, d.size - 1)
    c = rr - mean
    denom = float(np.dot(c, c))
    ac1 = float(np.dot(c[:-1], c[1:]) / denom) if denom > 1e-12 else 1.0
    se = sample_entropy(rr, SAMPEN_R_S)
    cosen = se + np.log(2 * SAMPEN_R_S) - np.log(mean)
    counts = np.bincount(np.floor((rr - rr.min()) / _HIST_BIN_S).astype(np.int64))
    prob = counts[counts > 0] / rr.size
    hist_h = float(-(prob * np.log2(prob)).sum())
    sd1 = float(np.std(d) / np.sqrt(2.0))
    sd2sq = max(2 * sd * sd - sd1 * sd1, 0.0)
    sd2 = float(np.sqrt(sd2sq))
    sd1_sd2 = sd1 / sd2 if sd2 > 1e-6 else 0.0
    # short-long pairs: premature interval then compensatory pause
    thr = _ECTOPIC_FRACTION * med
    pair = (d[:-1] < -thr) & (d[1:] > thr)
    keep = np.ones(rr.size, dtype=bool)
    idx = np.flatnonzero(pair)  # d[i] = rr[i+1]-rr[i]: rr[i+1] short, rr[i+2] long
    keep[idx + 1] = False
    keep[idx + 2] = False
    clean = rr[keep]
    if clean.size >= 3:
        dc = np.diff(clean)
        nrmssd_clean = float(np.sqrt(np.mean(dc * dc))) / float(clean.mean())
    else:
        nrmssd_clean = 0.0
    out = np.array([
        mean, sd / mean, rmssd / mean, float(np.median(ad)) / med, float(q75 - q25) / med,
        float(p90 - p10) / med, float(np.mean(ad > 0.05)), float(np.mean(ad > 0.12 * mean)),
        tp, ac1, se, cosen, hist_h, sd1_sd2, sd1 / mean,
        float(pair.sum()) / max(1, d.size - 1), nrmssd_clean,
    ], dtype=np.float64)
    return out


def usable_intervals(labels: np.ndarray | None, n_beats: int) -> np.ndarray:
    """Which of the ``n_beats - 1`` RR intervals between consecutive beats the rhythm
    features read: with beat ``labels``, not an interval that starts or ends at a ventricular
    beat (:data:`VENTRICULAR`) -- a PVC's coupling and pause say nothing about the atria, and
    in sinus rhythm they are what makes frequent PVCs look irregular; without labels, all."""
    n = max(0, int(n_beats) - 1)
    if labels is None:
        return np.ones(n, dtype=bool)
    vent = np.isin(np.asarray(labels).astype(str), list(VENTRICULAR))
    return ~(vent[:-1] | vent[1:])


def beat_window_features(sample_index: np.ndarray, fs_hz: float, *, window_beats: int,
                         min_window_beats: int, min_rr_s: float, max_rr_s: float,
                         labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features of the window ending at each beat of a whole record, as the streaming
    analyser computes them: the last ``window_beats`` usable intervals
    (:func:`usable_intervals`; ``labels`` optional), an interval outside
    ``min_rr_s``..``max_rr_s`` restarts the window.

    Returns
    -------
    features : (n_beats, len(FEATURE_NAMES)) float64; rows without a window are zero.
    valid : (n_beats,) bool, True where the beat had >= ``min_window_beats`` intervals.
    """
    idx = np.asarray(sample_index, dtype=np.int64)
    out = np.zeros((idx.size, len(FEATURE_NAMES)))
    valid = np.zeros(idx.size, dtype=bool)
    rr = np.diff(idx) / float(fs_hz)
    use = usable_intervals(labels, idx.size)
    window: list[float] = []
    for i in range(1, idx.size):
        if not min_rr_s <= rr[i - 1] <= max_rr_s:
            window = []
            continue
        if use[i - 1]:
            window.append(float(rr[i - 1]))
            if len(window) > window_beats:
                del window[0]
        if len(window) >= min_window_beats:
            out[i] = rr_window_features(np.asarray(window))
            valid[i] = True
    return out, valid
