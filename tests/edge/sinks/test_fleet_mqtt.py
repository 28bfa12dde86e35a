"""The MQTT sink against a real Mosquitto broker: a broker outage during a replay, a daemon
killed with SIGKILL and restarted on the same outbox, TLS + passwords + the shipped ACL.

The broker is started by the tests (``mosquitto -c <generated conf>`` on a free loopback
port); the tests skip when the Debian package ``mosquitto`` is not installed."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from edge.runtime.daemon import Daemon
from edge.runtime.loader import build_source
from edge.runtime.settings import load_config
from edge.sinks import MqttSink, MqttSinkSettings
from edge.sinks.outbox import Outbox, OutboxConfig
from tests.edge.runtime.daemon_support import REPO, subprocess_env
from tests.edge.sinks.broker_support import (
    DEPLOY_ACL,
    Broker,
    Subscriber,
    events,
    make_test_ca,
    need_mosquitto,
    wait_until,
)


def first_seen(seqs):
    out, seen = [], set()
    for s in seqs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def test_broker_outage_10_s_loses_nothing(broker, classifier, mitdb_dir, tmp_path):
    """Mosquitto is stopped for 10 s during a replay and restarted: every event (beats and
    alerts included) arrives, in order, with no gap in seq; the daemon kept classifying."""
    sub = Subscriber(broker.port)
    cfg = load_config(None, ['source.kind="replay"', 'source.replay.record="119"',
                             f'source.replay.data_dir="{mitdb_dir}"', "source.replay.speed=10",
                             "source.replay.duration_s=200", "outputs.status_interval_s=0",
                             "sinks.terminal.enabled=false"])
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, drain_timeout_s=30.0),
                    outbox=Outbox(OutboxConfig(path=str(tmp_path / "outbox.sqlite"))))
    assert sink.connected
    daemon = Daemon(cfg, source=build_source(cfg), classifier=classifier, sinks=[sink])
    t = threading.Thread(target=daemon.run)
    t.start()
    try:
        assert sub.wait_for(lambda m: sum(p["type"] == "beat" for p in events(m)) >= 10, 20)
        broker.stop()
        time.sleep(1.0)
        n_before = sink.outbox.stats()["appended"]
        time.sleep(9.0)
        queued = sink.outbox.pending
        assert not sink.connected and queued > 50  # the daemon kept classifying and queueing
        assert sink.outbox.stats()["appended"] - n_before > 50
        broker.start()
        t.join(90)
        assert not t.is_alive()
    finally:
        daemon.request_stop()
        t.join(30)
    # link events before the first sample belong to device 0; the record's are device 1
    expected = {dev: daemon.sequencer.next_seq(dev) for dev in (0, 1)}
    assert expected[1] > 300

    def complete(m):
        return all({p["seq"] for p in events(m, dev)} >= set(range(n))
                   for dev, n in expected.items())
    ok = sub.wait_for(complete, 20)
    sub.close()
    missing = sorted(set(range(expected[1])) - {p["seq"] for p in events(sub.snapshot())})
    assert ok, (f"{len(missing)} of {expected} events missing: {missing[:5]}..{missing[-5:]}; "
                f"{sink.stats()}")
    for dev, n in expected.items():
        assert sorted({p["seq"] for p in events(sub.snapshot(), dev)}) == list(range(n))
    evs = events(sub.snapshot())
    assert {p["boot"] for p in evs} == {sink.boot}
    for kind in ("beat", "alert"):
        got = first_seen([p["seq"] for p in evs if p["type"] == kind])
        assert got == sorted(got), f"{kind} events out of order"
        assert len(got) == daemon.events_by_type.get(kind, 0)
    assert daemon.events_by_type["beat"] > 100
    assert sink.n_disconnects >= 1 and sink.n_connects >= 2
    stopped = [p for p in evs if p["type"] == "status" and p["state"] == "stopped"]
    assert stopped and stopped[-1]["counters"]["mqtt"]["disconnects"] >= 1
    assert stopped[-1]["counters"]["outbox"]["dropped_total"] == 0


def _daemon_cmd(model, port, outbox, *extra):
    return [sys.executable, "-m", "edge.cli", "run", "--model", str(model), "--quiet",
            "--mqtt", f"127.0.0.1:{port}", "--set", f'sinks.mqtt.outbox_path="{outbox}"',
            "--set", "outputs.status_interval_s=0", *extra]


def test_kill_9_and_restart_loses_nothing_queued(broker, int8_model, mitdb_dir, tmp_path):
    """The daemon is killed with SIGKILL mid-stream while the broker is stalled (so messages
    are queued and in flight), then restarted on the same outbox: every event queued before
    the crash arrives, seq has no gap, duplicates are at most max_inflight and carry the same
    (boot, seq); the new run has the next boot number."""
    sub = Subscriber(broker.port)
    outbox = tmp_path / "outbox.sqlite"
    env = subprocess_env() | {"MITDB_DIR": str(mitdb_dir)}
    p1 = subprocess.Popen(_daemon_cmd(int8_model, broker.port, outbox, "--replay", "119",
                                      "--speed", "20"), env=env, cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ok = sub.wait_for(lambda m: len(events(m)) >= 40, 60)
        assert ok, p1.stderr.read().decode() if p1.poll() is not None else "no events"
        boot1 = events(sub.snapshot())[0]["boot"]
        os.kill(broker.proc.pid, signal.SIGSTOP)  # the broker hangs: nothing is acknowledged
        time.sleep(2.0)
        p1.kill()
        p1.wait(10)
        os.kill(broker.proc.pid, signal.SIGCONT)
    finally:
        if p1.poll() is None:
            p1.kill()
    db = sqlite3.connect(outbox)
    queued = [json.loads(r[0]) for r in db.execute("SELECT payload FROM outbox ORDER BY id")]
    db.close()
    assert len(queued) > 32  # more than the in-flight window was waiting at the crash
    assert {q["boot"] for q in queued} == {boot1}
    last = max(q["seq"] for q in queued)
    assert sub.wait_for(lambda m: any(p.get("type") == "presence" and p["state"] == "offline"
                                      for _, p, _ in m), 10)  # the last will
    p2 = subprocess.Popen(_daemon_cmd(int8_model, broker.port, outbox, "--replay", "100",
                                      "--speed", "max", "--set", "source.replay.duration_s=20"),
                          env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def drained(m):
            return {p["seq"] for p in events(m) if p["boot"] == boot1} >= set(range(last + 1))
        assert sub.wait_for(drained, 60), "events queued before the crash were lost"
        assert p2.wait(60) == 0
    finally:
        if p2.poll() is None:
            p2.kill()
    time.sleep(0.5)
    sub.close()
    evs = events(sub.snapshot())
    b1 = [p["seq"] for p in evs if p["boot"] == boot1]
    assert set(b1) == set(range(max(b1) + 1))  # no gap across the crash
    dups = sum(n - 1 for n in Counter(b1).values())
    assert dups <= 32  # bounded by sinks.mqtt.max_inflight
    boots = [p["boot"] for p in evs]
    (boot2,) = set(boots) - {boot1}
    assert boot2 > boot1
    assert boots.index(boot2) > max(i for i, b in enumerate(boots) if b == boot1) - 32
    b2 = [p["seq"] for p in evs if p["boot"] == boot2]
    assert min(b2) == 0 and set(b2) == set(range(max(b2) + 1))
    assert sqlite3.connect(outbox).execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


@pytest.fixture
def tls_broker(tmp_path):
    need_mosquitto()
    ca = make_test_ca(tmp_path / "ca")
    passwd = tmp_path / "passwd"
    for i, (user, pw) in enumerate([("1", "pw-one"), ("2", "pw-two"),
                                    ("dashboard", "pw-dash")]):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else [])
                       + [str(passwd), user, pw], check=True, capture_output=True, timeout=30)
    extra = (f"cafile {ca['ca']}\ncertfile {ca['cert']}\nkeyfile {ca['key']}\n"
             f"password_file {passwd}\nacl_file {DEPLOY_ACL}\n")
    b = Broker(tmp_path / "broker", extra=extra, anonymous=False).start()
    yield b, ca
    b.stop()


def test_a_refused_login_is_one_error_not_an_unreachable_broker(tls_broker, caplog):
    """Audit (session 49): a refused login read 'broker not reachable yet (Not authorized)'
    and was repeated at warning level on every retry, never an error."""
    import logging

    broker, ca = tls_broker
    with caplog.at_level(logging.DEBUG, logger="edge.sinks.mqtt"):
        bad = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, username="1",
                                        password="wrong", tls_ca_file=str(ca["ca"]),
                                        connect_timeout_s=5.0))
        time.sleep(3.0)  # a few retries
        bad.close(timeout_s=0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("refused the login" in r.getMessage() for r in errors)
    assert sum("refused the connection" in r.getMessage() for r in errors) == 1
    assert "not reachable" not in caplog.text


def test_the_dashboard_reads_the_secured_broker(tls_broker, tmp_path):
    """Audit (session 49): `ecg-edge dashboard` had no way to give the site CA or the
    `dashboard` user's password that deploy/mosquitto requires; with the password and CA
    files it now subscribes, and without the CA it never connects."""
    from edge.dashboard.feeds import MqttFeed, MqttFeedConfig

    broker, ca = tls_broker
    pw = tmp_path / "dashboard.pw"
    pw.write_text("pw-dash\n")
    feed = MqttFeed(MqttFeedConfig(host="127.0.0.1", port=broker.port, username="dashboard",
                                   password_file=str(pw), tls_ca_file=str(ca["ca"])))
    try:
        assert feed.wait_connected(10)
        sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, username="1",
                                         password="pw-one", tls_ca_file=str(ca["ca"]),
                                         connect_timeout_s=5.0, drain_timeout_s=3.0))
        sink.emit(_beat(1, 0))
        got = []
        assert wait_until(lambda: got.extend(feed.poll()) or any(
            getattr(m, "type", None) == "beat" for m in got), 10)
        sink.close()
    finally:
        feed.close()
    plain = MqttFeed(MqttFeedConfig(host="127.0.0.1", port=broker.port, username="dashboard",
                                    password_file=str(pw), tls=True))  # the system CA store
    try:
        assert not plain.wait_connected(2)
    finally:
        plain.close()


def _beat(dev, i):
    from edge.events.model import BeatEvent

    return BeatEvent(device_id=dev, seq=i, time_s=time.time(), sample_index=360 * i,
                     fs_hz=360.0, label="N", proba={c: 0.2 for c in "NSVFQ"},
                     rr_s={"pre": 0.8, "post": 0.8, "local": 0.8, "long": 0.8})


def test_tls_passwords_and_per_device_acl(tls_broker):
    broker, ca = tls_broker
    sub = Subscriber(broker.port, username="dashboard", password="pw-dash",
                     tls_ca=str(ca["ca"]))
    assert sub.wait_for(lambda m: True, 0) is True
    common = dict(host="127.0.0.1", port=broker.port, tls_ca_file=str(ca["ca"]),
                  connect_timeout_s=5.0, drain_timeout_s=3.0)
    # right credentials: accepted, publishes under its own id
    good = MqttSink(MqttSinkSettings(username="1", password="pw-one", **common))
    assert good.connected and good.refused is None
    # a device cannot publish to another device's topics
    good.emit(_beat(2, 0))
    good.emit(_beat(1, 0))
    assert sub.wait_for(lambda m: any(t == "ecg/1/beats" for t, _, _ in m), 10)
    time.sleep(0.5)
    assert not any(t.startswith("ecg/2/") for t, _, _ in sub.snapshot())
    # device 2 may publish its own
    other = MqttSink(MqttSinkSettings(username="2", password="pw-two", **common))
    other.emit(_beat(2, 1))
    assert sub.wait_for(lambda m: any(t == "ecg/2/beats" for t, _, _ in m), 10)
    # wrong password, unknown user, no credentials: refused by the broker
    for user, pw in [("1", "wrong"), ("3", "pw-one"), (None, None)]:
        bad = MqttSink(MqttSinkSettings(username=user, password=pw, **common))
        assert not bad.connected and bad.refused is not None, (user, bad.refused)
        bad.close(timeout_s=0)
    # plain text on the TLS port: never connects
    plain = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, username="1",
                                      password="pw-one", connect_timeout_s=3.0))
    assert not plain.wait_connected(1.0) and not plain.connected
    plain.close(timeout_s=0)
    # a wrong CA: the broker's certificate is not trusted
    wrong = make_test_ca(broker.workdir.parent / "other-ca")
    untrusted = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, username="1",
                                          password="pw-one", tls_ca_file=str(wrong["ca"]),
                                          connect_timeout_s=3.0))
    assert not untrusted.connected
    untrusted.close(timeout_s=0)
    good.close()
    other.close()

    def offline(messages) -> bool:  # the broker relays the close's presence asynchronously
        seen = [p for t, p, _ in messages if t == "ecg/1/status"]
        return bool(seen) and seen[-1].get("state") == "offline"

    assert sub.wait_for(offline, 10)
    presence = [p for t, p, _ in sub.snapshot() if t == "ecg/1/status"]
    assert presence and presence[-1] == {**presence[-1], "type": "presence", "state": "offline"}
    sub.close()
