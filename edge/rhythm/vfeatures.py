"""Shock-advisory features of one short ECG window (ventricular flutter / fibrillation).

:func:`vf_window_features` turns a window of conditioned ECG (the band-passed signal the beat
detector sees, at the processing rate) into :data:`VF_FEATURE_NAMES`, the classic measures
that separate VF/VFL (a coarse, fast oscillation that never returns to a baseline and has no
sharp QRS) from organised rhythms (narrow or wide complexes on a flat baseline):

``std_mv``           standard deviation of the window (mV): fine VF and asystole are small.
``kurtosis``         4th standardised moment: spikes on a baseline are high (> 5), a sine 1.5.
``tcsc``             threshold-crossing sample count (Arafat 2011): per 1-s block, the share
                     of samples whose |x| exceeds 0.2 x the block's max |x|, averaged.
``crossings_per_s``  upward crossings of +0.2 x max |x| (per 1-s block) per second.
``baseline_share``   share of samples within 10 % of the window's 1..99 % range of its median.
``vf_leakage``       VF-filter leakage (Kuo & Dillman 1978): a notch at the window's mean
                     frequency leaves little of a sine-like signal (< 0.6) and much of QRS.
``deriv_floor``      10th percentile / max of |derivative| averaged over 75 ms (the detector's
                     flutter measure: a signal that never rests has a high floor).
``dom_freq_hz``      frequency of the largest spectral peak in 0.5..12 Hz.
``mean_freq_hz``     spectral centroid over 0.5..40 Hz.
``vf_band_share``    share of 0.5..40 Hz power in 2.5..7.5 Hz (the VF/VFL band).
``high_share``       share of 0.5..40 Hz power above 12 Hz (sharp QRS content).
``peak_share``       share of 0.5..40 Hz power within 0.5 Hz of ``dom_freq_hz`` (spectral
                     concentration: a flutter sine puts most of its power there).
``periodicity``      the largest normalised autocorrelation at lags 0.15..2 s: regular rhythms
                     (sinus, VT, flutter) repeat, fibrillation and motion artefact less.
``lz_complexity``    normalised Lempel-Ziv complexity of the signal binarised at its median.
``count2``           share of samples with |x| above the window's mean |x| (Jekova 2007's
                     count2): low for spikes on a baseline, ~0.5 for a sine.
``count3``           share of samples with |x| within mean |x| +- its mean absolute
                     deviation (Jekova 2007's count3): high for a sine.
``psr``              phase-space reconstruction (Amann 2007): share of a 40 x 40 grid the
                     trajectory (x(t), x(t - 0.5 s)) visits, at ~50 Hz, range-normalised
                     (regular rhythms retrace one small loop, VF wanders).
``hilb``             the same with the Hilbert transform instead of the delay (Amann 2007
                     HILB; analytic signal by FFT).
``spike_rate_bpm``   rate of the QRS-like peaks of the 75-ms |derivative| envelope (peaks
                     above half its maximum, >= 250 ms apart), 0 with fewer than two.
``spike_rr_cv``      coefficient of variation of their intervals (1 with fewer than three):
                     an organised rhythm (sinus, slow VT) is regular at a plausible rate.

Every feature depends only on the window's samples (no state), so a streaming caller gets the
same numbers however it chunks the stream. The spectrum is computed at the processing rate
(360 Hz) over a Hann-windowed, zero-padded 4096-point FFT; the autocorrelation over the
smallest power-of-two FFT of >= 2 n - 1 points. :func:`vf_windows_features` computes many
windows of one length at once (:class:`edge.rhythm.ventricular.VfWindows` hands it every
window a chunk completes), each row the numbers of its window alone.
"""
from __future__ import annotations

import logging
import math
from bisect import bisect_left

import numpy as np

from edge.dsp.medians import numpy_sum, sorted_percentiles
from edge.errors import SignalError

__all__ = ["VF_FEATURE_NAMES", "SCREEN_FEATURES", "SCREEN_MASK", "vf_window_features",
           "vf_windows_features", "MIN_WINDOW_S"]

logger = logging.getLogger(__name__)

VF_FEATURE_NAMES = ("std_mv", "kurtosis", "tcsc", "crossings_per_s", "baseline_share",
                    "vf_leakage", "deriv_floor", "dom_freq_hz", "mean_freq_hz",
                    "vf_band_share", "high_share", "peak_share", "periodicity",
                    "lz_complexity", "count2", "count3", "psr", "hilb", "spike_rate_bpm",
                    "spike_rr_cv")

#: Shortest window the features are defined on (s).
MIN_WINDOW_S = 2.0

#: The features of the cheaper pass (``part="screen"`` of :func:`vf_windows_features`): the
#: amplitude, derivative and spectral measures (about half the cost of a window); the others
#: (the sort, the autocorrelation, Lempel-Ziv, the phase-space measures) are ``part="rest"``.
SCREEN_FEATURES = ("std_mv", "kurtosis", "tcsc", "crossings_per_s", "vf_leakage",
                   "deriv_floor", "dom_freq_hz", "mean_freq_hz", "vf_band_share", "high_share",
                   "peak_share", "count2", "count3", "spike_rate_bpm", "spike_rr_cv")

_NFFT = 4096
_EPS = 1e-12
_GRID = 40  # boxes per axis of the phase-space grid (psr, hilb)
_PS_FS_HZ = 50.0  # rate of the phase-space trajectory
_PSR_DELAY_S = 0.5
_SPIKE_REFRACTORY_S = 0.25
#: :data:`SCREEN_FEATURES` as a mask over :data:`VF_FEATURE_NAMES`.
SCREEN_MASK = np.array([name in SCREEN_FEATURES for name in VF_FEATURE_NAMES])
_PARTS = {"all": frozenset({"amplitude", "derivative", "spectrum", "rest"}),
          "screen": frozenset({"amplitude", "derivative", "spectrum"}),
          "rest": frozenset({"rest"})}


def _grid_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of a ``_GRID`` x ``_GRID`` grid visited by the points (a[r, i], b[r, i]) of
    each row, each coordinate scaled to its row's range."""
    def cell(v: np.ndarray) -> np.ndarray:
        lo = v.min(axis=1, keepdims=True)
        span = np.maximum(v.max(axis=1, keepdims=True) - lo, _EPS)
        return np.minimum(((v - lo) / span * _GRID).astype(np.int64), _GRID - 1)

    idx = np.sort(cell(a) * _GRID + cell(b), axis=1)
    return (1 + np.count_nonzero(idx[:, 1:] != idx[:, :-1], axis=1)) / (_GRID * _GRID)


def _hilbert_imag(x: np.ndarray) -> np.ndarray:
    """Imaginary part of the analytic signal of each row (FFT method, as
    ``scipy.signal.hilbert``)."""
    n = x.shape[1]
    h = np.zeros(n)
    if n % 2 == 0:
        h[0] = h[n // 2] = 1.0
        h[1:n // 2] = 2.0
    else:
        h[0] = 1.0
        h[1:(n + 1) // 2] = 2.0
    return np.fft.ifft(np.fft.fft(x, axis=1) * h, axis=1).imag


def _spikes(env: np.ndarray, fs_hz: float, offset: int) -> tuple[float, float]:
    """(rate bpm, interval CV) of the peaks of one |derivative| envelope: local maxima above
    half its maximum, each the largest within the refractory time (greedy, largest first)."""
    top = env.max()
    if top <= 0:
        return 0.0, 1.0
    c = env[1:-1]
    pk = np.flatnonzero((c >= env[:-2]) & (c > env[2:]) & (c >= 0.5 * top)) + 1
    if pk.size == 0:
        return 0.0, 1.0
    gap = int(round(_SPIKE_REFRACTORY_S * fs_hz))
    # largest first, ties in index order (a stable sort, as np.argsort(kind="stable"))
    heights = env[pk].tolist()
    pks = pk.tolist()
    order = sorted(range(len(pks)), key=lambda j: -heights[j])
    kept: list[int] = []  # sorted: a peak is kept if both kept neighbours are >= gap away
    for j in order:
        i = pks[j]
        at = bisect_left(kept, i)
        if (at == 0 or i - kept[at - 1] >= gap) and (at == len(kept) or kept[at] - i >= gap):
            kept.insert(at, i)
    if len(kept) < 2:
        return 0.0, 1.0
    # np.diff(kept + offset) / fs, its mean and std, in plain Python with numpy's arithmetic
    # (float64 +, -, /, numpy's summation order, sqrt): the same bits for a few intervals
    at = [float(k) + offset for k in kept]
    rr = [(b - a) / fs_hz for a, b in zip(at, at[1:])]
    n = len(rr)
    mean = numpy_sum(rr) / n
    rate = 60.0 / mean
    if n < 2:
        return rate, 1.0
    std = math.sqrt(numpy_sum([(v - mean) * (v - mean) for v in rr]) / n)
    return rate, std / mean


def _lempel_ziv(bits: np.ndarray) -> float:
    """Lempel-Ziv (1976) complexity of a 0/1 sequence, normalised by n / log2(n).

    Each new phrase at ``i`` is one longer than the longest ``s[i:i+k]`` that already occurs
    in ``s[:i+k-1]``; that property is monotone in ``k``, so ``k`` is found by a galloping
    search from the previous phrase's length (phrases grow slowly along the sequence: one or
    two substring searches per phrase where stepping ``k`` one at a time takes ``k``) -- the
    same phrases as growing ``k`` one at a time."""
    s = bits.astype(np.uint8).tobytes()
    n = len(s)
    if n < 2:
        return 0.0
    find = s.find
    c, i, guess = 1, 1, 1
    while i < n:
        # the largest k <= n - i with s[i:i+k] in s[:i+k-1] (0 if none)
        top = n - i
        k = min(guess, top)
        if find(s[i:i + k], 0, i + k - 1) >= 0:
            good, bad, step = k, top + 1, 1  # gallop up: k + 1, k + 2, k + 4, ...
            while good + step <= top:
                m = good + step
                if find(s[i:i + m], 0, i + m - 1) < 0:
                    bad = m
                    break
                good, step = m, 2 * step
        else:
            good, bad, step = 0, k, 1  # gallop down: k - 1, k - 2, k - 4, ...
            while bad - step >= 1:
                m = bad - step
                if find(s[i:i + m], 0, i + m - 1) >= 0:
                    good = m
                    break
                bad, step = m, 2 * step
        while bad - good > 1:
            mid = (good + bad) // 2
            if find(s[i:i + mid], 0, i + mid - 1) >= 0:
                good = mid
            else:
                bad = mid
        c += 1
        i += good + 1
        guess = max(good, 1)
    return float(c * np.log2(n) / n)


_HANN: dict[int, np.ndarray] = {}
_BINS: dict[tuple[int, float], tuple] = {}


def _bins(nfft: int, fs_hz: float) -> tuple[np.ndarray, slice, slice, slice, slice]:
    """Frequencies of an ``nfft``-point rfft and the runs of bins in 0.5..40 Hz, 0.5..12 Hz,
    2.5..7.5 Hz and (12, 40] Hz (the bands are runs of the sorted frequencies)."""
    key = (nfft, float(fs_hz))
    if key not in _BINS:
        f = np.fft.rfftfreq(nfft, 1.0 / fs_hz)

        def run(mask: np.ndarray) -> slice:
            i = np.flatnonzero(mask)
            return slice(int(i[0]), int(i[-1]) + 1) if i.size else slice(0, 0)

        _BINS[key] = (f, run((f >= 0.5) & (f <= 40.0)), run((f >= 0.5) & (f <= 12.0)),
                      run((f >= 2.5) & (f <= 7.5)), run((f > 12.0) & (f <= 40.0)))
    return _BINS[key]


def _hann(n: int) -> np.ndarray:
    w = _HANN.get(n)
    if w is None:
        w = _HANN[n] = np.hanning(n)
    return w


def vf_window_features(x_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """The features :data:`VF_FEATURE_NAMES` of one window (1-D, mV, conditioned).

    Raises
    ------
    SignalError
        When the window is shorter than :data:`MIN_WINDOW_S` or holds non-finite samples.
    """
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1 or x.size < MIN_WINDOW_S * fs_hz:
        raise SignalError(f"a VF window needs >= {MIN_WINDOW_S} s of samples "
                          f"({int(MIN_WINDOW_S * fs_hz)} at {fs_hz:g} Hz), got {x.shape}")
    return vf_windows_features(x[None, :], fs_hz)[0]


def vf_windows_features(x_mv: np.ndarray, fs_hz: float, *, checked: bool = False,
                        part: str = "all") -> np.ndarray:
    """:func:`vf_window_features` of many windows of the same length at once: ``x_mv`` is
    (n_windows, n_samples); returns (n_windows, len(VF_FEATURE_NAMES)).

    Each row's numbers are those of the window alone (the same operations along the rows),
    except ``periodicity``: the autocorrelation is taken with the smallest FFT that holds it
    (>= 2 n - 1 points) instead of twice the spectrum's, which changes it by float rounding
    only (~1e-16 relative).

    ``checked``: the caller has made sure every sample is finite (the scan is skipped).
    ``part``: ``"all"``; ``"screen"``, only the cheaper :data:`SCREEN_FEATURES` (the others
    NaN); ``"rest"``, only the others (the screen columns NaN). A row's numbers do not depend
    on the part they are computed in; a flat row (std < 1e-6) gets all its constant values.

    Raises
    ------
    SignalError
        When the windows are shorter than :data:`MIN_WINDOW_S` or hold non-finite samples.
    """
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < MIN_WINDOW_S * fs_hz:
        raise SignalError(f"a VF window needs >= {MIN_WINDOW_S} s of samples "
                          f"({int(MIN_WINDOW_S * fs_hz)} at {fs_hz:g} Hz), got {x.shape}")
    if part not in _PARTS:
        raise ValueError(f"part must be one of {sorted(_PARTS)}, got {part!r}")
    if not checked and not np.all(np.isfinite(x)):
        raise SignalError("a VF window must hold finite samples only")
    groups = _PARTS[part]
    n_w, n = x.shape
    if n_w == 1 and part == "screen":
        return _screen_row(x[0], fs_hz)[None, :]
    out = np.zeros((n_w, len(VF_FEATURE_NAMES)))
    x = x - (x.sum(axis=1) / n)[:, None]
    sd = np.sqrt(((x - (x.sum(axis=1) / n)[:, None]) ** 2).sum(axis=1) / n)  # as np.std
    out[:, 0] = sd
    flat = sd < 1e-6  # flat: every other feature at its "no rhythm" value
    if not flat.any():  # (the usual case: the rows are computed in place)
        live = None
        res = out
    else:
        out[flat, 1] = 3.0
        out[flat, 4] = 1.0
        out[flat, 5] = 1.0
        out[flat, 19] = 1.0
        if flat.all():
            return out
        live = np.flatnonzero(~flat)
        x, sd = x[live], sd[live]
        n_w = live.size
        res = np.zeros((n_w, len(VF_FEATURE_NAMES)))
        res[:, 0] = sd
    if "amplitude" in groups or "derivative" in groups:
        adx = np.abs(x[:, 1:] - x[:, :-1])
        if "amplitude" in groups:
            _amplitude(x, sd, adx, fs_hz, res)
        if "derivative" in groups:
            _derivative(adx, fs_hz, res)
    if "spectrum" in groups:
        _spectrum(x, fs_hz, res)
    if "rest" in groups:
        _rest(x, fs_hz, res)
    if live is not None:
        out[live] = res
    if part != "all":
        keep = SCREEN_MASK if part == "screen" else ~SCREEN_MASK
        out[:, ~keep] = np.nan
    return out


def _screen_row(x_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """``vf_windows_features(x_mv[None, :], fs_hz, checked=True, part="screen")[0]`` of one
    window, without the batch machinery (a streaming call completes one window a second):
    the same ufuncs and reductions on the 1-D row, so the same bits (a reduction along a
    contiguous row of a 2-D array adds in the order a 1-D one does; tested)."""
    n = x_mv.size
    res = np.full(len(VF_FEATURE_NAMES), np.nan)
    add = np.add.reduce
    x = x_mv - add(x_mv) / n
    d = x - add(x) / n
    sd = math.sqrt(add(np.multiply(d, d, out=d)) / n)  # as np.std
    res[0] = sd
    if sd < 1e-6:  # flat: every feature at its "no rhythm" value (as the batch gives it)
        res[:] = 0.0
        res[[0, 1, 4, 5, 19]] = (sd, 3.0, 1.0, 1.0, 1.0)
        return res
    adx = np.subtract(x[1:], x[:-1])
    np.abs(adx, out=adx)
    _amplitude_row(x, sd, adx, fs_hz, res)
    _derivative_row(adx, fs_hz, res)
    _spectrum_row(x, fs_hz, res)
    return res


def _amplitude_row(x: np.ndarray, sd: float, adx: np.ndarray, fs_hz: float,
                   res: np.ndarray) -> None:
    """:func:`_amplitude` of one centred row (the screen's columns of ``res``)."""
    add = np.add.reduce
    n = x.size
    x2 = x * x
    res[1] = (add(np.multiply(x2, x2, out=x2)) / n) / sd ** 4
    blk = int(round(fs_hz))
    n_blk = max(1, n // blk)
    if n == n_blk * blk and n_blk < 8:  # as the batch: the blocks as rows, their shares
        seg = x.reshape(n_blk, blk)     # added as one row
        seg = seg - (add(seg, axis=1) / blk)[:, None]
        aseg = np.abs(seg)
        m = np.maximum.reduce(aseg, axis=1)
        ok = m > 0
        thr = 0.2 * m
        above = add(aseg > thr[:, None], axis=1)  # counts (a bool sum is an integer)
        up = seg > thr[:, None]
        res[2] = add(np.where(ok, above / blk, 0.0)) / n_blk
        res[3] = int(add(add(up[:, 1:] > up[:, :-1], axis=1)[ok])) / (n / fs_hz)
    else:  # the batch's loop: shares added one at a time from 0.0
        tc, cross = np.float64(0.0), 0
        for b in range(n_blk):
            seg = x[b * blk:(b + 1) * blk] if b < n_blk - 1 else x[b * blk:]
            seg = seg - add(seg) / seg.size
            aseg = np.abs(seg)
            m = aseg.max()
            if m > 0:
                thr = 0.2 * m
                tc = tc + np.count_nonzero(aseg > thr) / seg.size
                up = seg > thr
                cross += int(np.count_nonzero(up[1:] > up[:-1]))  # upward: False -> True
        res[2] = tc / n_blk
        res[3] = cross / (n / fs_hz)
    # VF-filter leakage
    ax = np.abs(x)
    sax = add(ax)
    half = math.floor(math.pi * sax / max(add(adx), _EPS) + 0.5)
    h = min(max(half, 1), n // 2)
    a, b = x[h:], x[:-h]
    num = np.add(a, b)
    den = np.abs(a)
    den += np.abs(b)
    res[5] = add(np.abs(num, out=num)) / max(add(den), _EPS)
    # amplitude distribution counts (Jekova 2007)
    mabs = sax / n
    res[14] = np.count_nonzero(ax > mabs) / n
    dev = np.subtract(ax, mabs, out=ax)
    np.abs(dev, out=dev)
    md = add(dev) / n
    res[15] = np.count_nonzero(dev < md) / n


def _derivative_row(adx: np.ndarray, fs_hz: float, res: np.ndarray) -> None:
    """:func:`_derivative` of one row's |first difference|."""
    n = adx.size + 1
    k = max(1, int(round(0.075 * fs_hz)))
    if n - 1 < k:
        res[6], res[18], res[19] = 0.0, 0.0, 1.0
        return
    run = np.empty(n)
    run[0] = 0.0
    np.cumsum(adx, out=run[1:])
    env = np.subtract(run[k:], run[:-k])
    env *= 1.0 / k
    j = env.size // 10
    top = env.max()
    res[6] = np.partition(env, j)[j] / top if top > 0 else 0.0
    res[18], res[19] = _spikes(env, fs_hz, k)


def _spectrum_row(x: np.ndarray, fs_hz: float, res: np.ndarray) -> None:
    """:func:`_spectrum` of one row."""
    add = np.add.reduce
    n = x.size
    nfft = max(_NFFT, 1 << int(np.ceil(np.log2(n))))
    spec = np.fft.rfft(x * _hann(n), nfft)
    re, im = spec.real, spec.imag
    p = re * re
    p += im * im
    f, band, low, vf_band, high = _bins(nfft, fs_hz)
    p_band = p[band]
    total = max(add(p_band), _EPS)
    fd = f[low.start + int(p[low].argmax())]
    res[7] = fd
    res[8] = add(f[band] * p_band) / total
    res[9] = add(p[vf_band]) / total
    res[10] = add(p[high]) / total
    lo, hi = np.searchsorted(f, (fd - 0.5, fd + 0.5), side="left")
    if hi < f.size and f[hi] == fd + 0.5:  # side="right" for the upper edge
        hi += 1
    res[11] = add(p[lo:hi]) / total


def _amplitude(x: np.ndarray, sd: np.ndarray, adx: np.ndarray, fs_hz: float,
               res: np.ndarray) -> None:
    """kurtosis, tcsc, crossings_per_s, vf_leakage, count2, count3 of centred rows ``x``
    (``sd``: their std, ``adx``: their |first difference|)."""
    n_w, n = x.shape
    x2 = x * x
    res[:, 1] = ((x2 * x2).sum(axis=1) / n) / np.array([v ** 4 for v in sd.tolist()])
    # threshold crossings per 1-s block (the last block takes the rest)
    blk = int(round(fs_hz))
    n_blk = max(1, n // blk)
    tc = np.zeros(n_w)
    cross = np.zeros(n_w, dtype=np.int64)
    if n == n_blk * blk and n_blk < 8:  # all blocks at once (a row of < 8 sums adds in order)
        seg = x.reshape(n_w, n_blk, blk)
        seg = seg - (seg.sum(axis=2) / blk)[:, :, None]
        aseg = np.abs(seg)
        m = aseg.max(axis=2)
        ok = m > 0
        thr = (0.2 * m)[:, :, None]
        tc = np.where(ok, np.count_nonzero(aseg > thr, axis=2) / blk, 0.0).sum(axis=1)
        up = seg > thr
        cross = np.where(ok, np.count_nonzero(up[:, :, 1:] & ~up[:, :, :-1], axis=2), 0).sum(axis=1)
        n_blk_loop = 0
    else:
        n_blk_loop = n_blk
    for b in range(n_blk_loop):
        seg = x[:, b * blk:(b + 1) * blk] if b < n_blk - 1 else x[:, b * blk:]
        seg = seg - (seg.sum(axis=1) / seg.shape[1])[:, None]
        aseg = np.abs(seg)
        m = aseg.max(axis=1)
        ok = m > 0
        thr = (0.2 * m)[:, None]
        above = np.count_nonzero(aseg > thr, axis=1) / seg.shape[1]
        tc = np.where(ok, tc + above, tc)
        up = seg > thr
        cross += np.where(ok, np.count_nonzero(up[:, 1:] & ~up[:, :-1], axis=1), 0)
    res[:, 2] = tc / n_blk
    res[:, 3] = cross / (n / fs_hz)
    # VF-filter leakage
    half = np.floor(np.pi * np.abs(x).sum(axis=1) / np.maximum(adx.sum(axis=1), _EPS) + 0.5)
    half = np.minimum(np.maximum(half.astype(np.int64), 1), n // 2)
    for h in np.unique(half).tolist():
        rows = np.flatnonzero(half == h)
        a, b = x[rows, h:], x[rows, :-h]
        res[rows, 5] = (np.abs(a + b).sum(axis=1)
                        / np.maximum((np.abs(a) + np.abs(b)).sum(axis=1), _EPS))
    # amplitude distribution counts (Jekova 2007)
    ax = np.abs(x)
    mabs = ax.sum(axis=1) / n
    res[:, 14] = np.count_nonzero(ax > mabs[:, None], axis=1) / n
    dev = np.abs(ax - mabs[:, None])
    md = dev.sum(axis=1) / n
    res[:, 15] = np.count_nonzero(dev < md[:, None], axis=1) / n


def _derivative(adx: np.ndarray, fs_hz: float, res: np.ndarray) -> None:
    """deriv_floor, spike_rate_bpm, spike_rr_cv (75 ms envelope of |first difference|
    ``adx``)."""
    n_w, n = adx.shape[0], adx.shape[1] + 1
    k = max(1, int(round(0.075 * fs_hz)))
    if n - 1 >= k:
        # moving mean as a difference of running sums (np.convolve's sums re-associated:
        # ~1e-13 relative on these windows)
        run = np.zeros((n_w, n))
        np.cumsum(adx, axis=1, out=run[:, 1:])
        env = (run[:, k:] - run[:, :-k]) * (1.0 / k)
        j = env.shape[1] // 10
        top = env.max(axis=1)
        floor = np.partition(env, j, axis=1)[:, j]
        res[:, 6] = np.where(top > 0, floor / np.where(top > 0, top, 1.0), 0.0)
        for r in range(n_w):
            res[r, 18], res[r, 19] = _spikes(env[r], fs_hz, k)
    else:
        res[:, 19] = 1.0


def _spectrum(x: np.ndarray, fs_hz: float, res: np.ndarray) -> None:
    """dom_freq_hz, mean_freq_hz, vf_band_share, high_share, peak_share."""
    n_w, n = x.shape
    nfft = max(_NFFT, 1 << int(np.ceil(np.log2(n))))
    spec = np.fft.rfft(x * _hann(n), nfft, axis=1)
    p = spec.real * spec.real + spec.imag * spec.imag  # |X|^2 without hypot
    f, band, low, vf_band, high = _bins(nfft, fs_hz)
    # (C-ordered copies: a row sum then adds in the order a 1-D sum does)
    p_band = np.ascontiguousarray(p[:, band])
    total = np.maximum(p_band.sum(axis=1), _EPS)
    fd = f[low][np.argmax(p[:, low], axis=1)]
    res[:, 7] = fd
    res[:, 8] = np.ascontiguousarray(f[band] * p_band).sum(axis=1) / total
    res[:, 9] = np.ascontiguousarray(p[:, vf_band]).sum(axis=1) / total
    res[:, 10] = np.ascontiguousarray(p[:, high]).sum(axis=1) / total
    # bins within 0.5 Hz of the peak: a run of f (sorted), found by bisection
    peak_lo = np.searchsorted(f, fd - 0.5, side="left").tolist()
    peak_hi = np.searchsorted(f, fd + 0.5, side="right").tolist()
    for r in range(n_w):
        res[r, 11] = p[r, peak_lo[r]:peak_hi[r]].sum() / total[r]


def _rest(x: np.ndarray, fs_hz: float, res: np.ndarray) -> None:
    """baseline_share, periodicity, lz_complexity, psr, hilb."""
    n_w, n = x.shape
    # 1, 50, 99 % percentiles as np.percentile computes them (a sort is cheaper than a
    # partition at six ranks)
    lo, med, hi = sorted_percentiles(np.sort(x, axis=1), (1.0, 50.0, 99.0))
    res[:, 4] = np.count_nonzero(np.abs(x - med[:, None])
                                 < (0.1 * np.maximum(hi - lo, _EPS))[:, None], axis=1) / n
    # phase-space measures at ~50 Hz
    ps = max(1, int(round(fs_hz / _PS_FS_HZ)))
    xs = x[:, ::ps]
    lag = int(round(_PSR_DELAY_S * fs_hz / ps))
    if xs.shape[1] > lag + 1:
        res[:, 16] = _grid_share(xs[:, lag:], xs[:, :-lag])
    res[:, 17] = _grid_share(xs, _hilbert_imag(xs))
    # autocorrelation from the power spectrum (no window): largest peak at 0.15..2 s
    n_ac = 1 << int(np.ceil(np.log2(2 * n - 1)))
    spec = np.fft.rfft(x, n_ac, axis=1)
    q = spec.real * spec.real + spec.imag * spec.imag
    ac = np.fft.irfft(q, n_ac, axis=1)[:, :n]
    l0, l1 = int(0.15 * fs_hz), min(int(2.0 * fs_hz), n - 1)
    if l1 > l0:
        res[:, 12] = ac[:, l0:l1].max(axis=1) / np.maximum(ac[:, 0], _EPS)
    # Lempel-Ziv complexity at a quarter of the rate (the band ends at 40 Hz)
    step = max(1, int(fs_hz // 90))
    bits = x[:, ::step] > med[:, None]
    for r in range(n_w):
        res[r, 13] = _lempel_ziv(bits[r])
