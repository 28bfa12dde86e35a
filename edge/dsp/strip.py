"""Live-display ECG strip: the conditioned signal, decimated and cut into fixed-length pieces.

:class:`StripDecimator` takes the conditioned ECG at the processing rate (already low-passed
by the pipeline's conditioning filter, so plain decimation does not alias when
``strip_fs_hz`` >= 2 x the low-pass cut-off) with its validity mask, keeps every
``factor``-th sample (phase kept across chunks: explicit state) and releases a piece every
``interval_s``. Invalid samples become ``None``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge.errors import ConfigError

__all__ = ["StripConfig", "StripPiece", "StripDecimator"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class StripConfig:
    """Settings of :class:`StripDecimator`.

    Attributes
    ----------
    fs_in_hz : rate of the conditioned signal fed in (Hz; the processing rate).
    strip_fs_hz : target rate (Hz); the factor is ``round(fs_in_hz / strip_fs_hz)``.
    interval_s : length of each released piece (s).
    decimals : rounding of the values (mV).
    """

    fs_in_hz: float
    strip_fs_hz: float = 90.0
    interval_s: float = 1.0
    decimals: int = 3

    def __post_init__(self) -> None:
        if not self.fs_in_hz > 0:
            raise ConfigError("fs_in_hz", f"must be > 0 Hz, got {self.fs_in_hz}")
        if not 0 < self.strip_fs_hz <= self.fs_in_hz:
            raise ConfigError("strip_fs_hz", f"must lie in (0, fs_in_hz={self.fs_in_hz}] Hz, "
                                             f"got {self.strip_fs_hz}")
        if not self.interval_s > 0:
            raise ConfigError("interval_s", f"must be > 0 s, got {self.interval_s}")
        if not 0 <= self.decimals <= 6:
            raise ConfigError("decimals", "must be 0..6")


@dataclass(frozen=True)
class StripPiece:
    """``processing_index``: processing-rate index of ``samples_mv[0]``; ``strip_fs_hz``: its
    rate; ``samples_mv``: values in mV (None = invalid)."""

    processing_index: int
    strip_fs_hz: float
    samples_mv: list


class StripDecimator:
    """Streaming decimator for the live strip (see the module docstring)."""

    def __init__(self, config: StripConfig) -> None:
        self.config = config
        self.factor = max(1, int(round(config.fs_in_hz / config.strip_fs_hz)))
        self.strip_fs_hz = config.fs_in_hz / self.factor
        self.n_piece = max(1, int(round(config.interval_s * self.strip_fs_hz)))
        self.reset()

    def reset(self, first_index: int = 0) -> None:
        """Forget the stream; the next sample fed has processing index ``first_index``."""
        self._next = int(first_index)  # processing index of the next sample to keep
        self._start: int | None = None
        self._buf: list[float | None] = []

    @property
    def next_piece_samples(self) -> int:
        """The fewest conditioned samples (processing index after the last one fed) at which
        the next piece is complete."""
        return self._next + (self.n_piece - len(self._buf) - 1) * self.factor + 1

    def process(self, start_index: int, filtered_mv: np.ndarray,
                valid: np.ndarray) -> list[StripPiece]:
        """Feed conditioned samples starting at processing index ``start_index``; returns the
        pieces completed."""
        n = filtered_mv.size
        if n == 0:
            return []
        first = max(0, self._next - start_index)
        if first >= n:
            return []
        step = self.factor
        vals = filtered_mv[first::step].round(self.config.decimals)  # np.round's arithmetic
        self._next = start_index + first + (vals.size - 1) * step + step
        ok = valid[first::step]
        if ok.all() and np.isfinite(vals).all():
            kept = vals.tolist()
        else:
            ok = ok & np.isfinite(vals)
            kept = [float(v) if k else None for v, k in zip(vals.tolist(), ok.tolist())]
        out: list[StripPiece] = []
        pos = 0
        while pos < len(kept):
            if self._start is None:
                self._start = start_index + first + pos * step
            take = min(self.n_piece - len(self._buf), len(kept) - pos)
            self._buf.extend(kept[pos:pos + take])
            pos += take
            if len(self._buf) == self.n_piece:
                out.append(StripPiece(self._start, self.strip_fs_hz, self._buf))
                self._buf = []
                self._start = None
        return out
