"""Event records, their JSON form, sequence numbers, and the agreement of the model's
enumerations with the JSON schema."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from edge.aami import AAMI_CLASSES
from edge.events.model import (
    ALERT_KINDS,
    ALERT_SEVERITIES,
    ALERT_STATES,
    BEAT_QUALITY_LEVELS,
    EVENT_CLASSES,
    EVENT_TYPES,
    GAP_ACTIONS,
    LINK_STATES,
    QUALITY_LEVELS,
    RHYTHM_LABELS,
    STATUS_STATES,
    AlertEvent,
    BeatEvent,
    HeartRateEvent,
    LinkStatusEvent,
    Sequencer,
    StatusEvent,
    StripEvent,
    event_to_dict,
    event_to_json,
)

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "events.schema.json"


def samples():
    return [
        BeatEvent(device_id=1, sample_index=360, fs_hz=360.0, label="V",
                  proba={"N": 0.1, "S": 0.0, "V": 0.9, "F": 0.0, "Q": 0.0},
                  rr_s={"pre": 0.5, "post": 1.0, "local": 0.8, "long": float("nan")},
                  quality="noisy"),
        HeartRateEvent(device_id=1, sample_index=720, fs_hz=360.0, hr_bpm=None, window_s=10.0,
                       n_beats=0),
        AlertEvent(device_id=1, kind="v_run", state="onset", severity="alarm",
                   sample_index=10, fs_hz=360.0, detail={"n_beats": 3}),
        LinkStatusEvent(device_id=1, state="gap", lost_samples=36, gap_s=0.1, action="filled",
                        sample_index=100, fs_hz=360.0),
        LinkStatusEvent(device_id=0, state="connected", detail="/dev/pts/3"),
        StripEvent(device_id=1, sample_index=0, fs_hz=360.0, strip_fs_hz=90.0,
                   samples_mv=[0.1, None]),
        StatusEvent(device_id=1, state="stopped", uptime_s=1.0, counters={"beats": 1},
                    stages={"detect": {"calls": 1, "cpu_s": 0.1}}, model_version="x"),
    ]


def test_sequence_numbers_are_per_device_and_contiguous():
    seq = Sequencer(clock=lambda: 123.0)
    stamped = [seq.stamp(e) for e in samples()]
    assert [e.seq for e in stamped if e.device_id == 1] == list(range(6))
    assert [e.seq for e in stamped if e.device_id == 0] == [0]
    assert all(e.time_s == 123.0 for e in stamped)


def test_json_is_strict_and_matches_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    seq = Sequencer()
    for ev in samples():
        line = event_to_json(seq.stamp(ev))
        obj = json.loads(line)
        jsonschema.validate(obj, schema)
        assert obj["type"] == ev.type and "\n" not in line
    d = event_to_dict(samples()[0])
    assert d["rr_s"]["long"] is None and d["t_stream_s"] == 1.0


def test_the_schema_lists_the_model_types_and_enumerations():
    schema = json.loads(SCHEMA.read_text())
    defs = schema["$defs"]
    assert [r["$ref"].rsplit("/", 1)[-1] for r in schema["oneOf"]] == list(EVENT_TYPES)
    assert tuple(EVENT_CLASSES) == EVENT_TYPES

    def enum(etype: str, prop: str) -> list:
        return defs[etype]["properties"][prop]["enum"]

    assert enum("beat", "label") == list(AAMI_CLASSES)
    assert enum("quality", "quality") == list(QUALITY_LEVELS)
    assert enum("beat", "quality") == list(BEAT_QUALITY_LEVELS)
    assert enum("alert", "kind") == list(ALERT_KINDS)
    assert enum("beat", "rhythm") == [*RHYTHM_LABELS, None]
    for etype in ("hr", "status"):
        for name in ("af_burden_1h", "af_burden_run"):
            assert defs[etype]["properties"][name]["maximum"] == 1
            assert name not in defs[etype]["required"]
    assert "rhythm" not in defs["beat"]["required"]
    assert enum("alert", "state") == list(ALERT_STATES)
    assert enum("alert", "severity") == list(ALERT_SEVERITIES)
    assert enum("link", "state") == list(LINK_STATES)
    assert enum("link", "action") == list(GAP_ACTIONS)
    assert enum("status", "state") == list(STATUS_STATES)


def test_link_states_cover_the_sources_link_states():
    from firmware_bridge.sources import LinkState

    assert [s.value for s in LinkState] == list(LINK_STATES[:len(LinkState)])


def test_rhythm_alert_kinds_are_known():
    assert {"afib", "aflutter", "svt"} <= set(ALERT_KINDS)


def test_unset_rhythm_fields_are_left_out_of_the_json():
    """An event that does not use the fields added within schema 1 is written as before, so a
    consumer of the earlier schema-1 form still reads it."""
    beat, hr = samples()[0], samples()[1]
    status = samples()[-1]
    assert list(event_to_dict(beat)) == ["type", "schema", "device_id", "seq", "time_s",
                                         "sample_index", "fs_hz", "label", "proba", "rr_s",
                                         "quality", "t_stream_s"]
    assert "af_burden_1h" not in event_to_dict(hr) and "af_burden_run" not in event_to_dict(hr)
    assert "af_burden_1h" not in event_to_dict(status)
    assert event_to_json(beat) == (
        '{"type":"beat","schema":1,"device_id":1,"seq":-1,"time_s":0.0,"sample_index":360,'
        '"fs_hz":360.0,"label":"V","proba":{"N":0.1,"S":0.0,"V":0.9,"F":0.0,"Q":0.0},'
        '"rr_s":{"pre":0.5,"post":1.0,"local":0.8,"long":null},"quality":"noisy",'
        '"t_stream_s":1.0}')


def test_set_rhythm_fields_are_written_and_match_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    seq = Sequencer(clock=lambda: 5.0)
    beat = replace(samples()[0], rhythm="AFIB")
    hr = replace(samples()[1], af_burden_1h=0.25, af_burden_run=0.0)
    status = replace(samples()[-1], af_burden_1h=None, af_burden_run=1.0)
    for ev in (beat, hr, status):
        obj = json.loads(event_to_json(seq.stamp(ev)))
        jsonschema.validate(obj, schema)
    assert event_to_dict(beat)["rhythm"] == "AFIB"
    assert event_to_dict(hr)["af_burden_1h"] == 0.25 and event_to_dict(hr)["af_burden_run"] == 0
    assert "af_burden_1h" not in event_to_dict(status)
    bad = json.loads(event_to_json(seq.stamp(hr)))
    bad["af_burden_1h"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_status_af_burden_counters_match_the_schema():
    """``counters.af_burden`` (every device's burden, by device id) is described by the
    schema: fractions or null, both keys, device ids as decimal strings."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    seq = Sequencer(clock=lambda: 5.0)
    table = {"1": {"af_burden_1h": 0.9, "af_burden_run": 0.75},
             "2": {"af_burden_1h": None, "af_burden_run": None}}
    status = replace(samples()[-1], counters={"beats": 3, "af_burden": table},
                     af_burden_1h=0.9, af_burden_run=0.75)
    obj = json.loads(event_to_json(seq.stamp(status)))
    jsonschema.validate(obj, schema)
    for broken in ({"1": {"af_burden_1h": 1.5, "af_burden_run": 0.0}},
                   {"1": {"af_burden_1h": 0.5}},
                   {"dev1": {"af_burden_1h": 0.5, "af_burden_run": 0.5}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**obj, "counters": {"af_burden": broken}}, schema)


def test_an_unclassified_q_beat_matches_the_schema():
    """A Q beat whose window held invalid samples is not classified: every class of its
    ``proba`` is null. The schema refused it until session 50 (every such event failed
    validation while the decoder and ``ingest`` accepted it)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    beat = BeatEvent(device_id=1, sample_index=540, fs_hz=360.0, label="Q",
                     proba={c: float("nan") for c in "NSVFQ"},
                     rr_s={"pre": 0.5, "post": 1.0, "local": 0.8, "long": 0.8},
                     quality="lead_off")
    obj = json.loads(event_to_json(Sequencer().stamp(beat)))
    assert obj["proba"] == {c: None for c in "NSVFQ"}
    jsonschema.validate(obj, schema)
    obj["proba"]["N"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, schema)
