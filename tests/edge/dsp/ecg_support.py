"""A synthetic ECG sampled at any rate, with its R peaks known exactly (in seconds): for the
tests that beat positions stay on time at odd sample rates, over long streams."""
from __future__ import annotations

import numpy as np

# (amplitude mV, centre s from the R peak, width s): P, Q, R, S, T
_WAVES = ((0.15, -0.20, 0.025), (-0.10, -0.025, 0.008), (1.20, 0.0, 0.010),
          (-0.25, 0.025, 0.010), (0.30, 0.30, 0.060))


def synthetic_ecg(fs_hz: float, duration_s: float,
                  seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(x_mv, r_peak_s): a sinus rhythm (RR 0.8 s, slowly modulated, with 20 ms jitter)
    evaluated at ``n / fs_hz``, and its R-peak times in seconds."""
    rng = np.random.default_rng(seed)
    n_beats = int(duration_s / 0.7) + 2
    rr = 0.8 + 0.08 * np.sin(np.arange(n_beats) / 15.0) + rng.uniform(-0.02, 0.02, n_beats)
    r_s = 0.5 + np.cumsum(rr)
    r_s = r_s[r_s < duration_s - 1.0]
    n = int(duration_s * fs_hz)
    x = np.zeros(n)
    half = int(0.6 * fs_hz)
    for r in r_s:
        c = int(r * fs_hz)
        idx = np.arange(max(0, c - half), min(n, c + half))
        t = idx / fs_hz - r
        x[idx] += sum(a * np.exp(-0.5 * ((t - mu) / w) ** 2) for a, mu, w in _WAVES)
    return x, r_s


def offsets_ms(detected: np.ndarray, truth_s: np.ndarray, fs_hz: float) -> np.ndarray:
    """For each true R peak, the nearest detection's offset from it, in ms."""
    det = np.sort(np.asarray(detected, dtype=np.float64)) / fs_hz
    i = np.searchsorted(det, truth_s).clip(1, det.size - 1)
    near = np.where(np.abs(det[i] - truth_s) < np.abs(det[i - 1] - truth_s), det[i], det[i - 1])
    return (near - truth_s) * 1000.0
