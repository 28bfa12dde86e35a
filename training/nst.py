"""Noise Stress Test (NST) protocol: noise added to a record at a stated SNR.

The SNR follows the MIT-BIH Noise Stress Test convention: S = (median QRS peak-to-peak
amplitude)^2 / 8 over every 10th beat (+-50 ms around it), N = the noise variance. Used by
``benchmarks/bench_noise_added.py`` (noise throughout) and by the DS1 tuning of the adaptation
defaults (:mod:`training.adapt_tuning`: noisy segments after the adaptation window).
"""
from __future__ import annotations

import logging

import numpy as np

from edge.errors import ConfigError

__all__ = ["nst_scale", "nst_noise"]

logger = logging.getLogger(__name__)


def nst_scale(x_mv: np.ndarray, beats: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """Gain that puts zero-mean ``noise`` ``snr_db`` below ``x_mv`` by the NST convention:
    S = (median QRS peak-to-peak amplitude, every 10th beat, +-50 ms)^2 / 8, N = variance.

    ``beats`` are sample indices of ``x_mv`` (360 Hz: the +-50 ms window is +-18 samples)."""
    inner = beats[(beats > 50) & (beats < x_mv.size - 50)]
    pp = np.median([np.ptp(x_mv[i - 18:i + 18]) for i in inner[::10]])
    return np.sqrt(pp ** 2 / 8.0 / 10 ** (snr_db / 10) / noise.var())


def nst_noise(x_mv: np.ndarray, beats: np.ndarray, noise_mv: np.ndarray, snr_db: float, *,
              offset: int = 0, fs_hz: float = 360.0, start_s: float = 300.0,
              segment_s: float = 120.0) -> np.ndarray:
    """``x_mv`` with ``noise_mv`` added by the Noise Stress Test protocol.

    From ``start_s`` on, ``segment_s`` noisy alternate with ``segment_s`` clean, at ``snr_db``
    (:func:`nst_scale`); the noise is read from sample ``offset`` on, wrapping around, and made
    zero-mean.

    Parameters
    ----------
    x_mv : the record's signal, mV.
    beats : its reference beat positions, samples.
    noise_mv : the noise recording (an NSTDB ``em``, ``ma`` or ``bw`` channel), mV.
    snr_db : SNR of the noisy segments, dB.
    """
    if not segment_s > 0:
        raise ConfigError("segment_s", f"must be > 0 s, got {segment_s}")
    z = np.resize(np.roll(noise_mv, -offset), x_mv.size)
    z = z - z.mean()
    scale = nst_scale(x_mv, beats, z, snr_db)
    seg, start = int(round(segment_s * fs_hz)), int(round(start_s * fs_hz))
    noisy = np.zeros(x_mv.size, dtype=bool)
    for s in range(start, x_mv.size, 2 * seg):
        noisy[s:s + seg] = True
    return np.where(noisy, x_mv + scale * z, x_mv)


if __name__ == "__main__":
    from training.tool import no_command

    no_command("training.nst",
               "it adds noise for training.dataset and benchmarks/bench_noise_added.py")
