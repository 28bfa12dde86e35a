"""What the edge daemon publishes: event records, their JSON form and their sequence numbers.

Every event has a ``type``, the ``device_id`` it concerns, a per-device sequence number
``seq`` (0, 1, 2, ... in emission order, never reused within one daemon run) and ``time_s``,
the host's wall-clock time (Unix seconds) when it was emitted. Events tied to the signal also
carry ``sample_index`` (absolute index in the device's stream, at the device's rate) and
``t_stream_s`` (``sample_index / fs_hz``).

Types (the JSON schema is ``docs/events.schema.json``, described in ``docs/events.md``):

``beat``      a classified beat: class, probabilities, RR intervals, signal quality
``hr``        rolling heart rate
``alert``     rhythm alert: onset / end of a run, or a single event (pause)
``quality``   signal-quality change (good, noisy, saturated, lead_off)
``link``      link status: connected, reconnecting, gap (with lost samples), rate change
``strip``     filtered, decimated ECG for live display
``status``    daemon counters and per-stage timing (periodic and at exit)

Besides events, the MQTT sink publishes the daemon's :class:`Presence` (``online`` /
``offline``, the offline one being its last will); it is not an event (no device, no sequence
number) and is not in :data:`EVENT_TYPES`.

Events are built without ``seq``/``time_s``; :class:`Sequencer` stamps them when they are
emitted.

Schema versions: :data:`SCHEMA_VERSION` is bumped on incompatible changes only (a field
removed, renamed, retyped or made required, a value's meaning changed). Within a version, new
fields are optional, default to ``None``, and are left out of the JSON while ``None`` (they
are marked :data:`OMIT_IF_NONE` in their field's metadata), so an event that does not use
them is byte for byte what the version wrote before; enumerations may gain values. Added in
schema 1: ``rhythm`` on beats, ``af_burden_1h`` / ``af_burden_run`` on ``hr`` and ``status``
events, alert kinds ``afib``, ``aflutter``, ``svt``.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "BeatEvent",
    "HeartRateEvent",
    "AlertEvent",
    "QualityEvent",
    "LinkStatusEvent",
    "StripEvent",
    "StatusEvent",
    "Sequencer",
    "event_to_dict",
    "event_to_json",
    "QUALITY_LEVELS",
    "BEAT_QUALITY_LEVELS",
    "ALERT_KINDS",
    "RHYTHM_LABELS",
    "OMIT_IF_NONE",
    "ALERT_STATES",
    "ALERT_SEVERITIES",
    "LINK_STATES",
    "GAP_ACTIONS",
    "STATUS_STATES",
    "PRESENCE_STATES",
    "Presence",
    "EVENT_TYPES",
    "EVENT_CLASSES",
]

logger = logging.getLogger(__name__)

#: Version of the event schema (bumped on incompatible changes).
SCHEMA_VERSION = 1

#: Signal-quality levels, best first.
QUALITY_LEVELS = ("good", "noisy", "saturated", "lead_off")

#: A beat's ``quality``: the signal's level around it, or ``link_gap`` when samples near it
#: were lost on the link (its window or an interval to it holds a filled gap) and the signal
#: is not worse than noisy -- the radio's fault, not the electrode's.
BEAT_QUALITY_LEVELS = (*QUALITY_LEVELS, "link_gap")

#: Rhythm alert kinds.
ALERT_KINDS = ("v_run", "bigeminy", "trigeminy", "bradycardia", "tachycardia", "pause",
               "vflutter", "afib", "aflutter", "svt", "vfib", "vt", "asystole")

#: Rhythm a beat lies in (its ``rhythm`` field; ``None`` when unknown): ``N`` sinus or other
#: non-AF rhythm, ``AFIB`` atrial fibrillation, ``AFL`` atrial flutter, ``NOISE`` unreadable.
RHYTHM_LABELS = ("N", "AFIB", "AFL", "NOISE")

#: Field-metadata key of an optional field that :func:`event_to_dict` leaves out while ``None``.
OMIT_IF_NONE = "omit_if_none"


def _optional(**kwargs: Any) -> Any:
    """A field added within the schema version: ``None`` by default, absent from JSON while
    ``None``."""
    return field(default=None, metadata={OMIT_IF_NONE: True}, **kwargs)

#: Alert states: an episode's ``onset`` / ``end``, or a single ``event`` (pause).
ALERT_STATES = ("onset", "end", "event")

#: Alert severities: ``alarm`` (VT, flutter/fibrillation) or ``warning``.
ALERT_SEVERITIES = ("alarm", "warning")

#: Link states: the source's (the values of ``firmware_bridge.sources.LinkState``), then the
#: daemon's ``gap`` and ``rate_change``, then the alarm path's ``alarms_delayed`` (alerts not
#: delivered for ``alarm_fallback.after_s``: the local fallback was raised) and
#: ``alarms_delivered`` (that backlog has been delivered).
LINK_STATES = ("idle", "connecting", "connected", "reconnecting", "disconnected", "closed",
               "gap", "rate_change", "alarms_delayed", "alarms_delivered", "stalled", "resumed")

#: What the daemon did about a gap (``""`` for link events that are not gaps).
GAP_ACTIONS = ("", "filled", "reset")

#: Daemon states of status events: ``running`` (periodic), ``stopped`` (at exit).
STATUS_STATES = ("running", "stopped")

#: States of the daemon's MQTT presence.
PRESENCE_STATES = ("online", "offline")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields shared by every event.

    Attributes
    ----------
    device_id : device/stream the event concerns.
    seq : per-device sequence number (-1 until stamped by :class:`Sequencer`).
    time_s : host wall-clock time of emission, Unix seconds (0.0 until stamped).
    """

    type: ClassVar[str] = "event"
    device_id: int
    seq: int = -1
    time_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class BeatEvent(Event):
    """One classified beat.

    Attributes
    ----------
    sample_index : R-peak position, absolute device sample index (device rate).
    fs_hz : device sample rate (Hz).
    label : AAMI class ``N``, ``S``, ``V``, ``F`` or ``Q``.
    proba : class probabilities, class name -> probability.
    rr_s : RR features in seconds: ``pre``, ``post``, ``local``, ``long``.
    quality : signal quality around the beat (:data:`BEAT_QUALITY_LEVELS`: the signal's level,
        or ``link_gap`` next to samples lost on the link); a beat in bad signal is still
        reported with the model's label, flagged here.
    rhythm : rhythm the beat lies in (:data:`RHYTHM_LABELS`), ``None`` when unknown (no rhythm
        analysis, or not yet decided); left out of the JSON when ``None``.
    """

    type: ClassVar[str] = "beat"
    sample_index: int
    fs_hz: float
    label: str
    proba: dict[str, float]
    rr_s: dict[str, float]
    quality: str = "good"
    rhythm: str | None = _optional()

    @property
    def t_stream_s(self) -> float:
        """Stream time of the R peak (s)."""
        return self.sample_index / self.fs_hz


@dataclass(frozen=True, kw_only=True)
class HeartRateEvent(Event):
    """Rolling heart rate.

    Attributes
    ----------
    sample_index : stream position the rate refers to (last beat used).
    fs_hz : device sample rate (Hz).
    hr_bpm : mean rate over the window (beats per minute); ``None`` when too few clean beats.
    window_s : averaging window (s).
    n_beats : RR intervals used.
    af_burden_1h : share of the last hour of analysed stream time in atrial fibrillation or
        flutter, 0..1; ``None`` when unknown (left out of the JSON).
    af_burden_run : the same share over the whole daemon run, 0..1; ``None`` when unknown.
    """

    type: ClassVar[str] = "hr"
    sample_index: int
    fs_hz: float
    hr_bpm: float | None
    window_s: float
    n_beats: int
    af_burden_1h: float | None = _optional()
    af_burden_run: float | None = _optional()

    @property
    def t_stream_s(self) -> float:
        """Stream time (s)."""
        return self.sample_index / self.fs_hz


@dataclass(frozen=True, kw_only=True)
class AlertEvent(Event):
    """A rhythm alert.

    Attributes
    ----------
    kind : one of :data:`ALERT_KINDS`.
    state : ``"onset"``, ``"end"`` (episodes) or ``"event"`` (single occurrence, e.g. pause).
    severity : ``"alarm"`` (VT, flutter/fibrillation) or ``"warning"``.
    sample_index : where the onset / end / event is (device rate).
    fs_hz : device sample rate (Hz).
    detail : kind-specific numbers (``n_beats``, ``rate_bpm``, ``duration_s``, ``rr_s``...).
    """

    type: ClassVar[str] = "alert"
    kind: str
    state: str
    severity: str
    sample_index: int
    fs_hz: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def t_stream_s(self) -> float:
        """Stream time (s)."""
        return self.sample_index / self.fs_hz


@dataclass(frozen=True, kw_only=True)
class QualityEvent(Event):
    """Signal quality changed (emitted on changes only).

    Attributes
    ----------
    quality : new level (:data:`QUALITY_LEVELS`).
    previous : previous level.
    sample_index : start of the analysis window that changed it (device rate).
    fs_hz : device sample rate (Hz).
    metrics : the window's measurements (``flat_fraction``, ``clip_fraction``, ``noise_ratio``,
        ``amplitude_mv``, ``hf_rms_mv``).
    """

    type: ClassVar[str] = "quality"
    quality: str
    previous: str
    sample_index: int
    fs_hz: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LinkStatusEvent(Event):
    """Link status.

    Attributes
    ----------
    state : ``connecting``, ``connected``, ``reconnecting``, ``disconnected``, ``closed`` (from
        the source), ``gap`` (samples lost), ``rate_change``, ``alarms_delayed`` /
        ``alarms_delivered`` (the alarm path: :mod:`edge.runtime.fallback`).
    detail : human-readable reason.
    lost_samples : samples lost in a gap (0 otherwise).
    gap_s : duration of the gap (s).
    action : what the daemon did about a gap: ``filled`` (with invalid samples, classification
        continues) or ``reset`` (pipeline restarted at the new sample index).
    sample_index : first sample after the gap / at the rate change (``None`` for source states).
    fs_hz : device sample rate (``None`` when unknown).
    """

    type: ClassVar[str] = "link"
    state: str
    detail: str = ""
    lost_samples: int = 0
    gap_s: float = 0.0
    action: str = ""
    sample_index: int | None = None
    fs_hz: float | None = None


@dataclass(frozen=True, kw_only=True)
class StripEvent(Event):
    """Filtered, decimated ECG for live display.

    Attributes
    ----------
    sample_index : device sample index of the first strip sample.
    fs_hz : device sample rate (Hz).
    strip_fs_hz : rate of ``samples_mv`` (Hz).
    samples_mv : conditioned ECG in mV (``null`` where the signal was invalid).
    """

    type: ClassVar[str] = "strip"
    sample_index: int
    fs_hz: float
    strip_fs_hz: float
    samples_mv: list[float | None]


@dataclass(frozen=True, kw_only=True)
class StatusEvent(Event):
    """Daemon status: counters and per-stage timing.

    Attributes
    ----------
    state : ``running`` (periodic), ``stopped`` (at exit).
    uptime_s : seconds since the daemon started.
    counters : named integer/float counters (samples, beats, gaps, events per type, link...).
    stages : per stage ``{"calls": n, "cpu_s": s}`` (time.perf_counter totals).
    model_version : the classifier's version string.
    af_burden_1h, af_burden_run : as in :class:`HeartRateEvent` (0..1, ``None`` when unknown;
        left out of the JSON when ``None``).
    """

    type: ClassVar[str] = "status"
    state: str
    uptime_s: float
    counters: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    model_version: str = ""
    af_burden_1h: float | None = _optional()
    af_burden_run: float | None = _optional()


@dataclass(frozen=True, kw_only=True)
class Presence:
    """The daemon's presence on MQTT: ``{"type": "presence", "state": ..., "boot": ...,
    "time_s": ...}``, retained on ``<prefix>/<presence_id>/status``; ``offline`` is also its
    last will. Not an event: it concerns the daemon, not a device, and has no ``seq``.

    Attributes
    ----------
    state : one of :data:`PRESENCE_STATES`.
    boot : the MQTT sink's run number (``None`` when absent).
    time_s : host wall-clock time when it was built (Unix s; ``None`` when absent).
    """

    type: ClassVar[str] = "presence"
    state: str
    boot: int | None = None
    time_s: float | None = None


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, numpy scalars become Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict: ``type`` first, then ``schema``, the fields (an
    :data:`OMIT_IF_NONE` field only when set), and ``t_stream_s`` for events tied to the
    signal."""
    out: dict[str, Any] = {"type": event.type, "schema": SCHEMA_VERSION}
    for f in fields(event):
        value = getattr(event, f.name)
        if value is None and f.metadata.get(OMIT_IF_NONE):
            continue
        out[f.name] = value
    si, fs = out.get("sample_index"), out.get("fs_hz")
    if si is not None and fs:
        out["t_stream_s"] = round(si / fs, 6)
    return _clean(out)


def event_to_json(event: Event) -> str:
    """One line of compact JSON (no trailing newline)."""
    return json.dumps(event_to_dict(event), separators=(",", ":"), allow_nan=False)


#: Every event class, by its ``type`` (the one list of event types: sinks, settings, the
#: decoder and the dashboard read it from here).
EVENT_CLASSES: dict[str, type[Event]] = {cls.type: cls for cls in (
    BeatEvent, HeartRateEvent, AlertEvent, QualityEvent, LinkStatusEvent, StripEvent,
    StatusEvent)}
#: The event types, in the order of :data:`EVENT_CLASSES`.
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)


class Sequencer:
    """Stamps events with per-device sequence numbers and the wall-clock emission time.

    Parameters
    ----------
    clock : callable returning Unix seconds (default :func:`time.time`).
    """

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._next: dict[int, int] = {}

    def stamp(self, event: Event) -> Event:
        """Return ``event`` with ``seq`` (next for its device) and ``time_s`` set."""
        seq = self._next.get(event.device_id, 0)
        self._next[event.device_id] = seq + 1
        return replace(event, seq=seq, time_s=round(self._clock(), 6))

    def next_seq(self, device_id: int) -> int:
        """The sequence number the next event of ``device_id`` will get."""
        return self._next.get(device_id, 0)

    def reset(self) -> None:
        """Forget all counters (a new daemon run)."""
        self._next.clear()

