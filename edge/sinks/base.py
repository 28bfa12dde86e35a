"""The event-sink seam: the :class:`EventSink` protocol, the fan-out :class:`SinkSet`, and the
plumbing shared by the sinks that write lines to a text stream.

A sink receives stamped :class:`~edge.events.model.Event` objects through ``emit`` (called from
the daemon's thread only), makes them durable with ``flush``, reopens its files with ``reopen``
(log rotation) and releases everything with ``close``. Sinks raise
:class:`~edge.errors.SinkError`. The sinks themselves live one per module:
:mod:`~edge.sinks.terminal`, :mod:`~edge.sinks.jsonl`, :mod:`~edge.sinks.wfdb`,
:mod:`~edge.sinks.mqtt` (with its durable :mod:`~edge.sinks.outbox`).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from edge.errors import SinkError
from edge.events.model import Event

__all__ = ["EventSink", "SinkSet", "TextStreamSink", "AlarmBacklog"]

logger = logging.getLogger(__name__)


@runtime_checkable
class EventSink(Protocol):
    """What the daemon needs from an output."""

    name: str

    def emit(self, event: Event) -> None:
        """Take one stamped event."""
        ...

    def flush(self) -> None:
        """Make everything emitted so far durable / visible."""
        ...

    def reopen(self) -> None:
        """Reopen output files (after log rotation moved them)."""
        ...

    def close(self) -> None:
        """Flush and release; idempotent."""
        ...



@dataclass(frozen=True, kw_only=True)
class AlarmBacklog:
    """Alerts a forwarding sink holds and has not delivered yet (the MQTT sink: queued in its
    outbox, not acknowledged by the broker). A sink that forwards offers it through an
    ``alarm_backlog()`` method (not part of :class:`EventSink`).

    Attributes
    ----------
    sink : the sink's name.
    pending : alerts waiting.
    oldest_s : when the oldest was queued (Unix s); ``None`` when none waits.
    connected : the sink's link is up (alerts may still wait for their acknowledgement).
    lost : alerts the sink could not even queue since it opened (a full disk under the
        outbox): they will never be delivered.
    """

    sink: str
    pending: int
    oldest_s: float | None
    connected: bool
    lost: int = 0

    def age_s(self, now_s: float) -> float:
        """How long the oldest alert has waited at Unix time ``now_s`` (0 when none)."""
        return max(0.0, now_s - self.oldest_s) if self.oldest_s is not None else 0.0


class TextStreamSink:
    """Shared plumbing of the sinks that write lines to a text stream (``name``, ``_stream``).
    A broken pipe (the reader of stdout went away, as ``| head`` does) ends the sink: see
    :class:`SinkSet`."""

    name: str
    _stream: IO[str]
    closes_on_broken_pipe = True

    def _write(self, line: str) -> None:
        try:
            self._stream.write(line + "\n")
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot write: {exc}") from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot flush: {exc}") from exc

    def reopen(self) -> None:
        return None

    def close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass



class SinkSet:
    """Fan-out to several sinks. A sink that raises :class:`SinkError` (or ``OSError``) is
    logged and counted in :attr:`errors`; the others keep receiving events. A stream sink
    whose reader went away (a broken pipe: ``ecg-edge run --json | head -1``) is taken out,
    said once and listed in :attr:`pipes_closed`: it counted one error per event for the rest
    of the run, 4,442 on a 30-min record (session 50 audit); the daemon stops when no sink is
    left."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)
        self.name = "+".join(s.name for s in self.sinks)
        self.errors: dict[str, int] = {s.name: 0 for s in self.sinks}
        self.pipes_closed: list[str] = []

    def _call(self, sink: EventSink, method: str, *args: object) -> None:
        try:
            getattr(sink, method)(*args)
        except (SinkError, OSError) as exc:
            if (getattr(sink, "closes_on_broken_pipe", False)
                    and isinstance(exc.__cause__ if isinstance(exc, SinkError) else exc,
                                   BrokenPipeError)):
                if sink in self.sinks:
                    self.sinks.remove(sink)
                    self.pipes_closed.append(sink.name)
                    # the last sink: the run ends (``| head``), no need to say it aloud
                    logger.log(logging.WARNING if self.sinks else logging.INFO,
                               "%s: the reader of its stream went away (broken pipe): no "
                               "more events there", sink.name)
                return
            n = self.errors.get(sink.name, 0)
            self.errors[sink.name] = n + 1
            if n < 5 or n % 1000 == 0:
                logger.error("%s (%s; %d errors so far)", exc, method, n + 1)

    def emit(self, event: Event) -> None:
        for s in tuple(self.sinks):  # a sink whose pipe closed leaves the list
            self._call(s, "emit", event)

    def events_lost(self) -> dict[str, int]:
        """Events a sink counted as lost (``n_lost``: lines a file could not take), by sink;
        sinks that lost none are left out."""
        return {s.name: int(n) for s in self.sinks if (n := getattr(s, "n_lost", 0))}

    def alarm_backlogs(self) -> list[AlarmBacklog]:
        """The :class:`AlarmBacklog` of every sink that forwards alerts (has
        ``alarm_backlog()``); a sink that fails to answer is logged and left out."""
        out = []
        for s in self.sinks:
            fn = getattr(s, "alarm_backlog", None)
            if fn is None:
                continue
            try:
                out.append(fn())
            except (SinkError, OSError) as exc:
                logger.error("%s (alarm_backlog)", exc)
        return out

    def flush(self) -> None:
        for s in tuple(self.sinks):
            self._call(s, "flush")

    def reopen(self) -> None:
        for s in tuple(self.sinks):
            self._call(s, "reopen")

    def close(self) -> None:
        for s in tuple(self.sinks):
            self._call(s, "close")


