"""The store's tables, one schema for SQLite and PostgreSQL, and its versioned migrations.

Every table is keyed by the gateway's ``(device_id, boot, seq)``, which names one event
exactly (``docs/fleet.md``), so an insert of an event already stored does nothing: re-import
and re-delivery never duplicate. Times are integers, ``time_us`` (the event's ``time_s``,
Unix microseconds; the daemon rounds ``time_s`` to 1 µs so nothing is lost).

==================  =====================================================================
table               rows
==================  =====================================================================
``beats``           ``beat``: ``sample_index``, ``fs_hz``, ``label``, ``quality``,
                    ``rhythm``, ``proba`` and ``rr_s`` (JSON text)
``hr``              ``hr``: ``hr_bpm``, ``window_s``, ``n_beats``, ``af_burden_1h``,
                    ``af_burden_run``
``alerts``          ``alert``: ``kind``, ``state``, ``severity``, ``detail`` (JSON text)
``strips``          ``strip``: ``strip_fs_hz``, ``samples_mv`` (JSON text)
``device_events``   ``status``, ``link``, ``quality``: ``type``, ``state`` (the status or link
                    state, or the quality level) and the whole event as JSON ``payload``
``store_meta``      ``key``/``value``: ``schema_version``, ``timescale``,
                    ``pruned_before_us`` (the latest retention cut-off that deleted rows)
==================  =====================================================================

Versions (:data:`SCHEMA_VERSION`; each step in :data:`MIGRATIONS` runs once, in a
transaction, and records the new version):

1. the tables above, keyed by ``(device_id, boot, seq)``;
2. ``ingest_us`` on every table (when the row was written: broker-to-row latency and ingest
   lag) and an index ``(device_id, time_us)`` per table for the history and ward queries.

A database of a newer version than :data:`SCHEMA_VERSION` is refused
(:class:`~edge.errors.SchemaVersionError`), never written.

On PostgreSQL with the TimescaleDB extension available, the tables become hypertables on
``time_us`` (1-day chunks); the key then includes ``time_us`` (as TimescaleDB requires), which
changes nothing for idempotency because a re-delivered event carries the same ``time_s``.
"""
from __future__ import annotations

from collections.abc import Callable

__all__ = ["SCHEMA_VERSION", "TABLES", "TABLE_OF_TYPE", "COMMON_COLUMNS", "MIGRATIONS",
           "columns"]

#: Current schema version.
SCHEMA_VERSION = 2

#: Columns of every event table, in order (``ingest_us`` from version 2).
COMMON_COLUMNS = ("device_id", "boot", "seq", "time_us")

# table -> its own columns: (name, SQLite type, PostgreSQL type)
TABLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "beats": (("sample_index", "INTEGER NOT NULL", "BIGINT NOT NULL"),
              ("fs_hz", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
              ("label", "TEXT NOT NULL", "TEXT NOT NULL"),
              ("quality", "TEXT NOT NULL", "TEXT NOT NULL"),
              ("rhythm", "TEXT", "TEXT"),
              ("proba", "TEXT NOT NULL", "TEXT NOT NULL"),
              ("rr_s", "TEXT NOT NULL", "TEXT NOT NULL")),
    "hr": (("sample_index", "INTEGER NOT NULL", "BIGINT NOT NULL"),
           ("fs_hz", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
           ("hr_bpm", "REAL", "DOUBLE PRECISION"),
           ("window_s", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
           ("n_beats", "INTEGER NOT NULL", "INTEGER NOT NULL"),
           ("af_burden_1h", "REAL", "DOUBLE PRECISION"),
           ("af_burden_run", "REAL", "DOUBLE PRECISION")),
    "alerts": (("sample_index", "INTEGER NOT NULL", "BIGINT NOT NULL"),
               ("fs_hz", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
               ("kind", "TEXT NOT NULL", "TEXT NOT NULL"),
               ("state", "TEXT NOT NULL", "TEXT NOT NULL"),
               ("severity", "TEXT NOT NULL", "TEXT NOT NULL"),
               ("detail", "TEXT NOT NULL", "TEXT NOT NULL")),
    "strips": (("sample_index", "INTEGER NOT NULL", "BIGINT NOT NULL"),
               ("fs_hz", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
               ("strip_fs_hz", "REAL NOT NULL", "DOUBLE PRECISION NOT NULL"),
               ("samples_mv", "TEXT NOT NULL", "TEXT NOT NULL")),
    "device_events": (("type", "TEXT NOT NULL", "TEXT NOT NULL"),
                      ("state", "TEXT NOT NULL", "TEXT NOT NULL"),
                      ("payload", "TEXT NOT NULL", "TEXT NOT NULL")),
}

#: Event type -> the table that stores it.
TABLE_OF_TYPE = {"beat": "beats", "hr": "hr", "alert": "alerts", "strip": "strips",
                 "status": "device_events", "link": "device_events",
                 "quality": "device_events"}


def columns(table: str, version: int = SCHEMA_VERSION) -> tuple[str, ...]:
    """Column names of ``table`` at ``version``, in insert order."""
    own = tuple(c[0] for c in TABLES[table])
    return COMMON_COLUMNS + own + (("ingest_us",) if version >= 2 else ())


def _v1(dialect: str, timescale: bool) -> list[str]:
    pg = dialect == "postgresql"
    big = "BIGINT NOT NULL" if pg else "INTEGER NOT NULL"
    out = ["CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"]
    for table, cols in TABLES.items():
        key = "device_id, boot, seq, time_us" if timescale else "device_id, boot, seq"
        body = ", ".join([f"device_id {big}", f"boot {big}", f"seq {big}", f"time_us {big}"]
                         + [f"{n} {pt if pg else st}" for n, st, pt in cols]
                         + [f"PRIMARY KEY ({key})"])
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({body})"
                   + ("" if pg else " WITHOUT ROWID"))
        if timescale:
            out.append(f"SELECT create_hypertable('{table}', 'time_us', "
                       f"chunk_time_interval => 86400000000, if_not_exists => TRUE)")
    return out


def _v2(dialect: str, timescale: bool) -> list[str]:
    big = "BIGINT" if dialect == "postgresql" else "INTEGER"
    out = []
    for table in TABLES:
        out.append(f"ALTER TABLE {table} ADD COLUMN ingest_us {big}")
        out.append(f"CREATE INDEX IF NOT EXISTS {table}_device_time "
                   f"ON {table} (device_id, time_us)")
    return out


#: version -> statements that bring version-1 to it: ``f(dialect, timescale) -> [sql]``.
MIGRATIONS: dict[int, Callable[[str, bool], list[str]]] = {1: _v1, 2: _v2}
