"""Where events go: every output of the daemon behind one :class:`EventSink` protocol.

``TerminalSink``       human-readable lines (colour optional)
``JsonLinesSink``      one JSON object per line on a stream (stdout)
``RotatingJsonlSink``  JSON lines appended to a file, rotated by size, reopened on SIGHUP
``WfdbAnnotationSink`` beats as a WFDB annotation file (N/S/V/F/Q at the device's rate)
``MqttSink``           MQTT via paho-mqtt 2.x: ``<prefix>/<device_id>/beats|alerts|hr|strip|status``,
                       store-and-forward through a durable
                       :class:`~edge.sinks.outbox.Outbox`
``SinkSet``            fans events out to several sinks; one failing sink does not stop the rest

A sink receives stamped :class:`~edge.events.model.Event` objects through ``emit`` (called from the
daemon's thread only), makes them durable with ``flush``, reopens its files with ``reopen``
(log rotation) and releases everything with ``close``. Sinks raise
:class:`~edge.errors.SinkError`.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from edge.errors import SinkError
from edge.events.model import (
    AlertEvent,
    BeatEvent,
    Event,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    StatusEvent,
    event_to_dict,
    event_to_json,
)
from edge.sinks.outbox import MEMORY, Outbox, OutboxConfig

__all__ = [
    "EventSink",
    "TerminalSink",
    "JsonLinesSink",
    "RotatingJsonlSink",
    "WfdbAnnotationSink",
    "MqttSink",
    "SinkSet",
    "MQTT_TOPICS",
]

logger = logging.getLogger(__name__)

#: Event type -> MQTT topic suffix.
MQTT_TOPICS = {"beat": "beats", "alert": "alerts", "hr": "hr", "strip": "strip",
               "status": "status", "link": "status", "quality": "status"}


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


def _clock(t_s: float) -> str:
    """Stream time as H:MM:SS.s."""
    tenths = int(max(0.0, t_s) * 10)
    h, rem = divmod(tenths, 36000)
    m, rem = divmod(rem, 600)
    return f"{h}:{m:02d}:{rem // 10:02d}.{rem % 10}"


_COLORS = {"N": "", "S": "\033[33m", "V": "\033[31m", "F": "\033[35m", "Q": "\033[90m"}
_RESET = "\033[0m"
_BOLD_RED = "\033[1;31m"


class _TextStreamSink:
    """Shared plumbing of the sinks that write lines to a text stream (``name``, ``_stream``)."""

    name: str
    _stream: IO[str]

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


class TerminalSink(_TextStreamSink):
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

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and code else text

    def format(self, event: Event) -> str | None:
        """The line for ``event`` (None: not shown)."""
        dev = f"dev{event.device_id}"
        if isinstance(event, BeatEvent):
            if not self.beats:
                return None
            rr = event.rr_s.get("pre")
            hr = self._last_hr.get(event.device_id)
            p = event.proba.get(event.label, float("nan"))
            flag = "" if event.quality == "good" else f"  [{event.quality}]"
            return (f"{_clock(event.t_stream_s)} {dev} beat "
                    f"{self._c(_COLORS.get(event.label, ''), event.label)}  "
                    f"p={p:.2f}  RR {rr if rr is not None else float('nan'):.2f} s"
                    f"{'' if hr is None else f'  HR {hr:.0f}'}{flag}")
        if isinstance(event, HeartRateEvent):
            self._last_hr[event.device_id] = event.hr_bpm
            hr = "--" if event.hr_bpm is None else f"{event.hr_bpm:.0f}"
            return f"{_clock(event.t_stream_s)} {dev} HR {hr} bpm ({event.n_beats} beats)"
        if isinstance(event, AlertEvent):
            det = " ".join(f"{k}={v}" for k, v in event.detail.items())
            text = f"ALERT {event.kind} {event.state} ({event.severity}) {det}".rstrip()
            return f"{_clock(event.t_stream_s)} {dev} " + self._c(_BOLD_RED, text)
        if isinstance(event, QualityEvent):
            return (f"{_clock(event.sample_index / event.fs_hz)} {dev} signal quality "
                    f"{event.quality} (was {event.previous})")
        if isinstance(event, LinkStatusEvent):
            if event.state == "gap":
                return (f"{dev} link gap: {event.lost_samples} samples lost "
                        f"({event.gap_s:.2f} s), {event.action}")
            return f"{dev} link {event.state} {event.detail}".rstrip()
        if isinstance(event, StatusEvent):
            c = event.counters
            return (f"status {event.state}: uptime {event.uptime_s:.1f} s, "
                    f"{c.get('beats', 0)} beats, {c.get('samples', 0)} samples, "
                    f"{c.get('gaps', 0)} gaps")
        return None

    def emit(self, event: Event) -> None:
        line = self.format(event)
        if line is not None:
            self._write(line)


class JsonLinesSink(_TextStreamSink):
    """One compact JSON object per line on a text stream (default ``sys.stdout``)."""

    def __init__(self, stream: IO[str] | None = None, *,
                 types: Iterable[str] = ()) -> None:
        self.name = "stdout"
        self._stream = stream if stream is not None else sys.stdout
        self.types = frozenset(types)

    def emit(self, event: Event) -> None:
        if not self.types or event.type in self.types:
            self._write(event_to_json(event))


class RotatingJsonlSink:
    """JSON lines appended to ``path``; rotated to ``path.1`` ... ``path.<backups>`` when the
    file would exceed ``max_bytes``; :meth:`reopen` reopens the path (after logrotate).

    Parameters
    ----------
    path : file to append to (parent directories are created).
    max_bytes : size limit in bytes (0 = never rotate).
    backups : rotated files kept.
    fsync : ``os.fsync`` on every flush.
    types : event types written (empty = all).
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = 50_000_000,
                 backups: int = 5, fsync: bool = False, types: Iterable[str] = ()) -> None:
        self.name = f"jsonl:{path}"
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.fsync = fsync
        self.types = frozenset(types)
        self.n_rotations = 0
        self._fh: IO[str] | None = None
        self._size = 0
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
            self._size = self._fh.tell()
        except OSError as exc:
            raise SinkError(self.name, f"cannot open: {exc}") from exc

    def _rotate(self) -> None:
        self._close_file()
        try:
            if self.backups > 0:
                for i in range(self.backups - 1, 0, -1):
                    src = self.path.with_name(f"{self.path.name}.{i}")
                    if src.exists():
                        src.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
                self.path.replace(self.path.with_name(f"{self.path.name}.1"))
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise SinkError(self.name, f"cannot rotate: {exc}") from exc
        self.n_rotations += 1
        self._open()

    def emit(self, event: Event) -> None:
        if self.types and event.type not in self.types:
            return
        line = event_to_json(event) + "\n"
        n = len(line.encode("utf-8"))
        if self.max_bytes and self._size > 0 and self._size + n > self.max_bytes:
            self._rotate()
        if self._fh is None:
            self._open()
        try:
            self._fh.write(line)
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot write: {exc}") from exc
        self._size += n

    def flush(self) -> None:
        if self._fh is None:
            return
        try:
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot flush: {exc}") from exc

    def _close_file(self) -> None:
        if self._fh is not None:
            try:
                self._fh.flush()
                if self.fsync:
                    os.fsync(self._fh.fileno())
                self._fh.close()
            except (OSError, ValueError) as exc:
                raise SinkError(self.name, f"cannot close: {exc}") from exc
            finally:
                self._fh = None

    def reopen(self) -> None:
        """Close and reopen ``path`` (a rotated-away file is left to its new name)."""
        self._close_file()
        self._open()

    def close(self) -> None:
        self._close_file()


class WfdbAnnotationSink:
    """Beats as WFDB annotation files, written on :meth:`flush` / :meth:`close`.

    Beats of device ``d`` go to ``<out_dir>/<record_name>.<ext>`` when ``per_device`` is
    False, else ``<out_dir>/<record_name>_<d>.<ext>``. Positions are the beats' device sample
    indices at the device rate (the rate of the first beat; a beat at another rate starts a
    file ``<record_name>_<d>_<rate>hz``). Each write rewrites the whole file, so it always
    holds every beat so far.
    """

    def __init__(self, out_dir: str | os.PathLike, record_name: str = "ecg-edge", *,
                 ext: str = "cls", per_device: bool = False,
                 min_write_interval_s: float = 30.0) -> None:
        self.name = f"wfdb:{out_dir}/{record_name}.{ext}"
        self.out_dir = Path(out_dir)
        self.record_name = record_name
        self.ext = ext
        self.per_device = per_device
        self._beats: dict[tuple[int, float], tuple[list[int], list[str]]] = {}
        self._dirty: set[tuple[int, float]] = set()
        self._first_fs: dict[int, float] = {}
        self.paths: list[Path] = []
        self.min_write_interval_s = float(min_write_interval_s)
        self._last_write = -1e300

    def _record(self, key: tuple[int, float]) -> str:
        dev, fs = key
        name = f"{self.record_name}_{dev}" if self.per_device else self.record_name
        if self._first_fs.get(dev, fs) != fs:
            name += f"_{fs:g}hz"
        return name

    def emit(self, event: Event) -> None:
        if not isinstance(event, BeatEvent):
            return
        key = (event.device_id, float(event.fs_hz))
        self._first_fs.setdefault(event.device_id, key[1])
        idx, sym = self._beats.setdefault(key, ([], []))
        idx.append(int(event.sample_index))
        sym.append(event.label)
        self._dirty.add(key)

    def flush(self) -> None:
        """Rewrite the files that gained beats, at most every ``min_write_interval_s``
        seconds (rewriting is O(beats)); :meth:`close` always writes."""
        if time.monotonic() - self._last_write >= self.min_write_interval_s:
            self.write()

    def write(self) -> None:
        """Rewrite the files that gained beats now."""
        from edge.errors import EdgeError  # noqa: PLC0415
        from edge.io.wfdb_io import write_annotations  # noqa: PLC0415

        self._last_write = time.monotonic()

        for key in sorted(self._dirty):
            idx, sym = self._beats[key]
            order = np.argsort(np.asarray(idx, dtype=np.int64), kind="stable")
            try:
                path = write_annotations(self._record(key), self.ext,
                                         np.asarray(idx, dtype=np.int64)[order],
                                         [sym[i] for i in order], key[1], self.out_dir)
            except (EdgeError, OSError, ValueError) as exc:
                raise SinkError(self.name, f"cannot write annotations: {exc}") from exc
            if path not in self.paths:
                self.paths.append(path)
        self._dirty.clear()

    def reopen(self) -> None:
        return None

    def close(self) -> None:
        self.write()


class MqttSink:
    """Publish events to an MQTT broker (paho-mqtt 2.x) through a durable outbox.

    Topics: ``<topic_prefix>/<device_id>/<suffix>`` with the suffix from :data:`MQTT_TOPICS`.
    Beats, alerts and status/link/quality events are published with QoS 1, ``hr`` and
    ``strip`` with ``qos_stream`` (1 by default); events for ``status`` are retained, so a
    late subscriber sees the last state. The payload is the event's JSON
    (:func:`~edge.events.model.event_to_dict`) plus ``"boot"``, the outbox's run number, so a
    consumer orders and de-duplicates by ``(device_id, boot, seq)``; ``status`` events also
    carry ``counters.outbox`` and ``counters.mqtt`` (:meth:`stats`).

    Store and forward: :meth:`emit` appends the message to the :class:`~edge.sinks.outbox.Outbox`
    (SQLite, committed) and returns; a publisher thread hands queued messages to paho in
    append order, at most ``max_inflight`` unacknowledged at a time, and deletes each one
    when the broker acknowledges it (PUBACK). During an outage messages accumulate in the
    outbox (bounded by its drop policy); paho re-sends the in-flight window on reconnect and
    the publisher continues with the rest, in order. After a crash the next run sends what
    the outbox still holds first; at most ``max_inflight`` of those may be duplicates (sent,
    but the PUBACK was not recorded), recognisable by ``(boot, seq)``.

    Presence: the last will publishes ``{"type": "presence", "state": "offline"}`` retained
    (QoS 1) on ``<topic_prefix>/<presence_id>/status``; ``online`` is published there on every
    connect and ``offline`` on :meth:`close`. ``presence_id`` defaults to the username (so it
    stays inside the per-device ACL ``<prefix>/%u/#``), else ``daemon``.

    Parameters
    ----------
    host, port : broker.
    topic_prefix : first topic level.
    client_id : MQTT client id ("" = generated by paho).
    username, password : credentials (optional).
    keepalive_s : MQTT keep-alive (s).
    tls : use TLS (implied by any ``tls_*_file``); the system CA store unless ``tls_ca_file``.
    max_queued : paho's own queue limit (>= ``max_inflight``; the outbox does the queueing).
    connect_timeout_s : how long the constructor waits for the first CONNACK (s); the client
        keeps retrying in the background after that.
    tls_ca_file, tls_cert_file, tls_key_file : CA bundle, client certificate and key (PEM).
    protocol : ``"5"`` (MQTT v5) or ``"3.1.1"``.
    max_inflight : messages handed to paho and not yet acknowledged (also the bound on
        duplicates after a crash).
    qos_stream : QoS of ``hr`` and ``strip`` messages (0 or 1; QoS 0 messages are deleted from
        the outbox when written to the socket and may be lost on a disconnect).
    outbox : the durable queue (default: in memory, not crash-safe); the sink closes it.
    presence_id : topic level of the presence / last-will messages.
    drain_timeout_s : :meth:`close` waits this long for the outbox to empty (s).

    Raises
    ------
    SinkError
        When paho-mqtt is missing or the TLS files cannot be loaded.
    """

    def __init__(self, host: str = "localhost", port: int = 1883, *, topic_prefix: str = "ecg",
                 client_id: str = "", username: str | None = None,
                 password: str | None = None, keepalive_s: int = 30, tls: bool = False,
                 max_queued: int = 10000, connect_timeout_s: float = 5.0,
                 tls_ca_file: str | None = None, tls_cert_file: str | None = None,
                 tls_key_file: str | None = None, protocol: str = "5",
                 max_inflight: int = 32, qos_stream: int = 1, outbox: Outbox | None = None,
                 presence_id: str = "", drain_timeout_s: float = 10.0) -> None:
        try:
            import paho.mqtt.client as mqtt  # noqa: PLC0415 - optional dependency (fleet)
        except ImportError as exc:
            raise SinkError("mqtt", "needs paho-mqtt>=2.0: pip install 'ecg-edge[fleet]'") \
                from exc
        if protocol not in ("5", "3.1.1"):
            raise SinkError("mqtt", f"protocol must be '5' or '3.1.1', got {protocol!r}")
        self._closed = True
        self.name = f"mqtt:{host}:{port}"
        self.topic_prefix = topic_prefix
        self.max_inflight = max(1, int(max_inflight))
        self.qos_stream = int(qos_stream)
        self.drain_timeout_s = float(drain_timeout_s)
        self.protocol = protocol
        self._mqtt = mqtt
        self._outbox = outbox if outbox is not None else Outbox(OutboxConfig(path=MEMORY))
        self.boot = self._outbox.boot
        self._connected = threading.Event()
        self._answered = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: deque[tuple[int, bool]] = deque()
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (outbox id, qos)
        self._cursor = 0  # last outbox id handed to paho
        self._lost_link = False
        self.refused: str | None = None
        self.n_published = 0
        self.n_acked = 0
        self.n_rejected = 0
        self.n_failed = 0
        self.n_connects = 0
        self.n_disconnects = 0
        self.n_qos0_lost = 0
        v5 = protocol == "5"
        if v5:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                 protocol=mqtt.MQTTv5)
        else:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                 clean_session=True, protocol=mqtt.MQTTv311)
        if username:
            client.username_pw_set(username, password)
        if tls or tls_ca_file or tls_cert_file or tls_key_file:
            try:
                client.tls_set(ca_certs=tls_ca_file or None, certfile=tls_cert_file or None,
                               keyfile=tls_key_file or None)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                self._outbox.close()
                raise SinkError(self.name, f"cannot load the TLS files: {exc}") from exc
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(max(int(max_queued), self.max_inflight))
        self.presence_topic = f"{topic_prefix}/{presence_id or username or 'daemon'}/status"
        client.will_set(self.presence_topic, self._presence("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client = client
        self._thread = threading.Thread(target=self._publisher, name=f"{self.name}-outbox",
                                        daemon=True)
        try:
            if v5:
                client.connect_async(host, port, keepalive=keepalive_s, clean_start=True)
            else:
                client.connect_async(host, port, keepalive=keepalive_s)
            client.loop_start()
        except (OSError, ValueError) as exc:
            self._outbox.close()
            raise SinkError(self.name, f"cannot start the MQTT client: {exc}") from exc
        self._closed = False
        self._thread.start()
        if not self._answered.wait(connect_timeout_s) or not self.connected:
            logger.warning("%s: broker not reachable yet (%s); events are queued in the outbox",
                           self.name, self.refused or "no answer")

    @classmethod
    def from_settings(cls, settings: Any) -> MqttSink:
        """Build the sink and its outbox from :class:`edge.runtime.settings.MqttSinkSettings`.

        Raises
        ------
        SinkError
            When the password file cannot be read, the outbox cannot be opened
            (:class:`~edge.errors.OutboxError`) or the client cannot start.
        """
        m = settings
        password = m.password
        if m.password_file:
            try:
                password = Path(m.password_file).expanduser().read_text(encoding="utf-8") \
                    .rstrip("\r\n")
            except OSError as exc:
                raise SinkError(f"mqtt:{m.host}:{m.port}",
                                f"cannot read sinks.mqtt.password_file: {exc}") from exc
        outbox = Outbox(OutboxConfig(path=m.outbox_path or MEMORY,
                                     max_bytes=m.outbox_max_bytes,
                                     synchronous=m.outbox_synchronous))
        if not m.outbox_path:
            logger.warning("sinks.mqtt.outbox_path is not set: the outbox is in memory and "
                           "queued events are lost if the daemon stops")
        return cls(m.host, m.port, topic_prefix=m.topic_prefix, client_id=m.client_id,
                   username=m.username, password=password, keepalive_s=m.keepalive_s,
                   tls=m.tls, max_queued=m.max_queued, connect_timeout_s=m.connect_timeout_s,
                   tls_ca_file=m.tls_ca_file, tls_cert_file=m.tls_cert_file,
                   tls_key_file=m.tls_key_file, protocol=m.protocol,
                   max_inflight=m.max_inflight, qos_stream=m.qos_stream, outbox=outbox,
                   presence_id=m.presence_id, drain_timeout_s=m.drain_timeout_s)

    # -- paho callbacks (network thread) --------------------------------------------------

    def _presence(self, state: str) -> str:
        return json.dumps({"type": "presence", "state": state, "boot": self.boot,
                           "time_s": round(time.time(), 6)})

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if getattr(reason_code, "is_failure", False):
            self.refused = str(reason_code)
            logger.warning("%s: connect refused: %s", self.name, reason_code)
            self._answered.set()
            return
        self.refused = None
        self.n_connects += 1
        logger.info("%s: connected (MQTT %s)", self.name, self.protocol)
        client.publish(self.presence_topic, self._presence("online"), qos=1, retain=True)
        self._connected.set()
        self._answered.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if self._connected.is_set():
            self.n_disconnects += 1
            logger.warning("%s: disconnected (%s); queueing in the outbox", self.name,
                           reason_code)
        self._connected.clear()
        self._lost_link = True
        self._wake.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        self._acks.append((mid, bool(getattr(reason_code, "is_failure", False))))
        self._wake.set()

    # -- publisher thread -----------------------------------------------------------------

    def _publisher(self) -> None:
        while True:
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._settle_acks()
                if self._stop.is_set():
                    return
                if self._connected.is_set():
                    self._publish_some()
            except SinkError as exc:  # OutboxError: keep trying, the daemon keeps running
                self.n_failed += 1
                if self.n_failed <= 5 or self.n_failed % 1000 == 0:
                    logger.error("%s (publisher; %d errors)", exc, self.n_failed)
                self._stop.wait(0.5)

    def _settle_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            mid, failed = self._acks.popleft()
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue  # presence messages
            done.append(entry[0])
            if failed:
                self.n_rejected += 1
                if self.n_rejected <= 5:
                    logger.error("%s: the broker refused a message (not authorised for its "
                                 "topic?); dropped", self.name)
            else:
                self.n_acked += 1
        if self._lost_link:
            self._lost_link = False
            for mid, (oid, qos) in list(self._inflight.items()):
                if qos == 0:  # paho does not re-send QoS 0: those are lost
                    del self._inflight[mid]
                    done.append(oid)
                    self.n_qos0_lost += 1
        if done:
            self._outbox.ack(done)

    def _publish_some(self) -> None:
        mqtt = self._mqtt
        while self._connected.is_set() and not self._stop.is_set():
            room = self.max_inflight - len(self._inflight)
            if room <= 0:
                return
            msgs = self._outbox.peek(self._cursor, room)
            if not msgs:
                return
            for m in msgs:
                info = self._client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
                if info.rc == mqtt.MQTT_ERR_SUCCESS or (info.rc == mqtt.MQTT_ERR_NO_CONN
                                                        and m.qos > 0):
                    self._inflight[info.mid] = (m.id, m.qos)
                    self._cursor = m.id
                    self.n_published += 1
                    continue
                if info.rc != mqtt.MQTT_ERR_NO_CONN:
                    self.n_failed += 1
                    logger.error("%s: publish failed: %s", self.name,
                                 mqtt.error_string(info.rc))
                return  # retried on the next wake-up
            self._settle_acks()

    # -- EventSink ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    @property
    def outbox(self) -> Outbox:
        """The durable queue."""
        return self._outbox

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the connection; True when connected."""
        return self._connected.wait(timeout_s)

    def topic(self, event: Event) -> str:
        """Topic for ``event``."""
        return f"{self.topic_prefix}/{event.device_id}/{MQTT_TOPICS.get(event.type, 'status')}"

    def stats(self) -> dict[str, Any]:
        """``{"outbox": Outbox.stats(), "mqtt": {...}}``: connection and message counters."""
        return {"outbox": self._outbox.stats(),
                "mqtt": {"connected": self.connected, "connects": self.n_connects,
                         "disconnects": self.n_disconnects, "published": self.n_published,
                         "acked": self.n_acked, "rejected": self.n_rejected,
                         "failed": self.n_failed, "qos0_lost": self.n_qos0_lost,
                         "inflight": len(self._inflight), "refused": self.refused}}

    def emit(self, event: Event) -> None:
        """Queue ``event`` durably (the publisher thread sends it).

        Raises
        ------
        SinkError
            :class:`~edge.errors.OutboxError` when the outbox cannot be written.
        """
        if self._closed:
            raise SinkError(self.name, "emit() on a closed sink")
        suffix = MQTT_TOPICS.get(event.type, "status")
        d = event_to_dict(event)
        d["boot"] = self.boot
        if event.type == "status" and isinstance(d.get("counters"), dict):
            d["counters"].update(self.stats())
        payload = json.dumps(d, separators=(",", ":"), allow_nan=False).encode("utf-8")
        qos = self.qos_stream if event.type in ("hr", "strip") else 1
        try:
            self._outbox.append(self.topic(event), payload, qos=qos, retain=suffix == "status",
                                event_type=event.type)
        except SinkError:
            self.n_failed += 1
            raise
        self._wake.set()

    def flush(self) -> None:
        """Wake the publisher (appends are already durable)."""
        self._wake.set()

    def reopen(self) -> None:
        return None

    def close(self, timeout_s: float | None = None) -> None:
        """Wait up to ``timeout_s`` (default ``drain_timeout_s``) for the outbox to drain,
        publish ``offline`` presence, disconnect and close the outbox; idempotent. What is
        still queued stays in a file outbox for the next run."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        deadline = time.monotonic() + (self.drain_timeout_s if timeout_s is None
                                       else timeout_s)
        while time.monotonic() < deadline and (self._outbox.pending or self._inflight):
            self._wake.set()
            time.sleep(0.02)
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)
        if self._outbox.pending:
            logger.warning("%s: %d messages still queued in the outbox %s", self.name,
                           self._outbox.pending, self._outbox.path)
        try:
            info = self._client.publish(self.presence_topic, self._presence("offline"), qos=1,
                                        retain=True)
            if self.connected:
                info.wait_for_publish(timeout=1.0)
        except (RuntimeError, ValueError):
            pass
        self._client.disconnect()
        self._client.loop_stop()
        self._outbox.close()


class SinkSet:
    """Fan-out to several sinks. A sink that raises :class:`SinkError` (or ``OSError``) is
    logged and counted in :attr:`errors`; the others keep receiving events."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)
        self.name = "+".join(s.name for s in self.sinks)
        self.errors: dict[str, int] = {s.name: 0 for s in self.sinks}

    def _call(self, sink: EventSink, method: str, *args: object) -> None:
        try:
            getattr(sink, method)(*args)
        except (SinkError, OSError) as exc:
            n = self.errors.get(sink.name, 0)
            self.errors[sink.name] = n + 1
            if n < 5 or n % 1000 == 0:
                logger.error("%s (%s; %d errors so far)", exc, method, n + 1)

    def emit(self, event: Event) -> None:
        for s in self.sinks:
            self._call(s, "emit", event)

    def flush(self) -> None:
        for s in self.sinks:
            self._call(s, "flush")

    def reopen(self) -> None:
        for s in self.sinks:
            self._call(s, "reopen")

    def close(self) -> None:
        for s in self.sinks:
            self._call(s, "close")

