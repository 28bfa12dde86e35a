"""Streaming IIR filters in second-order sections with explicit state.

:class:`SosFilter` wraps :func:`scipy.signal.sosfilt` and carries its state ``zi`` between calls,
so filtering a stream chunk by chunk equals filtering the whole signal in one call.
:class:`EcgFilter` is the ECG conditioning chain shared by training and the device:
baseline-wander high-pass, anti-noise low-pass and an optional mains notch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge.dsp import scisig as signal
from edge.dsp.kernels import SosStream
from edge.errors import ConfigError, SignalError

__all__ = ["FilterConfig", "SosFilter", "EcgFilter", "design_ecg_sos"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FilterConfig:
    """Settings of the ECG conditioning chain.

    Attributes
    ----------
    fs_hz : processing sample rate in Hz.
    highpass_hz : baseline-wander cut-off in Hz (Butterworth, order ``highpass_order``); None = off.
    lowpass_hz : low-pass cut-off in Hz (Butterworth, order ``lowpass_order``); None = off.
    notch_hz : mains frequency to notch (50 or 60 Hz); None = off. Skipped (with a log line)
        when it lies at or above the Nyquist frequency.
    notch_q : quality factor of the notch (centre / bandwidth).
    """

    fs_hz: float = 360.0
    highpass_hz: float | None = 0.5
    highpass_order: int = 2
    lowpass_hz: float | None = 40.0
    lowpass_order: int = 4
    notch_hz: float | None = 60.0
    notch_q: float = 30.0

    def __post_init__(self) -> None:
        if not (self.fs_hz > 0 and np.isfinite(self.fs_hz)):
            raise ConfigError("fs_hz", f"must be a positive finite rate, got {self.fs_hz}")
        nyq = self.fs_hz / 2.0
        if self.highpass_hz is not None and not 0 < self.highpass_hz < nyq:
            raise ConfigError("highpass_hz", f"must lie in (0, {nyq}) Hz, got {self.highpass_hz}")
        if self.lowpass_hz is not None and not 0 < self.lowpass_hz < nyq:
            raise ConfigError("lowpass_hz", f"must lie in (0, {nyq}) Hz, got {self.lowpass_hz}")
        if (self.highpass_hz is not None and self.lowpass_hz is not None
                and self.highpass_hz >= self.lowpass_hz):
            raise ConfigError("highpass_hz", "must be below lowpass_hz")
        if self.notch_hz is not None and self.notch_hz <= 0:
            raise ConfigError("notch_hz", f"must be positive (50 or 60), got {self.notch_hz}")
        if self.notch_q <= 0:
            raise ConfigError("notch_q", f"must be positive, got {self.notch_q}")
        for name in ("highpass_order", "lowpass_order"):
            if not 1 <= getattr(self, name) <= 8:
                raise ConfigError(name, f"must be 1..8, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return {"fs_hz": self.fs_hz, "highpass_hz": self.highpass_hz,
                "highpass_order": self.highpass_order, "lowpass_hz": self.lowpass_hz,
                "lowpass_order": self.lowpass_order, "notch_hz": self.notch_hz,
                "notch_q": self.notch_q}


def design_ecg_sos(config: FilterConfig) -> np.ndarray:
    """Second-order sections of the whole conditioning chain, shape (n_sections, 6)."""
    parts: list[np.ndarray] = []
    if config.highpass_hz is not None:
        parts.append(signal.butter(config.highpass_order, config.highpass_hz, btype="highpass",
                                   fs=config.fs_hz, output="sos"))
    if config.lowpass_hz is not None:
        parts.append(signal.butter(config.lowpass_order, config.lowpass_hz, btype="lowpass",
                                   fs=config.fs_hz, output="sos"))
    if config.notch_hz is not None:
        if config.notch_hz < config.fs_hz / 2.0:
            b, a = signal.iirnotch(config.notch_hz, config.notch_q, fs=config.fs_hz)
            parts.append(signal.tf2sos(b, a))
        else:
            logger.info("notch at %.1f Hz skipped: at or above Nyquist of %.1f Hz",
                        config.notch_hz, config.fs_hz)
    if not parts:
        return np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    return np.vstack(parts)


class SosFilter:
    """A streaming SOS filter over 1-D float signals.

    ``process(x)`` returns the filtered chunk and keeps the filter state, so any chunking
    of a stream gives the result of one call on the whole stream. The state starts at rest
    (zero), or at the steady state of the first sample when ``settle_on_first=True``
    (avoids a start-up step transient on signals with a DC offset).
    """

    def __init__(self, sos: np.ndarray, *, settle_on_first: bool = True) -> None:
        sos = np.asarray(sos, dtype=np.float64)
        if sos.ndim != 2 or sos.shape[1] != 6:
            raise ConfigError("sos", f"expected shape (n_sections, 6), got {sos.shape}")
        self.sos = sos
        self.settle_on_first = settle_on_first
        self._zi_unit = signal.sosfilt_zi(sos) if settle_on_first else None
        self._stream = SosStream(sos)  # the state, updated in place chunk by chunk
        self._started = False

    def reset(self) -> None:
        """Forget the state: the next chunk starts a new stream."""
        self._started = False

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter one chunk (1-D, any length including 0); returns float64 of the same length."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise SignalError(f"SosFilter expects a 1-D chunk, got shape {x.shape}")
        if x.size == 0:
            return x.copy()
        if not self._started:
            self._stream.set_state(self._zi_unit * x[0] if self._zi_unit is not None else None)
            self._started = True
        return self._stream(x)


class EcgFilter(SosFilter):
    """The ECG conditioning chain of :class:`FilterConfig` as one streaming stage."""

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()
        super().__init__(design_ecg_sos(self.config), settle_on_first=True)
