"""Streaming resampling from a device's rate to the processing rate.

``StreamingResampler(fs_in_hz, fs_out_hz).process(chunk)`` returns every output sample whose
inputs have arrived. Output sample ``k`` is the band-limited value of the input at time
``k / fs_out_hz`` (zero group delay: the FIR's delay is compensated by a look-ahead of
``lookahead_samples`` input samples), so sample positions map exactly between the two rates:
``t = n / fs_in_hz = k / fs_out_hz`` (:func:`edge.dsp.detection.to_input_index` and
:func:`~edge.dsp.detection.to_processing_index` rely on it). Chunking never changes the output.

Two kernels, one contract:

* the ratio ``fs_out / fs_in`` is a fraction ``up / down`` with ``down <= 1000``
  (:func:`exact_ratio`; every standard rate: 128, 250, 256, 300, 360, 500, 1000 Hz): a
  polyphase FIR (``upfirdn``);
* any other rate (a calibrated clock such as 359.7 Hz, 128.01 Hz, 499.9 Hz): a band-limited
  interpolator evaluated at the exact input time ``k * fs_in_hz / fs_out_hz`` of each output
  (the same Kaiser-windowed sinc, tabulated at :data:`_PHASES` fractional delays per input
  sample and interpolated linearly between them). Rounding the ratio instead (e.g. to
  1001/1000 for 359.7 Hz) made the output run at ``fs_in * up / down``, not ``fs_out_hz``,
  while every position was mapped back with the exact ratio: beats drifted by 1.7e-4 of
  their time (267 ms after 30 min, ~14 s per day; audit, session 50), and 359.9 Hz, taken
  for 1/1, by 2.8e-4.
"""
from __future__ import annotations

import logging
import math
from fractions import Fraction

import numpy as np

from edge.dsp import scisig as signal
from edge.errors import ConfigError, SignalError

__all__ = ["StreamingResampler", "exact_ratio", "rate_ratio"]

logger = logging.getLogger(__name__)

#: Fractional delays per input sample at which the interpolator's kernel is tabulated (its
#: coefficients are interpolated linearly between them: relative error ~1e-5).
_PHASES = 512
#: Largest denominator of a ratio the polyphase kernel takes.
_MAX_DENOMINATOR = 1000
#: A fraction within this relative distance of the ratio is exact (drift below 1 sample in
#: 10**9 samples, a month at 360 Hz).
_EXACT_RTOL = 1e-9
#: Outputs computed at once by the interpolator (bounds its scratch memory).
_BLOCK_VALUES = 1 << 20


def _closest_ratio(fs_in_hz: float, fs_out_hz: float,
                   max_denominator: int) -> tuple[int, int, bool]:
    """(up, down, exact): the fraction with ``down <= max_denominator`` closest to
    ``fs_out / fs_in``, and whether it equals it (within a relative 1e-9)."""
    for name, value in (("fs_in_hz", fs_in_hz), ("fs_out_hz", fs_out_hz)):
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(name, f"must be a positive finite rate, got {value}")
    ratio = fs_out_hz / fs_in_hz
    frac = Fraction(ratio).limit_denominator(max_denominator)
    exact = abs(float(frac) - ratio) <= _EXACT_RTOL * ratio
    return frac.numerator, frac.denominator, exact


def rate_ratio(fs_in_hz: float, fs_out_hz: float,
               max_denominator: int = _MAX_DENOMINATOR) -> tuple[int, int]:
    """Return (up, down) with ``fs_out / fs_in == up / down`` in lowest terms, or the closest
    such fraction with ``down <= max_denominator`` (with a WARNING: resampling at it runs the
    output at ``fs_in * up / down``, not ``fs_out``). :class:`StreamingResampler` never
    rounds: see :func:`exact_ratio`."""
    up, down, exact = _closest_ratio(fs_in_hz, fs_out_hz, max_denominator)
    if not exact:
        logger.warning("resampling %.6g -> %.6g Hz approximated as %d/%d", fs_in_hz, fs_out_hz,
                       up, down)
    return up, down


def exact_ratio(fs_in_hz: float, fs_out_hz: float) -> tuple[int, int] | None:
    """(up, down) when ``fs_out / fs_in`` is a fraction with ``down <= 1000`` (within a
    relative 1e-9): the polyphase kernel's ratio; None otherwise (the interpolator runs)."""
    up, down, exact = _closest_ratio(fs_in_hz, fs_out_hz, _MAX_DENOMINATOR)
    return (up, down) if exact else None


class StreamingResampler:
    """Streaming resampler with explicit state: polyphase when the ratio is a fraction with a
    small denominator, else an interpolator at the exact ratio (see the module docstring).

    Parameters
    ----------
    fs_in_hz, fs_out_hz : input and output sample rates in Hz.
    half_taps_per_phase : FIR half-length in input samples (quality vs. latency; times
        ``fs_in / fs_out`` when downsampling); the look-ahead is this many input samples.

    Attributes
    ----------
    up, down : the polyphase ratio ``fs_out / fs_in = up / down``; both None when the
        interpolator runs (:attr:`exact` False).
    exact : the polyphase kernel runs (the ratio is a fraction with ``down <= 1000``).
    identity : the rates are equal (the samples pass through).
    lookahead_samples : input samples needed beyond an output's time before it is emitted.
    """

    def __init__(self, fs_in_hz: float, fs_out_hz: float, *, half_taps_per_phase: int = 10) -> None:
        self.fs_in_hz = float(fs_in_hz)
        self.fs_out_hz = float(fs_out_hz)
        ratio = exact_ratio(self.fs_in_hz, self.fs_out_hz)
        self.exact = ratio is not None
        self.up, self.down = ratio if ratio is not None else (None, None)
        self.identity = ratio == (1, 1)
        if half_taps_per_phase < 2:
            raise ConfigError("half_taps_per_phase", "must be >= 2")
        self.lookahead_samples = 0
        if self.identity:
            self.reset()
            return
        if ratio is None:
            self._init_interpolator(half_taps_per_phase)
            self.reset()
            return
        max_rate = max(self.up, self.down)
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

    def _init_interpolator(self, half_taps_per_phase: int) -> None:
        """The interpolator's kernel: the polyphase kernel's Kaiser-windowed sinc (cut off at
        the lower Nyquist frequency) as a function of the delay in input samples, tabulated
        at ``_PHASES + 1`` fractional delays, each row normalised to a DC gain of 1."""
        logger.info("resampling %.9g -> %.9g Hz by interpolation at the exact ratio (no "
                    "fraction with a denominator up to %d)", self.fs_in_hz, self.fs_out_hz,
                    _MAX_DENOMINATOR)
        self._step = self.fs_in_hz / self.fs_out_hz  # input samples per output sample
        rho = min(1.0, 1.0 / self._step)  # cutoff / input Nyquist
        half_width = half_taps_per_phase / rho  # input samples
        n_half = int(math.ceil(half_width))
        # Output at input time n0 + f (0 <= f < 1) weighs x[n0 - n_half + 1 ... n0 + n_half].
        tap = np.arange(-n_half + 1, n_half + 1)
        delay = np.arange(_PHASES + 1)[:, None] / _PHASES - tap[None, :]  # (phases, taps)
        window = np.i0(5.0 * np.sqrt(np.clip(1.0 - (delay / half_width) ** 2, 0.0, None)))
        kernel = np.where(np.abs(delay) <= half_width, np.sinc(rho * delay) * window, 0.0)
        kernel /= kernel.sum(axis=1, keepdims=True)
        self._table = kernel
        self._table_step = np.diff(kernel, axis=0)  # row p+1 - row p
        self._n_half = n_half
        self._n_per_phase = n_half  # constant extension before the first sample
        self.lookahead_samples = n_half

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
        if not self.exact:
            return self._emit_interpolated(n_real if final else None)
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

    def _time_floor(self, k: int) -> int:
        """floor of output ``k``'s input time ``k * fs_in / fs_out`` (the interpolator's
        arithmetic: float64, as :meth:`_emit_interpolated` computes it for an array)."""
        return math.floor(k * self._step)

    def _last_ready(self, last_in: int) -> int:
        """The last output whose taps end at or before input ``last_in``."""
        k = int((last_in - self._n_half + 1) / self._step)
        while k >= 0 and self._time_floor(k) + self._n_half > last_in:
            k -= 1
        while self._time_floor(k + 1) + self._n_half <= last_in:
            k += 1
        return k

    def _last_before(self, n: int) -> int:
        """The last output whose time is before input ``n`` (``k * fs_in / fs_out < n``)."""
        k = int(n / self._step)
        while k >= 0 and k * self._step >= n:
            k -= 1
        while (k + 1) * self._step < n:
            k += 1
        return k

    def _emit_interpolated(self, n_real: int | None) -> np.ndarray:
        k_max = self._last_ready(self._n_in - 1)
        if n_real is not None:
            k_max = min(k_max, self._last_before(n_real))
        if k_max < self._k_next:
            self._trim()
            return np.zeros(0)
        n_taps = 2 * self._n_half
        frames = np.lib.stride_tricks.sliding_window_view(self._buf, n_taps)
        block = max(1, _BLOCK_VALUES // n_taps)
        out = []
        for k0 in range(self._k_next, k_max + 1, block):
            t = np.arange(k0, min(k0 + block, k_max + 1), dtype=np.int64) * self._step
            n0 = np.floor(t)
            phase = (t - n0) * _PHASES
            row = np.minimum(phase.astype(np.int64), _PHASES - 1)
            frac = (phase - row)[:, None]
            coef = self._table[row] + frac * self._table_step[row]
            x = frames[n0.astype(np.int64) - (self._n_half - 1) - self._buf_start]
            out.append(np.einsum("ij,ij->i", x, coef))
        self._k_next = k_max + 1
        self._trim()
        return np.concatenate(out)

    def _trim(self) -> None:
        if not self.exact:  # keep the first tap of the next output onwards
            drop = self._time_floor(self._k_next) - (self._n_half - 1) - self._buf_start
            if drop > 0:
                self._buf = self._buf[drop:]
                self._buf_start += drop
            return
        # Keep inputs needed by the next output: n_next - (L - 1) onwards.
        m = self._k_next * self.down + self._delay
        n_needed = m // self.up - (self._n_per_phase - 1)
        drop = n_needed - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop
