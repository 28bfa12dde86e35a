"""Durable store-and-forward queue for MQTT messages: SQLite in WAL mode.

Every message is appended (and committed) *before* it is handed to the MQTT client, and
deleted only when the broker acknowledges it (PUBACK for QoS 1; for QoS 0 when paho has
written it to the socket). Messages are read back in append order (``id``), so a reconnect or
a restart drains them in the order they were produced.

Schema (``PRAGMA user_version = 1``)::

    outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,  -- append order = publish order
           topic TEXT, payload BLOB, qos INTEGER, retain INTEGER,
           event_type TEXT,                       -- beat, alert, hr, strip, status, ...
           priority INTEGER,                      -- drop class, see below
           n_bytes INTEGER,                       -- len(topic) + len(payload)
           created_s REAL)                        -- Unix time of the append
    meta(key TEXT PRIMARY KEY, value INTEGER)     -- "boot" (run number), "dropped_<type>"

Boot. Each :class:`Outbox` opened on a file takes a new ``boot``: the Unix time in
milliseconds, or the file's last boot + 1 when the clock reads earlier (a gateway without a
real-time clock before NTP) -- larger at every start, and unlike a counter from 1 it does not
repeat across outbox files (a reinstalled gateway, a deleted outbox, two gateways given one
device id: with a counter, their runs shared ``(device_id, 1, seq)`` and the event store
dropped one run's events as duplicates). The MQTT sink puts it in every payload, so a
consumer orders and de-duplicates a device's events by ``(boot, seq)`` even though the
daemon's ``seq`` restarts at 0 on every run. An in-memory outbox (``path=":memory:"``, not
crash-safe) uses the Unix time in milliseconds.

Drop policy (bounded disk). ``max_bytes`` bounds the sum of ``n_bytes`` of the queued
messages (the file is about 1.3x that, plus a WAL of at most ``wal_max_bytes``). When an
append would exceed it, queued messages are evicted, oldest first, by class -- ``strip`` and
``hr`` (priority 0) first, then ``status``/``link``/``quality`` (1), then ``beat`` (2), and
``alert`` (3) last -- but only messages of a class no higher than the new message's: a new
strip never evicts a beat, a new beat never evicts an alarm; when no room can be made the new
message itself is dropped. Every drop is counted per event type in :meth:`Outbox.stats`
(persisted across runs) and logged (a dropped alert every time, as an error). Files queued
before alerts had a class of their own (2, with beats) are given it at open.

Urgent messages. Messages of :data:`URGENT_TYPES` (``alert``) are tracked in memory (id and
append time, reloaded from the file at open): :attr:`Outbox.urgent_pending` and
:attr:`Outbox.oldest_urgent_s` tell the MQTT sink how long an alarm has been waiting, which
shortens its reconnect backoff and drives the daemon's local fallback.

Durability by class. ``synchronous = "normal"`` (WAL): a committed append survives a crash of
the process, not necessarily a power loss (the last transactions may roll back; the file is
never corrupted). ``synchronous = "full"``: every append is fsync'd. ``fsync_types``: only
the appends of those event types (``alert`` by default in the MQTT sink) are committed with
``synchronous = FULL`` -- their fsync of the WAL also makes every earlier append durable.

Damage. A file SQLite finds corrupt or not a database (at open, or under a running outbox: a
failing SD card) is moved aside as ``<path>.damaged-<unix s>`` (with its WAL), logged as an
error, and a fresh outbox takes the new messages (``set_aside`` in :meth:`Outbox.stats`); the
messages queued in the damaged file are not sent. New ids continue above the old file's. A
full disk or a removed file is not damage: those stay errors.

Thread safety: one connection guarded by a lock; any thread may call any method.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from edge.errors import ConfigError, OutboxError

__all__ = ["OutboxConfig", "OutboxMessage", "Outbox", "DROP_PRIORITY", "MEMORY",
           "URGENT_TYPES"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: ``path`` of an in-memory (not crash-safe) outbox.
MEMORY = ":memory:"

#: Event type -> drop class (lower is dropped first). Unknown types get 1.
DROP_PRIORITY = {"strip": 0, "hr": 0, "status": 1, "link": 1, "quality": 1,
                 "beat": 2, "alert": 3}

#: Event types whose waiting time is tracked (:attr:`Outbox.oldest_urgent_s`).
URGENT_TYPES = ("alert",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    priority INTEGER NOT NULL,
    n_bytes INTEGER NOT NULL,
    created_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, kw_only=True)
class OutboxConfig:
    """Where the outbox lives and how big it may grow.

    Attributes
    ----------
    path : SQLite file (parent directories are created), or ``":memory:"``.
    max_bytes : bound on the queued topic + payload bytes (>= 65536).
    synchronous : ``"normal"`` (WAL default: a committed append survives a process crash,
        the last appends may be lost on power loss) or ``"full"`` (fsync per append; survives
        power loss; slower on SD cards).
    fsync_types : event types whose appends are fsync'd even when ``synchronous`` is
        ``"normal"`` (``("alert",)``: an alarm survives power loss once ``append`` returns,
        on storage that honours fsync).
    wal_max_bytes : the WAL file is truncated to this size after checkpoints.
    """

    path: str = MEMORY
    max_bytes: int = 50_000_000
    synchronous: str = "normal"
    fsync_types: tuple[str, ...] = ()
    wal_max_bytes: int = 4_000_000

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ConfigError("path", f"must name a file or ':memory:', got {self.path!r}")
        if not isinstance(self.max_bytes, int) or isinstance(self.max_bytes, bool) \
                or self.max_bytes < 65536:
            raise ConfigError("max_bytes", f"must be an integer >= 65536 bytes, "
                                           f"got {self.max_bytes!r}")
        if self.synchronous not in ("normal", "full"):
            raise ConfigError("synchronous", f"must be 'normal' or 'full', "
                                             f"got {self.synchronous!r}")
        if not isinstance(self.fsync_types, tuple) or not all(
                isinstance(t, str) and t for t in self.fsync_types):
            raise ConfigError("fsync_types", f"must be a tuple of event types, "
                                             f"got {self.fsync_types!r}")
        if not isinstance(self.wal_max_bytes, int) or self.wal_max_bytes < 0:
            raise ConfigError("wal_max_bytes", f"must be an integer >= 0, "
                                               f"got {self.wal_max_bytes!r}")


class OutboxMessage(NamedTuple):
    """One queued message (``id`` is its position in publish order)."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    event_type: str


def _damaged(exc: BaseException | None) -> bool:
    """SQLite found the file corrupt or not a database (not a full disk, a lock or a removed
    file, which are not the file's fault)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or (
        not name and ("malformed" in str(exc) or "not a database" in str(exc)))


class Outbox:
    """A bounded, ordered, durable message queue (see the module docstring).

    Parameters
    ----------
    config : OutboxConfig

    Raises
    ------
    OutboxError
        When the database cannot be opened or is not an outbox.
    """

    def __init__(self, config: OutboxConfig | None = None) -> None:
        self.config = config if config is not None else OutboxConfig()
        self.path = self.config.path
        self._lock = threading.Lock()
        self.n_appended = 0
        self.n_acked = 0
        self.n_set_aside = 0  # damaged files moved aside (this run)
        self._max_id = 0  # the highest message id handed out or read
        try:
            self._open()
        except OutboxError as exc:
            if not _damaged(exc.__cause__):
                raise
            self._set_aside(exc.__cause__)  # a damaged file: start a fresh outbox
            self._open()
        self._closed = False
        self._drop_logged = 0
        if self._pending:
            logger.info("outbox %s: %d messages (%d bytes) left from an earlier run will be "
                        "sent first", self.path, self._pending, self._pending_bytes)

    def _open(self) -> None:
        """Open (create) the database and load the queue's state; :class:`OutboxError` with
        the SQLite error as its cause when it cannot."""
        try:
            if self.path != MEMORY:
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=10.0)
            db = self._db
            if self.path != MEMORY:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise OutboxError(f"cannot switch to WAL mode (got {mode})", self.path)
            db.execute(f"PRAGMA synchronous={self.config.synchronous.upper()}")
            db.execute(f"PRAGMA journal_size_limit={self.config.wal_max_bytes}")
            db.executescript(_SCHEMA)
            db.execute("PRAGMA user_version=1")
            db.execute("BEGIN IMMEDIATE")
            now_ms = int(time.time() * 1000)
            if self.path == MEMORY:
                boot = now_ms
            else:
                row = db.execute("SELECT value FROM meta WHERE key='boot'").fetchone()
                boot = max((row[0] if row else 0) + 1, now_ms)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('boot', ?)", (boot,))
            for etype, prio in DROP_PRIORITY.items():  # a file of an older drop policy
                db.execute("UPDATE outbox SET priority = ? WHERE event_type = ? AND "
                           "priority <> ?", (prio, etype, prio))
            db.execute("COMMIT")
            self.boot = boot
            n, size = db.execute("SELECT COUNT(*), COALESCE(SUM(n_bytes), 0) "
                                 "FROM outbox").fetchone()
            self._pending = int(n)
            self._pending_bytes = int(size)
            self._dropped = {k[len("dropped_"):]: v for k, v in db.execute(
                "SELECT key, value FROM meta WHERE key LIKE 'dropped_%'")}
            marks = ",".join("?" * len(URGENT_TYPES))
            self._urgent: dict[int, float] = {int(i): float(t) for i, t in db.execute(
                f"SELECT id, created_s FROM outbox WHERE event_type IN ({marks}) ORDER BY id",
                URGENT_TYPES)}
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open: {exc}", self.path) from exc

    def _set_aside(self, cause: BaseException | None) -> None:
        """The file is damaged (SQLite says corrupt, or not a database): move it (and its WAL)
        aside as ``<path>.damaged-<unix s>`` and say so -- the messages queued in it are not
        sent; a fresh outbox takes the new ones (they were silently failing before)."""
        if self.path == MEMORY:
            raise OutboxError(f"in-memory outbox failed: {cause}", self.path) from cause
        try:
            self._db.close()
        except (AttributeError, sqlite3.Error):
            pass
        stamp = f".damaged-{int(time.time())}"
        base = Path(self.path).expanduser()
        moved = None
        for suffix in ("", "-wal", "-shm"):
            f = base.with_name(base.name + suffix)
            if f.exists():
                target = base.with_name(base.name + stamp + suffix)
                try:
                    f.replace(target)
                except OSError as exc:
                    raise OutboxError(f"damaged ({cause}) and cannot be moved aside: "
                                      f"{exc.strerror or exc}", self.path) from exc
                moved = moved or target
        self.n_set_aside += 1
        logger.error("outbox %s is damaged (%s): moved aside to %s; the messages queued in it "
                     "will not be sent; a fresh outbox continues", self.path, cause, moved)

    def _recovering(self, op: Callable[[], _T], after: Callable[[], _T]) -> _T:
        """``op()`` (lock held); when it fails because the file is damaged, the file is set
        aside, a fresh outbox opened (:meth:`_recover`) and ``after()`` is the answer. Any
        other :class:`OutboxError` is raised."""
        try:
            return op()
        except OutboxError as exc:
            if not self._recover(exc):
                raise
            return after()

    def _recover(self, exc: OutboxError) -> bool:
        """After a failed operation (lock held): set a damaged file aside and open a fresh
        outbox; False when ``exc`` is not damage (disk full, a removed file...)."""
        if not _damaged(exc.__cause__) or self.path == MEMORY:
            return False
        self._set_aside(exc.__cause__)
        self._open()
        if self._max_id:  # ids above the old file's: an old in-flight ack deletes nothing new
            try:
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)",
                                 (self._max_id,))
            except sqlite3.Error as err:
                raise OutboxError(f"cannot open: {err}", self.path) from err
        return True

    # -- queue ----------------------------------------------------------------------------

    def append(self, topic: str, payload: bytes, *, qos: int, retain: bool,
               event_type: str) -> int | None:
        """Queue one message durably (committed before returning).

        Returns
        -------
        int or None
            The message id, or ``None`` when the drop policy dropped the message itself.

        Raises
        ------
        OutboxError
            When SQLite cannot write (disk full, file removed, closed outbox).
        """
        n_bytes = len(topic.encode("utf-8")) + len(payload)
        priority = DROP_PRIORITY.get(event_type, 1)
        fsync = (self.config.synchronous == "normal" and self.path != MEMORY
                 and event_type in self.config.fsync_types)
        with self._lock:
            self._check_open()
            def append() -> int | None:
                return self._append(topic, payload, qos, retain, event_type, n_bytes, priority,
                                    fsync)
            return self._recovering(append, append)  # into the fresh outbox after damage

    def _append(self, topic: str, payload: bytes, qos: int, retain: bool, event_type: str,
                n_bytes: int, priority: int, fsync: bool) -> int | None:
        """:meth:`append` with the lock held."""
        created_s = time.time()
        if fsync:
            self._set_synchronous("FULL")
        try:
            with self._transaction("append") as db:
                excess = self._pending_bytes + n_bytes - self.config.max_bytes
                if excess > 0 and not self._make_room(excess, priority):
                    self._count_drop(event_type)
                    return None
                cur = db.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, event_type, "
                    "priority, n_bytes, created_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (topic, payload, int(qos), int(bool(retain)), event_type, priority,
                     n_bytes, created_s))
        finally:
            if fsync:
                self._set_synchronous("NORMAL")
        oid = int(cur.lastrowid)
        self._max_id = max(self._max_id, oid)
        self._pending += 1
        self._pending_bytes += n_bytes
        self.n_appended += 1
        if event_type in URGENT_TYPES:
            self._urgent[oid] = created_s
        return oid

    def _set_synchronous(self, level: str) -> None:
        """Switch the connection's ``PRAGMA synchronous`` (outside a transaction; the caller
        holds the lock)."""
        try:
            self._db.execute(f"PRAGMA synchronous={level}")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot set synchronous={level}: {exc}", self.path) from exc

    def _make_room(self, excess: int, priority: int) -> bool:
        """Evict by the drop policy until ``excess`` bytes are free (inside a transaction);
        False (and nothing evicted) when it cannot be done with classes <= ``priority``."""
        db = self._db
        victims: list[tuple[int, int, str]] = []
        freed = 0
        for prio in range(priority + 1):
            for row in db.execute("SELECT id, n_bytes, event_type FROM outbox WHERE "
                                  "priority = ? ORDER BY id", (prio,)):
                victims.append(row)
                freed += row[1]
                if freed >= excess:
                    break
            if freed >= excess:
                break
        if freed < excess:
            return False
        db.executemany("DELETE FROM outbox WHERE id = ?", [(v[0],) for v in victims])
        for oid, n, etype in victims:
            self._urgent.pop(oid, None)
            self._pending -= 1
            self._pending_bytes -= n
            self._count_drop(etype)
        return True

    def _count_drop(self, event_type: str) -> None:
        n = self._dropped.get(event_type, 0) + 1
        self._dropped[event_type] = n
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (f"dropped_{event_type}", n))
        total = sum(self._dropped.values())
        if event_type in URGENT_TYPES:  # an alarm lost: never only counted
            logger.error("outbox %s full (%d bytes): dropped an %s message (%d alerts dropped "
                         "so far, %d messages in all): raise sinks.mqtt.outbox_max_bytes",
                         self.path, self.config.max_bytes, event_type, n, total)
        elif total <= 5 or total % 1000 == 0:
            logger.warning("outbox %s full (%d bytes): dropped a %s message (%d dropped so "
                           "far)", self.path, self.config.max_bytes, event_type, total)

    def peek(self, after_id: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """Up to ``limit`` queued messages with ``id > after_id``, oldest first."""
        with self._lock:
            self._check_open()

            def read() -> list[tuple]:
                try:
                    return self._db.execute(
                        "SELECT id, topic, payload, qos, retain, event_type FROM outbox "
                        "WHERE id > ? ORDER BY id LIMIT ?",
                        (int(after_id), int(limit))).fetchall()
                except sqlite3.Error as exc:
                    raise OutboxError(f"cannot read: {exc}", self.path) from exc
            rows = self._recovering(read, read)
            if rows:
                self._max_id = max(self._max_id, int(rows[-1][0]))
        return [OutboxMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows]

    def ack(self, ids: Iterable[int]) -> int:
        """Delete acknowledged messages; returns how many were still queued."""
        ids = [(int(i),) for i in ids]
        if not ids:
            return 0
        with self._lock:
            self._check_open()
            return self._recovering(lambda: self._ack(ids),
                                    lambda: 0)  # after damage: the ids were the old file's

    def _ack(self, ids: list[tuple[int]]) -> int:
        """:meth:`ack` with the lock held."""
        with self._transaction("delete") as db:
            size = 0
            n = 0
            for (i,) in ids:
                row = db.execute("SELECT n_bytes FROM outbox WHERE id = ?",
                                 (i,)).fetchone()
                if row is not None:
                    size += row[0]
                    n += 1
            db.executemany("DELETE FROM outbox WHERE id = ?", ids)
        for (i,) in ids:
            self._urgent.pop(i, None)
        self._pending -= n
        self._pending_bytes -= size
        self.n_acked += n
        return n

    # -- state ----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Messages queued (not yet acknowledged)."""
        return self._pending

    @property
    def pending_bytes(self) -> int:
        """Topic + payload bytes queued."""
        return self._pending_bytes

    @property
    def urgent_pending(self) -> int:
        """Messages of :data:`URGENT_TYPES` (alerts) queued."""
        return len(self._urgent)

    @property
    def oldest_urgent_s(self) -> float | None:
        """Append time (Unix s) of the oldest queued alert; ``None`` when none is queued."""
        with self._lock:
            return next(iter(self._urgent.values()), None)

    def stats(self) -> dict[str, Any]:
        """Counters for status events: ``boot``, ``pending``, ``pending_bytes``,
        ``max_bytes``, ``appended`` / ``acked`` (this run), ``urgent_pending`` (alerts
        queued), ``dropped`` per event type (all runs) and ``dropped_total``, ``set_aside``
        (damaged files moved aside this run)."""
        return {"boot": self.boot, "pending": self._pending,
                "urgent_pending": len(self._urgent),
                "pending_bytes": self._pending_bytes, "max_bytes": self.config.max_bytes,
                "appended": self.n_appended, "acked": self.n_acked,
                "dropped": dict(self._dropped),
                "dropped_total": sum(self._dropped.values()),
                "set_aside": self.n_set_aside}

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (caller holds the lock): ``BEGIN IMMEDIATE``, then ``COMMIT``
        when the block ends (also by ``return``), ``ROLLBACK`` when it raises; SQLite errors
        become :class:`OutboxError` ("cannot <what>")."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite has rolled back itself on "disk full"
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:  # a COMMIT that failed: the next BEGIN must not
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise OutboxError(f"cannot {what}: {exc}", self.path) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise OutboxError("the outbox is closed", self.path)

    def close(self) -> None:
        """Checkpoint the WAL and close; idempotent. Queued messages stay in the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.path != MEMORY:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.Error as exc:
                logger.warning("outbox %s: close: %s", self.path, exc)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
