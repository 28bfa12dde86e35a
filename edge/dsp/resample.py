"""Streaming rational resampling (polyphase FIR) from a device's rate to the processing rate.

``StreamingResampler(fs_in_hz, fs_out_hz).process(chunk)`` returns every output sample whose
inputs have arrived. Output sample ``k`` is the band-limited value of the input at time
``k / fs_out_hz`` (zero group delay: the FIR's delay is compensated by a look-ahead of
``lookahead_samples`` input samples), so sample positions map exactly between the two rates:
``t = n / fs_in_hz = k / fs_out_hz``. Chunking never changes the output.
"""
from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from edge.dsp import scisig as signal
from edge.errors import ConfigError, SignalError

__all__ = ["StreamingResampler", "rate_ratio"]

logger = logging.getLogger(__name__)


def rate_ratio(fs_in_hz: float, fs_out_hz: float, max_denominator: int = 1000) -> tuple[int, int]:
    """Return (up, down) with ``fs_out / fs_in == up / down`` in lowest terms."""
    for name, value in (("fs_in_hz", fs_in_hz), ("fs_out_hz", fs_out_hz)):
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(name, f"must be a positive finite rate, got {value}")
    frac = Fraction(fs_out_hz / fs_in_hz).limit_denominator(max_denominator)
    if abs(float(frac) - fs_out_hz / fs_in_hz) > 1e-9 * fs_out_hz / fs_in_hz:
        logger.warning("resampling %.6g -> %.6g Hz approximated as %d/%d", fs_in_hz, fs_out_hz,
                       frac.numerator, frac.denominator)
    return frac.numerator, frac.denominator


class StreamingResampler:
    """Polyphase rational resampler with explicit state.

    Parameters
    ----------
    fs_in_hz, fs_out_hz : input and output sample rates in Hz.
    half_taps_per_phase : FIR half-length in input samples (quality vs. latency); the
        look-ahead is this many input samples.
    """

    def __init__(self, fs_in_hz: float, fs_out_hz: float, *, half_taps_per_phase: int = 10) -> None:
        self.fs_in_hz = float(fs_in_hz)
        self.fs_out_hz = float(fs_out_hz)
        self.up, self.down = rate_ratio(self.fs_in_hz, self.fs_out_hz)
        self.identity = self.up == 1 and self.down == 1
        if half_taps_per_phase < 2:
            raise ConfigError("half_taps_per_phase", "must be >= 2")
        max_rate = max(self.up, self.down)
        self.lookahead_samples = 0
        if self.identity:
            self.reset()
            return
        half_len = half_taps_per_phase * max_rate
        n_taps = 2 * half_len + 1
        cutoff = 1.0 / max_rate
        h = signal.firwin(n_taps, cutoff, window=("kaiser", 5.0)) * self.up
        self._delay = half_len  # in upsampled samples
        # Each output needs L = ceil(n_taps / up) input samples.
        self._n_per_phase = -(-n_taps // self.up)
        self._h = h
        self.lookahead_samples = int(np.ceil(self._delay / self.up))
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self._buf = np.zeros(0)
        self._buf_start = 0  # absolute input index of self._buf[0]
        self._n_in = 0  # input samples seen
        self._k_next = 0  # next output index to produce
        self._first: float | None = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """Feed input samples; return the output samples that became computable."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise SignalError(f"StreamingResampler expects a 1-D chunk, got shape {x.shape}")
        if self.identity:
            return x.copy()
        if x.size == 0:
            return np.zeros(0)
        if self._first is None:
            self._first = float(x[0])
            # Constant extension before the first sample avoids a start-up transient.
            pre = np.full(self._n_per_phase, self._first)
            self._buf = pre
            self._buf_start = -self._n_per_phase
        self._buf = np.concatenate([self._buf, x])
        self._n_in += x.size
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        """Emit the outputs still waiting for look-ahead, extending the last sample."""
        if self.identity or self._first is None:
            return np.zeros(0)
        tail = np.full(self.lookahead_samples + 1, self._buf[-1])
        self._buf = np.concatenate([self._buf, tail])
        n_real = self._n_in
        self._n_in += tail.size
        out = self._emit(final=True, n_real=n_real)
        return out

    def _emit(self, *, final: bool, n_real: int | None = None) -> np.ndarray:
        up, down = self.up, self.down
        last_in = self._n_in - 1
        # Output k needs input index floor((k*down + delay)/up) <= last_in.
        k_max = ((last_in + 1) * up - self._delay - 1) // down
        if final and n_real is not None:
            k_lim = -(-(n_real * up) // down) - 1  # last k with time < n_real / fs_in
            k_max = min(k_max, k_lim)
        if k_max < self._k_next:
            self._trim()
            return np.zeros(0)
        # upfirdn(h, block) gives y[j] at upsampled index j*down - shift relative to the block
        # start; pick the shift that lands output k (upsampled index k*down + delay) on the grid.
        rel = self._delay - self._buf_start * up
        shift = (-(rel + self._k_next * down)) % down
        h = self._h if shift == 0 else np.concatenate([np.zeros(shift), self._h])
        j0 = (self._k_next * down + rel + shift) // down
        n_out = int(k_max) + 1 - self._k_next
        y_all = signal.upfirdn(h, self._buf, up, down)
        y = y_all[j0:j0 + n_out]
        if y.size < n_out:  # pragma: no cover - guarded by k_max
            raise SignalError("resampler internal error: output shorter than expected")
        self._k_next = int(k_max) + 1
        self._trim()
        return y

    def _trim(self) -> None:
        # Keep inputs needed by the next output: n_next - (L - 1) onwards.
        m = self._k_next * self.down + self._delay
        n_needed = m // self.up - (self._n_per_phase - 1)
        drop = n_needed - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop
