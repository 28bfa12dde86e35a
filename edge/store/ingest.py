"""Ingest: events from MQTT or JSON-lines files into the :class:`~edge.store.db.EventStore`.

Every payload goes through the strict decoder (:func:`edge.events.decode.event_from_dict`);
a malformed one is counted (per offending field) and logged, never fatal. Events are written
in batches, one transaction each; idempotent on ``(device_id, boot, seq)``.

MQTT (:class:`MqttIngest`): a persistent session (MQTT v3.1.1 ``clean_session=False`` by
default, or v5 ``clean_start=False`` with a session expiry) subscribed at QoS 1 to
``<prefix>/+/+`` (or ``$share/<group>/<prefix>/+/+`` so that several ingest processes share
the load). Messages are acknowledged by hand (paho ``manual_ack``) and **only after the
batch holding them is committed**, in the order they arrived. So:

* ingest killed (even ``kill -9``): what was not committed was not acknowledged, the broker
  re-sends it to the session on reconnect; what was committed but not yet acknowledged is
  re-sent too, and the key makes it a no-op (counted as ``duplicates``);
* broker restart: paho reconnects, the session resumes; acknowledgements of messages
  received on the previous connection are not sent (their packet ids belong to that
  connection) — the broker re-delivers them and the key de-duplicates;
* database down: the batch is kept, nothing is acknowledged, the store is reopened with
  back-off, and the batch written again.

The broker must let an ingest client have many unacknowledged messages in flight (Mosquitto
``max_inflight_messages 1000`` or more): the batch is what arrived during the previous
commit, and a window of 20 (Mosquitto's default) caps throughput at 20 messages per commit.

JSON-lines (:func:`import_jsonl`): files written by ``ecg-edge run --jsonl`` (or an MQTT
capture). Lines carrying ``boot`` use it (the JSONL sink writes the run's number on every
line since 2026-12-03); lines without it (older files) get the run's ``boot`` from the file:
a device's ``seq`` going back marks a new daemon run, and the run's ``boot`` is the whole
second of its first event's ``time_s`` in the file — stable, so a re-import of the same file
is a no-op. Every file is checked readable before anything is stored; a read error in the
middle of a file stores what was read before it and says how much.
"""
from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError, EventDecodeError, StoreError
from edge.events.decode import event_from_dict, presence_from_dict
from edge.store.db import EventStore, StoredEvent, WriteResult
from edge.store.retention import RetentionPolicy

__all__ = ["IngestCounters", "EventWriter", "decode_payload", "import_jsonl",
           "MqttIngestSettings", "MqttIngest"]

logger = logging.getLogger(__name__)

#: Malformed payloads logged one by one before only every 1000th is.
_LOG_FIRST_MALFORMED = 20


@dataclass
class IngestCounters:
    """What an ingest run did (every payload lands in exactly one of ``stored``,
    ``duplicates``, ``malformed``, ``presence``, or is still ``pending``)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    presence: int = 0
    batches: int = 0
    store_errors: int = 0
    connects: int = 0
    sessions_lost: int = 0  # reconnects to a broker that had kept no session
    stale_acks_skipped: int = 0
    malformed_by_field: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "malformed_by_field"}
        out["malformed_by_field"] = dict(self.malformed_by_field)
        return out

    def summary(self) -> str:
        return (f"{self.received} received, {self.stored} stored, {self.duplicates} "
                f"duplicates, {self.malformed} malformed, {self.presence} presence, "
                f"{self.batches} batches")


def decode_payload(data: Any, *, topic: str | None = None, default_boot: int = 0
                   ) -> StoredEvent | None:
    """Decode one parsed JSON payload: a :class:`StoredEvent`, or ``None`` for the daemon's
    presence message.

    Parameters
    ----------
    data : the payload after ``json.loads``.
    topic : the MQTT topic (``<prefix>/<device_id>/<kind>``); its device id must be the
        event's.
    default_boot : ``boot`` of a payload without one.

    Raises
    ------
    EventDecodeError
        Any breach of the event schema (``field`` names it).
    """
    if isinstance(data, dict) and data.get("type") == "presence":
        presence_from_dict(data)
        return None
    event = event_from_dict(data)  # checks boot too when present
    if topic is not None:
        parts = topic.split("/")
        if len(parts) < 3 or parts[-2] != str(event.device_id):
            raise EventDecodeError("device_id", f"{event.device_id} does not match the "
                                                f"topic {topic!r}")
    boot = data.get("boot", default_boot)
    return StoredEvent(boot, event, data)


def _load(raw: str | bytes) -> Any:
    if isinstance(raw, (bytes, bytearray)):
        try:  # events are UTF-8 JSON (json.loads would guess UTF-16/32 from binary noise)
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventDecodeError("$", f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EventDecodeError("$", f"not valid JSON: {exc}") from None


class EventWriter:
    """Decodes payloads, keeps a batch, and writes it with :meth:`flush`.

    Parameters
    ----------
    store : the open store.
    counters : counted into (a new one by default).
    """

    def __init__(self, store: EventStore, counters: IngestCounters | None = None) -> None:
        self.store = store
        self.counters = counters or IngestCounters()
        self.batch: list[StoredEvent] = []

    def malformed(self, exc: EventDecodeError, where: str) -> None:
        """Count and log one malformed payload."""
        c = self.counters
        c.malformed += 1
        c.malformed_by_field[exc.field] += 1
        if c.malformed <= _LOG_FIRST_MALFORMED or c.malformed % 1000 == 0:
            logger.warning("malformed payload #%d (%s): %s", c.malformed, where, exc)

    def add(self, raw: str | bytes | Any, where: str, *, topic: str | None = None,
            parsed: bool = False, default_boot: int = 0, payload: bytes | None = None
            ) -> StoredEvent | None:
        """Decode one payload into the batch; a malformed one is counted, never raised.
        ``raw`` is the JSON text, or (``parsed``) the object decoded from ``payload``."""
        self.counters.received += 1
        try:
            stored = decode_payload(raw if parsed else _load(raw), topic=topic,
                                    default_boot=default_boot)
        except EventDecodeError as exc:
            self.malformed(exc, where)
            return None
        if stored is None:
            self.counters.presence += 1
            return None
        text = payload if parsed else raw
        if stored.event.type == "strip" and isinstance(text, bytes):
            stored = StoredEvent(stored.boot, stored.event, stored.raw, text)
        self.batch.append(stored)
        return stored

    def flush(self) -> WriteResult:
        """Write and commit the batch (kept when the store raises
        :class:`~edge.errors.StoreError`, so the caller may retry)."""
        if not self.batch:
            return WriteResult(0, 0)
        result = self.store.write(self.batch)
        self.batch = []
        self.counters.batches += 1
        self.counters.stored += result.inserted
        self.counters.duplicates += result.duplicates
        return result


def check_jsonl_paths(paths: Iterable[str | Path]) -> list[Path]:
    """``paths`` as :class:`Path`, each checked to open for reading (before anything is
    stored: a missing second file must not leave half of the first one imported).

    Raises
    ------
    StoreError
        Naming the first file that cannot be read, and why.
    """
    out = []
    for path in map(Path, paths):
        try:
            with path.open("rb"):
                pass
        except IsADirectoryError:
            raise StoreError(f"cannot read {path}: a directory, not a JSON-lines file; "
                             f"nothing was imported") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}; nothing was "
                             f"imported") from None
        out.append(path)
    return out


def _lines(fh, path: Path, writer: EventWriter):  # noqa: ANN001, ANN202 (a binary file)
    """The file's lines; a read error stores what was read before it, then raises."""
    while True:
        try:
            line = fh.readline()
        except OSError as exc:
            writer.flush()
            raise StoreError(f"cannot read {path} further: {exc.strerror or exc} "
                             f"({writer.counters.stored} events stored before it)") from None
        if not line:
            return
        yield line


def import_jsonl(store: EventStore, paths: Iterable[str | Path], *, batch_max: int = 5000,
                 counters: IngestCounters | None = None) -> IngestCounters:
    """Import JSON-lines files (see the module docstring for ``boot``).

    Raises
    ------
    StoreError
        A file cannot be read, or the database refuses a batch.
    """
    paths = check_jsonl_paths(paths)
    writer = EventWriter(store, counters)
    for path in paths:
        last_seq: dict[int, int] = {}
        run_boot: dict[int, int] = {}
        try:
            fh = path.open("rb")
        except OSError as exc:
            writer.flush()
            raise StoreError(f"cannot read {path}: {exc.strerror or exc} "
                             f"({writer.counters.stored} events stored before it)") from None
        with fh:
            lines = _lines(fh, path, writer)
            for lineno, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    data = _load(line)
                except EventDecodeError as exc:
                    writer.counters.received += 1
                    writer.malformed(exc, where)
                    continue
                boot = 0
                if isinstance(data, dict) and "boot" not in data:
                    dev, seq, t = data.get("device_id"), data.get("seq"), data.get("time_s")
                    if isinstance(dev, int) and isinstance(seq, int) and isinstance(
                            t, (int, float)) and math.isfinite(t):
                        if dev not in run_boot or seq <= last_seq[dev]:
                            run_boot[dev] = int(t)
                        last_seq[dev] = seq
                        boot = run_boot[dev]
                writer.add(data, where, parsed=True, default_boot=boot, payload=line)
                if len(writer.batch) >= batch_max:
                    writer.flush()
    writer.flush()
    return writer.counters


@dataclass(frozen=True, kw_only=True)
class MqttIngestSettings:
    """How :class:`MqttIngest` reaches the broker (the options of ``[sinks.mqtt]`` that a
    subscriber needs, plus its session).

    Attributes
    ----------
    host, port : the broker.
    topic_prefix : the gateways' ``topic_prefix`` (``ecg``).
    client_id : the persistent session's id: **one per ingest process** (the broker keeps
        unacknowledged messages for it while it is away).
    share_group : subscribe as ``$share/<group>/...`` (several processes share the load).
    username, password_file : credentials (first line of the file is the password).
    tls, tls_ca_file, tls_cert_file, tls_key_file : TLS as the daemon's MQTT sink.
    protocol : ``"3.1.1"`` (default: a persistent session with ``clean_session=False``, kept
        by the broker until the same client id returns) or ``"5"`` (``clean_start=False``
        with ``session_expiry_s``). 3.1.1 is the default for ingest because paho decodes MQTT
        v5 properties for every message: three benchmark runs measured 10-22 % less CPU per event
        with 3.1.1 (``benchmarks/results/ingest.md``). Shared subscriptions
        work with both (Mosquitto, EMQX, HiveMQ, VerneMQ).
    keepalive_s : MQTT keep-alive (s).
    session_expiry_s : how long the broker keeps the session while ingest is away (v5).
    batch_max : most events per transaction.
    """

    host: str
    port: int = 1883
    topic_prefix: str = "ecg"
    client_id: str = "ecg-edge-ingest"
    share_group: str | None = None
    username: str | None = None
    password_file: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    protocol: str = "3.1.1"
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86400
    batch_max: int = 2000

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("host", "must name the broker")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError("port", f"must be 1..65535, got {self.port!r}")
        if not self.topic_prefix or any(c in self.topic_prefix for c in "#+/"):
            raise ConfigError("topic_prefix", "must be non-empty without #, + or /")
        if not self.client_id:
            raise ConfigError("client_id", "must not be empty (it names the session)")
        if self.share_group is not None and (not self.share_group or any(
                c in self.share_group for c in "#+/")):
            raise ConfigError("share_group", "must be non-empty without #, + or /")
        if self.protocol not in ("5", "3.1.1"):
            raise ConfigError("protocol", f"must be \"5\" or \"3.1.1\", got {self.protocol!r}")
        if not isinstance(self.batch_max, int) or self.batch_max < 1:
            raise ConfigError("batch_max", f"must be >= 1, got {self.batch_max!r}")
        if not isinstance(self.keepalive_s, int) or self.keepalive_s < 1:
            raise ConfigError("keepalive_s", "must be >= 1 s")
        from edge.sinks.mqtt import check_credentials  # noqa: PLC0415

        check_credentials(username=self.username, password=None,
                          password_file=self.password_file, tls_cert_file=self.tls_cert_file,
                          tls_key_file=self.tls_key_file)

    @property
    def topic(self) -> str:
        """The subscription: every device's topics, shared when ``share_group`` is set."""
        base = f"{self.topic_prefix}/+/+"
        return f"$share/{self.share_group}/{base}" if self.share_group else base

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls or self.tls_ca_file or self.tls_cert_file)


def _wait_unless_stopped(event: threading.Event, stop: threading.Event,
                         timeout_s: float, poll_s: float = 0.05) -> bool:
    """Wait for ``event`` up to ``timeout_s``; give up early (``False``) once ``stop`` is set,
    so a SIGTERM during connection set-up is honoured at once."""
    deadline = time.monotonic() + timeout_s
    while not event.wait(min(poll_s, max(0.0, deadline - time.monotonic()))):
        if stop.is_set() or time.monotonic() >= deadline:
            return False
    return True


class MqttIngest:
    """Subscribe, decode, store, acknowledge after commit (see the module docstring).

    Parameters
    ----------
    settings : the broker and session.
    db_url : the store (reopened by URL after a database failure).
    retention : applied at start and every ``prune_every_s``; ``None``: never.
    """

    def __init__(self, settings: MqttIngestSettings, db_url: str, *,
                 retention: RetentionPolicy | None = None, prune_every_s: float = 3600.0,
                 store: EventStore | None = None) -> None:
        self.settings = settings
        self.db_url = db_url
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.counters = IngestCounters()
        self.store = store if store is not None else EventStore.open(db_url)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._generation = 0
        self._connected = threading.Event()
        self._answered = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged (un)subscribing
        self.refused: str | None = None
        self.retiring = False  # unsubscribe instead of subscribing (see :meth:`retire`)
        self._stopping = False
        self._client, self._connect_kwargs = self._make_client()

    def _make_client(self, clean: bool = False) -> tuple[Any, dict[str, Any]]:
        """A paho client for the session, and the keyword arguments of its ``connect``
        (``clean``: a clean session, which deletes the persistent one)."""
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
        except ImportError:
            raise StoreError("MQTT ingest needs paho-mqtt: pip install 'ecg-edge[store]'"
                             ) from None
        s = self.settings
        if s.protocol == "5":
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=s.client_id,
                                 protocol=mqtt.MQTTv5, manual_ack=True)
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 0 if clean else int(s.session_expiry_s)
            kwargs: dict[str, Any] = {"clean_start": clean, "properties": props}
        else:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=s.client_id,
                                 clean_session=clean, protocol=mqtt.MQTTv311, manual_ack=True)
            kwargs = {}
        if s.username:
            password = None
            if s.password_file:
                from edge.sinks.mqtt import read_password_file  # noqa: PLC0415

                try:
                    password = read_password_file(s.password_file)
                except ValueError as exc:
                    raise StoreError(f"cannot read the password file {s.password_file}: "
                                     f"{exc}") from None
            client.username_pw_set(s.username, password)
        if s.uses_tls:
            try:
                client.tls_set(ca_certs=s.tls_ca_file or None, certfile=s.tls_cert_file,
                               keyfile=s.tls_key_file)
            except (OSError, ValueError) as exc:
                raise StoreError(f"cannot load the TLS files: {exc}") from None
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_subscribe
        return client, kwargs

    # ---- paho callbacks (network thread) ---------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = str(reason)
            logger.error("broker %s:%d refused the connection: %s", self.settings.host,
                         self.settings.port, reason)
            self._answered.set()
            return
        self._generation += 1
        self.counters.connects += 1
        self.refused = None
        present = getattr(flags, "session_present", None)
        logger.info("connected to %s:%d (session present: %s); %s %s",
                    self.settings.host, self.settings.port, present,
                    "unsubscribing" if self.retiring else "subscribing", self.settings.topic)
        if self.counters.connects > 1 and present is False and not self.retiring:
            self.counters.sessions_lost += 1
            logger.warning("the broker kept no session for client id %r: events published "
                           "while ingest was away are lost (a broker restarted without "
                           "persistence, or the session expired; see docs/fleet.md); "
                           "`ecg-edge history` counts them as missing", self.settings.client_id)
        if self.retiring:
            client.unsubscribe(self.settings.topic)
        else:
            client.subscribe(self.settings.topic, qos=1)
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any = None) -> None:
        self._connected.clear()
        if self._stopping:
            logger.info("disconnected from %s:%d", self.settings.host, self.settings.port)
        else:
            logger.warning("disconnected from %s:%d (%s); reconnecting", self.settings.host,
                           self.settings.port, reason)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any = None) -> None:
        codes = reason_codes if isinstance(reason_codes, list) else [reason_codes]
        failed = [str(c) for c in codes if getattr(c, "is_failure", False)]
        if failed:
            self.refused = f"subscription to {self.settings.topic} refused ({', '.join(failed)})"
            logger.error("broker %s:%d: %s", self.settings.host, self.settings.port,
                         self.refused)
        self.subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._inbox.put((self._generation, msg.mid, msg.qos, msg.topic, msg.payload))

    # ---- the writer loop (caller's thread) -------------------------------------------

    def connect(self) -> None:
        """Start connecting (in the background; paho retries until the broker answers)."""
        s = self.settings
        try:
            self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s,
                                       **self._connect_kwargs)
            self._client.loop_start()
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot start the MQTT client for {s.host}:{s.port}: {exc}"
                             ) from None

    def run(self, stop: threading.Event, *, idle_exit_s: float | None = None,
            connect_timeout_s: float = 10.0) -> IngestCounters:
        """Ingest until ``stop`` is set (or nothing arrived for ``idle_exit_s``); the last
        batch is committed and acknowledged before returning.

        Raises
        ------
        StoreError
            The broker refused the credentials, or could not be reached within
            ``connect_timeout_s`` at start.
        """
        self.connect()
        try:
            if not _wait_unless_stopped(self._answered, stop, connect_timeout_s):
                if stop.is_set():
                    logger.info("stopped before the broker answered; nothing was taken")
                    return self.counters
            if not self._connected.is_set():
                raise StoreError(f"broker {self.settings.host}:{self.settings.port}: "
                                 + (f"refused: {self.refused}" if self.refused else
                                    f"no connection within {connect_timeout_s:g} s"))
            # from here on the broker keeps the session's messages, even if we stop at once
            if not _wait_unless_stopped(self.subscribed, stop, connect_timeout_s):
                if stop.is_set():
                    logger.info("stopped before the subscription was answered; nothing was "
                                "taken (the broker keeps the session's messages)")
                    return self.counters
                raise StoreError(f"broker {self.settings.host}:{self.settings.port}: no "
                                 f"answer to the subscription within {connect_timeout_s:g} s")
            self._loop(stop, idle_exit_s)
        finally:
            self._stopping = True
            self._client.disconnect()
            self._client.loop_stop()
        return self.counters

    def _loop(self, stop: threading.Event, idle_exit_s: float | None) -> None:
        """Decode batches here; a committer thread writes them and acknowledges their
        messages after each commit, in order, while the next batch is decoded (at most one
        batch waits for it: back-pressure)."""
        writer = EventWriter(self.store, self.counters)  # decoding only: no flush here
        batches: queue.Queue = queue.Queue(maxsize=1)
        failure: list[BaseException] = []
        committer = threading.Thread(target=self._committer, args=(batches, stop, failure),
                                     name="ingest-commit", daemon=True)
        committer.start()
        last_message = time.monotonic()
        last_log = time.monotonic()
        pending: list[tuple[int, int, int]] = []  # (generation, mid, qos) of the batch
        try:
            while not stop.is_set():
                now = time.monotonic()
                if failure:
                    raise failure[0]
                if now - last_log >= 60.0:
                    logger.info("ingest: %s", self.counters.summary())
                    last_log = now
                if self.refused:
                    raise StoreError(f"broker {self.settings.host}:{self.settings.port} "
                                     f"refused the connection: {self.refused}")
                try:
                    item = self._inbox.get(timeout=0.2)
                except queue.Empty:
                    if idle_exit_s is not None and now - last_message >= idle_exit_s:
                        return
                    continue
                self._take(writer, item, pending)
                # everything that arrived meanwhile joins the batch (up to batch_max)
                while len(pending) < self.settings.batch_max:
                    try:
                        self._take(writer, self._inbox.get_nowait(), pending)
                    except queue.Empty:
                        break
                last_message = time.monotonic()
                self._hand_over(batches, writer, pending, stop)
                pending = []
        finally:
            # stop: what was not handed over was not acknowledged; the broker re-sends it
            batches.put(None)
            committer.join()

    def _hand_over(self, batches: queue.Queue, writer: EventWriter, pending: list,
                   stop: threading.Event) -> None:
        while True:
            try:
                batches.put((writer.batch, pending), timeout=0.2)
                break
            except queue.Full:
                if stop.is_set():
                    return  # not handed over: not acknowledged
        writer.batch = []

    def _committer(self, batches: queue.Queue, stop: threading.Event,
                   failure: list[BaseException]) -> None:
        next_prune = 0.0
        try:
            while True:
                item = batches.get()
                if item is None:
                    return
                if self.retention is not None and time.monotonic() >= next_prune:
                    self._prune()
                    next_prune = time.monotonic() + self.prune_every_s
                events, pending = item
                if self._commit(events, stop):
                    self._ack(pending)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
            while batches.get() is not None:  # let the caller hand over and stop
                pass

    def _take(self, writer: EventWriter, item: tuple, pending: list) -> None:
        generation, mid, qos, topic, payload = item
        writer.add(payload, f"topic {topic}", topic=topic)
        pending.append((generation, mid, qos))

    def _commit(self, events: list[StoredEvent], stop: threading.Event) -> bool:
        """Write one batch, retrying with back-off (reopening the store) until it is
        committed; ``False`` when ``stop`` came first (nothing acknowledged)."""
        delay_s = 0.5
        while True:
            try:
                result = self.store.write(events)
            except StoreError as exc:
                self.counters.store_errors += 1
                logger.error("cannot store a batch of %d events (kept, not acknowledged): %s",
                             len(events), exc)
                if stop.wait(delay_s):
                    return False
                delay_s = min(delay_s * 2, 10.0)
                self._reopen()
                continue
            c = self.counters
            c.batches += 1
            c.stored += result.inserted
            c.duplicates += result.duplicates
            return True

    def _reopen(self) -> None:
        self.store.close()
        try:
            self.store = EventStore.open(self.db_url)
            logger.info("store %s reopened", self.store.url.display)
        except StoreError as exc:
            logger.error("cannot reopen the store: %s", exc)

    def _ack(self, pending: list[tuple[int, int, int]]) -> None:
        current = self._generation
        for generation, mid, qos in pending:
            if qos == 0:
                continue
            if generation != current:
                self.counters.stale_acks_skipped += 1  # re-delivered by the broker
                continue
            self._client.ack(mid, qos)

    def _prune(self) -> None:
        try:
            deleted = self.store.prune(self.retention)
        except StoreError as exc:
            logger.error("retention: %s", exc)
            return
        if any(deleted.values()):
            logger.info("retention deleted %s", deleted)

    def retire(self, stop: threading.Event, *, idle_s: float = 3.0,
               connect_timeout_s: float = 10.0) -> IngestCounters:
        """Retire this worker: resume the session, unsubscribe (no new messages come to
        it), store what the broker had queued for it until nothing arrives for ``idle_s``,
        then delete the session. An offline session of a shared group would otherwise keep
        receiving its share of the messages, stored by nobody.

        Raises
        ------
        StoreError
            As :meth:`run` and :meth:`end_session`.
        """
        self.retiring = True
        counters = self.run(stop, idle_exit_s=idle_s, connect_timeout_s=connect_timeout_s)
        if stop.is_set():
            # the queue may not be drained: deleting the session now would discard it
            logger.warning("retirement of %r interrupted: the session is kept with what the "
                           "broker still holds for it; run the retirement again to finish",
                           self.settings.client_id)
            return counters
        self.end_session(connect_timeout_s)
        return counters

    def end_session(self, timeout_s: float = 10.0) -> None:
        """Delete this client id's persistent session at the broker, with whatever it still
        holds (:meth:`retire` stores that first).

        Raises
        ------
        StoreError
            The broker did not answer or refused.
        """
        s = self.settings
        client, kwargs = self._make_client(clean=True)
        done = threading.Event()
        client.on_connect = lambda *a: done.set()
        client.on_disconnect = None
        try:
            client.connect(s.host, s.port, keepalive=s.keepalive_s, **kwargs)
        except (OSError, ValueError) as exc:
            raise StoreError(f"broker {s.host}:{s.port}: {exc}") from None
        client.loop_start()
        try:
            if not done.wait(timeout_s):
                raise StoreError(f"broker {s.host}:{s.port}: no answer within {timeout_s:g} s")
        finally:
            client.disconnect()
            client.loop_stop()
        logger.info("session %r ended", s.client_id)

    def close(self) -> None:
        self.store.close()
