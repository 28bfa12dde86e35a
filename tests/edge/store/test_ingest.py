"""Ingest against a real Mosquitto (started on a free loopback port) into a real PostgreSQL
and SQLite: JSONL import, MQTT with acknowledgement after commit, malformed payloads, a broker
outage, ingest stopped and ``kill -9``-ed, shared subscriptions, TLS with credentials."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.errors import StoreError
from edge.events.model import event_to_json
from edge.store import EventStore
from edge.store.ingest import MqttIngest, MqttIngestSettings, import_jsonl
from edge.store.schema import TABLES
from tests.edge.sinks.broker_support import (
    DEPLOY_ACL,
    Broker,
    free_port,
    make_test_ca,
    need_mosquitto,
    wait_until,
)
from tests.edge.store.support import T0, Publisher, beat, mixed, payload, topic

REPO = Path(__file__).resolve().parents[3]


def stored_keys(url: str) -> list[tuple[int, int, int]]:
    with EventStore.open(url) as store:
        return sorted(tuple(r) for t in TABLES
                      for r in store.query(f"SELECT device_id, boot, seq FROM {t}"))


# ---- JSON lines --------------------------------------------------------------------------

def test_jsonl_import_is_idempotent_and_counts_malformed_lines(db_url, tmp_path):
    path = tmp_path / "events.jsonl"
    good = mixed(1, 40)
    lines = [event_to_json(e.event) for e in good[:18]]
    lines += ["not json", "[1, 2]", '{"type": "beat"}', "",
              event_to_json(good[18].event).replace('"label":"N"', '"label":"X"')]
    lines += [event_to_json(e.event) for e in good[19:]]
    path.write_text("\n".join(lines) + "\n")
    with EventStore.open(db_url) as store:
        c = import_jsonl(store, [path], batch_max=7)
        assert (c.received, c.stored, c.malformed, c.duplicates) == (43, 39, 4, 0)
        assert dict(c.malformed_by_field) == {"$": 2, "device_id": 1, "label": 1}
        again = import_jsonl(store, [path])
        assert (again.stored, again.duplicates, again.malformed) == (0, 39, 4)
        assert sum(store.count(t) for t in TABLES) == 39


def test_a_binary_line_is_said_to_be_not_utf8(tmp_path, caplog):
    """Session 48 audit: a line of binary noise was reported as "not valid JSON: 'utf-16-be'
    codec can't decode..." (json.loads guessed an encoding from the bytes)."""
    path = tmp_path / "events.jsonl"
    good = [event_to_json(e.event).encode() for e in mixed(1, 2)]
    path.write_bytes(good[0] + b"\n\x00\xff\xfe\x93garbage\n" + good[1] + b"\n")
    with EventStore.open(str(tmp_path / "db.sqlite")) as store:
        c = import_jsonl(store, [path])
    assert (c.stored, c.malformed) == (2, 1)
    assert "not UTF-8 text" in caplog.text and "utf-16" not in caplog.text


def test_numbers_the_store_cannot_hold_are_malformed_not_fatal(db_url, tmp_path):
    """A time in 1e30 s or a boot of 2**70 would not fit the store's 64-bit columns: such a
    line is counted under its field, the good lines around it are stored (it crashed the
    whole batch, and an MQTT ingest on every redelivery)."""
    good = mixed(1, 6)
    bad_time = json.loads(event_to_json(good[2].event))
    bad_time["time_s"] = 1e30
    bad_boot = json.loads(event_to_json(good[3].event))
    bad_boot["boot"] = 2 ** 70
    lines = [event_to_json(good[0].event), event_to_json(good[1].event), json.dumps(bad_time),
             json.dumps(bad_boot), event_to_json(good[4].event), event_to_json(good[5].event)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with EventStore.open(db_url) as store:
        c = import_jsonl(store, [path])
        assert (c.stored, c.malformed) == (4, 2)
        assert dict(c.malformed_by_field) == {"time_s": 1, "boot": 1}


def test_jsonl_runs_in_one_file_get_their_own_boot(db_url, tmp_path):
    """A JSONL file appended by two daemon runs: seq restarts at 0, nothing is lost."""
    run1 = [e.event for e in mixed(1, 10, t0=T0)]
    run2 = [e.event for e in mixed(1, 10, t0=T0 + 100)]
    path = tmp_path / "two-runs.jsonl"
    path.write_text("".join(event_to_json(e) + "\n" for e in run1 + run2))
    with EventStore.open(db_url) as store:
        assert import_jsonl(store, [path]).stored == 20
        assert import_jsonl(store, [path]).duplicates == 20
        boots = store.query("SELECT DISTINCT boot FROM beats ORDER BY boot")
        assert boots == [(int(T0),), (int(T0) + 100,)]


def test_jsonl_boot_key_is_used_when_present(tmp_path):
    path = tmp_path / "capture.jsonl"
    path.write_text("".join(payload(e).decode() + "\n" for e in mixed(3, 5, boot=42)))
    with EventStore.open(str(tmp_path / "db.sqlite")) as store:
        import_jsonl(store, [path])
        assert store.query("SELECT DISTINCT boot FROM beats") == [(42,)]


def test_jsonl_missing_file_is_a_store_error(tmp_path):
    with EventStore.open(str(tmp_path / "db.sqlite")) as store:
        with pytest.raises(StoreError, match="cannot read"):
            import_jsonl(store, [tmp_path / "missing.jsonl"])


def test_jsonl_a_missing_second_file_stores_nothing(tmp_path):
    """Session 48 audit: ``ingest --jsonl A B`` with B missing stored part of A (its last
    batch was dropped) and said only that B could not be read. Every file is now checked
    first."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event_to_json(e.event) + "\n" for e in mixed(1, 30)))
    with EventStore.open(str(tmp_path / "db.sqlite")) as store:
        for paths in ([path, tmp_path / "missing.jsonl"], [tmp_path, path]):
            with pytest.raises(StoreError, match="nothing was imported"):
                import_jsonl(store, paths, batch_max=7)
            assert sum(store.count(t) for t in TABLES) == 0


def test_rotated_files_and_same_second_runs_keep_their_boots(tmp_path):
    """Session 48 audit: the JSONL sink wrote no boot, so a run's rotated files imported as
    one boot per file, and two runs of one device started in the same second were taken for
    each other (events of the second dropped as duplicates). The sink now writes the run's
    boot on every line; files in any order give one boot per run, nothing lost."""
    from edge.sinks.jsonl import RotatingJsonlSink

    runs = {"a": [e.event for e in mixed(1, 60, t0=T0)],
            "b": [e.event for e in mixed(1, 60, t0=T0 + 0.3)]}  # same device, same second
    for (name, events), boot in zip(runs.items(), (1764770000123, 1764770000456)):
        sink = RotatingJsonlSink(tmp_path / f"{name}.jsonl", max_bytes=4000, backups=9,
                                 boot=boot)
        for e in events:
            sink.emit(e)
        sink.close()
        assert sink.n_rotations >= 2
    files = sorted(tmp_path.glob("*.jsonl*"))  # a shell glob: newest file of each run first
    assert all(json.loads(f.read_text().splitlines()[0])["boot"] in (1764770000123,
                                                                      1764770000456)
               for f in files)
    with EventStore.open(str(tmp_path / "db.sqlite")) as store:
        c = import_jsonl(store, files)
        assert (c.stored, c.duplicates) == (120, 0)
        assert store.query("SELECT DISTINCT boot FROM beats ORDER BY boot") == [
            (1764770000123,), (1764770000456,)]


# ---- MQTT --------------------------------------------------------------------------------

class Running:
    """An :class:`MqttIngest` in a thread."""

    def __init__(self, port: int, url: str, **kw) -> None:
        settings = MqttIngestSettings(host="127.0.0.1", port=port, **kw)
        self.ingest = MqttIngest(settings, url)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ingest.subscribed.wait(30):
            raise RuntimeError("ingest did not subscribe")

    def _run(self) -> None:
        try:
            self.ingest.run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def close(self):
        self.stop.set()
        self.thread.join(30)
        self.ingest.close()
        assert self.error is None, self.error
        return self.ingest.counters


def test_mqtt_ingest_stores_every_event_once_and_counts_malformed(broker, db_url):
    events = mixed(1, 150) + mixed(2, 60)
    bad = [("ecg/1/beats", b"{not json"),
           ("ecg/9/beats", payload(beat(1, 999, T0))),       # device 1 on device 9's topic
           ("ecg/1/beats", b'{"type":"beat","device_id":1}'),
           ("ecg/1/status", b'{"type":"presence","state":"online","boot":3}')]
    run = Running(broker.port, db_url, client_id="ingest-t1")
    pub = Publisher(broker.port)
    try:
        pub.publish([(topic(e), payload(e)) for e in events[:100]] + bad
                    + [(topic(e), payload(e)) for e in events[100:]])
        # the retained status messages are stored once too (re-sent on every subscribe)
        assert wait_until(lambda: run.ingest.counters.received >= len(events) + len(bad))
    finally:
        pub.close()
        c = run.close()
    assert stored_keys(db_url) == sorted((e.event.device_id, e.boot, e.event.seq)
                                         for e in events)
    assert (c.stored, c.duplicates, c.malformed, c.presence) == (len(events), 0, 3, 1)
    assert set(c.malformed_by_field) == {"$", "device_id", "sample_index"}


def test_broker_outage_and_ingest_restart_lose_nothing(broker, db_url):
    events = mixed(4, 600)
    parts = [events[:200], events[200:400], events[400:]]
    run = Running(broker.port, db_url, client_id="ingest-outage")
    pub = Publisher(broker.port)
    try:
        pub.publish([(topic(e), payload(e)) for e in parts[0]])
        broker.stop()                       # outage: both sides lose the broker
        time.sleep(1.0)
        broker.start()
        pub.publish([(topic(e), payload(e)) for e in parts[1]])
        assert wait_until(lambda: len(stored_keys(db_url)) >= 400)
        c1 = run.close()                    # ingest stopped: the broker keeps its session
        pub.publish([(topic(e), payload(e)) for e in parts[2]])
        run = Running(broker.port, db_url, client_id="ingest-outage")
        assert wait_until(lambda: len(stored_keys(db_url)) >= 600)
    finally:
        pub.close()
        c2 = run.close()
    keys = stored_keys(db_url)
    assert keys == sorted((4, 1, s) for s in range(600))  # 0 lost, 0 duplicated
    assert c1.connects >= 2                 # it reconnected after the outage
    assert c2.stored + c1.stored == 600
    assert c1.sessions_lost == 0            # the broker persisted the session


def test_a_broker_that_lost_the_session_is_a_warning(broker, db_url, caplog):
    """Audit (session 49): a broker restarted without its persistence file lost ingest's
    session (and the events queued in it) with only an INFO line: 'session present: False'."""
    run = Running(broker.port, db_url, client_id="ingest-lost")
    try:
        broker.stop()
        for f in broker.workdir.glob("*.db"):  # the broker's persistence file
            f.unlink()
        with caplog.at_level(logging.WARNING, logger="edge.store.ingest"):
            broker.start()
            assert wait_until(lambda: run.ingest.counters.sessions_lost == 1)
    finally:
        c = run.close()
    assert c.connects >= 2 and "kept no session for client id 'ingest-lost'" in caplog.text


def test_shared_subscription_splits_the_load(broker, db_url):
    events = mixed(1, 300) + mixed(2, 300)
    a = Running(broker.port, db_url, client_id="ingest-a", share_group="ingest")
    b = Running(broker.port, db_url, client_id="ingest-b", share_group="ingest")
    pub = Publisher(broker.port)
    try:
        pub.publish([(topic(e), payload(e)) for e in events])
        assert wait_until(lambda: len(stored_keys(db_url)) >= 600)
    finally:
        pub.close()
        ca, cb = a.close(), b.close()
    assert len(stored_keys(db_url)) == 600
    assert ca.stored > 0 and cb.stored > 0 and ca.stored + cb.stored == 600


def _ingest_cmd(url: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edge.cli", "ingest", "--db", url, "--mqtt",
            f"127.0.0.1:{port}", "--client-id", "ingest-k9", "--json", "--no-prune", *extra]


def test_kill_9_of_ingest_loses_and_duplicates_nothing(broker, db_url):
    n = 4000
    events = mixed(5, n, step_s=0.001)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # a first run creates the persistent session and its subscription (it exits once the
    # broker acknowledged it and nothing came): from then on the broker keeps its messages
    first = subprocess.run(_ingest_cmd(db_url, broker.port, "--idle-exit-s", "0.5"), cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen(_ingest_cmd(db_url, broker.port), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pub = Publisher(broker.port)
    messages = [(topic(e), payload(e)) for e in events]

    def paced() -> None:
        # 100 messages every 50 ms (~2 s in all): the kill below lands mid-stream however fast
        # the ingest is (unpaced, a quick one had stored all 4000 before the kill was sent).
        for i in range(0, n, 100):
            pub.publish(messages[i:i + 100])
            time.sleep(0.05)

    publisher = threading.Thread(target=paced, daemon=True)
    try:
        publisher.start()
        assert wait_until(lambda: len(stored_keys(db_url)) >= 500)
        proc.send_signal(signal.SIGKILL)    # mid-stream: batches in flight, acks pending
        proc.wait(10)
        killed_at = len(stored_keys(db_url))
        publisher.join(120)
        again = subprocess.run(_ingest_cmd(db_url, broker.port, "--idle-exit-s", "3"),
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        pub.close()
        if proc.poll() is None:
            proc.kill()
    assert again.returncode == 0, again.stderr
    counters = json.loads(again.stdout)
    assert killed_at < n                    # the kill happened mid-stream
    assert stored_keys(db_url) == sorted((5, 1, s) for s in range(n))
    assert counters["stored"] == n - killed_at and counters["malformed"] == 0


def test_no_broker_is_a_clear_error(db_url):
    settings = MqttIngestSettings(host="127.0.0.1", port=free_port())
    ingest = MqttIngest(settings, db_url)
    try:
        with pytest.raises(StoreError, match="no connection within"):
            ingest.run(threading.Event(), connect_timeout_s=1.5)
    finally:
        ingest.close()


def test_stop_during_connection_setup_returns_at_once(db_url):
    """A broker that accepts the TCP connection and never answers: setting ``stop`` (what
    SIGTERM does) ends ``run`` without waiting out the connect timeout."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    ingest = MqttIngest(MqttIngestSettings(host="127.0.0.1", port=server.getsockname()[1]),
                        db_url)
    stop = threading.Event()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(
        ingest.run(stop, connect_timeout_s=600)), daemon=True)
    try:
        worker.start()
        conn, _ = server.accept()          # the client is connected and waits for CONNACK
        stop.set()
        worker.join(timeout=60)
        assert not worker.is_alive(), "run() ignored stop while waiting for the broker"
        assert result and result[0].stored == 0
        conn.close()
    finally:
        server.close()
        ingest.close()


def test_tls_and_credentials(tmp_path):
    need_mosquitto()
    ca = make_test_ca(tmp_path / "ca")
    passwd = tmp_path / "passwd"
    for i, (user, pw) in enumerate([("1", "pw-one"), ("dashboard", "pw-dash")]):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else [])
                       + [str(passwd), user, pw], check=True, capture_output=True, timeout=30)
    extra = (f"cafile {ca['ca']}\ncertfile {ca['cert']}\nkeyfile {ca['key']}\n"
             f"password_file {passwd}\nacl_file {DEPLOY_ACL}\n")
    url = str(tmp_path / "db.sqlite")
    (tmp_path / "wrong").write_text("nope\n")
    (tmp_path / "right").write_text("pw-dash\n")
    with Broker(tmp_path / "broker", extra=extra, anonymous=False) as b:
        common = dict(host="127.0.0.1", port=b.port, username="dashboard",
                      tls_ca_file=str(ca["ca"]))
        bad = MqttIngest(MqttIngestSettings(password_file=str(tmp_path / "wrong"), **common),
                         url)
        with pytest.raises(StoreError, match="refused"):
            bad.run(threading.Event(), connect_timeout_s=5)
        bad.close()
        ok = MqttIngest(MqttIngestSettings(password_file=str(tmp_path / "right"),
                                           client_id="tls-ingest", **common), url)
        stop = threading.Event()
        t = threading.Thread(target=ok.run, args=(stop,), daemon=True)
        t.start()
        assert ok.subscribed.wait(10)
        import paho.mqtt.client as mqtt

        gw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw1")
        gw.username_pw_set("1", "pw-one")
        gw.tls_set(ca_certs=str(ca["ca"]))
        gw.connect("127.0.0.1", b.port)
        gw.loop_start()
        infos = [gw.publish(topic(e), payload(e), qos=1) for e in mixed(1, 20)]
        for info in infos:
            info.wait_for_publish(10)
        assert wait_until(lambda: ok.counters.stored >= 20, 30)
        gw.disconnect()
        gw.loop_stop()
        stop.set()
        t.join(10)
        ok.close()
    assert len(stored_keys(url)) == 20


def test_an_offline_shared_worker_keeps_its_share_until_retired(broker, db_url):
    """The pitfall of persistent sessions in a shared group, and the way out: retiring the
    worker stores what was queued for it, and the group's messages go to the others."""
    events = mixed(1, 400)
    a = Running(broker.port, db_url, client_id="w-a", share_group="g")
    b = Running(broker.port, db_url, client_id="w-b", share_group="g")
    b.close()                                # offline, its session stays in the group
    pub = Publisher(broker.port)
    try:
        pub.publish([(topic(e), payload(e)) for e in events[:200]])
        assert wait_until(lambda: len(stored_keys(db_url)) > 0)
        assert len(stored_keys(db_url)) < 200  # b's share waits at the broker
        retiring = MqttIngest(MqttIngestSettings(host="127.0.0.1", port=broker.port,
                                                 client_id="w-b", share_group="g"), db_url)
        retiring.retire(threading.Event(), idle_s=1.5)
        retiring.close()
        assert len(stored_keys(db_url)) == 200
        pub.publish([(topic(e), payload(e)) for e in events[200:]])
        assert wait_until(lambda: len(stored_keys(db_url)) >= 400)
    finally:
        pub.close()
        a.close()
    assert len(stored_keys(db_url)) == 400


def test_database_outage_keeps_messages_unacknowledged_until_it_is_back(broker):
    from tests.edge.store.pg_support import PostgresServer, need_postgres

    need_postgres()
    # a durable server (fsync and synchronous_commit on): the test stops it the hard way,
    # and only a commit that survives that may be acknowledged
    server = PostgresServer(fsync=True).start()
    try:
        url = server.new_database()
        events = mixed(6, 400)
        run = Running(broker.port, url, client_id="ingest-dbdown")
        pub = Publisher(broker.port)
        try:
            pub.publish([(topic(e), payload(e)) for e in events[:200]])
            assert wait_until(lambda: run.ingest.counters.stored >= 200)
            server.stop()                        # the database goes away
            pub.publish([(topic(e), payload(e)) for e in events[200:]])
            assert wait_until(lambda: run.ingest.counters.store_errors >= 1)
            server.start()                       # same port, same data
            assert wait_until(lambda: run.ingest.counters.stored >= 400, 90)
        finally:
            pub.close()
            c = run.close()
        assert stored_keys(url) == sorted((6, 1, s) for s in range(400))
        assert c.store_errors >= 1 and c.stored == 400
    finally:
        server.cleanup()
