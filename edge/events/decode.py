"""Strict decoding of a JSON event (an MQTT payload, a JSON line) back into an
:class:`~edge.events.model.Event`: the inverse of :func:`~edge.events.model.event_to_json`.

Consumers of the fleet's topics (the dashboard's feeds among them) use :func:`parse_event`, or
:func:`parse_message` where the daemon's :class:`~edge.events.model.Presence` may come too, to
reject anything that is not an event of schema :data:`~edge.events.model.SCHEMA_VERSION`:
every field of the event's dataclass is type-checked (integers fit in 64 bits), unknown fields
are refused, enumerations (beat class, quality level, beat rhythm, alert kind / state /
severity, link state and gap action, daemon state) are checked, probabilities and AF burdens
lie in [0, 1], counts, rates and RR intervals are >= 0 and windows > 0 (or ``null``).
Optional fields added within the schema version (``rhythm``, ``af_burden_1h``,
``af_burden_run``) may be absent or ``null``. Envelope keys added on the
way are accepted and dropped: ``schema``, ``t_stream_s`` (derived; it must agree with
``sample_index / fs_hz``) and ``boot`` (the MQTT sink's run number). Non-finite floats were
written as ``null``; they decode as ``nan`` inside probability / metric maps, and stay
``None`` in strips.

Every failure is an :class:`~edge.errors.EventDecodeError` whose ``field`` names the
offending key; nothing else is raised, whatever the input (a property test fuzzes it).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from typing import Any

from edge.aami import AAMI_CLASSES
from edge.errors import EventDecodeError
from edge.events.model import (
    ALERT_KINDS,
    ALERT_SEVERITIES,
    ALERT_STATES,
    BEAT_QUALITY_LEVELS,
    EVENT_CLASSES,
    GAP_ACTIONS,
    LINK_STATES,
    PRESENCE_STATES,
    QUALITY_LEVELS,
    RHYTHM_LABELS,
    SCHEMA_VERSION,
    STATUS_STATES,
    AlertEvent,
    BeatEvent,
    Event,
    HeartRateEvent,
    LinkStatusEvent,
    Presence,
    QualityEvent,
    StatusEvent,
    StripEvent,
)

__all__ = ["parse_event", "event_from_dict", "parse_message", "message_from_dict",
           "presence_from_dict", "EVENT_CLASSES", "ENVELOPE_KEYS"]

logger = logging.getLogger(__name__)

#: Keys that may accompany an event without being one of its fields.
ENVELOPE_KEYS = frozenset({"type", "schema", "t_stream_s", "boot"})

_BEAT_CLASSES = AAMI_CLASSES
_INT64 = 2 ** 63
#: Slack of a probability above 1 (float rounding of a normalisation).
_PROBA_SLACK = 1e-6


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


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> dict[str, tuple[str, bool]]:
    """Field name -> (annotation without spaces, required) of an event class."""
    return {f.name: (str(f.type).replace(" ", ""), f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
            for f in dataclasses.fields(cls)}


def _check(name: str, annotation: str, v: Any) -> Any:
    """Check ``v`` against the dataclass annotation (a string: postponed annotations)."""
    ann = annotation.replace(" ", "") if " " in annotation else annotation
    if ann.endswith("|None"):
        if v is None:
            return None
        ann = ann[:-len("|None")]
    if ann == "int":
        if not _is_int(v):
            raise EventDecodeError(name, f"must be an integer, got {type(v).__name__}")
        if not -_INT64 <= v < _INT64:
            raise EventDecodeError(name, "must fit in 64 bits")
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
            if all(type(x) is float for x in v.values()):  # the common case, checked fast
                return dict(v)
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
        if all(x is None or type(x) is float for x in v):  # the common case, checked fast
            return list(v)
        return [None if x is None else _num_or_nan(f"{name}[{i}]", x) for i, x in enumerate(v)]
    raise EventDecodeError(name, f"cannot decode a field of type {annotation}")  # pragma: no cover


def _one_of(event: Event, name: str, allowed: tuple[str, ...]) -> None:
    if getattr(event, name) not in allowed:
        raise EventDecodeError(name, f"must be one of {', '.join(map(repr, allowed))}")


def _check_burden(event: Event) -> None:
    for name in ("af_burden_1h", "af_burden_run"):
        value = getattr(event, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise EventDecodeError(name, f"must be a fraction in [0, 1] or null, got {value!r}")


#: The largest wall-clock time an event may carry (s from 1970; ~290,000 years): its time in
#: microseconds must fit in 64 bits (the event store's ``time_us``; 2**63 us is 9.22e12 s).
MAX_TIME_S = 9.2e12


def _check_values(event: Event) -> None:
    if not abs(event.time_s) <= MAX_TIME_S:
        raise EventDecodeError("time_s", "must be a wall-clock time (s since 1970) whose "
                                         "microseconds fit in 64 bits")
    if event.device_id < 0:
        raise EventDecodeError("device_id", "must be >= 0")
    if event.seq < 0:
        raise EventDecodeError("seq", "must be >= 0 (a stamped event)")
    fs = getattr(event, "fs_hz", None)
    if fs is not None and not fs > 0:
        raise EventDecodeError("fs_hz", "must be > 0 Hz")
    si = getattr(event, "sample_index", None)
    if si is not None and fs is not None and not math.isfinite(si / fs):
        raise EventDecodeError("fs_hz", "sample_index / fs_hz must be a finite time")
    if isinstance(event, BeatEvent):
        _one_of(event, "label", _BEAT_CLASSES)
        _one_of(event, "quality", BEAT_QUALITY_LEVELS)
        if event.rhythm is not None:
            _one_of(event, "rhythm", RHYTHM_LABELS)
        for c, p in event.proba.items():
            if not (math.isnan(p) or 0.0 <= p <= 1.0 + _PROBA_SLACK):
                raise EventDecodeError(f"proba.{c}", "must be a probability in [0, 1] or null")
        for k, v in event.rr_s.items():
            if not (math.isnan(v) or 0.0 <= v < math.inf):
                raise EventDecodeError(f"rr_s.{k}", "must be an interval >= 0 s or null")
    elif isinstance(event, AlertEvent):
        _one_of(event, "kind", ALERT_KINDS)
        _one_of(event, "state", ALERT_STATES)
        _one_of(event, "severity", ALERT_SEVERITIES)
    elif isinstance(event, QualityEvent):
        _one_of(event, "quality", QUALITY_LEVELS)
        _one_of(event, "previous", QUALITY_LEVELS)
    elif isinstance(event, LinkStatusEvent):
        _one_of(event, "state", LINK_STATES)
        _one_of(event, "action", GAP_ACTIONS)
        if event.lost_samples < 0:
            raise EventDecodeError("lost_samples", "must be >= 0")
        if event.gap_s < 0:
            raise EventDecodeError("gap_s", "must be >= 0 s")
    elif isinstance(event, HeartRateEvent):
        _check_burden(event)
        if event.hr_bpm is not None and not 0.0 <= event.hr_bpm < math.inf:
            raise EventDecodeError("hr_bpm", "must be a rate >= 0 bpm (0 while an asystole "
                                             "episode is open) or null")
        if not 0.0 < event.window_s < math.inf:
            raise EventDecodeError("window_s", "must be > 0 s")
        if event.n_beats < 0:
            raise EventDecodeError("n_beats", "must be >= 0")
    elif isinstance(event, StatusEvent):
        _one_of(event, "state", STATUS_STATES)
        _check_burden(event)
    elif isinstance(event, StripEvent) and not event.strip_fs_hz > 0:
        raise EventDecodeError("strip_fs_hz", "must be > 0 Hz")


def _check_t_stream(event: Event, value: Any) -> None:
    """The envelope's ``t_stream_s`` must be what :func:`event_to_dict` derives."""
    si, fs = getattr(event, "sample_index", None), getattr(event, "fs_hz", None)
    if si is None or not fs:
        raise EventDecodeError("t_stream_s", "only goes with sample_index and fs_hz")
    if not _is_num(value) or not math.isfinite(value):
        raise EventDecodeError("t_stream_s", "must be a finite number")
    want = si / fs
    if abs(value - want) > 1e-6 + 1e-12 * abs(want):
        raise EventDecodeError("t_stream_s", f"must be sample_index / fs_hz = {want:.6f} s, "
                                             f"got {value!r}")


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
    if "boot" in data and (not _is_int(data["boot"]) or not 0 <= data["boot"] < _INT64):
        raise EventDecodeError("boot", "must be an integer >= 0 that fits in 64 bits")
    fields = _fields(cls)
    for key in data:
        if key not in fields and key not in ENVELOPE_KEYS:
            raise EventDecodeError(str(key), f"unknown field of a {etype} event")
    kwargs: dict[str, Any] = {}
    for name, (annotation, required) in fields.items():
        if name not in data:
            if required:
                raise EventDecodeError(name, f"is required in a {etype} event")
            continue
        kwargs[name] = _check(name, annotation, data[name])
    event = cls(**kwargs)
    _check_values(event)
    if "t_stream_s" in data:
        _check_t_stream(event, data["t_stream_s"])
    return event


def presence_from_dict(data: Any) -> Presence:
    """Validate the daemon's presence message (``{"type": "presence", "state": ...}``).

    Raises
    ------
    EventDecodeError
        ``field`` names the key that breaks the rule.
    """
    if not isinstance(data, dict):
        raise EventDecodeError("$", f"must be a JSON object, got {type(data).__name__}")
    if data.get("type") != Presence.type:
        raise EventDecodeError("type", f"must be {Presence.type!r}, got {data.get('type')!r}")
    for key in data:
        if key not in ("type", "state", "boot", "time_s"):
            raise EventDecodeError(str(key), "unknown field of a presence message")
    if data.get("state") not in PRESENCE_STATES:
        raise EventDecodeError("state", f"must be one of {', '.join(PRESENCE_STATES)}")
    boot, time_s = data.get("boot"), data.get("time_s")
    if boot is not None and (not _is_int(boot) or not 0 <= boot < _INT64):
        raise EventDecodeError("boot", "must be an integer >= 0")
    if time_s is not None and (not _is_num(time_s) or not math.isfinite(time_s)):
        raise EventDecodeError("time_s", "must be a finite number")
    return Presence(state=data["state"], boot=boot,
                    time_s=None if time_s is None else float(time_s))


def message_from_dict(data: Any) -> Event | Presence:
    """:func:`presence_from_dict` for ``"type": "presence"``, else :func:`event_from_dict`."""
    if isinstance(data, dict) and data.get("type") == Presence.type:
        return presence_from_dict(data)
    return event_from_dict(data)


def _load_json(text: Any) -> Any:
    if not isinstance(text, (str, bytes, bytearray)):
        raise EventDecodeError("$", f"needs str or bytes, got {type(text).__name__}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise EventDecodeError("$", f"not valid JSON: {exc}") from None


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
    return event_from_dict(_load_json(text))


def parse_message(text: str | bytes | bytearray) -> Event | Presence:
    """Decode one message of the daemon's topics: an event or its presence (strictly).

    Raises
    ------
    EventDecodeError
        As :func:`parse_event`; a presence message is checked by :func:`presence_from_dict`.
    """
    return message_from_dict(_load_json(text))
