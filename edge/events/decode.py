"""Strict decoding of a JSON event (an MQTT payload, a JSON line) back into an
:class:`~edge.events.model.Event`: the inverse of :func:`~edge.events.model.event_to_json`.

Consumers of the fleet's topics use :func:`parse_event` to reject anything that is not an
event of schema :data:`~edge.events.model.SCHEMA_VERSION`: every field of the event's dataclass is
type-checked, unknown fields are refused, enumerations (beat class, quality level, alert
kind) are checked. Envelope keys added on the way are accepted and dropped: ``schema``,
``t_stream_s`` (derived) and ``boot`` (the MQTT sink's run number). Non-finite floats were
written as ``null``; they decode as ``nan`` inside probability / metric maps and strips.

Every failure is an :class:`~edge.errors.EventDecodeError` whose ``field`` names the
offending key; nothing else is raised, whatever the input (a property test fuzzes it).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any

from edge.aami import AAMI_CLASSES
from edge.errors import EventDecodeError
from edge.events.model import (
    ALERT_KINDS,
    QUALITY_LEVELS,
    SCHEMA_VERSION,
    AlertEvent,
    BeatEvent,
    Event,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    StatusEvent,
    StripEvent,
)

__all__ = ["parse_event", "event_from_dict", "EVENT_CLASSES", "ENVELOPE_KEYS"]

logger = logging.getLogger(__name__)

#: ``type`` -> event class.
EVENT_CLASSES: dict[str, type[Event]] = {c.type: c for c in (
    BeatEvent, HeartRateEvent, AlertEvent, QualityEvent, LinkStatusEvent, StripEvent,
    StatusEvent)}

#: Keys that may accompany an event without being one of its fields.
ENVELOPE_KEYS = frozenset({"type", "schema", "t_stream_s", "boot"})

_BEAT_CLASSES = AAMI_CLASSES


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num_or_nan(name: str, v: Any) -> float:
    if v is None:
        return math.nan
    if not _is_num(v):
        raise EventDecodeError(name, f"must be a number or null, got {type(v).__name__}")
    return float(v)


def _check(name: str, annotation: str, v: Any) -> Any:
    """Check ``v`` against the dataclass annotation (a string: postponed annotations)."""
    ann = annotation.replace(" ", "")
    if ann.endswith("|None"):
        if v is None:
            return None
        ann = ann[:-len("|None")]
    if ann == "int":
        if not _is_int(v):
            raise EventDecodeError(name, f"must be an integer, got {type(v).__name__}")
        return v
    if ann == "float":
        if not _is_num(v) or not math.isfinite(v):
            raise EventDecodeError(name, "must be a finite number")
        return float(v)
    if ann == "str":
        if not isinstance(v, str):
            raise EventDecodeError(name, f"must be a string, got {type(v).__name__}")
        return v
    if ann.startswith("dict["):
        if not isinstance(v, dict):
            raise EventDecodeError(name, f"must be an object, got {type(v).__name__}")
        if ann == "dict[str,float]":
            return {k: _num_or_nan(f"{name}.{k}", x) for k, x in v.items()}
        if ann == "dict[str,dict[str,float]]":
            out = {}
            for k, x in v.items():
                if not isinstance(x, dict):
                    raise EventDecodeError(f"{name}.{k}", "must be an object")
                out[k] = {kk: _num_or_nan(f"{name}.{k}.{kk}", xx) for kk, xx in x.items()}
            return out
        return dict(v)  # dict[str, Any]
    if ann == "list[float|None]":
        if not isinstance(v, list):
            raise EventDecodeError(name, f"must be an array, got {type(v).__name__}")
        return [None if x is None else _num_or_nan(f"{name}[{i}]", x) for i, x in enumerate(v)]
    raise EventDecodeError(name, f"cannot decode a field of type {annotation}")  # pragma: no cover


def _check_values(event: Event) -> None:
    if event.device_id < 0:
        raise EventDecodeError("device_id", "must be >= 0")
    if event.seq < 0:
        raise EventDecodeError("seq", "must be >= 0 (a stamped event)")
    fs = getattr(event, "fs_hz", None)
    if fs is not None and not fs > 0:
        raise EventDecodeError("fs_hz", "must be > 0 Hz")
    if isinstance(event, BeatEvent):
        if event.label not in _BEAT_CLASSES:
            raise EventDecodeError("label", f"must be one of {', '.join(_BEAT_CLASSES)}")
        if event.quality not in QUALITY_LEVELS:
            raise EventDecodeError("quality", f"must be one of {', '.join(QUALITY_LEVELS)}")
    elif isinstance(event, AlertEvent):
        if event.kind not in ALERT_KINDS:
            raise EventDecodeError("kind", f"must be one of {', '.join(ALERT_KINDS)}")
        if event.state not in ("onset", "end", "event"):
            raise EventDecodeError("state", "must be onset, end or event")
    elif isinstance(event, QualityEvent):
        for name in ("quality", "previous"):
            if getattr(event, name) not in QUALITY_LEVELS:
                raise EventDecodeError(name, f"must be one of {', '.join(QUALITY_LEVELS)}")
    elif isinstance(event, StripEvent) and not event.strip_fs_hz > 0:
        raise EventDecodeError("strip_fs_hz", "must be > 0 Hz")


def event_from_dict(data: Any) -> Event:
    """Validate a decoded JSON object and build its :class:`~edge.events.model.Event`.

    Raises
    ------
    EventDecodeError
        ``field`` names the key that breaks the schema.
    """
    if not isinstance(data, dict):
        raise EventDecodeError("$", f"must be a JSON object, got {type(data).__name__}")
    etype = data.get("type")
    cls = EVENT_CLASSES.get(etype) if isinstance(etype, str) else None
    if cls is None:
        raise EventDecodeError("type", f"must be one of {', '.join(EVENT_CLASSES)}, "
                                       f"got {etype!r}")
    if "schema" in data and (not _is_int(data["schema"]) or data["schema"] != SCHEMA_VERSION):
        raise EventDecodeError("schema", f"must be {SCHEMA_VERSION}, got {data['schema']!r}")
    if "boot" in data and (not _is_int(data["boot"]) or data["boot"] < 0):
        raise EventDecodeError("boot", "must be an integer >= 0")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields and key not in ENVELOPE_KEYS:
            raise EventDecodeError(str(key), f"unknown field of a {etype} event")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise EventDecodeError(name, f"is required in a {etype} event")
            continue
        kwargs[name] = _check(name, str(f.type), data[name])
    event = cls(**kwargs)
    _check_values(event)
    return event


def parse_event(text: str | bytes | bytearray) -> Event:
    """Decode one JSON event (strictly; see the module docstring).

    Parameters
    ----------
    text : the JSON document (str, or UTF-8 bytes as received from MQTT).

    Raises
    ------
    EventDecodeError
        Not UTF-8, not JSON, too deeply nested, or not a valid event (``field`` says where).
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise EventDecodeError("$", f"needs str or bytes, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise EventDecodeError("$", f"not valid JSON: {exc}") from None
    return event_from_dict(data)
