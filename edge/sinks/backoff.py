"""Reconnect backoff: bounded exponential delays with jitter, and a lower ceiling while an
alarm waits.

After the ``n``-th failed attempt in a row (``n >= 1``; a lost connection counts as one) the
next attempt waits::

    base = min(ceiling, min_delay_s * 2 ** (n - 1))
    delay = base * (1 - jitter * u)          # u uniform in [0, 1), drawn once per attempt

where ``ceiling`` is ``max_delay_s``, or ``alarm_max_delay_s`` while an alarm is queued. The
first attempt of all (at start-up) does not wait. Jitter spreads a fleet's reconnections
after a broker restart; the alarm ceiling bounds how long a queued alarm can wait once the
broker is back (plus the connect time itself).

:class:`Backoff` is pure: the caller (the MQTT sink's pre-connect hook) keeps the attempt
count and the random draw, and asks :meth:`Backoff.delay_s` again when the urgency changes
during a wait.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from edge.errors import ConfigError

__all__ = ["Backoff"]

logger = logging.getLogger(__name__)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Reconnect delays (s).

    Attributes
    ----------
    min_delay_s : delay after the first failure (> 0).
    max_delay_s : ceiling while no alarm is queued (>= ``min_delay_s``).
    alarm_max_delay_s : ceiling while an alarm is queued (``min_delay_s`` .. ``max_delay_s``).
    jitter : share of the delay that is random (0 = none, 1 = anywhere in ``[0, base]``).
    """

    min_delay_s: float = 0.5
    max_delay_s: float = 10.0
    alarm_max_delay_s: float = 1.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not _number(self.min_delay_s) or not 0 < self.min_delay_s <= 3600:
            raise ConfigError("min_delay_s", f"must lie in (0, 3600] s, got {self.min_delay_s!r}")
        if not _number(self.max_delay_s) or not self.min_delay_s <= self.max_delay_s <= 3600:
            raise ConfigError("max_delay_s", f"must lie in [min_delay_s, 3600] s, "
                                             f"got {self.max_delay_s!r}")
        if not _number(self.alarm_max_delay_s) \
                or not self.min_delay_s <= self.alarm_max_delay_s <= self.max_delay_s:
            raise ConfigError("alarm_max_delay_s", f"must lie in [min_delay_s, max_delay_s], "
                                                   f"got {self.alarm_max_delay_s!r}")
        if not _number(self.jitter) or not 0 <= self.jitter <= 1:
            raise ConfigError("jitter", f"must lie in [0, 1], got {self.jitter!r}")

    def delay_s(self, failures: int, *, urgent: bool, u: float) -> float:
        """Wait before the next attempt after ``failures`` failed attempts in a row.

        Parameters
        ----------
        failures : failed attempts (or lost connections) since the last success; 0 = the
            first attempt (no wait).
        urgent : an alarm is queued (the ceiling is ``alarm_max_delay_s``).
        u : the attempt's random draw in [0, 1).
        """
        if failures <= 0:
            return 0.0
        ceiling = self.alarm_max_delay_s if urgent else self.max_delay_s
        base = min(ceiling, self.min_delay_s * 2.0 ** min(failures - 1, 60))
        return base * (1.0 - self.jitter * u)
