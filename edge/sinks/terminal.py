"""Human-readable terminal output: one line per beat, rate, alert, quality change, link change
and status event (ANSI colour optional)."""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from typing import IO

from edge.errors import ConfigError
from edge.events.model import (
    AlertEvent,
    BeatEvent,
    Event,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    StatusEvent,
)
from edge.sinks.base import TextStreamSink

__all__ = ["TerminalSinkSettings", "TerminalSink"]

logger = logging.getLogger(__name__)

COLOR_MODES = ("auto", "always", "never")


@dataclass(frozen=True, kw_only=True)
class TerminalSinkSettings:
    """The ``[sinks.terminal]`` table.

    Attributes
    ----------
    enabled : print events on stdout.
    color : "auto" (when stdout is a tty), "always" or "never".
    beats : one line per beat (else only rate, alerts, quality, link and status).
    """

    enabled: bool = True
    color: str = "auto"
    beats: bool = True

    def __post_init__(self) -> None:
        if self.color not in COLOR_MODES:
            raise ConfigError("color", f"must be auto, always or never, got {self.color!r}")


def _clock(t_s: float) -> str:
    """Stream time as H:MM:SS.s."""
    tenths = int(max(0.0, t_s) * 10)
    h, rem = divmod(tenths, 36000)
    m, rem = divmod(rem, 600)
    return f"{h}:{m:02d}:{rem // 10:02d}.{rem % 10}"


def _detail_item(key: str, value: object, fs_hz: float) -> str:
    """An alert's detail as ``key=value``; a sample index (``*_index``) as its stream time."""
    if key.endswith("_index") and type(value) is int and fs_hz > 0:
        return f"{key[:-len('_index')]}={_clock(value / fs_hz)}"
    return f"{key}={value}"


#: A lossy link prints at most one filled-gap line per device this often (stream seconds).
GAP_LINE_EVERY_S = 10.0

_COLORS = {"N": "", "S": "\033[33m", "V": "\033[31m", "F": "\033[35m", "Q": "\033[90m"}
_RESET = "\033[0m"
_BOLD_RED = "\033[1;31m"


class TerminalSink(TextStreamSink):
    """Human-readable lines on a text stream.

    Parameters
    ----------
    stream : where to write (default ``sys.stdout``).
    color : "auto" (when ``stream`` is a tty), "always" or "never".
    beats : one line per beat (otherwise only rate, alerts, quality, link and status).
    """

    def __init__(self, stream: IO[str] | None = None, *, color: str = "auto",
                 beats: bool = True) -> None:
        self.name = "terminal"
        self._stream = stream if stream is not None else sys.stdout
        isatty = getattr(self._stream, "isatty", lambda: False)()
        self.color = color == "always" or (color == "auto" and isatty)
        self.beats = beats
        self._last_hr: dict[int, float | None] = {}
        self._last_beat: dict[int, int] = {}  # device -> the previous beat's sample index
        # device -> [stream time of the last gap line, filled gaps and seconds since]
        self._gaps: dict[int, list[float]] = {}

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and code else text

    def _filled_gap(self, dev: str, event: LinkStatusEvent) -> str | None:
        """A filled gap's line, at most one per device every ``GAP_LINE_EVERY_S`` of stream
        time on a lossy link (it counts the gaps since the last line)."""
        if event.sample_index is None or not event.fs_hz:  # no stream time: every line
            return (f"{dev} link gap: {event.lost_samples} samples lost "
                    f"({event.gap_s:.2f} s), filled")
        t = event.sample_index / event.fs_hz
        last = self._gaps.get(event.device_id)
        if last is not None and 0.0 <= t - last[0] < GAP_LINE_EVERY_S:
            last[1] += 1
            last[2] += event.gap_s
            return None
        n, lost_s = (last[1], last[2]) if last is not None else (0, 0.0)
        self._gaps[event.device_id] = [t, 0, 0.0]
        more = (f"; {int(n)} more filled since the last line ({lost_s:.2f} s)" if n else "")
        return (f"{_clock(t)} {dev} link gap: {event.lost_samples} samples lost "
                f"({event.gap_s:.2f} s), filled{more}")

    def format(self, event: Event) -> str | None:
        """The line for ``event`` (None: not shown)."""
        dev = f"dev{event.device_id}"
        if isinstance(event, BeatEvent):
            if not self.beats:
                return None
            # the time since the device's previous beat as it happened (the event's RR
            # features are the model's: clipped to 3 s, a gap's interval replaced)
            prev = self._last_beat.get(event.device_id)
            self._last_beat[event.device_id] = event.sample_index
            if prev is None:  # the device's first beat: no interval before it
                rr = None
            else:
                rr = ((event.sample_index - prev) / event.fs_hz if event.sample_index > prev
                      else event.rr_s.get("pre"))
            hr = self._last_hr.get(event.device_id)
            p = event.proba.get(event.label, float("nan"))
            p_text = "--" if math.isnan(p) else f"{p:.2f}"  # a Q beat is not classified
            flag = "" if event.quality == "good" else f"  [{event.quality}]"
            return (f"{_clock(event.t_stream_s)} {dev} beat "
                    f"{self._c(_COLORS.get(event.label, ''), event.label)}  "
                    f"p={p_text}  RR {'--' if rr is None else f'{rr:.2f}'} s"
                    f"{'' if hr is None else f'  HR {hr:.0f}'}{flag}")
        if isinstance(event, HeartRateEvent):
            self._last_hr[event.device_id] = event.hr_bpm
            hr = "--" if event.hr_bpm is None else f"{event.hr_bpm:.0f}"
            return f"{_clock(event.t_stream_s)} {dev} HR {hr} bpm ({event.n_beats} beats)"
        if isinstance(event, AlertEvent):
            if event.kind == "asystole":  # the beat lines' HR: 0 while it lasts, then unknown
                self._last_hr[event.device_id] = 0.0 if event.state == "onset" else None
            det = " ".join(_detail_item(k, v, event.fs_hz) for k, v in event.detail.items())
            text = f"ALERT {event.kind} {event.state} ({event.severity}) {det}".rstrip()
            return f"{_clock(event.t_stream_s)} {dev} " + self._c(_BOLD_RED, text)
        if isinstance(event, QualityEvent):
            return (f"{_clock(event.sample_index / event.fs_hz)} {dev} signal quality "
                    f"{event.quality} (was {event.previous})")
        if isinstance(event, LinkStatusEvent):
            if event.state == "gap" and event.action == "filled":
                return self._filled_gap(dev, event)
            if event.state == "gap":
                return (f"{dev} link gap: {event.lost_samples} samples lost "
                        f"({event.gap_s:.2f} s), {event.action}")
            if event.state == "alarms_delayed":
                return f"{dev} " + self._c(_BOLD_RED, f"LINK alarms_delayed {event.detail}")
            return f"{dev} link {event.state} {event.detail}".rstrip()
        if isinstance(event, StatusEvent):
            c = event.counters
            dropped = c.get("alerts_chained_dropped") or {}
            under = ("; not raised under vfib: " + ", ".join(
                f"{k} {n}" for k, n in sorted(dropped.items()))) if dropped else ""
            return (f"status {event.state}: uptime {event.uptime_s:.1f} s, "
                    f"{c.get('beats', 0)} beats, {c.get('samples', 0)} samples, "
                    f"{c.get('gaps', 0)} gaps{under}")
        return None

    def emit(self, event: Event) -> None:
        if isinstance(event, StatusEvent) and event.state == "stopped":
            self._write_pending_gaps()  # before the summary, which counts them
        line = self.format(event)
        if line is not None:
            self._write(line)

    def _write_pending_gaps(self) -> None:
        """The filled gaps counted since each device's last gap line, in one line each (at
        the end of a run; they were left out of the terminal)."""
        for device, (_, n, lost_s) in sorted(self._gaps.items()):
            if n:
                self._write(f"dev{device} link gap: {int(n)} more filled since the last line "
                            f"({lost_s:.2f} s)")
        self._gaps.clear()

    def close(self) -> None:
        self._write_pending_gaps()
        super().close()

