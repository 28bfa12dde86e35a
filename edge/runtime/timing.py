"""Per-stage timing counters for the daemon (``time.perf_counter`` totals and call counts),
and a bounded latency reservoir with median / p99."""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["StageTimer", "LatencyStats"]

logger = logging.getLogger(__name__)


class StageTimer:
    """Accumulates wall time (``time.perf_counter``, s) and calls per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        """Add one call of ``stage`` that took ``seconds``."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.calls[stage] = self.calls.get(stage, 0) + 1

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """``with timer.time("stage"): ...``"""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{stage: {"calls": n, "cpu_s": total}}`` (``cpu_s`` is what the caller added:
        perf_counter time for the processing stages, which do not wait; the daemon's ``read``
        adds its thread's CPU time, not the wait for data)."""
        return {k: {"calls": self.calls[k], "cpu_s": round(v, 6)}
                for k, v in self.seconds.items()}

    def total(self, exclude: tuple[str, ...] = ()) -> float:
        """Sum of the stages' seconds, without ``exclude``."""
        return sum(v for k, v in self.seconds.items() if k not in exclude)


class LatencyStats:
    """The last ``maxlen`` latencies (s) with count, median and p99."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._values: deque[float] = deque(maxlen=maxlen)
        self.count = 0

    def add(self, seconds: float) -> None:
        """Record one latency in seconds."""
        self._values.append(seconds)
        self.count += 1

    def summary_ms(self) -> dict[str, float | int | None]:
        """``{"n", "median_ms", "p99_ms", "max_ms"}`` over the kept values."""
        if not self._values:
            return {"n": 0, "median_ms": None, "p99_ms": None, "max_ms": None}
        v = np.asarray(self._values) * 1000.0
        return {"n": self.count, "median_ms": round(float(np.median(v)), 3),
                "p99_ms": round(float(np.percentile(v, 99)), 3),
                "max_ms": round(float(v.max()), 3)}
