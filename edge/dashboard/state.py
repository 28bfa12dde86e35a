"""What the dashboard knows about each device: bounded buffers filled from daemon events.

:class:`MonitorState` takes decoded events (:class:`~edge.events.model.Event`, and the
daemon's :class:`~edge.events.model.Presence`) from any feed, in any thread, through
:meth:`MonitorState.apply`, and hands immutable :class:`DeviceSnapshot` objects to the views.
An event given as a dict (its JSON form, ``docs/events.md``) is decoded with the same strict
decoder as the feeds use (:func:`edge.events.decode.message_from_dict`); what it refuses, and
what the state cannot show (a strip faster than ``max_strip_fs_hz``), is counted by kind and
logged once per kind (:attr:`MonitorState.rejects`), never turned into numbers.

Every buffer has a fixed capacity (:class:`StateConfig`), so memory stays bounded however long
the dashboard runs:

* the ECG strip: the last ``strip_history_s`` seconds of samples (a numpy ring buffer);
* beats: the last ``max_beats``; per-class counts are plain integers;
* heart rate: the last ``max_hr_points`` values;
* alerts: the last ``max_alerts``; open episodes (onset without end) are kept apart;
* rhythm episodes (atrial fibrillation / flutter, :class:`RhythmEpisode`): the last
  ``max_alerts`` ended ones and the open ones, from the ``afib`` / ``aflutter`` alerts and the
  beats' ``rhythm`` (an episode whose onset alert never came -- the dashboard joined an MQTT
  stream mid-episode -- opens at its first AF beat; an end alert without its onset is placed
  with its ``duration_s``); the AF burden is the latest an ``hr`` or ``status`` event gave;
* devices: at most ``max_devices`` (the least recently heard from is dropped).

Times: ``t_stream_s`` is stream time (``sample_index / fs_hz``); ``time_s`` is the daemon
host's wall clock (Unix seconds). The views place signal events on the wall clock with the
offset of the latest strip piece (:attr:`DeviceSnapshot.clock_offset_s`), so R-peak marks sit
on the strip they belong to.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dashboard.rejects import Rejects
from edge.errors import ConfigError, EventDecodeError
from edge.events.decode import message_from_dict
from edge.events.model import (
    EVENT_CLASSES,
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

__all__ = [
    "BEAT_CLASSES",
    "RHYTHM_EPISODE_KINDS",
    "AlertRecord",
    "BeatMark",
    "DeviceSnapshot",
    "MonitorState",
    "RhythmEpisode",
    "StateConfig",
]

logger = logging.getLogger(__name__)

#: AAMI classes in display order.
BEAT_CLASSES = AAMI_CLASSES

#: Alert kinds that are rhythm episodes drawn along the strip, with the beat ``rhythm`` label
#: (:data:`~edge.events.model.RHYTHM_LABELS`) that lies inside them.
RHYTHM_EPISODE_KINDS = {"afib": "AFIB", "aflutter": "AFL"}
_EPISODE_OF_RHYTHM = {r: k for k, r in RHYTHM_EPISODE_KINDS.items()}



def _tied_to_signal(cls: type[Event]) -> bool:
    """The event type always carries a stream position (a required ``sample_index``)."""
    return any(f.name == "sample_index" and f.default is dataclasses.MISSING
               for f in dataclasses.fields(cls))


#: Event types tied to the signal (beat, hr, alert, quality, strip: every type of
#: :data:`~edge.events.model.EVENT_CLASSES` with a required ``sample_index``): a device that
#: sent one of these is shown.
_SIGNAL_TYPES = frozenset(t for t, cls in EVENT_CLASSES.items() if _tied_to_signal(cls))


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    """Capacities of the per-device buffers.

    Attributes
    ----------
    strip_history_s : seconds of ECG strip kept per device (the view shows the last
        ``window_s`` of them).
    max_strip_fs_hz : highest strip rate accepted (Hz); with ``strip_history_s`` it fixes the
        strip buffer's capacity in samples.
    max_beats : beats kept per device.
    max_hr_points : heart-rate values kept per device.
    max_alerts : alerts kept per device.
    max_devices : devices tracked at once.
    restart_seq_margin : a sequence number this much below the highest seen means the daemon
        restarted (its counters start again at 0); the device's buffers are cleared. MQTT
        topics are not ordered with each other, so small steps back are normal.
    """

    strip_history_s: float = 30.0
    max_strip_fs_hz: float = 360.0
    max_beats: int = 600
    max_hr_points: int = 3600
    max_alerts: int = 200
    max_devices: int = 16
    restart_seq_margin: int = 1000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strip_history_s) and self.strip_history_s > 0):
            raise ConfigError("strip_history_s", f"must be a finite number > 0 s, "
                                                 f"got {self.strip_history_s!r}")
        if not (math.isfinite(self.max_strip_fs_hz) and self.max_strip_fs_hz > 0):
            raise ConfigError("max_strip_fs_hz", f"must be > 0 Hz, got {self.max_strip_fs_hz!r}")
        for name in ("max_beats", "max_hr_points", "max_alerts", "max_devices",
                     "restart_seq_margin"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(name, f"must be an integer >= 1, got {value!r}")

    @property
    def strip_capacity(self) -> int:
        """Strip buffer capacity in samples."""
        return math.ceil(self.strip_history_s * self.max_strip_fs_hz) + 1


@dataclass(frozen=True, kw_only=True)
class BeatMark:
    """One classified beat, as the views need it.

    Attributes
    ----------
    t_stream_s : R-peak time in stream time (s).
    time_s : wall-clock emission time (Unix s).
    label : AAMI class.
    proba : probability of ``label``.
    quality : signal quality at the beat.
    rr_pre_s : RR interval before the beat (s), NaN when unknown.
    rhythm : the rhythm the beat lies in (``N``, ``AFIB``, ``AFL``, ``NOISE``; ``None`` when
        unknown or the daemon's rhythm analysis is off).
    """

    t_stream_s: float
    time_s: float
    label: str
    proba: float
    quality: str
    rr_pre_s: float
    rhythm: str | None = None


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    """One alert event.

    Attributes
    ----------
    kind, state, severity : as in the event (``state`` is onset / end / event).
    t_stream_s : stream time of the onset / end / event (s).
    time_s : wall-clock emission time (Unix s).
    detail : kind-specific numbers.
    """

    kind: str
    state: str
    severity: str
    t_stream_s: float
    time_s: float
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RhythmEpisode:
    """An atrial fibrillation / flutter episode.

    Attributes
    ----------
    kind : alert kind, a key of :data:`RHYTHM_EPISODE_KINDS` (``afib``, ``aflutter``).
    onset_t_stream_s : where it began (stream s; the onset alert is dated there, and arrives
        some 30 s later).
    end_t_stream_s : where it ended (stream s); ``None`` while it is ongoing.
    onset_time_s : wall clock (Unix s) of the event that opened it here.
    from_beats : opened by a beat's ``rhythm`` because no onset alert was received (the
        dashboard joined mid-episode): ``onset_t_stream_s`` is then the first AF beat seen.
    """

    kind: str
    onset_t_stream_s: float
    end_t_stream_s: float | None
    onset_time_s: float
    from_beats: bool = False

    @property
    def ongoing(self) -> bool:
        """No end yet."""
        return self.end_t_stream_s is None

    def duration_s(self, now_t_stream_s: float | None = None) -> float | None:
        """Length (s): to the end, or, while ongoing, to ``now_t_stream_s`` (None without)."""
        end = self.end_t_stream_s if self.end_t_stream_s is not None else now_t_stream_s
        return None if end is None else max(0.0, end - self.onset_t_stream_s)


@dataclass(frozen=True, kw_only=True)
class DeviceSnapshot:
    """A consistent copy of one device's state, safe to read without locks.

    Attributes
    ----------
    device_id : the device.
    strip_t_stream_s, strip_mv : strip samples, oldest first (stream s, mV; NaN = invalid
        sample or a break between non-contiguous pieces).
    beats : recent beats, oldest first.
    hr_t_stream_s, hr_time_s, hr_bpm : heart-rate history (NaN where too few beats).
    counts : beats per class since the dashboard (or the daemon) started.
    alerts : recent alerts, oldest first.
    active_alerts : open episodes (onset seen, no end yet), by kind.
    quality : latest signal quality (``"unknown"`` before any).
    link_state : latest link state (``"unknown"`` before any).
    link_detail : its detail text.
    last_event_time_s : wall clock of the latest event (Unix s, daemon host).
    last_received_monotonic_s : :func:`time.monotonic` when the latest event arrived here.
    clock_offset_s : add to a stream time to get the wall clock (from the latest strip).
    lost_messages : sequence numbers never received (MQTT QoS 0 drops, JSONL backlog cut).
    n_events : events received.
    model_version : from the daemon's status events.
    daemon_state : latest status state (``running``, ``stopped``) or ``""``.
    rhythm_episodes : AF / flutter episodes, oldest onset first (ended ones, then the
        ongoing ones in order).
    af_burden_1h, af_burden_run : latest AF burden of the device (share of the last hour / of
        the daemon run in AF, 0..1), ``None`` when unknown (the daemon's rhythm analysis off).
    """

    device_id: int
    strip_t_stream_s: np.ndarray
    strip_mv: np.ndarray
    beats: tuple[BeatMark, ...]
    hr_t_stream_s: np.ndarray
    hr_time_s: np.ndarray
    hr_bpm: np.ndarray
    counts: Mapping[str, int]
    alerts: tuple[AlertRecord, ...]
    active_alerts: Mapping[str, AlertRecord]
    quality: str
    link_state: str
    link_detail: str
    last_event_time_s: float | None
    last_received_monotonic_s: float | None
    clock_offset_s: float | None
    lost_messages: int
    n_events: int
    model_version: str
    daemon_state: str
    rhythm_episodes: tuple[RhythmEpisode, ...] = ()
    af_burden_1h: float | None = None
    af_burden_run: float | None = None

    @property
    def open_episodes(self) -> tuple[RhythmEpisode, ...]:
        """The ongoing rhythm episodes."""
        return tuple(e for e in self.rhythm_episodes if e.ongoing)

    @property
    def rhythm(self) -> str | None:
        """The latest beat's rhythm (None when unknown)."""
        return self.beats[-1].rhythm if self.beats else None

    @property
    def latest_t_stream_s(self) -> float | None:
        """Latest stream time known (strip end or last beat; None before either)."""
        ts = [float(np.nanmax(self.strip_t_stream_s))] if self.strip_t_stream_s.size else []
        if self.beats:
            ts.append(self.beats[-1].t_stream_s)
        return max(ts) if ts else None

    @property
    def has_rhythm(self) -> bool:
        """The daemon analyses the rhythm (a burden, an episode or a beat rhythm came)."""
        return (self.af_burden_1h is not None or self.af_burden_run is not None
                or bool(self.rhythm_episodes) or any(b.rhythm for b in self.beats))

    @property
    def current_hr_bpm(self) -> float | None:
        """Latest heart rate (None when unknown)."""
        if self.hr_bpm.size == 0 or not np.isfinite(self.hr_bpm[-1]):
            return None
        return float(self.hr_bpm[-1])

    def hr_trend_bpm(self, lookback_s: float = 60.0) -> float | None:
        """Change of the heart rate over the last ``lookback_s`` seconds of stream time
        (bpm; None when there is no earlier valid value)."""
        now = self.current_hr_bpm
        if now is None:
            return None
        t_now = self.hr_t_stream_s[-1]
        ok = np.isfinite(self.hr_bpm) & (self.hr_t_stream_s <= t_now - lookback_s)
        if not ok.any():
            ok = np.isfinite(self.hr_bpm)
            ok[-1] = False
            if not ok.any():
                return None
            return now - float(self.hr_bpm[np.flatnonzero(ok)[0]])
        return now - float(self.hr_bpm[np.flatnonzero(ok)[-1]])

    def seconds_since_data(self, now_monotonic_s: float | None = None) -> float | None:
        """Seconds since the latest event arrived (None before any)."""
        if self.last_received_monotonic_s is None:
            return None
        now = time.monotonic() if now_monotonic_s is None else now_monotonic_s
        return max(0.0, now - self.last_received_monotonic_s)


class _Ring:
    """Fixed-capacity float64 ring buffer of (t, value) pairs."""

    def __init__(self, capacity: int) -> None:
        self._t = np.full(capacity, np.nan)
        self._v = np.full(capacity, np.nan)
        self._n = 0      # valid entries
        self._head = 0   # next write position

    def extend(self, t: np.ndarray, v: np.ndarray) -> None:
        cap = self._t.size
        if t.size >= cap:
            t, v = t[-cap:], v[-cap:]
        k = t.size
        end = self._head + k
        if end <= cap:
            self._t[self._head:end], self._v[self._head:end] = t, v
        else:
            first = cap - self._head
            self._t[self._head:], self._v[self._head:] = t[:first], v[:first]
            self._t[:k - first], self._v[:k - first] = t[first:], v[first:]
        self._head = end % cap
        self._n = min(cap, self._n + k)

    def last_t(self) -> float | None:
        if self._n == 0:
            return None
        return float(self._t[(self._head - 1) % self._t.size])

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies, oldest first."""
        if self._n < self._t.size:
            return self._t[:self._n].copy(), self._v[:self._n].copy()
        order = np.r_[self._head:self._t.size, 0:self._head]
        return self._t[order], self._v[order]

    def clear(self) -> None:
        self._n = 0
        self._head = 0

    @property
    def nbytes(self) -> int:
        return self._t.nbytes + self._v.nbytes


class _Device:
    """Mutable per-device state (guarded by the owner's lock)."""

    def __init__(self, device_id: int, config: StateConfig) -> None:
        self.device_id = device_id
        self.config = config
        self.strip = _Ring(config.strip_capacity)
        self.beats: deque[BeatMark] = deque(maxlen=config.max_beats)
        self.hr: deque[tuple[float, float, float]] = deque(maxlen=config.max_hr_points)
        self.alerts: deque[AlertRecord] = deque(maxlen=config.max_alerts)
        self.active: dict[str, AlertRecord] = {}
        self.counts: Counter[str] = Counter()
        self.quality = "unknown"
        self.link_state = "unknown"
        self.link_detail = ""
        self.last_event_time_s: float | None = None
        self.last_received: float | None = None
        self.clock_offset_s: float | None = None
        self.has_signal = False
        self.seq_min: int | None = None
        self.seq_max: int | None = None
        self.n_seq = 0
        self.lost_before = 0
        self.n_events = 0
        self.model_version = ""
        self.daemon_state = ""
        self.episodes: deque[RhythmEpisode] = deque(maxlen=config.max_alerts)  # ended
        self.open_episodes: dict[str, RhythmEpisode] = {}
        self.episode_end_time_s: dict[str, float] = {}  # wall clock of the latest end, by kind
        self.af_burden_1h: float | None = None
        self.af_burden_run: float | None = None

    def clear_stream(self) -> None:
        """The daemon restarted: forget the stream (strip, beats, rate, counts, episodes,
        burden)."""
        self.strip.clear()
        self.beats.clear()
        self.hr.clear()
        self.active.clear()
        self.counts.clear()
        self.clock_offset_s = None
        self.episodes.clear()
        self.open_episodes.clear()
        self.episode_end_time_s.clear()
        self.af_burden_1h = self.af_burden_run = None

    def set_burden(self, one_hour: float | None, run: float | None) -> None:
        """Take the burden an event carried (``None`` = not in it: keep the last value)."""
        if one_hour is not None:
            self.af_burden_1h = one_hour
        if run is not None:
            self.af_burden_run = run

    def episode_alert(self, a: AlertRecord) -> None:
        """An ``afib`` / ``aflutter`` onset or end."""
        if a.state == "onset":
            was = self.open_episodes.get(a.kind)
            onset = a.t_stream_s if was is None or not was.from_beats \
                else min(a.t_stream_s, was.onset_t_stream_s)
            self.open_episodes[a.kind] = RhythmEpisode(kind=a.kind, onset_t_stream_s=onset,
                                                       end_t_stream_s=None,
                                                       onset_time_s=a.time_s)
        elif a.state == "end":
            was = self.open_episodes.pop(a.kind, None)
            if was is None:  # the onset was missed: place it with the episode's duration
                try:
                    duration = float(a.detail.get("duration_s"))
                except (TypeError, ValueError):
                    duration = math.nan
                if not (math.isfinite(duration) and duration >= 0):
                    duration = 0.0
                was = RhythmEpisode(kind=a.kind, onset_t_stream_s=a.t_stream_s - duration,
                                    end_t_stream_s=None, onset_time_s=a.time_s)
            self.episodes.append(dataclasses.replace(
                was, end_t_stream_s=max(a.t_stream_s, was.onset_t_stream_s)))
            self.episode_end_time_s[a.kind] = max(a.time_s,
                                                  self.episode_end_time_s.get(a.kind, -math.inf))

    def episode_beat(self, b: BeatMark) -> None:
        """A beat inside AF / flutter opens an episode when none is open and the beat left
        the daemon after the latest end (an earlier one is a late arrival of that episode)."""
        kind = _EPISODE_OF_RHYTHM.get(b.rhythm or "")
        if kind is None or kind in self.open_episodes:
            return
        if b.time_s <= self.episode_end_time_s.get(kind, -math.inf):
            return
        self.open_episodes[kind] = RhythmEpisode(kind=kind, onset_t_stream_s=b.t_stream_s,
                                                 end_t_stream_s=None, onset_time_s=b.time_s,
                                                 from_beats=True)

    def close_episodes(self) -> None:
        """The daemon stopped without ending an episode (its end alert was lost): end the
        open ones at the last beat."""
        last = self.beats[-1].t_stream_s if self.beats else None
        for ep in self.open_episodes.values():
            end = ep.onset_t_stream_s if last is None else max(last, ep.onset_t_stream_s)
            self.episodes.append(dataclasses.replace(ep, end_t_stream_s=end))
        self.open_episodes.clear()

    def rhythm_episodes(self) -> tuple[RhythmEpisode, ...]:
        ended = sorted(self.episodes, key=lambda e: e.onset_t_stream_s)
        ongoing = sorted(self.open_episodes.values(), key=lambda e: e.onset_t_stream_s)
        return (*ended, *ongoing)

    def track_seq(self, seq: int) -> None:
        if self.seq_max is not None and seq < self.seq_max - self.config.restart_seq_margin:
            logger.info("device %d: sequence number fell from %d to %d: daemon restarted",
                        self.device_id, self.seq_max, seq)
            self.lost_before += self.lost_messages()
            self.clear_stream()
            self.seq_min = self.seq_max = None
            self.n_seq = 0
        self.seq_min = seq if self.seq_min is None else min(self.seq_min, seq)
        self.seq_max = seq if self.seq_max is None else max(self.seq_max, seq)
        self.n_seq += 1

    def lost_messages(self) -> int:
        if self.seq_min is None or self.seq_max is None:
            return self.lost_before
        return self.lost_before + max(0, self.seq_max - self.seq_min + 1 - self.n_seq)


class _Unshowable(Exception):
    """A valid event the state cannot show (``kind`` for the reject counts)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class MonitorState:
    """Thread-safe store of every device's recent events.

    Parameters
    ----------
    config : buffer capacities.
    clock : monotonic clock (s) used to time arrivals (injectable for tests).
    """

    def __init__(self, config: StateConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config if config is not None else StateConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[int, _Device] = {}
        self.daemon_online: bool | None = None
        self.n_events = 0
        self.rejects = Rejects("dashboard state")

    @property
    def n_rejected(self) -> int:
        """Events refused (malformed, or not showable)."""
        return self.rejects.total

    # ------------------------------------------------------------------ input
    def apply(self, message: Event | Presence | Mapping[str, Any]) -> bool:
        """Take one event (or presence message); returns False, and counts it in
        :attr:`rejects`, when it is refused. A mapping is decoded strictly first."""
        if not isinstance(message, (Event, Presence)):
            try:
                message = message_from_dict(dict(message) if isinstance(message, Mapping)
                                            else message)
            except EventDecodeError as err:
                self.rejects.add_decode_error(err)
                return False
        if isinstance(message, Presence):
            with self._lock:
                self.daemon_online = message.state == "online"
                self.n_events += 1
            return True
        try:
            with self._lock:
                self._apply(message)
                self.n_events += 1
        except _Unshowable as exc:
            self.rejects.add(exc.kind, str(exc))
            return False
        return True

    def apply_many(self, messages) -> int:
        """Apply several events; returns how many were accepted."""
        return sum(self.apply(m) for m in messages)

    def _device(self, dev_id: int) -> _Device:
        dev = self._devices.get(dev_id)
        if dev is None:
            if len(self._devices) >= self.config.max_devices:
                oldest = min(self._devices.values(), key=lambda d: d.last_received or 0.0)
                logger.warning("more than %d devices: forgetting device %d",
                               self.config.max_devices, oldest.device_id)
                del self._devices[oldest.device_id]
            dev = self._devices[dev_id] = _Device(dev_id, self.config)
        return dev

    def _apply(self, e: Event) -> None:
        if isinstance(e, StripEvent) and e.strip_fs_hz > self.config.max_strip_fs_hz:
            raise _Unshowable("strip rate", f"strip_fs_hz={e.strip_fs_hz:g} Hz is above "
                                            f"max_strip_fs_hz={self.config.max_strip_fs_hz:g}")
        dev = self._device(e.device_id)
        if e.seq >= 0:  # -1: an unstamped event built in-process
            dev.track_seq(e.seq)
        dev.n_events += 1
        dev.last_received = self._clock()
        dev.last_event_time_s = e.time_s
        if e.type in _SIGNAL_TYPES:
            dev.has_signal = True
        if isinstance(e, StripEvent):
            self._apply_strip(dev, e)
        elif isinstance(e, BeatEvent):
            mark = BeatMark(t_stream_s=e.t_stream_s, time_s=e.time_s, label=e.label,
                            proba=e.proba.get(e.label, math.nan), quality=e.quality,
                            rr_pre_s=e.rr_s.get("pre", math.nan), rhythm=e.rhythm)
            dev.beats.append(mark)
            dev.episode_beat(mark)
            dev.counts[e.label] += 1
            dev.quality = e.quality  # quality events come on changes only
        elif isinstance(e, HeartRateEvent):
            dev.hr.append((e.t_stream_s, e.time_s,
                           math.nan if e.hr_bpm is None else e.hr_bpm))
            dev.set_burden(e.af_burden_1h, e.af_burden_run)
        elif isinstance(e, AlertEvent):
            rec = AlertRecord(kind=e.kind, state=e.state, severity=e.severity,
                              t_stream_s=e.t_stream_s, time_s=e.time_s, detail=dict(e.detail))
            dev.alerts.append(rec)
            if rec.state == "onset":
                dev.active[rec.kind] = rec
            elif rec.state == "end":
                dev.active.pop(rec.kind, None)
            if rec.kind in RHYTHM_EPISODE_KINDS:
                dev.episode_alert(rec)
        elif isinstance(e, QualityEvent):
            dev.quality = e.quality
        elif isinstance(e, LinkStatusEvent):
            dev.link_state = e.state
            dev.link_detail = e.detail
        elif isinstance(e, StatusEvent):
            dev.daemon_state = e.state
            if e.model_version:
                dev.model_version = e.model_version
            dev.set_burden(e.af_burden_1h, e.af_burden_run)
            self._apply_burden_counters(e)
            if e.state == "stopped":
                dev.active.clear()
                dev.close_episodes()

    def _apply_burden_counters(self, e: StatusEvent) -> None:
        """``counters.af_burden`` (every device of the daemon, ``docs/events.md``) for the
        devices already shown; a malformed entry is counted in :attr:`rejects` and skipped."""
        table = e.counters.get("af_burden")
        if table is None:
            return
        if not isinstance(table, Mapping):
            self.rejects.add("field counters.af_burden", "must be an object by device id")
            return
        for key, entry in table.items():
            try:
                dev_id = int(key)
                values = [entry.get(name) for name in ("af_burden_1h", "af_burden_run")]
                if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                         and 0.0 <= v <= 1.0) for v in values):
                    raise ValueError(f"burdens must be fractions in [0, 1] or null: {entry!r}")
            except (TypeError, ValueError, AttributeError) as exc:
                self.rejects.add("field counters.af_burden", f"device {key!r}: {exc}")
                continue
            dev = self._devices.get(dev_id)
            if dev is not None and dev_id != e.device_id:
                dev.set_burden(*(None if v is None else float(v) for v in values))

    @staticmethod
    def _apply_strip(dev: _Device, e: StripEvent) -> None:
        samples, sfs = e.samples_mv, e.strip_fs_hz
        if not samples:
            return
        t0 = e.sample_index / e.fs_hz
        t = t0 + np.arange(len(samples)) / sfs
        v = np.array([np.nan if s is None else s for s in samples], dtype=float)
        last = dev.strip.last_t()
        if last is not None:
            if t[0] < last - 1.0:  # stream went backwards (pipeline reset, new run)
                dev.strip.clear()
            elif t[0] > last + 1.5 / sfs:  # lost piece or gap: break the line
                dev.strip.extend(np.array([last + 0.5 / sfs]), np.array([np.nan]))
            elif t[0] <= last:  # duplicate / overlapping piece
                keep = t > last
                t, v = t[keep], v[keep]
        dev.strip.extend(t, v)
        if t.size:
            dev.clock_offset_s = e.time_s - float(t[-1])

    # ------------------------------------------------------------------ output
    def device_ids(self) -> list[int]:
        """Devices that sent signal events (or, when none did, every device), sorted."""
        with self._lock:
            ids = [d for d, dev in self._devices.items() if dev.has_signal]
            return sorted(ids or self._devices)

    def snapshot(self, device_id: int) -> DeviceSnapshot | None:
        """A copy of one device's state (None when unknown)."""
        with self._lock:
            dev = self._devices.get(device_id)
            if dev is None:
                return None
            link_state, link_detail = dev.link_state, dev.link_detail
            if link_state == "unknown" and 0 in self._devices and device_id != 0:
                # source-level link events come before the device id is known: device 0
                src = self._devices[0]
                link_state, link_detail = src.link_state, src.link_detail
            st, sv = dev.strip.view()
            hr = np.array(dev.hr, dtype=float).reshape(-1, 3)
            return DeviceSnapshot(
                device_id=device_id, strip_t_stream_s=st, strip_mv=sv,
                beats=tuple(dev.beats), hr_t_stream_s=hr[:, 0], hr_time_s=hr[:, 1],
                hr_bpm=hr[:, 2], counts={c: dev.counts.get(c, 0) for c in
                                         (*BEAT_CLASSES, *sorted(set(dev.counts)
                                                                 - set(BEAT_CLASSES)))},
                alerts=tuple(dev.alerts), active_alerts=dict(dev.active),
                quality=dev.quality, link_state=link_state, link_detail=link_detail,
                last_event_time_s=dev.last_event_time_s,
                last_received_monotonic_s=dev.last_received,
                clock_offset_s=dev.clock_offset_s, lost_messages=dev.lost_messages(),
                n_events=dev.n_events, model_version=dev.model_version,
                daemon_state=dev.daemon_state, rhythm_episodes=dev.rhythm_episodes(),
                af_burden_1h=dev.af_burden_1h, af_burden_run=dev.af_burden_run)

    def snapshots(self) -> list[DeviceSnapshot]:
        """Snapshots of :meth:`device_ids`."""
        return [s for s in (self.snapshot(d) for d in self.device_ids()) if s is not None]

    def memory_bytes(self) -> int:
        """Approximate bytes held by the buffers (for the memory-bound test and the status
        line); deques are counted by their length times a fixed per-item estimate."""
        with self._lock:
            total = 0
            for dev in self._devices.values():
                total += dev.strip.nbytes + 200 * (len(dev.beats) + len(dev.alerts)) \
                    + 80 * len(dev.hr) + 120 * (len(dev.episodes) + len(dev.open_episodes))
            return total
