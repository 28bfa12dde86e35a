"""Strict event decoding: round trip of every event type and of the daemon's presence, and
refusals naming the field."""
import dataclasses
import json
import math
from pathlib import Path

import pytest

from edge.errors import EventDecodeError
from edge.events import model
from edge.events.decode import EVENT_CLASSES, parse_event, parse_message
from edge.events.model import (
    AlertEvent,
    BeatEvent,
    HeartRateEvent,
    LinkStatusEvent,
    Presence,
    QualityEvent,
    Sequencer,
    StatusEvent,
    StripEvent,
    event_to_json,
)


def sample_events():
    s = Sequencer(clock=lambda: 1_700_000_000.25)
    p = {c: 0.2 for c in "NSVFQ"}
    rr = {"pre": 0.8, "post": 0.81, "local": 0.79, "long": 0.8}
    return [s.stamp(e) for e in [
        BeatEvent(device_id=3, sample_index=720, fs_hz=360.0, label="V", proba=p, rr_s=rr,
                  quality="noisy"),
        HeartRateEvent(device_id=3, sample_index=3600, fs_hz=360.0, hr_bpm=None, window_s=10.0,
                       n_beats=0),
        AlertEvent(device_id=3, kind="v_run", state="onset", severity="alarm",
                   sample_index=800, fs_hz=360.0, detail={"n_beats": 3, "rate_bpm": 140.5}),
        QualityEvent(device_id=3, quality="lead_off", previous="good", sample_index=10,
                     fs_hz=250.0, metrics={"flat_fraction": 1.0}),
        LinkStatusEvent(device_id=3, state="gap", lost_samples=36, gap_s=0.1, action="filled",
                        sample_index=99, fs_hz=360.0),
        StripEvent(device_id=3, sample_index=0, fs_hz=360.0, strip_fs_hz=90.0,
                   samples_mv=[0.1, None, -0.25]),
        StatusEvent(device_id=3, state="running", uptime_s=12.5,
                    counters={"beats": 4, "events": {"beat": 4}},
                    stages={"detect": {"calls": 3.0, "cpu_s": 0.01}}, model_version="m1"),
    ]]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.type)
def test_round_trip(event):
    text = event_to_json(event)
    assert parse_event(text) == event
    assert parse_event(text.encode()) == event
    d = json.loads(text)
    d["boot"] = 7  # the MQTT sink's envelope key
    assert parse_event(json.dumps(d)) == event


def test_every_event_type_is_known():
    assert set(EVENT_CLASSES) == {"beat", "hr", "alert", "quality", "link", "strip", "status"}
    assert EVENT_CLASSES is model.EVENT_CLASSES  # the one list, not a copy


def test_nulls_in_maps_decode_as_nan():
    beat = json.loads(event_to_json(sample_events()[0]))
    beat["proba"]["N"] = None
    assert math.isnan(parse_event(json.dumps(beat)).proba["N"])


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(type="nope"), "type"),
    (lambda d: d.update(schema=2), "schema"),
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d.pop("label"), "label"),
    (lambda d: d.update(label="X"), "label"),
    (lambda d: d.update(seq=-1), "seq"),
    (lambda d: d.update(seq=True), "seq"),
    (lambda d: d.update(sample_index=1.5), "sample_index"),
    (lambda d: d.update(fs_hz=0), "fs_hz"),
    (lambda d: d.update(proba=[1]), "proba"),
    (lambda d: d.update(proba={"N": "x"}), "proba.N"),
    (lambda d: d.update(boot=-3), "boot"),
    (lambda d: d.update(sample_index=2 ** 70), "sample_index"),
    (lambda d: d.update(boot=2 ** 70), "boot"),  # the store's boot column is 64-bit
    (lambda d: d.update(time_s=1e30), "time_s"),  # its microseconds would not fit either
    (lambda d: d.update(time_s=-9.3e12), "time_s"),
    (lambda d: d.update(fs_hz=1e-320), "fs_hz"),  # sample_index / fs_hz overflows
    (lambda d: d["proba"].update(V=1.5), "proba.V"),
    (lambda d: d["proba"].update(V=-0.1), "proba.V"),
    (lambda d: d.update(t_stream_s=d["t_stream_s"] + 1), "t_stream_s"),
    (lambda d: d.update(t_stream_s="2"), "t_stream_s"),
])
def test_refusals_name_the_field(mutate, field):
    d = json.loads(event_to_json(sample_events()[0]))
    mutate(d)
    with pytest.raises(EventDecodeError) as ei:
        parse_event(json.dumps(d))
    assert ei.value.field == field


@pytest.mark.parametrize("text", ["", "nul", "[1]", "3", '"beat"', b"\xff\xfe", "[" * 100000])
def test_not_an_event_document(text):
    with pytest.raises(EventDecodeError) as ei:
        parse_event(text)
    assert ei.value.field == "$" and isinstance(ei.value, ValueError)


@pytest.mark.parametrize("index, changes, field", [
    (2, {"severity": "panic"}, "severity"),
    (2, {"state": "begin"}, "state"),
    (4, {"state": "unplugged"}, "state"),
    (4, {"action": "ignored"}, "action"),
    (4, {"lost_samples": -1}, "lost_samples"),
    (4, {"gap_s": -0.5}, "gap_s"),
    (6, {"state": "paused"}, "state"),
    (3, {"previous": "bad"}, "previous"),
    # audit (session 49): -50 bpm reached `history` and the live page as a heart rate
    (1, {"hr_bpm": -50.0}, "hr_bpm"),
    (1, {"window_s": -10.0}, "window_s"), (1, {"n_beats": -3}, "n_beats"),
    (0, {"rr_s": {"pre": -5.0, "post": 0.8, "local": 0.8, "long": 0.8}}, "rr_s.pre"),
])
def test_enumerations_and_counts_of_the_schema_are_checked(index, changes, field):
    d = {**json.loads(event_to_json(sample_events()[index])), **changes}
    with pytest.raises(EventDecodeError) as ei:
        parse_event(json.dumps(d))
    assert ei.value.field == field


def test_a_t_stream_s_that_agrees_to_the_microsecond_is_accepted():
    d = json.loads(event_to_json(sample_events()[4]))  # gap at sample 99, 360 Hz
    for t in (99 / 360, 0.275, 0.2750004):
        d["t_stream_s"] = t
        assert parse_event(json.dumps(d)) == sample_events()[4]


def test_a_t_stream_s_without_a_stream_position_is_refused():
    d = json.loads(event_to_json(sample_events()[6]))  # status: no sample_index
    d["t_stream_s"] = 1.0
    with pytest.raises(EventDecodeError) as ei:
        parse_event(json.dumps(d))
    assert ei.value.field == "t_stream_s"


@pytest.mark.parametrize("presence", [
    Presence(state="online", boot=3, time_s=1_700_000_000.5),
    Presence(state="offline"),
])
def test_presence_round_trip(presence):
    d = {"type": "presence", "state": presence.state}
    if presence.boot is not None:
        d.update(boot=presence.boot, time_s=presence.time_s)
    assert parse_message(json.dumps(d)) == presence
    with pytest.raises(EventDecodeError) as ei:  # not an event
        parse_event(json.dumps(d))
    assert ei.value.field == "type"


def test_parse_message_decodes_events_too():
    for event in sample_events():
        assert parse_message(event_to_json(event)) == event


@pytest.mark.parametrize("doc, field", [
    ({"type": "presence", "state": "maybe"}, "state"),
    ({"type": "presence"}, "state"),
    ({"type": "presence", "state": "online", "boot": -1}, "boot"),
    ({"type": "presence", "state": "online", "boot": "2"}, "boot"),
    ({"type": "presence", "state": "online", "time_s": "now"}, "time_s"),
    ({"type": "presence", "state": "online", "device_id": 1}, "device_id"),
    ({"type": "status", "state": "offline"}, "device_id"),  # the pre-presence form
])
def test_presence_refusals_name_the_field(doc, field):
    with pytest.raises(EventDecodeError) as ei:
        parse_message(json.dumps(doc))
    assert ei.value.field == field


def test_the_example_of_the_docs_decodes():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "events.md").read_text()
    example = doc.split("```json\n", 1)[1].split("\n```", 1)[0]
    event = parse_event(example)
    assert isinstance(event, BeatEvent) and event.t_stream_s == pytest.approx(40 / 360)


def rhythm_events():
    """Events that use the fields added within schema 1, stamped."""
    beat, hr, alert = sample_events()[0], sample_events()[1], sample_events()[2]
    status = sample_events()[6]
    out = [dataclasses.replace(beat, rhythm=r) for r in model.RHYTHM_LABELS]
    out += [dataclasses.replace(hr, hr_bpm=92.0, n_beats=14, af_burden_1h=0.5,
                                af_burden_run=0.125),
            dataclasses.replace(hr, af_burden_1h=0.0),
            dataclasses.replace(status, af_burden_1h=1.0, af_burden_run=0.3)]
    out += [dataclasses.replace(alert, kind=k, severity="warning",
                                detail={"n_beats": 3, "rate_bpm": 120.0})
            for k in ("afib", "aflutter", "svt")]
    return out


@pytest.mark.parametrize("event", rhythm_events(),
                         ids=lambda e: f"{e.type}-{getattr(e, 'rhythm', None) or ''}"
                                       f"{getattr(e, 'kind', '')}")
def test_round_trip_of_the_rhythm_fields(event):
    assert parse_event(event_to_json(event)) == event


def test_rhythm_fields_may_be_null_or_absent():
    for event in (sample_events()[0], sample_events()[1], sample_events()[6]):
        d = json.loads(event_to_json(event))
        assert parse_event(json.dumps(d)) == event  # absent (as written while unset)
        for name in ("rhythm", "af_burden_1h", "af_burden_run"):
            if name in {f.name for f in dataclasses.fields(event)}:
                d[name] = None
        assert parse_event(json.dumps(d)) == event  # explicit null


@pytest.mark.parametrize("index, changes, field", [
    (0, {"rhythm": "AF"}, "rhythm"),
    (0, {"rhythm": "afib"}, "rhythm"),
    (0, {"rhythm": 1}, "rhythm"),
    (1, {"af_burden_1h": 1.5}, "af_burden_1h"),
    (1, {"af_burden_1h": -0.01}, "af_burden_1h"),
    (1, {"af_burden_run": 2}, "af_burden_run"),
    (1, {"af_burden_run": "0.5"}, "af_burden_run"),
    (1, {"af_burden_run": True}, "af_burden_run"),
    (6, {"af_burden_1h": 1.0000001}, "af_burden_1h"),
    (6, {"af_burden_run": -1}, "af_burden_run"),
    (2, {"kind": "afl"}, "kind"),
    (3, {"af_burden_1h": 0.5}, "af_burden_1h"),  # a quality event has no burden
])
def test_unknown_rhythms_and_burdens_out_of_range_are_refused(index, changes, field):
    d = {**json.loads(event_to_json(sample_events()[index])), **changes}
    with pytest.raises(EventDecodeError) as ei:
        parse_event(json.dumps(d))
    assert ei.value.field == field


def test_a_heart_rate_of_0_in_asystole_decodes():
    """docs/events.md: ``hr_bpm`` is 0 while an asystole episode is open; the session-49 rule
    against negative rates first refused it too, which dropped those events at ingest."""
    ev = sample_events()[1]
    d = {**json.loads(event_to_json(ev)), "hr_bpm": 0.0}
    assert parse_event(json.dumps(d)).hr_bpm == 0.0
