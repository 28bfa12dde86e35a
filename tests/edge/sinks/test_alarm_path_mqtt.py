"""The alarm path against a real Mosquitto on loopback: the reconnect ceiling while an alarm
waits (broker restart), a half-open link (a relay that stops forwarding without closing)
noticed by the keep-alive and by the PUBACK timeout, alarms queued across ``kill -9``, and the
daemon's local fallback hook.

Nothing here asserts a duration: the waits are generous deadlines for something to happen;
what is checked is behaviour (which backoff ceiling was used, that the link was declared dead
and by what, that nothing was lost). The durations are measured by
``benchmarks/bench_alarm_path.py``."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from edge.events.model import AlertEvent, BeatEvent, Sequencer
from edge.runtime.daemon import Daemon
from edge.runtime.loader import build_source
from edge.runtime.settings import load_config
from edge.sinks import MqttSink, MqttSinkSettings
from edge.sinks.outbox import Outbox, OutboxConfig
from tests.edge.runtime.daemon_support import REPO, subprocess_env
from tests.edge.sinks.broker_support import (
    Relay,
    Subscriber,
    events,
    free_port,
    wait_until,
)

EXCERPT = REPO / "edge" / "data" / "mitdb_233_excerpt"


class Events:
    """Stamped test events of device 1."""

    def __init__(self):
        self.seq = Sequencer()

    def beat(self, i=0):
        return self.seq.stamp(BeatEvent(device_id=1, sample_index=360 * i, fs_hz=360.0,
                                        label="N", proba={c: 0.2 for c in "NSVFQ"},
                                        rr_s={"pre": 0.8, "post": 0.8, "local": 0.8,
                                              "long": 0.8}))

    def alert(self, i=0):
        return self.seq.stamp(AlertEvent(device_id=1, kind="v_run", state="onset",
                                         severity="alarm", sample_index=360 * i, fs_hz=360.0,
                                         detail={"n_beats": 3, "rate_bpm": 160.0, "vt": True}))

    @property
    def n(self):
        return self.seq.next_seq(1)


def waits(sink):
    """The reconnect waits the sink took: [(monotonic s, delay s, "urgent"|"normal")]."""
    out = []
    for t, what, detail in list(sink.link_log):
        if what == "wait":
            d, kind = detail.split()
            out.append((t, float(d), kind))
    return out


def all_seqs_arrived(sub, n):
    return lambda: {p["seq"] for p in events(sub.snapshot())} >= set(range(n))


def test_an_alarm_lowers_the_reconnect_ceiling_during_a_broker_outage(broker, tmp_path):
    """The broker stops; the backoff grows past the alarm ceiling (normal waits > 1 s); an
    alert is queued: from then on every wait is an urgent one of at most
    reconnect_alarm_max_s, and the connection that delivers the alert follows one."""
    sub = Subscriber(broker.port)
    ev = Events()
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, reconnect_max_s=30.0,
                                     outbox_path=str(tmp_path / "o.sqlite"),
                                     drain_timeout_s=5.0))
    try:
        assert sink.connected
        sink.emit(ev.beat(0))
        assert sub.wait_for(lambda m: len(events(m)) == 1, 10)
        broker.stop()
        assert wait_until(lambda: any(d > 2.0 for _, d, k in waits(sink) if k == "normal"),
                          60), waits(sink)
        t_alert = time.monotonic()
        sink.emit(ev.alert(1))
        assert sink.alarm_backlog().pending == 1
        assert wait_until(lambda: any(k == "urgent" for _, _, k in waits(sink)), 10)
        broker.start()
        assert sub.wait_for(lambda m: any(p["type"] == "alert" for p in events(m)), 30)
        assert wait_until(lambda: sink.alarm_backlog().pending == 0, 10)
        after = [(d, k) for t, d, k in waits(sink) if t >= t_alert]
        assert after and all(k == "urgent" and d <= 1.0 for d, k in after), after
        log = list(sink.link_log)
        i_conn = max(i for i, e in enumerate(log) if e[1] == "connected")
        last_wait = [e for e in log[:i_conn] if e[1] == "wait"][-1]
        assert last_wait[2].endswith("urgent")
        assert sink.alarm_backlog().oldest_s is None
    finally:
        sink.close()
        sub.close()


def test_half_open_link_idle_is_found_by_the_keepalive(broker):
    """Nothing in flight, the relay stops forwarding (no FIN): the keep-alive ping goes
    unanswered and the link is declared dead, without the PUBACK watchdog (off)."""
    relay = Relay(broker.port)
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=relay.port, keepalive_s=2,
                                     ack_timeout_s=0, drain_timeout_s=0.0))
    try:
        assert sink.connected
        relay.freeze()
        assert wait_until(lambda: not sink.connected, 30), sink.stats()
        assert sink.n_disconnects == 1 and sink.n_link_timeouts == 0
    finally:
        sink.close(timeout_s=0)
        relay.close()


def test_half_open_link_with_traffic_is_found_by_the_puback_timeout(broker, tmp_path):
    """Events flow, the relay freezes: the oldest unacknowledged message ages past
    ack_timeout_s, the sink shuts the dead socket and queues; an alarm raised meanwhile is
    kept; when the route heals every event arrives (de-duplicated by seq), none lost."""
    relay = Relay(broker.port)
    sub = Subscriber(broker.port)
    ev = Events()
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=relay.port, keepalive_s=10,
                                     ack_timeout_s=1.0, outbox_path=str(tmp_path / "o.sqlite"),
                                     drain_timeout_s=10.0))
    try:
        assert sink.connected
        for i in range(5):
            sink.emit(ev.beat(i))
        assert sub.wait_for(lambda m: len(events(m)) == 5, 10)
        relay.freeze()
        i = 5

        def dead():
            nonlocal i
            sink.emit(ev.beat(i))
            i += 1
            return not sink.connected and sink.n_link_timeouts >= 1
        assert wait_until(dead, 30), sink.stats()
        assert any(w == "timeout" and d.startswith("no PUBACK") for _, w, d in sink.link_log)
        sink.emit(ev.alert(i))
        for j in range(5):
            sink.emit(ev.beat(i + 1 + j))
        assert sink.outbox.pending >= 6 and sink.alarm_backlog().pending == 1
        relay.heal()
        assert sub.wait_for(lambda m: {p["seq"] for p in events(m)} >= set(range(ev.n)), 30), \
            sink.stats()
        assert wait_until(lambda: sink.outbox.pending == 0, 10)
        got = events(sub.snapshot())
        assert sum(p["type"] == "alert" for p in got) >= 1
        assert sink.n_connects >= 2
    finally:
        sink.close()
        sub.close()
        relay.close()


_CRASH_SCRIPT = """
import sys, time
from tests.edge.sinks.test_alarm_path_mqtt import Events
from edge.sinks import MqttSink, MqttSinkSettings
sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=int(sys.argv[2]), connect_timeout_s=0.0,
                                 outbox_path=sys.argv[1]))
ev = Events()
for i in range(3):
    sink.emit(ev.beat(i))
    sink.emit(ev.alert(i))
print("queued", flush=True)
time.sleep(600)
"""


def test_alarms_queued_survive_kill_9_and_go_first_after_restart(broker, tmp_path):
    """A sink with no broker queues alarms and is killed with SIGKILL; the next run on the
    same outbox knows they wait (and since when), and delivers them all."""
    outbox = tmp_path / "o.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _CRASH_SCRIPT, str(outbox),
                             str(free_port())], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "queued"
        t_kill = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Outbox(OutboxConfig(path=str(outbox))) as ob:
        assert ob.pending == 6 and ob.urgent_pending == 3
        assert ob.oldest_urgent_s <= t_kill
    sub = Subscriber(broker.port)
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port,
                                     outbox_path=str(outbox)))
    try:
        assert sub.wait_for(lambda m: sum(p["type"] == "alert" for p in events(m)) == 3, 30)
        assert sorted({p["seq"] for p in events(sub.snapshot())}) == list(range(6))
        assert wait_until(lambda: sink.alarm_backlog().pending == 0, 10)
    finally:
        sink.close()
        sub.close()


def test_local_hook_fires_while_alarms_wait_and_clears_on_delivery(broker, classifier,
                                                                   tmp_path):
    """The daemon replays a record with a ventricular run while the broker is down: the
    alarm waits longer than alarm_fallback.after_s, so the daemon emits link alarms_delayed
    and runs the hook; the broker returns, the backlog is delivered, link alarms_delivered
    follows and the clear hook runs. Every alert reaches the subscriber."""
    hook_log = tmp_path / "hook.log"
    rec = ("import os,sys; open(sys.argv[1],'a').write(os.environ['ECG_EDGE_ALARM_STATE'] "
           "+ chr(10))")
    hook = json.dumps([sys.executable, "-c", rec, str(hook_log)])
    cfg = load_config(None, ['source.kind="replay"', f'source.replay.record="{EXCERPT}"',
                             "source.replay.speed=4", "source.replay.duration_s=100",
                             "outputs.status_interval_s=0", "sinks.terminal.enabled=false",
                             "alarm_fallback.after_s=1", "alarm_fallback.bell=false",
                             "alarm_fallback.repeat_s=0", f"alarm_fallback.command={hook}",
                             f"alarm_fallback.clear_command={hook}"])
    sub = Subscriber(broker.port)
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, drain_timeout_s=30.0,
                                     outbox_path=str(tmp_path / "o.sqlite")))
    assert sink.connected
    broker.stop()
    daemon = Daemon(cfg, source=build_source(cfg), classifier=classifier, sinks=[sink])
    t = threading.Thread(target=daemon.run)
    t.start()
    try:
        assert wait_until(lambda: hook_log.exists() and "delayed" in hook_log.read_text(),
                          60), daemon.fallback.counters()
        assert daemon.fallback.delayed and sink.alarm_backlog().pending >= 1
        broker.start()
        assert wait_until(lambda: "delivered" in hook_log.read_text(), 60), sink.stats()
        t.join(60)
        assert not t.is_alive()
    finally:
        daemon.request_stop()
        t.join(30)
    assert hook_log.read_text().split() == ["delayed", "delivered"]
    n_alerts = daemon.events_by_type.get("alert", 0)
    assert n_alerts >= 2
    assert sub.wait_for(lambda m: len({p["seq"] for p in events(m)
                                       if p["type"] == "alert"}) == n_alerts, 20)
    # de-duplicated by seq: link events are retained on the status topic, so the subscriber
    # gets the last one again when it re-subscribes after the broker restart
    links = sorted({p["seq"]: p for p in events(sub.snapshot()) if p["type"] == "link"
                    and p["state"].startswith("alarms_")}.values(), key=lambda p: p["seq"])
    assert [p["state"] for p in links] == ["alarms_delayed", "alarms_delivered"]
    first_alert = min(p["time_s"] for p in events(sub.snapshot()) if p["type"] == "alert")
    assert links[0]["time_s"] >= first_alert + 1.0  # raised only after after_s
    c = daemon.fallback.counters()
    assert c["warnings"] == 1 and c["delivered"] == 1 and c["hook_failures"] == 0
    sub.close()


def test_a_wait_longer_than_the_keepalive_still_reconnects(broker):
    """Regression: paho starts its keep-alive clock before ``on_pre_connect``; a backoff
    wait taken there that outlasted the keep-alive made paho drop every new connection at
    once (a 16-s wait with keepalive 10 s never reconnected). Waits of 2 s with a 1-s
    keep-alive must still reconnect."""
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, keepalive_s=1,
                                     reconnect_min_s=2.0, reconnect_max_s=2.0,
                                     reconnect_alarm_max_s=2.0, reconnect_jitter=0.0,
                                     drain_timeout_s=0.0))
    try:
        assert sink.connected
        broker.stop()
        assert wait_until(lambda: len(waits(sink)) >= 2, 30), list(sink.link_log)
        broker.start()
        assert wait_until(lambda: sink.connected, 30), list(sink.link_log)
        assert all(d == 2.0 for _, d, _ in waits(sink))
    finally:
        sink.close(timeout_s=0)
