"""EventStore against a real PostgreSQL server and SQLite: writes, idempotency, every event
type, schema creation and upgrade, refusals, retention."""
from __future__ import annotations

import json
import sqlite3

import pytest

from edge.errors import SchemaVersionError, StoreError
from edge.store import SCHEMA_VERSION, EventStore, RetentionPolicy
from edge.store.schema import MIGRATIONS, TABLES, columns
from tests.edge.store.support import T0, beat, hr, mixed, strip


def test_migrations_cover_every_version():
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def test_write_is_idempotent_on_device_boot_seq(db_url):
    events = mixed(1, 90) + mixed(2, 45)
    with EventStore.open(db_url) as store:
        first = store.write(events)
        assert (first.inserted, first.duplicates) == (135, 0)
        again = store.write(events[::-1])  # re-delivered, in another order
        assert (again.inserted, again.duplicates) == (0, 135)
        # a new boot of device 1 restarts seq at 0: new rows, not duplicates
        assert store.write(mixed(1, 9, boot=2)).inserted == 9
        # duplicates inside one batch
        dup = store.write([beat(3, 0, T0), beat(3, 0, T0), beat(3, 1, T0)])
        assert (dup.inserted, dup.duplicates) == (2, 1)
        total = sum(store.count(t) for t in TABLES)
        assert total == 135 + 9 + 2
        assert store.query("SELECT count(*) FROM (SELECT device_id, boot, seq FROM beats "
                           "GROUP BY device_id, boot, seq HAVING count(*) > 1) d")[0][0] == 0


def test_every_type_lands_in_its_table_losslessly(db_url):
    events = mixed(7, 18)
    with EventStore.open(db_url) as store:
        store.write(events)
        counts = {t: store.count(t) for t in TABLES}
        assert counts == {"beats": 6, "hr": 2, "alerts": 2, "strips": 2, "device_events": 6}
        (samples,) = store.query("SELECT samples_mv FROM strips WHERE seq = 3")[0]
        assert json.loads(samples) == strip(7, 3, T0, n=25).event.samples_mv  # None kept
        row = store.query("SELECT time_us, boot, hr_bpm, af_burden_1h FROM hr WHERE seq = 2")
        assert row == [(int(round((T0 + 0.2) * 1e6)), 1, 62.0, 0.1)]
        kinds = store.query("SELECT type, state FROM device_events ORDER BY seq")
        assert kinds[:3] == [("link", "gap"), ("quality", "noisy"), ("status", "running")]
        (ingest_us,) = store.query("SELECT min(ingest_us) FROM beats")[0]
        assert ingest_us > 0


def test_heart_rate_none_is_stored_as_null(db_url):
    with EventStore.open(db_url) as store:
        store.write([hr(1, 0, T0, None)])
        assert store.query("SELECT hr_bpm FROM hr") == [(None,)]


def _fill_v1(url: str) -> None:
    with EventStore.open(url, upgrade_to=1) as store:
        assert store.version == 1
        assert store.write(mixed(1, 20)).inserted == 20


def test_schema_upgrade_from_version_1_keeps_rows(db_url):
    _fill_v1(db_url)
    with EventStore.open(db_url) as store:  # the tool upgrades on open
        assert store.version == SCHEMA_VERSION == 2
        assert store.query("SELECT value FROM store_meta WHERE key = 'schema_version'") == [
            ("2",)]
        assert sum(store.count(t) for t in TABLES) == 20
        # the v1 rows have no ingest time; the new ones do
        assert store.query("SELECT count(*) FROM beats WHERE ingest_us IS NULL")[0][0] == 8
        assert store.write(mixed(1, 40)).inserted == 20  # seq 20..39 new, 0..19 duplicates
        assert store.query("SELECT count(*) FROM beats WHERE ingest_us IS NOT NULL")[0][0] == 6
        cols = [c for c in columns("beats")]
        assert cols[-1] == "ingest_us"
    with EventStore.open(db_url) as store:  # opening again changes nothing
        assert store.version == 2 and sum(store.count(t) for t in TABLES) == 40


def test_a_newer_schema_is_refused_not_written(db_url):
    with EventStore.open(db_url) as store:
        store.query("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="schema version 99 is newer") as info:
        EventStore.open(db_url)
    assert (info.value.found, info.value.supported) == (99, SCHEMA_VERSION)


def test_refuses_a_database_of_another_application(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER)")
    with pytest.raises(StoreError, match="no ecg-edge schema"):
        EventStore.open(str(path))


def test_another_applications_beats_table_is_not_ours(tmp_path):
    """Session 48 audit: a database with its own ``beats`` table (and no ``store_meta``)
    was taken for an empty store: ingest failed in the middle of the schema ("no such
    column: device_id"), history said no events were ever stored; a reader said it refused
    to write."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE beats (patient TEXT, t REAL)")
    with pytest.raises(StoreError, match="another application's database.*refusing to write"):
        EventStore.open(str(path))
    with pytest.raises(StoreError) as info:
        EventStore.open(str(path), must_exist=True)
    assert "another application's database" in str(info.value)
    assert "refusing to write" not in str(info.value)
    with sqlite3.connect(path) as conn:  # left as it was
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["beats"]


def test_refuses_a_file_that_is_not_sqlite(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        EventStore.open(str(path))


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        EventStore.open(str(tmp_path / "nope" / "x.db"))


def test_unreachable_postgres_is_a_clear_error_with_password_masked():
    pytest.importorskip("psycopg")
    from tests.edge.sinks.broker_support import free_port

    url = f"postgresql://ecg:secret@127.0.0.1:{free_port()}/clinic"
    with pytest.raises(StoreError, match="cannot connect") as info:
        EventStore.open(url, connect_timeout_s=2)
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_retention_deletes_by_type(db_url):
    now = T0 + 10 * 86400
    old, recent = T0, now - 3600
    with EventStore.open(db_url) as store:
        store.write([strip(1, 0, old), beat(1, 1, old), strip(1, 2, recent),
                     hr(1, 3, old, 60.0)])
        deleted = store.prune(RetentionPolicy(strip_days=7, beat_days=30, hr_days=0), now_s=now)
        assert deleted["strips"] == 1 and deleted["beats"] == 0 and "hr" not in deleted
        assert store.query("SELECT seq FROM strips") == [(2,)]
        assert store.count("beats") == 1 and store.count("hr") == 1


def test_write_after_the_server_went_away_raises_store_error(pg_server):
    url = pg_server.new_database()
    store = EventStore.open(url)
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "application_name = 'ecg-edge'")
    with pytest.raises(StoreError, match="cannot write events"):
        store.write(mixed(1, 3))
    store.close()
    with EventStore.open(url) as again:  # nothing half-written
        assert again.write(mixed(1, 3)).inserted == 3


@pytest.mark.parametrize("text, expected", [
    (b'{"type":"strip","samples_mv":[0.1,null,-2e-3]}', "[0.1,null,-2e-3]"),
    (b'{"samples_mv" :\n [ 1.5 , 2 ],"type":"strip"}', "[1.5,2]"),
    # duplicate keys: json.loads keeps the last, so does the copy
    (b'{"samples_mv":[1.0],"samples_mv":[2.0]}', "[2.0]"),
    (b'{"samples_mv":[1.0],"samples\\u005fmv":[2.0]}', None),    # an escape: encode again
    (b'{"samples_mv":[NaN,1.0]}', None),
    (b'{"samples_mv":[-Infinity]}', None),
])
def test_strip_samples_are_copied_only_when_unambiguous(text, expected):
    from edge.store.db import _samples_text

    assert _samples_text(text) == expected


def test_strip_text_stored_equals_the_decoded_samples(db_url):
    from edge.store.ingest import EventWriter
    from tests.edge.store.support import payload

    e = strip(1, 0, T0, n=40)
    with EventStore.open(db_url) as store:
        writer = EventWriter(store)
        writer.add(payload(e).replace(b'"samples_mv":[', b'"samples_mv": [ '), "test")
        writer.flush()
        (text,) = store.query("SELECT samples_mv FROM strips")[0]
    assert json.loads(text) == e.event.samples_mv and " " not in text
