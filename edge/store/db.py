"""The event store: one connection to SQLite (WAL) or PostgreSQL, the schema created or
upgraded on open, idempotent batch writes, retention, and read queries.

::

    store = EventStore.open("night.db")            # or "postgresql://ecg@db/clinic"
    result = store.write([StoredEvent(boot=3, event=e), ...])   # one transaction
    store.prune(RetentionPolicy(strip_days=2))
    store.close()

:meth:`EventStore.write` commits before it returns: a caller that acknowledges messages after
it (``edge.store.ingest``) never acknowledges an uncommitted row.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import SchemaVersionError, StoreError
from edge.events.model import Event, event_to_dict
from edge.store.retention import RetentionPolicy
from edge.store.schema import MIGRATIONS, SCHEMA_VERSION, TABLE_OF_TYPE, TABLES, columns
from edge.store.url import StoreURL, parse_store_url

__all__ = ["EventStore", "StoredEvent", "WriteResult", "event_row"]

logger = logging.getLogger(__name__)

#: PostgreSQL advisory-lock key held while the schema is created or upgraded.
_MIGRATION_LOCK = 0x45434745  # "ECGE"


@dataclass(frozen=True)
class StoredEvent:
    """An event and the ``boot`` of the gateway run that sent it (``docs/fleet.md``);
    ``raw`` is the decoded JSON object it came from, when there is one (its nested objects
    are written as they came, without encoding the event again); ``payload`` is the JSON text
    itself (a strip's samples are then copied from it, not re-encoded: 90 float reprs are
    most of the cost of storing a strip)."""

    boot: int
    event: Event
    raw: dict | None = field(default=None, compare=False, repr=False)
    payload: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WriteResult:
    """What one :meth:`EventStore.write` did: ``inserted`` new rows, ``duplicates`` events
    already stored (same ``(device_id, boot, seq)``)."""

    inserted: int
    duplicates: int


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _samples_text(payload: bytes) -> str | None:
    """The ``samples_mv`` array of a decoded strip's JSON text, copied as it is; ``None``
    when the text is not plain enough to be sure it is what the decoder read (an escape
    anywhere, a NaN/Infinity literal) and the samples must be encoded again.

    Safe because the decoder refused every key a strip does not have, so the only strings in
    the text are its keys and ``"strip"``, and with no backslash no key is spelt otherwise:
    the last ``"samples_mv"`` is the key whose value ``json.loads`` kept (the last one wins),
    and an array of numbers and nulls holds no ``]``."""
    if b"\\" in payload:
        return None
    i = payload.rfind(b'"samples_mv"')
    start = payload.find(b"[", i)
    end = payload.find(b"]", start)
    if i < 0 or start < 0 or end < 0 or payload[i + 12:start].strip() != b":":
        return None
    text = payload[start:end + 1]
    if b"N" in text or b"I" in text:  # NaN, Infinity
        return None
    return b"".join(text.split()).decode("ascii", "replace")  # numbers hold no whitespace


def _nested(stored: StoredEvent, name: str) -> str:
    """A nested object (``proba``, ``rr_s``, ``detail``, ``samples_mv``) as JSON text: from the
    payload when there is one (it was valid JSON and the decoder checked it), else encoded
    from the event (non-finite floats as null, as the daemon writes them)."""
    raw = stored.raw
    if raw is not None and name in raw:
        try:
            return _json(raw[name])
        except ValueError:  # a NaN/Infinity literal (Python's json accepts them): clean it
            pass
    return _json(event_to_dict(stored.event)[name])


def event_row(stored: StoredEvent, ingest_us: int) -> tuple[str, tuple]:
    """``(table, row)`` of one event, the row in :func:`edge.store.schema.columns` order."""
    e = stored.event
    t = e.type
    head = (e.device_id, stored.boot, e.seq, int(round(e.time_s * 1e6)))
    if t == "beat":
        own = (e.sample_index, e.fs_hz, e.label, e.quality, e.rhythm,
               _nested(stored, "proba"), _nested(stored, "rr_s"))
    elif t == "hr":
        own = (e.sample_index, e.fs_hz, e.hr_bpm, e.window_s, e.n_beats, e.af_burden_1h,
               e.af_burden_run)
    elif t == "alert":
        own = (e.sample_index, e.fs_hz, e.kind, e.state, e.severity,
               _nested(stored, "detail"))
    elif t == "strip":
        samples = _samples_text(stored.payload) if stored.payload is not None else None
        own = (e.sample_index, e.fs_hz, e.strip_fs_hz,
               samples if samples is not None else _nested(stored, "samples_mv"))
    else:  # status, link, quality: rare; the whole event as the daemon encodes it
        d = event_to_dict(e)
        own = (t, d["quality"] if t == "quality" else d["state"], _json(d))
    return TABLE_OF_TYPE[t], head + own + (ingest_us,)


#: ``store_meta`` key: the latest retention cut-off (event time, us) that deleted rows.
PRUNED_BEFORE_KEY = "pruned_before_us"


class EventStore:
    """An open event store (use :meth:`open`). Not shared between threads."""

    def __init__(self, url: StoreURL, conn: Any, *, timescale: bool = False) -> None:
        self.url = url
        self.dialect = url.dialect
        self._conn = conn
        self.timescale = timescale
        self._ph = "%s" if self.dialect == "postgresql" else "?"
        self.version = 0

    # ---- opening and the schema -------------------------------------------------------

    @classmethod
    def open(cls, url: str | StoreURL, *, upgrade_to: int = SCHEMA_VERSION,
             connect_timeout_s: float = 10.0, must_exist: bool = False) -> EventStore:
        """Connect, then create the schema or upgrade it to ``upgrade_to`` (the current
        version unless a test asks for an older one).

        ``must_exist``: readers (``history``, the dashboard) refuse an SQLite file that is not
        there, and a database without the ecg-edge schema (an empty file, a new database),
        instead of creating it, so a mistyped path is an error, not an empty history, and a
        reader never writes a schema into a file it was only pointed at.

        Raises
        ------
        StoreError
            The database cannot be reached, opened or upgraded.
        SchemaVersionError
            It was written by a newer ecg-edge.
        """
        u = url if isinstance(url, StoreURL) else parse_store_url(url)
        conn = _connect_postgres(u, connect_timeout_s) if u.dialect == "postgresql" \
            else _connect_sqlite(u, must_exist)
        store = cls(u, conn)
        try:
            store._migrate(upgrade_to, create=not must_exist)
        except BaseException:
            store.close()
            raise
        return store

    def _error(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(f"{what}: {str(exc).strip() or type(exc).__name__}", self.url.display)

    def _migrate(self, target: int, *, create: bool = True) -> None:
        pg = self.dialect == "postgresql"
        try:
            cur = self._conn.cursor()
            if pg:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            else:
                cur.execute("BEGIN IMMEDIATE")
            version = self._read_version(cur, create)
            if version == 0 and not create:
                raise StoreError("holds no ecg-edge schema: no events were ever stored here "
                                 "(`ecg-edge ingest --db` creates it)", self.url.display)
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(version, SCHEMA_VERSION, self.url.display)
            self.timescale = self._read_meta(cur, "timescale") == "1" if version else (
                pg and self._try_timescale(cur))
            for step in range(version + 1, target + 1):
                logger.info("%s: schema version %d -> %d", self.url.display, step - 1, step)
                for sql in MIGRATIONS[step](self.dialect, self.timescale):
                    cur.execute(sql)
                self._write_meta(cur, "schema_version", str(step))
                if step == 1:
                    self._write_meta(cur, "timescale", "1" if self.timescale else "0")
            self._conn.commit()
            self.version = max(version, target)
        except SchemaVersionError:
            self._rollback()
            raise
        except (sqlite3.Error, _pg_errors()) as exc:
            self._rollback()
            raise self._error("cannot create or upgrade the schema", exc) from None

    def _read_version(self, cur: Any, create: bool = True) -> int:
        if self.dialect == "postgresql":
            cur.execute("SELECT to_regclass('store_meta') IS NOT NULL")
            exists = cur.fetchone()[0]
        else:
            cur.execute("SELECT count(*) FROM sqlite_master WHERE name = 'store_meta'")
            exists = cur.fetchone()[0] > 0
        if not exists:
            # a file/database with other tables is not ours to write into
            if self._has_foreign_tables(cur):
                raise StoreError("holds tables but no ecg-edge schema (store_meta): another "
                                 "application's database, not an ecg-edge event store"
                                 + ("; refusing to write into it" if create else ""),
                                 self.url.display)
            return 0
        value = self._read_meta(cur, "schema_version")
        try:
            return int(value or 0)
        except ValueError:
            raise StoreError(f"store_meta.schema_version is {value!r}, not a number",
                             self.url.display) from None

    def _has_foreign_tables(self, cur: Any) -> bool:
        """Any table, while ``store_meta`` is missing: ecg-edge creates its tables and
        ``store_meta`` in one transaction, so even a table named like one of ours (another
        application's ``beats``) is not ours."""
        if self.dialect == "postgresql":
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                        "LIKE 'sqlite_%'")
        return bool(cur.fetchall())

    def _pruned_before_us(self, cur: Any) -> int | None:
        value = self._read_meta(cur, PRUNED_BEFORE_KEY)
        try:
            return None if value is None else int(value)
        except ValueError:
            return None

    def pruned_before_s(self) -> float | None:
        """Event time (s) before which retention has deleted rows of some table (so holes in
        ``seq`` there are not events the store never received); ``None``: nothing deleted.

        Raises
        ------
        StoreError
            The database refused the query.
        """
        try:
            value = self._pruned_before_us(self._conn.cursor())
            self._conn.commit()
        except (sqlite3.Error, _pg_errors()) as exc:
            self._rollback()
            raise self._error("cannot read the store's metadata", exc) from None
        return None if value is None else value / 1e6

    def _read_meta(self, cur: Any, key: str) -> str | None:
        cur.execute(f"SELECT value FROM store_meta WHERE key = {self._ph}", (key,))
        row = cur.fetchone()
        return None if row is None else row[0]

    def _write_meta(self, cur: Any, key: str, value: str) -> None:
        p = self._ph
        cur.execute(f"INSERT INTO store_meta (key, value) VALUES ({p}, {p}) "
                    f"ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def _try_timescale(self, cur: Any) -> bool:
        cur.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
        if not cur.fetchone()[0]:
            return False
        cur.execute("SAVEPOINT ts")
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except _pg_errors() as exc:
            cur.execute("ROLLBACK TO SAVEPOINT ts")
            logger.warning("%s: TimescaleDB is installed but cannot be enabled (%s); plain "
                           "tables", self.url.display, exc)
            return False
        logger.info("%s: TimescaleDB hypertables", self.url.display)
        return True

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except Exception:  # noqa: BLE001 - the connection may be gone; the error says so
            pass

    # ---- writing ---------------------------------------------------------------------

    def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Insert ``events`` in one transaction and commit; events already stored (same
        ``(device_id, boot, seq)``) are skipped and counted as duplicates.

        Raises
        ------
        StoreError
            The database refused the batch or the connection broke (nothing committed).
        """
        if not events:
            return WriteResult(0, 0)
        now_us = int(time.time() * 1e6)
        by_table: dict[str, list[tuple]] = {}
        for e in events:
            table, row = event_row(e, now_us)
            by_table.setdefault(table, []).append(row)
        try:
            if self.dialect == "postgresql":
                inserted = self._write_pg(by_table)
            else:
                inserted = self._write_sqlite(by_table)
            self._conn.commit()
        except (sqlite3.Error, _pg_errors()) as exc:
            self._rollback()
            raise self._error("cannot write events", exc) from None
        return WriteResult(inserted, len(events) - inserted)

    def _write_sqlite(self, by_table: dict[str, list[tuple]]) -> int:
        before = self._conn.total_changes
        for table, rows in by_table.items():
            cols = columns(table, self.version)
            rows = rows if self.version >= 2 else [r[:-1] for r in rows]
            self._conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                f"({', '.join('?' * len(cols))}) ON CONFLICT DO NOTHING", rows)
        return self._conn.total_changes - before

    def _write_pg(self, by_table: dict[str, list[tuple]]) -> int:
        # COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING per table:
        # an order of magnitude faster than row-by-row INSERTs, and still idempotent.
        inserted = 0
        with self._conn.cursor() as cur:
            for table, rows in by_table.items():
                cols = ", ".join(columns(table, self.version))
                rows = rows if self.version >= 2 else [r[:-1] for r in rows]
                tmp = f"_in_{table}"
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} "
                            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
                with cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} "
                            f"ON CONFLICT DO NOTHING")
                inserted += cur.rowcount
        return inserted

    def prune(self, policy: RetentionPolicy, now_s: float | None = None) -> dict[str, int]:
        """Delete rows older than each table's retention (by event time); returns rows
        deleted per table.

        Raises
        ------
        StoreError
            The database refused it.
        """
        now_us = int((time.time() if now_s is None else now_s) * 1e6)
        out: dict[str, int] = {}
        try:
            cur = self._conn.cursor()
            pruned = self._pruned_before_us(cur)
            for table in TABLES:
                days = policy.days_for(table)
                if days <= 0:
                    continue
                cutoff = now_us - int(days * 86400e6)
                cur.execute(f"DELETE FROM {table} WHERE time_us < {self._ph}", (cutoff,))
                out[table] = max(cur.rowcount, 0)
                if out[table] and (pruned is None or cutoff > pruned):
                    pruned = cutoff  # seq holes before it may be rows retention removed
            if pruned is not None:
                self._write_meta(cur, PRUNED_BEFORE_KEY, str(pruned))
            self._conn.commit()
        except (sqlite3.Error, _pg_errors()) as exc:
            self._rollback()
            raise self._error("cannot apply retention", exc) from None
        return out

    # ---- reading ---------------------------------------------------------------------

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Run a query written with ``?`` placeholders (translated for PostgreSQL) and commit;
        returns its rows (none for a statement without a result).

        Raises
        ------
        StoreError
            The database refused it.
        """
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        try:
            cur = self._conn.cursor()
            cur.execute(sql, tuple(params))
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            self._conn.commit()  # end the read transaction (PostgreSQL: no idle-in-tx)
            return rows
        except (sqlite3.Error, _pg_errors()) as exc:
            self._rollback()
            raise self._error("query failed", exc) from None

    def count(self, table: str) -> int:
        """Rows in ``table``."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}")
        return int(self.query(f"SELECT count(*) FROM {table}")[0][0])

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _pg_errors() -> type[BaseException] | tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return psycopg.Error


def _connect_sqlite(u: StoreURL, must_exist: bool = False) -> sqlite3.Connection:
    path = Path(u.target)
    if path.is_dir():
        raise StoreError("is a directory, not an SQLite file", u.display)
    if must_exist and not path.is_file():
        raise StoreError("no such database file (`ecg-edge ingest --db` creates it)", u.display)
    if must_exist and path.stat().st_size == 0:  # left as found: a reader writes nothing
        raise StoreError("is an empty file, not an ecg-edge event store (`ecg-edge ingest "
                         "--db` creates one)", u.display)
    if not path.parent.is_dir():
        above = path.parent
        while not above.exists() and above != above.parent:
            above = above.parent
        raise StoreError(f"folder {path.parent} does not exist" if above.is_dir() else
                         f"{above} is a file, not a folder", u.display)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level="DEFERRED",
                               check_same_thread=False)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot switch to WAL mode (journal_mode={mode})", u.display)
        # FULL: a committed (and so acknowledged) batch survives a power cut too
        conn.execute("PRAGMA synchronous=FULL")
        conn.commit()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"not an SQLite database or unreadable: {exc}", u.display) from None
    return conn


def _connect_postgres(u: StoreURL, timeout_s: float) -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("PostgreSQL needs psycopg: pip install 'ecg-edge[store]'",
                         u.display) from None
    try:
        return psycopg.connect(u.target, connect_timeout=max(1, int(timeout_s)),
                               application_name="ecg-edge")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect: {str(exc).strip()}", u.display) from None
