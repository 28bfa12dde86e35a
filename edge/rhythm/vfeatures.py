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

Every feature depends only on the window's samples (no state), so a streaming caller gets the
same numbers however it chunks the stream. The spectrum is computed at the processing rate
(360 Hz) over a Hann-windowed, zero-padded 4096-point FFT.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.errors import SignalError

__all__ = ["VF_FEATURE_NAMES", "vf_window_features", "MIN_WINDOW_S"]

logger = logging.getLogger(__name__)

VF_FEATURE_NAMES = ("std_mv", "kurtosis", "tcsc", "crossings_per_s", "baseline_share",
                    "vf_leakage", "deriv_floor", "dom_freq_hz", "mean_freq_hz",
                    "vf_band_share", "high_share", "peak_share", "periodicity",
                    "lz_complexity")

#: Shortest window the features are defined on (s).
MIN_WINDOW_S = 2.0

_NFFT = 4096
_EPS = 1e-12


def _lempel_ziv(bits: np.ndarray) -> float:
    """Lempel-Ziv (1976) complexity of a 0/1 sequence, normalised by n / log2(n)."""
    s = bits.astype(np.uint8).tobytes()
    n = len(s)
    if n < 2:
        return 0.0
    c, i = 1, 1
    while i < n:
        k = 1
        # grow the new phrase while it already occurs in the text before its end
        while i + k <= n and s.find(s[i:i + k], 0, i + k - 1) >= 0:
            k += 1
        c += 1
        i += k
    return float(c * np.log2(n) / n)


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
    if not np.all(np.isfinite(x)):
        raise SignalError("a VF window must hold finite samples only")
    x = x - x.mean()
    n = x.size
    sd = float(x.std())
    out = np.zeros(len(VF_FEATURE_NAMES))
    out[0] = sd
    if sd < 1e-6:  # flat: every other feature at its "no rhythm" value
        out[1] = 3.0
        out[4] = 1.0
        out[5] = 1.0
        return out
    out[1] = float(np.mean(x ** 4) / sd ** 4)
    # threshold crossings per 1-s block
    blk = int(round(fs_hz))
    n_blk = max(1, n // blk)
    tc, cross = 0.0, 0
    for b in range(n_blk):
        seg = x[b * blk:(b + 1) * blk] if b < n_blk - 1 else x[b * blk:]
        seg = seg - seg.mean()
        m = np.abs(seg).max()
        if m <= 0:
            continue
        above = np.abs(seg) > 0.2 * m
        tc += above.mean()
        up = seg > 0.2 * m
        cross += int(np.count_nonzero(up[1:] & ~up[:-1]))
    out[2] = tc / n_blk
    out[3] = cross / (n / fs_hz)
    lo, med, hi = np.percentile(x, [1.0, 50.0, 99.0])
    out[4] = float(np.mean(np.abs(x - med) < 0.1 * max(hi - lo, _EPS)))
    # VF-filter leakage
    dx = np.diff(x)
    half = int(np.floor(np.pi * np.abs(x).sum() / max(np.abs(dx).sum(), _EPS) + 0.5))
    half = min(max(half, 1), n // 2)
    a, b = x[half:], x[:-half]
    out[5] = float(np.abs(a + b).sum() / max((np.abs(a) + np.abs(b)).sum(), _EPS))
    # derivative floor (75 ms |derivative| envelope)
    k = max(1, int(round(0.075 * fs_hz)))
    env = np.convolve(np.abs(dx), np.full(k, 1.0 / k), mode="valid")
    if env.size and env.max() > 0:
        out[6] = float(np.partition(env, env.size // 10)[env.size // 10] / env.max())
    # spectrum
    nfft = max(_NFFT, 1 << int(np.ceil(np.log2(n))))
    p = np.abs(np.fft.rfft(x * np.hanning(n), nfft)) ** 2
    f = np.fft.rfftfreq(nfft, 1.0 / fs_hz)
    band = (f >= 0.5) & (f <= 40.0)
    total = max(float(p[band].sum()), _EPS)
    low = (f >= 0.5) & (f <= 12.0)
    fd = float(f[low][np.argmax(p[low])])
    out[7] = fd
    out[8] = float((f[band] * p[band]).sum() / total)
    out[9] = float(p[(f >= 2.5) & (f <= 7.5)].sum() / total)
    out[10] = float(p[(f > 12.0) & (f <= 40.0)].sum() / total)
    out[11] = float(p[(f >= fd - 0.5) & (f <= fd + 0.5)].sum() / total)
    # autocorrelation from the power spectrum (no window): largest peak at 0.15..2 s
    q = np.abs(np.fft.rfft(x, 2 * nfft)) ** 2
    ac = np.fft.irfft(q)[:n]
    ac = ac / max(ac[0], _EPS)
    l0, l1 = int(0.15 * fs_hz), min(int(2.0 * fs_hz), n - 1)
    out[12] = float(ac[l0:l1].max()) if l1 > l0 else 0.0
    # Lempel-Ziv complexity at a quarter of the rate (the band ends at 40 Hz)
    step = max(1, int(fs_hz // 90))
    out[13] = _lempel_ziv(x[::step] > med)
    return out
