import io

import pytest

from edge.errors import SinkError
from edge.runtime.loader import build_sinks, build_source
from edge.runtime.settings import load_config
from edge.sinks import JsonLinesSink, RotatingJsonlSink, TerminalSink, WfdbAnnotationSink


@pytest.mark.parametrize("overrides,cls", [
    (['source.serial.port="loop://"'], "SerialSource"),
    (['source.kind="ble"', 'source.ble.address="AA:BB:CC:DD:EE:FF"'], "BleSource"),
    (['source.kind="replay"', 'source.replay.record="100"'], "ReplaySource"),
])
def test_build_source_per_kind(overrides, cls):
    config = load_config(None, overrides)
    source = build_source(config)
    assert type(source).__name__ == cls and source.config is config.source.transport


def test_build_sinks_in_table_order(tmp_path):
    config = load_config(None, ['source.serial.port="loop://"'], {
        "sinks.stdout.enabled": True, "sinks.jsonl.enabled": True,
        "sinks.jsonl.path": str(tmp_path / "e.jsonl"), "sinks.jsonl.types": ["beat"],
        "sinks.wfdb.enabled": True, "sinks.wfdb.out_dir": str(tmp_path),
        "sinks.terminal.color": "never", "sinks.terminal.beats": False})
    out = io.StringIO()
    sinks = build_sinks(config, stdout=out)
    assert [type(s) for s in sinks] == [TerminalSink, JsonLinesSink, RotatingJsonlSink,
                                        WfdbAnnotationSink]
    assert sinks[0].beats is False and sinks[0].color is False
    assert sinks[2].types == frozenset({"beat"})
    for s in sinks:
        s.close()
    assert build_sinks(load_config(None, ['source.serial.port="x"',
                                          "sinks.terminal.enabled=false"])) == []


def test_a_sink_that_cannot_open_closes_the_ones_before(tmp_path, monkeypatch):
    pytest.importorskip("paho.mqtt.client")
    closed = []
    monkeypatch.setattr(RotatingJsonlSink, "close", lambda self: closed.append(self.path))
    config = load_config(None, ['source.serial.port="x"', "sinks.terminal.enabled=false"], {
        "sinks.jsonl.enabled": True, "sinks.jsonl.path": str(tmp_path / "e.jsonl"),
        "sinks.mqtt.enabled": True, "sinks.mqtt.username": "1",
        "sinks.mqtt.password_file": str(tmp_path / "missing")})
    with pytest.raises(SinkError, match="password_file"):
        build_sinks(config)
    assert closed == [tmp_path / "e.jsonl"]


def test_the_jsonl_file_carries_the_mqtt_runs_boot(tmp_path):
    """One run, one boot: with MQTT on, the file's lines carry the MQTT sink's boot (the
    outbox's run counter), so a store fed by both de-duplicates them; without MQTT, the run's
    start in Unix milliseconds."""
    pytest.importorskip("paho.mqtt.client")
    import json
    import time

    from edge.events.model import QualityEvent
    from edge.sinks import MqttSink
    from tests.edge.sinks.broker_support import free_port

    base = ['source.serial.port="x"', "sinks.terminal.enabled=false"]
    jsonl = {"sinks.jsonl.enabled": True, "sinks.jsonl.path": str(tmp_path / "e.jsonl")}
    event = QualityEvent(device_id=1, seq=0, time_s=1.0, quality="good", previous="noisy",
                         sample_index=0, fs_hz=360.0)
    boots = []
    for run in range(2):
        sinks = build_sinks(load_config(None, base, {
            **jsonl, "sinks.mqtt.enabled": True, "sinks.mqtt.port": free_port(),
            "sinks.mqtt.outbox_path": str(tmp_path / "outbox.db"),
            "sinks.mqtt.drain_timeout_s": 0.1}))
        (file_sink,) = [x for x in sinks if isinstance(x, RotatingJsonlSink)]
        (mqtt,) = [x for x in sinks if isinstance(x, MqttSink)]
        assert file_sink.boot == mqtt.boot
        boots.append(mqtt.boot)
        file_sink.emit(event)
        for x in sinks:
            x.close()
    t0 = int(time.time() * 1000)
    (alone,) = build_sinks(load_config(None, base, jsonl))
    alone.emit(event)
    alone.close()
    written = [json.loads(line)["boot"]
               for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert written[:2] == boots and boots[0] < boots[1] and t0 <= written[2] <= t0 + 5000
