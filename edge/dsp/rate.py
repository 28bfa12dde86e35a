"""Rolling heart rate from beat-to-beat (RR) intervals.

:class:`RollingRate` keeps the RR intervals of the last ``window_s`` seconds of stream time and
reports their mean rate. Intervals that are not trustworthy -- they span a link gap or bad
signal, or are outside ``min_rr_s``..``max_rr_s`` -- are left out; a rate needs at least
``min_beats`` intervals.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

from edge.errors import ConfigError

__all__ = ["RateConfig", "RollingRate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RateConfig:
    """Settings of :class:`RollingRate`.

    Attributes
    ----------
    window_s : averaging window in stream time (s).
    min_beats : fewest intervals for a rate.
    min_rr_s, max_rr_s : plausible RR interval range (s); others are ignored.
    """

    window_s: float = 10.0
    min_beats: int = 4
    min_rr_s: float = 0.2
    max_rr_s: float = 3.0

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ConfigError("window_s", f"must be > 0 s, got {self.window_s}")
        if self.min_beats < 1:
            raise ConfigError("min_beats", f"must be >= 1, got {self.min_beats}")
        if not 0 < self.min_rr_s < self.max_rr_s:
            raise ConfigError("min_rr_s", "need 0 < min_rr_s < max_rr_s")


class RollingRate:
    """Mean heart rate over a sliding window of stream time (explicit state: the intervals)."""

    def __init__(self, config: RateConfig | None = None) -> None:
        self.config = config or RateConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every interval."""
        self._rr: deque[tuple[float, float]] = deque()  # (beat time s, rr s)
        self._sum = 0.0

    def process(self, t_s: float, rr_s: float, clean: bool = True) -> float | None:
        """Add the beat at stream time ``t_s`` (s) whose preceding interval is ``rr_s`` (s);
        returns the rate (bpm) or None when too few intervals are in the window."""
        cfg = self.config
        if clean and math.isfinite(rr_s) and cfg.min_rr_s <= rr_s <= cfg.max_rr_s:
            self._rr.append((t_s, rr_s))
            self._sum += rr_s
        while self._rr and self._rr[0][0] < t_s - cfg.window_s:
            self._sum -= self._rr.popleft()[1]
        return self.rate_bpm

    @property
    def n_beats(self) -> int:
        """Intervals in the window."""
        return len(self._rr)

    @property
    def rate_bpm(self) -> float | None:
        """Current mean rate in beats per minute, or None."""
        n = len(self._rr)
        if n < self.config.min_beats or self._sum <= 0:
            return None
        return 60.0 * n / self._sum
