"""Event feeds: the JSONL follower (backlog, partial lines, rotation by the daemon's own
rotating sink, truncation), the MQTT subscriber (with a fake paho client, and with a real
broker), and the strict decoding of every payload (malformed ones counted by kind, logged once
per kind, never turned into numbers)."""
from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from edge.dashboard.feeds import (
    MQTT_SUFFIXES,
    EventFeed,
    JsonlFeedConfig,
    JsonlFollower,
    MqttFeed,
    MqttFeedConfig,
    parse_host_port,
)
from edge.dashboard.state import MonitorState
from edge.errors import ConfigError
from edge.events.model import EVENT_TYPES, BeatEvent, HeartRateEvent, Presence
from edge.sinks import MQTT_TOPICS, RotatingJsonlSink
from tests.edge.dashboard.support import EventMaker, write_jsonl


def seqs(events):
    return [e.seq for e in events]


def test_missing_file_then_appended_lines_and_partial_line(tmp_path):
    path = tmp_path / "ev.jsonl"
    f = JsonlFollower(JsonlFeedConfig(path=path))
    assert isinstance(f, EventFeed)
    assert f.poll() == [] and not f.status().connected
    assert "no file" in f.status().detail
    mk = EventMaker()
    write_jsonl(path, [mk.hr(1.0), mk.hr(2.0)])
    assert seqs(f.poll()) == [0, 1]
    line = json.dumps(mk.hr(3.0))
    with path.open("a") as fh:
        fh.write(line[:10])
    assert f.poll() == []
    with path.open("a") as fh:
        fh.write(line[10:] + "\nnot json\n")
    got = f.poll()
    assert seqs(got) == [2] and isinstance(got[0], HeartRateEvent)  # decoded, typed
    st = f.status()
    assert st.connected and st.n_events == 3 and st.n_bad == 1
    assert st.malformed == {"not a JSON object": 1}


def test_backlog_starts_at_a_line_boundary(tmp_path):
    path = tmp_path / "ev.jsonl"
    mk = EventMaker()
    write_jsonl(path, [mk.hr(float(k)) for k in range(1000)])
    f = JsonlFollower(JsonlFeedConfig(path=path, backlog_bytes=2000))
    got = f.poll()
    assert 0 < len(got) < 30 and seqs(got) == list(range(1000 - len(got), 1000))
    assert f.status().n_bad == 0


def test_follows_rotation_by_the_daemon_sink_without_loss_or_duplicates(tmp_path):
    path = tmp_path / "ev.jsonl"
    sink = RotatingJsonlSink(path, max_bytes=3000, backups=3)
    f = JsonlFollower(JsonlFeedConfig(path=path))
    got = []
    for k in range(200):
        sink.emit(HeartRateEvent(device_id=1, seq=k, time_s=1.0, sample_index=k, fs_hz=360.0,
                                 hr_bpm=70.0, window_s=10.0, n_beats=5))
        sink.flush()
        if k % 7 == 0:
            got += f.poll()
    got += f.poll()
    sink.close()
    assert sink.n_rotations >= 5
    assert seqs(got) == list(range(200))
    assert f.n_reopens >= 5


def test_truncated_file_is_read_from_the_start(tmp_path):
    path = tmp_path / "ev.jsonl"
    mk = EventMaker()
    write_jsonl(path, [mk.hr(float(k)) for k in range(50)])
    f = JsonlFollower(JsonlFeedConfig(path=path))
    assert len(f.poll()) == 50
    path.write_text("")
    write_jsonl(path, [mk.hr(60.0)])
    assert seqs(f.poll()) == [50]


@pytest.mark.parametrize("field,value", [("backlog_bytes", -1), ("max_read_bytes", 0),
                                         ("path", "")])
def test_jsonl_config_errors_name_the_field(tmp_path, field, value):
    kw = {"path": tmp_path / "x", field: value}
    with pytest.raises(ConfigError) as err:
        JsonlFeedConfig(**kw)
    assert err.value.field == field


# --------------------------------------------------------------------------- MQTT
class FakeClient:
    """Stands in for paho's Client: records calls, lets the test fire callbacks."""

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.started = self.stopped = False

    def username_pw_set(self, u, p):
        self.auth = (u, p)

    def tls_set(self):
        self.tls = True

    def reconnect_delay_set(self, **kw):
        pass

    def connect_async(self, host, port, keepalive):
        self.target = (host, port)

    def loop_start(self):
        self.started = True

    def loop_stop(self):
        self.stopped = True

    def disconnect(self):
        pass

    def subscribe(self, topic, qos):
        self.subscribed.append(topic)

    def deliver(self, topic: str, payload) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.on_message(self, None, SimpleNamespace(topic=topic, payload=data))


def test_mqtt_feed_subscribes_and_queues_messages():
    client = FakeClient()
    feed = MqttFeed(MqttFeedConfig(host="broker", port=1884, topic_prefix="ward3",
                                   username="u", password="p", max_queued=3),
                    client_factory=lambda: client)
    assert isinstance(feed, EventFeed)
    assert client.target == ("broker", 1884) and client.started and client.auth == ("u", "p")
    assert not feed.status().connected
    client.on_connect(client, None, {}, SimpleNamespace(is_failure=False), None)
    assert feed.connected
    assert set(client.subscribed) == {f"ward3/+/{s}" for s in set(MQTT_TOPICS.values())}
    mk = EventMaker()
    client.deliver("ward3/1/hr", mk.hr(1.0))
    client.deliver("ward3/daemon/status", {"type": "presence", "state": "offline"})
    client.deliver("ward3/pi7/status", {"type": "presence", "state": "online", "boot": 3})
    client.deliver("ward3/1/beats", b"\xff garbage")
    got = feed.poll()
    assert [e.type for e in got] == ["hr", "presence", "presence"]
    assert got[1] == Presence(state="offline") and got[2] == Presence(state="online", boot=3)
    assert feed.poll() == []
    for k in range(5):  # bounded queue: the oldest are dropped
        client.deliver("ward3/1/hr", mk.hr(float(k)))
    assert len(feed.poll()) == 3
    client.on_disconnect(client, None, {}, "gone", None)
    st = feed.status()
    assert not st.connected and st.n_bad == 1 and "2 messages dropped" in st.detail
    assert st.malformed == {"not a JSON object": 1}
    feed.close()
    assert client.stopped


def test_parse_host_port_and_mqtt_config_errors():
    assert parse_host_port("localhost") == ("localhost", 1883)
    assert parse_host_port("10.0.0.2:1884") == ("10.0.0.2", 1884)
    with pytest.raises(ConfigError):
        parse_host_port("host:abc")
    with pytest.raises(ConfigError) as err:
        MqttFeedConfig(port=0)
    assert err.value.field == "port"
    with pytest.raises(ConfigError) as err:
        MqttFeedConfig(topic_prefix="ecg/#")
    assert err.value.field == "topic_prefix"


def test_mqtt_feed_receives_what_the_daemon_sink_publishes(tmp_path):
    """A real broker (mosquitto, when installed): edge.sinks.MqttSink -> MqttFeed."""
    import shutil
    import socket
    import subprocess
    import time

    from edge.events.model import StripEvent

    broker = shutil.which("mosquitto") or (shutil.which("mosquitto", path="/usr/sbin"))
    if broker is None:
        pytest.skip("mosquitto is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([broker, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    feed = sink = None
    try:
        from edge.sinks import MqttSink, MqttSinkSettings

        feed = MqttFeed(MqttFeedConfig(host="127.0.0.1", port=port, topic_prefix="t"))
        deadline = time.monotonic() + 10
        while not feed.wait_connected(0.2) and time.monotonic() < deadline:
            pass
        assert feed.connected, feed.status()
        sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=port, topic_prefix="t"))
        sink.emit(StripEvent(device_id=4, seq=0, time_s=1.0, sample_index=0, fs_hz=360.0,
                             strip_fs_hz=90.0, samples_mv=[0.1, 0.2]))
        sink.emit(BeatEvent(device_id=4, seq=1, time_s=1.0, sample_index=40, fs_hz=360.0,
                            label="V", proba={"V": 0.9}, rr_s={"pre": 0.5}))
        state = MonitorState()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and state.n_events < 3:
            state.apply_many(feed.poll())
            time.sleep(0.05)
        assert state.daemon_online is True  # the sink's retained "online"
        snap = state.snapshot(4)
        assert snap.counts["V"] == 1 and snap.strip_mv.size == 2
    finally:
        if sink is not None:
            sink.close(timeout_s=1.0)
        if feed is not None:
            feed.close()
        proc.terminate()
        proc.wait(5)


# --------------------------------------------------------------------------- strict decoding
def bad_lines(mk: EventMaker) -> list[str]:
    """One line per kind of fault; each would have become a number in the loose parser."""
    def mutated(event: dict, **changes) -> str:
        return json.dumps({**event, **changes})

    beat = mk.beat(5.0, "N")
    hr = mk.hr(5.5, 75.0)
    return [
        "{not json",
        mutated(hr, hr_bpm="75"),                          # a string rate would read as 75
        mutated(beat, label="X"),                          # an unknown class would be counted
        mutated(beat, label="Z"),                          # (same kind: logged once)
        mutated(beat, proba={**beat["proba"], "N": 7.0}),  # not a probability
        mutated(beat, t_stream_s=999.0),                   # disagrees with sample_index
        mutated(hr, extra_field=1),                        # unknown field
        json.dumps({"type": "beat", "device_id": 1}),      # fields missing
    ]


def test_malformed_lines_are_counted_by_kind_logged_once_and_change_no_number(tmp_path,
                                                                              caplog):
    path = tmp_path / "ev.jsonl"
    mk = EventMaker()
    good = mk.session(3)
    bad = bad_lines(mk)
    with path.open("w") as fh:
        for k, e in enumerate(good):
            fh.write(json.dumps(e) + "\n")
            if k < len(bad):
                fh.write(bad[k] + "\n")
        fh.write("\n".join(bad) + "\n")  # every fault a second time
    f = JsonlFollower(JsonlFeedConfig(path=path))
    with caplog.at_level(logging.WARNING, logger="edge.dashboard.rejects"):
        got = f.poll()
    assert seqs(got) == [e["seq"] for e in good]
    st = f.status()
    assert st.n_bad == 2 * len(bad)
    assert st.malformed == {"field label": 4, "not a JSON object": 2, "field hr_bpm": 2,
                            "field proba.N": 2, "field t_stream_s": 2, "field extra_field": 2,
                            "field sample_index": 2}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(st.malformed)  # once per kind, not per line
    assert all(f.name in r.getMessage() for r in warnings)
    state = MonitorState()
    assert state.apply_many(got) == len(good)
    snap = state.snapshot(1)
    assert dict(snap.counts) == {"N": 3, "S": 0, "V": 0, "F": 0, "Q": 0}
    assert snap.hr_bpm.tolist() == [71.0]  # the string "75" did not become a rate


def test_over_long_line_is_a_malformed_kind_of_its_own(tmp_path):
    path = tmp_path / "ev.jsonl"
    mk = EventMaker()
    path.write_text("x" * 300)
    f = JsonlFollower(JsonlFeedConfig(path=path, max_line_bytes=100))
    assert f.poll() == []
    write_jsonl(path, [mk.hr(1.0)])
    assert seqs(f.poll()) == [0]
    assert f.status().malformed == {"line too long": 1}


def test_mqtt_topic_suffixes_derive_from_the_event_types():
    assert set(EVENT_TYPES) <= set(MQTT_TOPICS)  # every event type has a topic
    assert set(MQTT_SUFFIXES) == {MQTT_TOPICS[t] for t in EVENT_TYPES}
    assert len(MQTT_SUFFIXES) == len(set(MQTT_SUFFIXES))
    assert MqttFeedConfig(topic_prefix="w").topics() == [f"w/+/{s}" for s in MQTT_SUFFIXES]


def test_mqtt_messages_on_the_wrong_topic_or_malformed_are_refused(caplog):
    client = FakeClient()
    feed = MqttFeed(MqttFeedConfig(topic_prefix="w"), client_factory=lambda: client)
    mk = EventMaker(device_id=2)
    beat = mk.beat(1.0, "V")
    with caplog.at_level(logging.WARNING, logger="edge.dashboard.rejects"):
        client.deliver("w/2/hr", beat)                     # a beat on the rate topic
        client.deliver("w/3/beats", beat)                  # device 2's beat on device 3's topic
        client.deliver("w/2/beats", {**beat, "seq": -4})   # not a stamped event
        client.deliver("w/2/beats", {**beat, "seq": -5})
        client.deliver("w/2/hr", {"type": "presence", "state": "online"})
        client.deliver("w/2/status", {"type": "presence", "state": "maybe"})
        client.deliver("w/2/beats", beat)
    got = feed.poll()
    assert len(got) == 1 and isinstance(got[0], BeatEvent) and got[0].label == "V"
    assert feed.status().malformed == {"topic": 3, "field seq": 2, "field state": 1}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3
