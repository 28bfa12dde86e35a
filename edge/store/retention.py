"""How long each kind of event is kept, and the duration syntax of the store's commands
(``90s``, ``30m``, ``24h``, ``7d``, ``2w``; a bare number is seconds)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from edge.errors import ConfigError

__all__ = ["RetentionPolicy", "parse_duration_s", "parse_retention"]

#: The longest duration accepted (s): 1000 years (a window or a retention beyond it means
#: "everything", and its microseconds would overflow the store's 64-bit times).
MAX_DURATION_S = 1000 * 365.25 * 86400.0
_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration_s(text: str, field: str = "duration") -> float:
    """``"24h"`` -> 86400.0.

    Raises
    ------
    ConfigError
        Not a positive number with an optional unit s, m, h, d or w.
    """
    m = _DURATION.match(str(text))
    value = float(m.group(1)) * _UNITS_S[m.group(2) or "s"] if m else math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(field, f"expected a positive duration such as 90s, 30m, 24h, 7d; "
                                 f"got {text!r}")
    if value > MAX_DURATION_S:
        raise ConfigError(field, f"at most 1000 years ({MAX_DURATION_S / 86400:.0f}d); got "
                                 f"{text!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class RetentionPolicy:
    """Days each table keeps rows (by the event's ``time_s``); ``0`` keeps them for ever.

    Strips (the raw ECG around events, ~80 % of the bytes) are kept shortest; beats and alerts
    longest, as a Holter report needs them.

    Attributes
    ----------
    beat_days, alert_days, hr_days, strip_days, device_days : retention of ``beat``,
        ``alert``, ``hr``, ``strip`` and of ``status`` / ``link`` / ``quality`` events.
    """

    beat_days: float = 30.0
    alert_days: float = 365.0
    hr_days: float = 90.0
    strip_days: float = 7.0
    device_days: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                    math.isfinite(v) and v >= 0):
                raise ConfigError(f.name, f"must be a number of days >= 0, got {v!r}")

    def days_for(self, table: str) -> float:
        """Retention (days) of a store table (see :data:`edge.store.schema.TABLES`)."""
        return {"beats": self.beat_days, "alerts": self.alert_days, "hr": self.hr_days,
                "strips": self.strip_days, "device_events": self.device_days}[table]


_KEYS = {"beat": "beat_days", "alert": "alert_days", "hr": "hr_days", "strip": "strip_days",
         "status": "device_days", "link": "device_days", "quality": "device_days",
         "device": "device_days"}


def parse_retention(items: list[str] | None, base: RetentionPolicy | None = None
                    ) -> RetentionPolicy:
    """``["strip=2d", "beat=90d", "hr=0"]`` over ``base`` (``0``: keep for ever).

    Raises
    ------
    ConfigError
        Unknown event type or a bad duration.
    """
    values = {f.name: getattr(base or RetentionPolicy(), f.name)
              for f in fields(RetentionPolicy)}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        name = _KEYS.get(key.strip())
        if not sep or name is None:
            raise ConfigError("--retention", f"expected TYPE=DURATION with TYPE one of "
                                             f"{', '.join(_KEYS)}; got {item!r}")
        value = value.strip()
        days = 0.0 if value in ("0", "forever") else parse_duration_s(
            value, f"--retention {key}") / 86400.0
        values[name] = days
    return RetentionPolicy(**values)
