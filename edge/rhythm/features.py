"""RR-rhythm features of one window of beat-to-beat intervals (pure numpy).

One function, :func:`rr_window_features`, turns the RR intervals (s) of a window of beats into
the vector the rhythm model reads (:data:`FEATURE_NAMES`, in that order);
:func:`rr_windows_features` computes many windows of one length at once, row for row the same
bits (the streaming analyser and :func:`beat_window_features` use it), and
:func:`rr_window_row` one window (and its pattern ratio) in plain Python, again the same bits
(a streaming call's one or few windows, where numpy's per-call overhead would cost more than
the arithmetic). They are the
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
import math
from bisect import bisect_right

import numpy as np

from edge.dsp.medians import numpy_sum as _np_sum
from edge.dsp.medians import sorted_percentile as _percentile
from edge.dsp.medians import sorted_percentiles
from edge.errors import SignalError

__all__ = ["FEATURE_NAMES", "MIN_INTERVALS", "VENTRICULAR", "rr_window_features",
           "rr_window_row", "python_rows_exact", "rr_windows_features",
           "rr_windows_pattern_ratio", "sample_entropy", "beat_window_features",
           "usable_intervals"]

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
    return rr_windows_features(rr[None, :])[0]


def _triu_mask(n: int) -> np.ndarray:
    mask = _TRIU.get(n)
    if mask is None:
        mask = _TRIU[n] = np.triu(np.ones((n, n), dtype=bool), 1)
    return mask


_TRIU: dict[int, np.ndarray] = {}


def rr_windows_features(rr_s: np.ndarray) -> np.ndarray:
    """:func:`rr_window_features` of many windows of the same length at once: ``rr_s`` is
    (n_windows, n_intervals) (s); returns (n_windows, len(FEATURE_NAMES)) float64.

    Every row gives the numbers :func:`rr_window_features` gives for it alone (the same
    operations along the rows; sums over a row may be re-associated, <= 1e-15 relative).

    Raises
    ------
    SignalError
        When ``rr_s`` is not 2-D with >= :data:`MIN_INTERVALS` columns, or holds an interval
        that is not finite and > 0.
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    if rr.ndim != 2 or rr.shape[1] < MIN_INTERVALS:
        raise SignalError(f"rr_s: need windows of >= {MIN_INTERVALS} RR intervals, got "
                          f"shape {rr.shape}")
    if not np.all(np.isfinite(rr) & (rr > 0)):
        raise SignalError("rr_s: every RR interval must be finite and > 0 s")
    n_w, n = rr.shape
    # numpy's own reductions, spelled out (np.mean/std/percentile/median cost more in call
    # overhead than in arithmetic on 40 numbers; the results are the same bits)
    mean = rr.sum(axis=1) / n
    c = rr - mean[:, None]
    sd = np.sqrt((c * c).sum(axis=1) / n)
    d = rr[:, 1:] - rr[:, :-1]
    ad = np.abs(d)
    rmssd = np.sqrt((d * d).sum(axis=1) / (n - 1))
    rr_sorted = np.sort(rr, axis=1)
    d_sorted = np.sort(d, axis=1)
    q25, q75 = sorted_percentiles(d_sorted, (25, 75))
    p10, p90 = sorted_percentiles(rr_sorted, (10, 90))
    med = _median(rr_sorted)
    med_ad = _median(np.sort(ad, axis=1))
    # turning points: d changes sign
    tp = np.count_nonzero(d[:, :-1] * d[:, 1:] < 0, axis=1) / max(1, n - 2)
    denom = (c[:, None, :] @ c[:, :, None])[:, 0, 0]  # row by row as np.dot (same sums)
    lag1 = (c[:, None, :-1] @ c[:, 1:, None])[:, 0, 0]
    ac1 = np.where(denom > 1e-12, lag1 / np.where(denom > 1e-12, denom, 1.0), 1.0)
    se = _sample_entropies(rr, SAMPEN_R_S)
    cosen = se + np.log(2 * SAMPEN_R_S) - np.log(mean)
    bins = np.floor((rr - rr_sorted[:, :1]) / _HIST_BIN_S).astype(np.int64)
    n_bins = int(bins.max()) + 1
    counts = np.bincount((bins + n_bins * np.arange(n_w)[:, None]).ravel(),
                         minlength=n_w * n_bins).reshape(n_w, n_bins)
    occupied = counts > 0
    n_occupied = occupied.sum(axis=1)
    hist_h = np.zeros(n_w)
    for k in np.unique(n_occupied).tolist():  # rows of k occupied bins: sum as np.sum does
        rows = np.flatnonzero(n_occupied == k)
        prob = counts[rows][occupied[rows]].reshape(rows.size, k) / n
        hist_h[rows] = -(prob * np.log2(prob)).sum(axis=1)
    dc = d - (d.sum(axis=1) / (n - 1))[:, None]
    sd1 = np.sqrt((dc * dc).sum(axis=1) / (n - 1)) / np.sqrt(2.0)
    sd2 = np.sqrt(np.maximum(2 * sd * sd - sd1 * sd1, 0.0))
    sd1_sd2 = np.where(sd2 > 1e-6, sd1 / np.where(sd2 > 1e-6, sd2, 1.0), 0.0)
    # short-long pairs: premature interval then compensatory pause
    thr = (_ECTOPIC_FRACTION * med)[:, None]
    pair = (d[:, :-1] < -thr) & (d[:, 1:] > thr)  # d[i] = rr[i+1]-rr[i]: rr[i+1] short
    n_pair = pair.sum(axis=1)
    nrmssd_clean = rmssd / mean  # a window without pairs: the clean series is the window
    if n_pair.any():
        # without each pair's short and long interval, grouped by what is left (row sums of
        # equal length add as the 1-D sums do)
        keep = np.ones((n_w, n), dtype=bool)
        keep[:, 1:-1] &= ~pair
        keep[:, 2:] &= ~pair
        n_keep = keep.sum(axis=1)
        for k in np.unique(n_keep[n_pair > 0]).tolist():
            rows = np.flatnonzero((n_keep == k) & (n_pair > 0))
            if k < 3:
                nrmssd_clean[rows] = 0.0
                continue
            clean = rr[rows][keep[rows]].reshape(rows.size, k)
            dc = clean[:, 1:] - clean[:, :-1]
            nrmssd_clean[rows] = np.sqrt((dc * dc).sum(axis=1) / (k - 1)) / (clean.sum(axis=1) / k)
    out = np.empty((n_w, len(FEATURE_NAMES)))
    for j, col in enumerate((
            mean, sd / mean, rmssd / mean, med_ad / med, (q75 - q25) / med, (p90 - p10) / med,
            np.count_nonzero(ad > 0.05, axis=1) / (n - 1),
            np.count_nonzero(ad > 0.12 * mean[:, None], axis=1) / (n - 1),
            tp, ac1, se, cosen, hist_h, sd1_sd2, sd1 / mean, n_pair / max(1, n - 2),
            nrmssd_clean)):
        out[:, j] = col
    return out


def rr_windows_pattern_ratio(rr_s: np.ndarray) -> np.ndarray:
    """How much of a window's beat-to-beat irregularity a repeating pattern explains: the
    smaller RMS of the lag-2 and lag-3 differences ``RR(i) - RR(i-k)`` over the RMS of the
    lag-1 differences, per row of ``rr_s`` (n_windows, n_intervals >= 4; s).

    About 1 for independent intervals (atrial fibrillation: every lag differs alike), well
    below 1 when the intervals repeat every 2 or 3 beats (bigeminy, trigeminy: short-long
    alternation is irregular beat to beat but regular as a pattern); 1 for a window without
    beat-to-beat change."""
    rr = np.asarray(rr_s, dtype=np.float64)
    if rr.ndim != 2 or rr.shape[1] < 4:
        raise SignalError(f"rr_s: need windows of >= 4 RR intervals, got shape {rr.shape}")

    def rms_lag(k: int) -> np.ndarray:
        d = rr[:, k:] - rr[:, :-k]
        return np.sqrt((d * d).sum(axis=1) / d.shape[1])

    lag1 = rms_lag(1)
    lag23 = np.minimum(rms_lag(2), rms_lag(3))
    return np.where(lag1 > 1e-9, lag23 / np.where(lag1 > 1e-9, lag1, 1.0), 1.0)


# -- one window in plain Python ---------------------------------------------------------------
# A streaming call usually holds one beat, hence one window of ~40 intervals: there numpy's
# per-call overhead costs far more than the arithmetic. The functions below compute the same
# operations on Python floats (IEEE doubles: +, -, *, /, sqrt and floor round alike), summing
# in numpy's pairwise order (:func:`_np_sum`); the logarithms are numpy's own (libm's differ
# in the last bit), looked up once per value where the argument takes few values. The
# results are the bits of :func:`rr_windows_features` / :func:`rr_windows_pattern_ratio`
# (tests/edge/rhythm/test_features.py checks this on random and real windows).


def _median_of_sorted(v: list[float]) -> float:
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


_LOG_SAMPEN: dict[tuple[int, int], float] = {}  # (A, B) -> ln((B + 1) / (A + 1)), numpy's
_PLOG2P: dict[tuple[int, int], float] = {}  # (count, n) -> p log2 p of p = count / n, numpy's
_LOG_2R = float(np.log(2 * SAMPEN_R_S))


def _sampen_counts(v: list[float], r: float) -> tuple[int, int]:
    """(B, A) of :func:`sample_entropy` (m = 1) of the window ``v``: template pairs i < j
    with ``|v_i - v_j| <= r`` (the test numpy makes), and of those the pairs whose next
    values are within ``r`` too."""
    b = a = 0
    n = len(v) - 1
    for i in range(n - 1):
        si, ni = v[i], v[i + 1]
        for j in range(i + 1, n):
            if abs(si - v[j]) <= r:
                b += 1
                if abs(ni - v[j + 1]) <= r:
                    a += 1
    return b, a


def _sampen_with(v: list[float], m: int, r: float) -> tuple[int, int]:
    """(B, A) of the pairs of template ``m`` of ``v`` with the templates before it."""
    b = a = 0
    sm, nm = v[m], v[m + 1]
    for i in range(m):
        if abs(v[i] - sm) <= r:
            b += 1
            if abs(v[i + 1] - nm) <= r:
                a += 1
    return b, a


def _sampen_first(v: list[float], r: float) -> tuple[int, int]:
    """(B, A) of the pairs of template 0 of ``v`` with the templates after it."""
    b = a = 0
    s0, n0 = v[0], v[1]
    for j in range(1, len(v) - 1):
        if abs(s0 - v[j]) <= r:
            b += 1
            if abs(n0 - v[j + 1]) <= r:
                a += 1
    return b, a


class SampenCounts:
    """The pair counts (B, A) of :func:`sample_entropy` (m = 1) of a stream's successive
    windows: when a window is the last one with one interval appended (a growing window) or
    with its first interval dropped and one appended (a sliding window), only the pairs of
    the template that left and of the one that came are counted -- integers, so exactly the
    counts of a full recount; any other window is counted in full."""

    def __init__(self, r: float = SAMPEN_R_S) -> None:
        self.r = r
        self._last: list[float] = []
        self._ba = (0, 0)

    def counts(self, v: list[float]) -> tuple[int, int]:
        """(B, A) of the window ``v`` (intervals, s; >= 3)."""
        last, r = self._last, self.r
        n = len(v)
        if last and n == len(last) and v[:-1] == last[1:]:  # slid by one interval
            b, a = self._ba
            b0, a0 = _sampen_first(last, r)  # the template that left
            b1, a1 = _sampen_with(v, n - 2, r)  # the new last template
            ba = (b - b0 + b1, a - a0 + a1)
        elif last and n == len(last) + 1 and v[:-1] == last:  # grew by one interval
            b, a = self._ba
            b1, a1 = _sampen_with(v, n - 2, r)
            ba = (b + b1, a + a1)
        else:
            ba = _sampen_counts(v, r)
        self._last, self._ba = v, ba
        return ba


def _plog2p(count: int, n: int) -> float:
    """``p * np.log2(p)`` of ``p = count / n`` (numpy's arithmetic), cached."""
    key = (count, n)
    t = _PLOG2P.get(key)
    if t is None:
        if len(_PLOG2P) > 100_000:
            _PLOG2P.clear()
        prob = np.float64(count) / n
        t = _PLOG2P[key] = float(prob * np.log2(prob))
    return t


def rr_window_row(rr_s: np.ndarray, sampen: SampenCounts | None = None
                  ) -> tuple[list[float], float]:
    """:func:`rr_windows_features` and :func:`rr_windows_pattern_ratio` of one window --
    ``rr_s`` a 1-D float64 array or a list of floats, >= :data:`MIN_INTERVALS` finite positive
    intervals (s), not checked -- as a list and a float, computed in plain Python (cheaper than
    numpy for one window; the same bits). ``sampen``: the caller's :class:`SampenCounts` of its
    successive windows (counted in full without; it keeps a list ``rr_s``: do not change it
    after)."""
    v = rr_s if type(rr_s) is list else rr_s.tolist()
    n = len(v)
    mean = _np_sum(v) / n
    c = [x - mean for x in v]
    sd = math.sqrt(_np_sum([x * x for x in c]) / n)
    d = [b - a for a, b in zip(v, v[1:])]
    rmssd = math.sqrt(_np_sum([x * x for x in d]) / (n - 1))
    rr_sorted = sorted(v)
    d_sorted = sorted(d)
    ad_sorted = sorted(map(abs, d))
    q25, q75 = _percentile(d_sorted, 25), _percentile(d_sorted, 75)
    p10, p90 = _percentile(rr_sorted, 10), _percentile(rr_sorted, 90)
    med = _median_of_sorted(rr_sorted)
    med_ad = _median_of_sorted(ad_sorted)
    # |dRR| above a threshold: the sorted values past it (the same comparisons)
    n_over_50ms = (n - 1) - bisect_right(ad_sorted, 0.05)
    n_over_12pct = (n - 1) - bisect_right(ad_sorted, 0.12 * mean)
    tp = sum(1 for x, y in zip(d, d[1:]) if x * y < 0) / max(1, n - 2)
    c_arr = np.array(c)  # (rr_s - mean) BLAS sums, as the batch's row products
    denom = float(np.dot(c_arr, c_arr))
    lag1 = float(np.dot(c_arr[:-1], c_arr[1:]))
    ac1 = lag1 / denom if denom > 1e-12 else 1.0
    b, a = (sampen or SampenCounts()).counts(v)
    se = _LOG_SAMPEN.get((a, b))
    if se is None:
        if len(_LOG_SAMPEN) > 100_000:
            _LOG_SAMPEN.clear()
        se = _LOG_SAMPEN[(a, b)] = float(np.log((float(b) + 1.0) / (float(a) + 1.0)))
    cosen = se + _LOG_2R - float(np.log(mean))
    # histogram: the bin index grows with the value, so the sorted values give the occupied
    # bins in order with their counts
    lo = rr_sorted[0]
    terms = []
    bin_now = count = 0
    for x in rr_sorted:
        k = math.floor((x - lo) / _HIST_BIN_S)
        if k == bin_now:
            count += 1
        else:
            terms.append(_plog2p(count, n))
            bin_now, count = k, 1
    terms.append(_plog2p(count, n))
    hist_h = -_np_sum(terms)
    d_mean = _np_sum(d) / (n - 1)
    sd1 = math.sqrt(_np_sum([(x - d_mean) * (x - d_mean) for x in d]) / (n - 1)) / math.sqrt(2.0)
    sd2 = math.sqrt(max(2 * sd * sd - sd1 * sd1, 0.0))
    sd1_sd2 = sd1 / sd2 if sd2 > 1e-6 else 0.0
    thr = _ECTOPIC_FRACTION * med
    pairs = ([i for i, (x, y) in enumerate(zip(d, d[1:])) if x < -thr and y > thr]
             if d_sorted[0] < -thr and d_sorted[-1] > thr else [])  # (none without both)
    nrmssd_clean = rmssd / mean
    if pairs:
        keep = [True] * n
        for i in pairs:
            keep[i + 1] = keep[i + 2] = False
        clean = [x for x, k in zip(v, keep) if k]
        k = len(clean)
        if k < 3:
            nrmssd_clean = 0.0
        else:
            dc = [y - x for x, y in zip(clean, clean[1:])]
            nrmssd_clean = (math.sqrt(_np_sum([x * x for x in dc]) / (k - 1))
                            / (_np_sum(clean) / k))
    # pattern ratio: the lag-1 RMS is the RMSSD (the same sums)
    rms2 = math.sqrt(_np_sum([(y - x) * (y - x) for x, y in zip(v, v[2:])]) / (n - 2))
    rms3 = math.sqrt(_np_sum([(y - x) * (y - x) for x, y in zip(v, v[3:])]) / (n - 3))
    lag23 = min(rms2, rms3)
    pattern = lag23 / rmssd if rmssd > 1e-9 else 1.0
    return [mean, sd / mean, rmssd / mean, med_ad / med, (q75 - q25) / med, (p90 - p10) / med,
            n_over_50ms / (n - 1), n_over_12pct / (n - 1), tp, ac1, se, cosen, hist_h,
            sd1_sd2, sd1 / mean, len(pairs) / max(1, n - 2), nrmssd_clean], pattern


_PY_EXACT: bool | None = None


def _probe_uniform(n: int, seed: int) -> np.ndarray:
    """``n`` fixed pseudo-random values in [0, 1) (a 32-bit linear congruential generator)."""
    out, x = [], seed
    for _ in range(n):
        x = (1664525 * x + 1013904223) % 2 ** 32
        out.append(x / 2 ** 32)
    return np.array(out)


def python_rows_exact() -> bool:
    """Whether :func:`rr_window_row` gives this platform's numpy bits (probed once, on first
    use, against :func:`rr_windows_features` / :func:`rr_windows_pattern_ratio` on a few
    windows of sinus, AF-like, ectopic, constant and grid-valued intervals of several
    lengths). The plain-Python path follows numpy's summation order and libm-free arithmetic
    as this numpy does it; a numpy that sums differently (another SIMD build, a later
    version) would make a streaming call's numbers drift from a batch's, so on a mismatch
    this logs a warning once and returns False, and the analyser computes every window with
    numpy instead (slower, the same numbers at every chunking)."""
    global _PY_EXACT
    if _PY_EXACT is None:
        windows = []
        for n in (MIN_INTERVALS, 21, 40, 41):
            u = _probe_uniform(n, seed=n)  # (no numpy.random: 6 MB of RSS on the device)
            windows += [0.8 + 0.04 * (u - 0.5),  # sinus
                        0.35 + 0.95 * u,  # AF-like
                        np.round((0.4 + 0.8 * u[::-1]) * 360) / 360,  # sample grid, ties
                        np.full(n, 0.75),  # constant
                        np.where(np.arange(n) % 3 == 1, 0.5, 0.9)]  # trigeminy-like
        ok = True
        for w in windows:
            row, ratio = rr_window_row(w)
            want = rr_windows_features(w[None, :])[0]
            want_ratio = rr_windows_pattern_ratio(w[None, :])[0]
            ok = ok and (np.array(row, dtype=np.float64).tobytes() == want.tobytes()
                         and np.float64(ratio).tobytes() == np.float64(want_ratio).tobytes())
        if not ok:
            logger.warning("rhythm features: the plain-Python window path does not give this "
                           "numpy's bits (numpy %s); every window is computed with numpy "
                           "(slower, the same numbers at every chunking)", np.__version__)
        _PY_EXACT = ok
    return _PY_EXACT


def _median(sorted_rows: np.ndarray) -> np.ndarray:
    """``np.median(rows, axis=1)`` of row-sorted ``sorted_rows`` (the mean of the two middle
    values when even, as numpy computes it)."""
    n = sorted_rows.shape[1]
    if n % 2:
        return sorted_rows[:, n // 2].copy()
    return (sorted_rows[:, n // 2 - 1] + sorted_rows[:, n // 2]) / 2.0


def _sample_entropies(rr: np.ndarray, r: float) -> np.ndarray:
    """:func:`sample_entropy` (m = 1) of each row of ``rr`` (n_windows, n)."""
    n = rr.shape[1] - 1
    if n < 2:
        return np.zeros(rr.shape[0])
    seg, nxt = rr[:, :n], rr[:, 1:]
    match = np.abs(seg[:, :, None] - seg[:, None, :]) <= r
    match &= _triu_mask(n)
    longer = match & (np.abs(nxt[:, :, None] - nxt[:, None, :]) <= r)
    b = match.sum(axis=(1, 2)).astype(np.float64)
    a = longer.sum(axis=(1, 2)).astype(np.float64)
    return np.log((b + 1.0) / (a + 1.0))


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
    # the window of beat i is stream[start[i]:end[i]] (usable intervals since the last restart)
    stream: list[float] = []
    seg = 0
    start = np.zeros(idx.size, dtype=np.int64)
    end = np.zeros(idx.size, dtype=np.int64)
    for i, (r, u) in enumerate(zip(rr.tolist(), use.tolist()), start=1):
        if not min_rr_s <= r <= max_rr_s:
            seg = len(stream)
        elif u:
            stream.append(r)
        end[i] = len(stream)
        start[i] = max(seg, end[i] - window_beats)
    length = end - start
    valid = length >= min_window_beats
    valid[0] = False
    values = np.asarray(stream, dtype=np.float64)
    for n_int in np.unique(length[valid]).tolist():
        rows = np.flatnonzero(valid & (length == n_int))
        for k in range(0, rows.size, 512):  # bounded memory
            part = rows[k:k + 512]
            out[part] = rr_windows_features(values[start[part][:, None] + np.arange(n_int)])
    return out, valid
