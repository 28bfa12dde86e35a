"""Where the dashboard's events come from: the daemon's JSONL file and its MQTT topics.

Both feeds implement :class:`EventFeed`: ``poll()`` returns the events that arrived since the
last call (never blocks), ``status()`` says whether the feed is connected, ``close()``
releases it. Every payload is decoded with the strict event decoder
(:func:`edge.events.decode.parse_message`): what comes out is a typed
:class:`~edge.events.model.Event` or the daemon's :class:`~edge.events.model.Presence`; a
malformed payload is dropped, counted by kind and logged once per kind
(:class:`~edge.dashboard.rejects.Rejects`), and its count is shown in the view.

``JsonlFollower``  tails ``--jsonl PATH`` like ``tail -F``: starts near the end (a bounded
                   backlog), survives rotation by :class:`edge.sinks.RotatingJsonlSink`
                   (finishes the rotated file, then opens the new one) and truncation.
``MqttFeed``       subscribes to ``<prefix>/+/<suffix>`` for the suffixes of every event type
                   (:data:`edge.sinks.MQTT_TOPICS` over :data:`edge.events.model.EVENT_TYPES`:
                   beats, hr, alerts, status, strip) with paho-mqtt 2.x; the ``status`` topics
                   also carry the daemon's presence (``{"type": "presence", "state": "online"|
                   "offline"}``, retained, the offline one being its last will). An event must
                   come on its own device's topic for its type. Messages wait in a bounded
                   queue.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from edge.dashboard.rejects import Rejects
from edge.errors import ConfigError, EventDecodeError
from edge.events.decode import parse_message
from edge.events.model import EVENT_TYPES, Event, Presence
from edge.sinks import MQTT_TOPICS

__all__ = [
    "MQTT_SUFFIXES",
    "Message",
    "EventFeed",
    "FeedStatus",
    "JsonlFeedConfig",
    "JsonlFollower",
    "MqttFeed",
    "MqttFeedConfig",
    "parse_host_port",
]

logger = logging.getLogger(__name__)

#: Topic suffixes the daemon publishes per device: ``edge.sinks.MQTT_TOPICS`` of every event
#: type, without repeats.
MQTT_SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(MQTT_TOPICS[t] for t in EVENT_TYPES))

#: What a feed delivers: a decoded event or the daemon's presence.
Message = Event | Presence


@dataclass(frozen=True, kw_only=True)
class FeedStatus:
    """State of one feed, for the status bar.

    Attributes
    ----------
    name : e.g. ``jsonl:/var/log/ecg.jsonl`` or ``mqtt:localhost:1883``.
    connected : file open / broker connected.
    detail : human-readable reason when not connected (or extra information).
    n_events : events delivered so far.
    n_bad : lines / messages refused as malformed (not JSON, not a valid event, wrong
        topic, over-long line).
    malformed : ``n_bad`` by kind (e.g. ``field label``), most frequent first.
    """

    name: str
    connected: bool
    detail: str = ""
    n_events: int = 0
    n_bad: int = 0
    malformed: Mapping[str, int] = field(default_factory=dict)


@runtime_checkable
class EventFeed(Protocol):
    """A source of daemon events."""

    name: str

    def poll(self) -> list[Message]:
        """Decoded events (and presence messages) received since the last call (never
        blocks)."""
        ...

    def status(self) -> FeedStatus:
        """Connection state and counters."""
        ...

    def close(self) -> None:
        """Release files / connections; idempotent."""
        ...


# --------------------------------------------------------------------------- JSONL
@dataclass(frozen=True, kw_only=True)
class JsonlFeedConfig:
    """Settings of :class:`JsonlFollower`.

    Attributes
    ----------
    path : the daemon's ``--jsonl`` file.
    backlog_bytes : on first open, start this many bytes before the end (at a line start), so
        the dashboard shows recent history without replaying hours of events.
    max_read_bytes : bytes read per :meth:`JsonlFollower.poll` (bounds the work per poll).
    max_line_bytes : a longer line is dropped as damaged.
    """

    path: Path
    backlog_bytes: int = 2_000_000
    max_read_bytes: int = 4_000_000
    max_line_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if str(self.path) in ("", "."):
            raise ConfigError("path", "must name a file")
        for name in ("backlog_bytes", "max_read_bytes", "max_line_bytes"):
            value = getattr(self, name)
            minimum = 0 if name == "backlog_bytes" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ConfigError(name, f"must be an integer >= {minimum} bytes, got {value!r}")


class JsonlFollower:
    """Follow a JSON-lines event file across rotation and truncation.

    Parameters
    ----------
    config : file and limits.
    """

    def __init__(self, config: JsonlFeedConfig) -> None:
        self.config = config
        self.name = f"jsonl:{config.path}"
        self._fh: IO[bytes] | None = None
        self._ino: tuple[int, int] | None = None
        self._buf = b""
        self._first_open = True
        self._detail = "waiting for the file"
        self.rejects = Rejects(self.name)
        self.n_events = 0
        self.n_reopens = 0

    @property
    def n_bad(self) -> int:
        """Lines refused as malformed."""
        return self.rejects.total

    # -- file handling
    def _open(self) -> bool:
        try:
            fh = self.config.path.open("rb")
        except FileNotFoundError:
            self._detail = f"no file at {self.config.path} yet"
            return False
        except OSError as exc:
            self._detail = f"cannot open {self.config.path}: {exc}"
            return False
        st = os.fstat(fh.fileno())
        self._fh, self._ino, self._buf = fh, (st.st_dev, st.st_ino), b""
        if self._first_open and st.st_size > self.config.backlog_bytes:
            fh.seek(st.st_size - self.config.backlog_bytes)
            fh.readline()  # drop the partial first line
        self._first_open = False
        self._detail = ""
        logger.debug("%s: opened at byte %d", self.name, fh.tell())
        return True

    def _close_file(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
        self._fh, self._ino, self._buf = None, None, b""

    def _read(self, limit: int) -> list[Message]:
        if self._fh is None:
            return []
        chunk = self._fh.read(limit)
        if not chunk:
            return []
        data = self._buf + chunk
        lines = data.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self.config.max_line_bytes:
            self.rejects.add("line too long", f"{len(self._buf)} bytes without a newline, more "
                                              f"than max_line_bytes={self.config.max_line_bytes}")
            self._buf = b""
        out: list[Message] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                out.append(parse_message(line))
            except EventDecodeError as err:
                self.rejects.add_decode_error(err)
        self.n_events += len(out)
        return out

    def poll(self) -> list[Message]:
        """Events appended since the last call (at most ``max_read_bytes`` read)."""
        if self._fh is None and not self._open():
            return []
        out = self._read(self.config.max_read_bytes)
        try:
            st = os.stat(self.config.path)
        except FileNotFoundError:
            return out  # rotated away and not recreated yet: keep reading the old file
        except OSError as exc:
            self._detail = str(exc)
            return out
        if (st.st_dev, st.st_ino) != self._ino:
            # rotated: finish the old file, then continue with the new one from its start
            out += self._read(self.config.max_read_bytes)
            self._close_file()
            self.n_reopens += 1
            if self._open():
                out += self._read(self.config.max_read_bytes)
        elif st.st_size < self._fh.tell():
            logger.info("%s: truncated; reading from the start", self.name)
            self._fh.seek(0)
            self._buf = b""
            self.n_reopens += 1
            out += self._read(self.config.max_read_bytes)
        return out

    def status(self) -> FeedStatus:
        return FeedStatus(name=self.name, connected=self._fh is not None, detail=self._detail,
                          n_events=self.n_events, n_bad=self.rejects.total,
                          malformed=self.rejects.by_kind())

    def close(self) -> None:
        self._close_file()


# --------------------------------------------------------------------------- MQTT
def parse_host_port(text: str, default_port: int = 1883) -> tuple[str, int]:
    """``"host"`` or ``"host:port"`` -> ``(host, port)``; raises :class:`ConfigError`."""
    host, sep, port = str(text).strip().rpartition(":")
    if not sep:
        host, port = port, str(default_port)
    if not host:
        raise ConfigError("mqtt", f"expected HOST[:PORT], got {text!r}")
    try:
        return host, int(port)
    except ValueError:
        raise ConfigError("mqtt", f"port must be an integer, got {port!r}") from None


@dataclass(frozen=True, kw_only=True)
class MqttFeedConfig:
    """Settings of :class:`MqttFeed`.

    Attributes
    ----------
    host, port : broker.
    topic_prefix : first topic level (the daemon's ``sinks.mqtt.topic_prefix``).
    client_id : MQTT client id ("" = generated).
    username, password : credentials (optional); ``password_file`` instead of ``password``:
        its first line is the password (a password on a command line is visible in ``ps``).
    tls : TLS (the system CA store unless ``tls_ca_file``); ``tls_ca_file``, ``tls_cert_file``,
        ``tls_key_file``: a site CA and a client certificate, as the daemon's MQTT sink and
        ``ecg-edge ingest`` take them (any of them turns TLS on).
    keepalive_s : MQTT keep-alive (s).
    max_queued : messages kept between two polls (oldest dropped beyond that).
    """

    host: str = "localhost"
    port: int = 1883
    topic_prefix: str = "ecg"
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    keepalive_s: int = 30
    max_queued: int = 20_000

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("host", "must not be empty")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError("port", f"must be an integer in 1..65535, got {self.port!r}")
        if not self.topic_prefix or any(c in self.topic_prefix for c in "+#"):
            raise ConfigError("topic_prefix", f"must be non-empty without wildcards, got "
                                              f"{self.topic_prefix!r}")
        if not isinstance(self.keepalive_s, int) or self.keepalive_s < 1:
            raise ConfigError("keepalive_s", f"must be an integer >= 1 s, got "
                                             f"{self.keepalive_s!r}")
        if not isinstance(self.max_queued, int) or self.max_queued < 1:
            raise ConfigError("max_queued", f"must be an integer >= 1, got {self.max_queued!r}")
        from edge.sinks.mqtt import check_credentials  # noqa: PLC0415

        check_credentials(username=self.username, password=self.password,
                          password_file=self.password_file, tls_cert_file=self.tls_cert_file,
                          tls_key_file=self.tls_key_file)

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls or self.tls_ca_file or self.tls_cert_file)

    def read_password(self) -> str | None:
        """The password: given, or the first line of ``password_file``
        (:class:`~edge.errors.ConfigError` naming the file when it cannot be read)."""
        from edge.sinks.mqtt import read_password_file  # noqa: PLC0415

        if self.password_file is None:
            return self.password
        try:
            return read_password_file(self.password_file)
        except ValueError as exc:
            raise ConfigError("password_file", f"cannot read {self.password_file}: {exc}") \
                from None

    def check_files(self) -> None:
        """Read the password file and check the TLS files now (a wrong path is one line at
        start, not a feed that never connects)."""
        self.read_password()
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).expanduser().is_file():
                raise ConfigError(name, f"{value}: no such file")

    def topics(self) -> list[str]:
        """Subscriptions: every device's topics; ``+/status`` also carries the daemon's
        presence (``<prefix>/daemon/status`` or ``<prefix>/<presence_id>/status``)."""
        return [f"{self.topic_prefix}/+/{s}" for s in MQTT_SUFFIXES]


class MqttFeed:
    """Subscribe to the daemon's MQTT topics (paho-mqtt 2.x, network loop in its thread).

    Parameters
    ----------
    config : broker and topics.
    client_factory : builds the paho client (tests inject a fake); default
        ``paho.mqtt.client.Client``.
    """

    def __init__(self, config: MqttFeedConfig, *, client_factory=None) -> None:
        self.config = config
        self.name = f"mqtt:{config.host}:{config.port}"
        self._queue: deque[Message] = deque(maxlen=config.max_queued)
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._detail = "connecting"
        self.rejects = Rejects(self.name)
        self.n_events = 0
        self.n_dropped = 0
        if client_factory is None:
            try:
                import paho.mqtt.client as mqtt
            except ImportError as exc:
                raise ConfigError("mqtt", "needs paho-mqtt>=2.0: pip install "
                                          "'ecg-edge[dashboard]'") from exc

            def client_factory():
                return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=config.client_id or "", clean_session=True)
        client = client_factory()
        if config.username:
            client.username_pw_set(config.username, config.read_password())
        if config.uses_tls:
            def tls_file(value: str | None) -> str | None:
                return None if value is None else str(Path(value).expanduser())

            try:
                client.tls_set(ca_certs=tls_file(config.tls_ca_file),
                               certfile=tls_file(config.tls_cert_file),
                               keyfile=tls_file(config.tls_key_file))
            except (OSError, ValueError) as exc:
                raise ConfigError("tls", f"cannot load the TLS files: {exc}") from None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client = client
        self._closed = False
        try:
            client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
            client.loop_start()
        except (OSError, ValueError) as exc:
            self._detail = f"cannot start the MQTT client: {exc}"
            logger.warning("%s: %s", self.name, self._detail)

    # -- paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if getattr(reason_code, "is_failure", False):
            self._detail = f"connection refused: {reason_code}"
            logger.warning("%s: %s", self.name, self._detail)
            return
        for topic in self.config.topics():
            client.subscribe(topic, qos=1)
        self._detail = ""
        self._connected.set()
        logger.info("%s: connected, subscribed to %s/#", self.name, self.config.topic_prefix)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._detail = f"disconnected ({reason_code}); reconnecting"
        logger.warning("%s: %s", self.name, self._detail)

    @property
    def n_bad(self) -> int:
        """Messages refused as malformed."""
        return self.rejects.total

    def _topic_error(self, topic: str, msg: Message) -> str | None:
        """Why ``msg`` does not belong on ``topic`` (None when it does)."""
        levels = topic.split("/")
        suffix = levels[-1]
        if isinstance(msg, Presence):
            return None if suffix == "status" else f"a presence message on {topic!r}"
        want = MQTT_TOPICS.get(msg.type)
        if len(levels) < 2 or levels[-2] != str(msg.device_id) or suffix != want:
            return (f"a {msg.type} event of device {msg.device_id} on {topic!r} (expected "
                    f".../{msg.device_id}/{want})")
        return None

    def _on_message(self, client, userdata, message) -> None:
        try:
            msg = parse_message(message.payload)
        except EventDecodeError as err:
            self.rejects.add_decode_error(err)
            return
        wrong = self._topic_error(str(message.topic), msg)
        if wrong is not None:
            self.rejects.add("topic", wrong)
            return
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.n_dropped += 1
            self._queue.append(msg)

    # -- EventFeed
    def poll(self) -> list[Message]:
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
        self.n_events += len(out)
        return out

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected (True) or ``timeout_s`` passed (False)."""
        return self._connected.wait(timeout_s)

    def status(self) -> FeedStatus:
        detail = self._detail
        if self.n_dropped:
            detail = f"{detail}; {self.n_dropped} messages dropped".lstrip("; ")
        return FeedStatus(name=self.name, connected=self.connected, detail=detail,
                          n_events=self.n_events, n_bad=self.rejects.total,
                          malformed=self.rejects.by_kind())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

