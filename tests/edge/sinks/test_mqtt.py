import json
import logging

import pytest

from edge.errors import ConfigError, SinkError
from edge.events.model import EVENT_TYPES, LinkStatusEvent
from edge.sinks.mqtt import MQTT_TOPICS, MqttSink, MqttSinkSettings
from edge.sinks.outbox import MEMORY, Outbox, OutboxConfig
from tests.edge.events.test_decode import sample_events
from tests.edge.sinks.broker_support import (
    Broker,
    Subscriber,
    free_port,
    need_mosquitto,
    wait_until,
)


def test_every_event_type_has_a_topic():
    assert tuple(MQTT_TOPICS) == EVENT_TYPES
    assert set(MQTT_TOPICS.values()) == {"beats", "alerts", "hr", "strip", "status"}
    assert {t for t, s in MQTT_TOPICS.items() if s == "status"} == {"status", "link", "quality"}


@pytest.mark.parametrize("kw,field", [
    ({"port": 0}, "port"),
    ({"port": True}, "port"),
    ({"protocol": "4"}, "protocol"),
    ({"protocol": 5}, "protocol"),
    ({"topic_prefix": "a/b"}, "topic_prefix"),
    ({"qos_stream": 2}, "qos_stream"),
    ({"password": "x", "password_file": "/f"}, "password_file"),
    ({"tls_cert_file": "/c"}, "tls_key_file"),
    ({"tls": "yes"}, "tls"),
    ({"outbox_max_bytes": 10}, "outbox_max_bytes"),
    ({"drain_timeout_s": -1}, "drain_timeout_s"),
    ({"ack_timeout_s": 0.5}, "ack_timeout_s"),
    ({"reconnect_min_s": 0}, "reconnect_min_s"),
    ({"reconnect_max_s": 0.1}, "reconnect_max_s"),
    ({"reconnect_alarm_max_s": 60.0}, "reconnect_alarm_max_s"),
    ({"reconnect_jitter": 2.0}, "reconnect_jitter"),
    ({"outbox_fsync_types": ("alarm",)}, "outbox_fsync_types"),
    ({"outbox_fsync_types": ["alert"]}, "outbox_fsync_types"),
])
def test_settings_rules_name_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        MqttSinkSettings(**kw)
    assert err.value.field == field


def test_alarm_path_defaults_and_rule_messages():
    s = MqttSinkSettings()
    assert (s.keepalive_s, s.ack_timeout_s, s.outbox_fsync_types) == (10, 5.0, ("alert",))
    b = s.backoff()
    assert (b.min_delay_s, b.max_delay_s, b.alarm_max_delay_s) == (0.5, 10.0, 1.0)
    assert s.outbox_config().fsync_types == ("alert",)
    with pytest.raises(ConfigError, match=r"reconnect_alarm_max_s: must lie in "
                                          r"\[reconnect_min_s, reconnect_max_s\]"):
        MqttSinkSettings(reconnect_alarm_max_s=60.0)


def test_password_file_and_outbox_from_settings(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("pw-one\n")
    s = MqttSinkSettings(username="1", password_file=str(secret))
    assert s.read_password() == "pw-one"
    assert MqttSinkSettings(tls_ca_file="/ca").uses_tls and not s.uses_tls
    assert s.outbox_config().path == MEMORY
    with pytest.raises(SinkError, match="sinks.mqtt.password_file"):
        MqttSinkSettings(username="1", password_file=str(tmp_path / "missing")).read_password()
    # a password without a username was silently not sent (session 44 audit)
    for kw in ({"password": "pw"}, {"password_file": str(secret)}):
        with pytest.raises(ConfigError, match="username"):
            MqttSinkSettings(**kw)


def test_offline_sink_queues_every_event_type_on_its_topic(caplog):
    """No broker: the sink starts, warns, and queues each event type on its topic with its
    QoS (hr and strip: qos_stream) and retain flag (status topic)."""
    pytest.importorskip("paho.mqtt.client")
    settings = MqttSinkSettings(host="127.0.0.1", port=free_port(), topic_prefix="w",
                                qos_stream=0, connect_timeout_s=0.0, drain_timeout_s=0.0)
    with caplog.at_level(logging.WARNING, logger="edge.sinks.mqtt"):
        sink = MqttSink(settings)
    assert "outbox_path is not set" in caplog.text
    try:
        for ev in sample_events():
            assert sink.topic(ev) == f"w/3/{MQTT_TOPICS[ev.type]}"
            sink.emit(ev)
        msgs = sink.outbox.peek(0, 100)
        assert [m.topic.rsplit("/", 1)[1] for m in msgs] == \
            [MQTT_TOPICS[e.type] for e in sample_events()]
        for m, ev in zip(msgs, sample_events()):
            assert m.qos == (0 if ev.type in ("hr", "strip") else 1)
            assert m.retain == (MQTT_TOPICS[ev.type] == "status")
            assert json.loads(m.payload)["boot"] == sink.boot
    finally:
        sink.close(timeout_s=0)


def test_given_outbox_is_used_and_closed(tmp_path):
    pytest.importorskip("paho.mqtt.client")
    outbox = Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite")))
    sink = MqttSink(MqttSinkSettings(port=free_port(), connect_timeout_s=0.0), outbox=outbox)
    assert sink.outbox is outbox
    sink.emit(LinkStatusEvent(device_id=1, state="connected"))
    sink.close(timeout_s=0)
    assert Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite"))).pending == 1


def test_an_alert_that_cannot_be_queued_is_counted_and_said_each_time(tmp_path, caplog):
    """Audit (session 49): with the disk under the outbox full, alerts failed to append and
    only a rate-limited 'cannot append' said so; no count, no fallback. A database capped at
    its size (SQLite's max_page_count: the same 'database or disk is full') shows it now."""
    pytest.importorskip("paho.mqtt.client")
    outbox = Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite")))
    sink = MqttSink(MqttSinkSettings(port=free_port(), connect_timeout_s=0.0), outbox=outbox)
    alert = next(e for e in sample_events() if e.type == "alert")
    try:
        sink.emit(alert)
        pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
        outbox._db.execute(f"PRAGMA max_page_count={pages}")
        with caplog.at_level(logging.ERROR, logger="edge.sinks.mqtt"):
            queued = 1
            for _ in range(500):  # the last page fills, then alerts fail
                try:
                    sink.emit(alert)
                    queued += 1
                except SinkError as exc:
                    assert "full" in str(exc)
                    break
            for _ in range(2):
                with pytest.raises(SinkError, match="full"):
                    sink.emit(alert)
        assert sink.stats()["mqtt"]["alerts_lost"] == 3
        assert caplog.text.count("ALERT LOST") == 3
        backlog = sink.alarm_backlog()
        assert backlog.lost == 3 and backlog.pending == queued
        outbox._db.execute("PRAGMA max_page_count=1000000")  # space again: appends resume
        sink.emit(alert)
        assert sink.alarm_backlog().pending == queued + 1
    finally:
        sink.close(timeout_s=0)


def test_closing_without_a_broker_says_it_waits_and_what_is_lost(caplog):
    """Session 48 audit: Ctrl-C with the broker unreachable waited 10 s in silence, a second
    Ctrl-C did not cut it short, and "406 messages still queued in the outbox :memory:" hid
    that they were lost. The wait is said, a second stop ends it, and the loss is an error."""
    import threading
    import time

    from edge.events.model import AlertEvent

    pytest.importorskip("paho.mqtt.client")
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=free_port(), connect_timeout_s=0.0,
                                     drain_timeout_s=30.0))
    for ev in sample_events():
        sink.emit(ev)
    sink.emit(AlertEvent(device_id=3, kind="vt", state="onset", severity="alarm",
                         sample_index=10, fs_hz=360.0, detail={}))
    threading.Timer(0.5, sink.give_up_drain).start()  # the second Ctrl-C
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="edge.sinks.mqtt"):
        sink.close()
    assert time.monotonic() - t0 < 10.0
    assert "waiting up to 30 s" in caplog.text and "stop again to give up now" in caplog.text
    lost = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(lost) == 1 and "not delivered are LOST" in lost[0].getMessage()
    assert "alerts)" in lost[0].getMessage()


def test_the_broker_down_then_up_is_said_at_the_same_level(tmp_path, caplog):
    """Session 48 audit: a name that does not resolve read like a stopped broker, and a broker
    that came back was only an INFO line after the "not reachable" warning."""
    pytest.importorskip("paho.mqtt.client")
    need_mosquitto()
    with caplog.at_level(logging.WARNING, logger="edge.sinks.mqtt"):
        MqttSink(MqttSinkSettings(host="no-such-host.invalid", connect_timeout_s=5.0,
                                  drain_timeout_s=0.0)).close()
    assert "the host name 'no-such-host.invalid' does not resolve" in caplog.text
    caplog.clear()
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="edge.sinks.mqtt"):
        sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=port, connect_timeout_s=5.0,
                                         reconnect_max_s=1.0, drain_timeout_s=5.0))
        try:
            assert f"nothing accepts a connection at 127.0.0.1:{port}" in caplog.text
            for ev in sample_events():
                sink.emit(ev)
            with Broker(tmp_path / "broker", port=port):
                assert wait_until(lambda: "connected to the broker" in caplog.text, 20.0)
                assert wait_until(lambda: sink.outbox.pending == 0, 20.0)
        finally:
            sink.close()
    back = [r for r in caplog.records if "connected to the broker" in r.getMessage()]
    assert len(back) == 1 and back[0].levelname == "WARNING"
    assert f"sending the {len(sample_events())} queued messages" in back[0].getMessage()


def test_mqtt_sink_against_a_local_broker(tmp_path, beat):
    need_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    try:
        sub = Subscriber(broker.port)
        s = MqttSink(MqttSinkSettings(host="127.0.0.1", port=broker.port, topic_prefix="ecg"))
        assert s.connected
        s.emit(beat(10, "V"))
        s.emit(LinkStatusEvent(device_id=1, state="connected"))
        s.close()
        assert sub.wait_for(lambda m: {"ecg/1/beats", "ecg/1/status"}
                            <= {t for t, _, _ in m}, 5)
        assert sub.wait_for(lambda m: any(t == "ecg/daemon/status" and p["state"] == "offline"
                                          for t, p, _ in m), 5)
        sub.close()
    finally:
        broker.stop()
