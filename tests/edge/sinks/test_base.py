import io
import json

import pytest
import wfdb

from edge.errors import SinkError
from edge.events.model import BeatEvent, HeartRateEvent, LinkStatusEvent, Sequencer
from edge.sinks import (
    JsonLinesSink,
    RotatingJsonlSink,
    SinkSet,
    TerminalSink,
    WfdbAnnotationSink,
)


def beat(i, label="N", dev=1, fs=360.0):
    return Sequencer().stamp(BeatEvent(device_id=dev, sample_index=i, fs_hz=fs, label=label,
                                       proba={c: 0.2 for c in "NSVFQ"},
                                       rr_s={"pre": 0.8, "post": 0.8, "local": 0.8,
                                             "long": 0.8}))


def test_terminal_and_stdout():
    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    t.emit(HeartRateEvent(device_id=1, sample_index=3600, fs_hz=360.0, hr_bpm=71.6,
                          window_s=10.0, n_beats=12))
    t.emit(beat(3960, "V"))
    t.emit(LinkStatusEvent(device_id=1, state="gap", lost_samples=36, gap_s=0.1,
                           action="filled"))
    lines = buf.getvalue().splitlines()
    assert "HR 72 bpm" in lines[0] and "beat V" in lines[1] and "HR 72" in lines[1]
    assert "36 samples lost" in lines[2]
    js = io.StringIO()
    JsonLinesSink(js).emit(beat(5))
    assert json.loads(js.getvalue())["sample_index"] == 5


def test_jsonl_rotation_and_reopen(tmp_path):
    path = tmp_path / "ev.jsonl"
    s = RotatingJsonlSink(path, max_bytes=2000, backups=2)
    for i in range(40):
        s.emit(beat(i))
    s.flush()
    assert s.n_rotations >= 2 and (tmp_path / "ev.jsonl.1").exists()
    assert not (tmp_path / "ev.jsonl.3").exists()
    assert path.stat().st_size <= 2000
    path.rename(tmp_path / "moved.jsonl")  # logrotate moves the file, then SIGHUP
    s.reopen()
    s.emit(beat(99))
    s.close()
    assert json.loads(path.read_text())["sample_index"] == 99


def test_wfdb_sink_writes_beats_per_device(tmp_path):
    s = WfdbAnnotationSink(tmp_path, "rec", ext="tst")
    for i, lab in [(100, "N"), (400, "V"), (700, "S")]:
        s.emit(beat(i, lab))
    s.close()
    ann = wfdb.rdann(str(tmp_path / "rec"), "tst")
    assert list(ann.sample) == [100, 400, 700] and ann.symbol == ["N", "V", "S"]
    assert ann.fs == 360


def test_sinkset_isolates_a_failing_sink():
    class Broken:
        name = "broken"

        def emit(self, e):
            raise SinkError("broken", "disk full")

        flush = reopen = close = lambda self: None

    buf = io.StringIO()
    ss = SinkSet([Broken(), JsonLinesSink(buf)])
    ss.emit(beat(1))
    ss.emit(beat(2))
    assert ss.errors["broken"] == 2 and len(buf.getvalue().splitlines()) == 2


def test_mqtt_sink_against_a_local_broker(tmp_path):
    import shutil
    import socket
    import subprocess
    import time

    mqtt = pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto broker not installed (apt-get install mosquitto)")
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    conf = tmp_path / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        got = []
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
        sub.connect("127.0.0.1", port)
        sub.subscribe("ecg/#", qos=1)
        sub.loop_start()
        from edge.sinks import MqttSink

        s = MqttSink("127.0.0.1", port, topic_prefix="ecg")
        assert s.connected
        s.emit(beat(10, "V"))
        s.emit(LinkStatusEvent(device_id=1, state="connected"))
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline and len([t for t, _ in got if t.startswith("ecg/1/")]) < 2:
            time.sleep(0.05)
        sub.loop_stop()
        topics = [t for t, _ in got]
        assert "ecg/1/beats" in topics and "ecg/1/status" in topics
        assert any(t == "ecg/daemon/status" and p["state"] == "offline" for t, p in got)
    finally:
        broker.terminate()
        broker.wait(5)
