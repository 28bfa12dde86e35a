"""Where events go: every output of the daemon behind one :class:`EventSink` protocol.

``TerminalSink``       human-readable lines (colour optional)
``JsonLinesSink``      one JSON object per line on a stream (stdout)
``RotatingJsonlSink``  JSON lines appended to a file, rotated by size, reopened on SIGHUP
``WfdbAnnotationSink`` beats as a WFDB annotation file (N/S/V/F/Q at the device's rate)
``MqttSink``           MQTT via paho-mqtt 2.x: ``<prefix>/<device_id>/beats|alerts|hr|strip|status``
``SinkSet``            fans events out to several sinks; one failing sink does not stop the rest

A sink receives stamped :class:`~edge.events.Event` objects through ``emit`` (called from the
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
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import numpy as np

from edge.errors import SinkError
from edge.events import (AlertEvent, BeatEvent, Event, HeartRateEvent, LinkStatusEvent,
                         QualityEvent, StatusEvent, event_to_json)

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


class TerminalSink:
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
        if line is None:
            return
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


class JsonLinesSink:
    """One compact JSON object per line on a text stream (default ``sys.stdout``)."""

    def __init__(self, stream: IO[str] | None = None, *,
                 types: Iterable[str] = ()) -> None:
        self.name = "stdout"
        self._stream = stream if stream is not None else sys.stdout
        self.types = frozenset(types)

    def emit(self, event: Event) -> None:
        if self.types and event.type not in self.types:
            return
        try:
            self._stream.write(event_to_json(event) + "\n")
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
        from edge.wfdb_io import write_annotations  # noqa: PLC0415

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
    """Publish events to an MQTT broker (paho-mqtt 2.x).

    Topics: ``<topic_prefix>/<device_id>/<suffix>`` with the suffix from :data:`MQTT_TOPICS`.
    Beats and alerts are published with QoS 1, the rest with QoS 0; status, link and quality
    events go to ``status`` retained, so a late subscriber sees the last state. The client's
    last will publishes ``{"type": "status", "state": "offline"}`` retained on
    ``<topic_prefix>/daemon/status``, and ``online`` is published there on connect. paho keeps
    at most ``max_queued`` unsent messages (older ones are dropped by paho beyond that); the
    fleet issue adds a durable outbox.

    Parameters
    ----------
    host, port : broker.
    topic_prefix : first topic level.
    client_id : MQTT client id ("" = generated).
    username, password : credentials (optional).
    keepalive_s : MQTT keep-alive (s).
    tls : use TLS with the system CA store.
    max_queued : paho's in-flight + queued message limit.
    connect_timeout_s : how long :meth:`open` waits for the first connection (s); the client
        keeps retrying in the background after that.
    """

    def __init__(self, host: str = "localhost", port: int = 1883, *, topic_prefix: str = "ecg",
                 client_id: str = "", username: str | None = None,
                 password: str | None = None, keepalive_s: int = 30, tls: bool = False,
                 max_queued: int = 10000, connect_timeout_s: float = 5.0) -> None:
        try:
            import paho.mqtt.client as mqtt  # noqa: PLC0415 - optional dependency (fleet)
        except ImportError as exc:
            raise SinkError("mqtt", "needs paho-mqtt>=2.0: pip install 'ecg-edge[fleet]'") \
                from exc
        self.name = f"mqtt:{host}:{port}"
        self.topic_prefix = topic_prefix
        self._connected = threading.Event()
        self.n_published = 0
        self.n_failed = 0
        self._mqtt = mqtt
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                             clean_session=True)
        if username:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        client.max_queued_messages_set(max_queued)
        self._status_topic = f"{topic_prefix}/daemon/status"
        client.will_set(self._status_topic, json.dumps({"type": "status", "state": "offline"}),
                        qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client = client
        try:
            client.connect_async(host, port, keepalive=keepalive_s)
            client.loop_start()
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot start the MQTT client: {exc}") from exc
        if not self._connected.wait(connect_timeout_s):
            logger.warning("%s: broker not reachable yet; publishing will be queued", self.name)
        self._closed = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if getattr(reason_code, "is_failure", False):
            logger.warning("%s: connect refused: %s", self.name, reason_code)
            return
        logger.info("%s: connected", self.name)
        client.publish(self._status_topic, json.dumps({"type": "status", "state": "online"}),
                       qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self._connected.clear()
        logger.warning("%s: disconnected (%s)", self.name, reason_code)

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def topic(self, event: Event) -> str:
        """Topic for ``event``."""
        return f"{self.topic_prefix}/{event.device_id}/{MQTT_TOPICS.get(event.type, 'status')}"

    def emit(self, event: Event) -> None:
        suffix = MQTT_TOPICS.get(event.type, "status")
        qos = 1 if event.type in ("beat", "alert") else 0
        retain = suffix == "status"
        info = self._client.publish(self.topic(event), event_to_json(event), qos=qos,
                                    retain=retain)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS and info.rc != self._mqtt.MQTT_ERR_NO_CONN:
            self.n_failed += 1
            if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
                raise SinkError(self.name, "outgoing queue full; message dropped")
            raise SinkError(self.name, f"publish failed: {self._mqtt.error_string(info.rc)}")
        self.n_published += 1

    def flush(self) -> None:
        return None

    def reopen(self) -> None:
        return None

    def close(self, timeout_s: float = 5.0) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        while self.connected and time.monotonic() < deadline:
            if not self._client.want_write() and not getattr(self._client, "_out_messages",
                                                             None):
                break
            time.sleep(0.02)
        try:
            info = self._client.publish(self._status_topic,
                                        json.dumps({"type": "status", "state": "offline"}),
                                        qos=1, retain=True)
            if self.connected:
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        except (RuntimeError, ValueError):
            pass
        self._client.disconnect()
        self._client.loop_stop()


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

