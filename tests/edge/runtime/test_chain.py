"""Alarm chaining under ``vfib``: held, dropped or raised late, whatever the chunking."""

import pytest

from edge.events.model import AlertEvent, HeartRateEvent
from edge.runtime.chain import CHAINED_KINDS, AlarmChain
from tests.edge.runtime.daemon_support import REPO, run_replay_jsonl

FS = 250.0
EXCERPT = REPO / "tests" / "data" / "cudb" / "cudb_cu21_excerpt"  # VF 25.9-41.2 s


def alert(kind, state, at, severity="warning", **detail):
    return AlertEvent(device_id=1, kind=kind, state=state, severity=severity,
                      sample_index=at, fs_hz=FS, detail=dict(detail))


def vfib(state, at):
    return alert("vfib", state, at, "alarm")


def seen(events):
    return [(e.kind, e.state, e.sample_index, e.detail.get("chained_under")) for e in events
            if isinstance(e, AlertEvent)]


def test_an_episode_inside_vf_is_never_raised_and_is_counted():
    c = AlarmChain(FS)
    out = c.filter([vfib("onset", 1000), alert("v_run", "onset", 1200)], 1500, 1200)
    assert seen(out) == [("vfib", "onset", 1000, None)] and c.held_kinds == ["v_run"]
    out = c.filter([alert("v_run", "end", 1900), vfib("end", 3000)], 3100, 3050)
    assert seen(out) == [("vfib", "end", 3000, None)]
    assert c.n_held == {"v_run": 1} and c.n_dropped == {"v_run": 1} and c.held_kinds == []
    # after the vfib end, the same kind passes at once
    out = c.filter([alert("v_run", "onset", 3200)], 3300, 3200)
    assert seen(out) == [("v_run", "onset", 3200, None)]


def test_an_episode_that_outlives_the_vf_is_raised_after_it_dated_at_its_onset():
    c = AlarmChain(FS)
    c.filter([vfib("onset", 1000), alert("bradycardia", "onset", 1500)], 2000, 1500)
    c.filter([vfib("end", 3000)], 3100, 3000)
    # no end yet, and the beats are not yet 2 s past the vfib end: still held
    assert c.filter([], 3300, 3400) == [] and c.held_kinds == ["bradycardia"]
    out = c.filter([HeartRateEvent(device_id=1, sample_index=3600, fs_hz=FS, hr_bpm=30.0,
                                   window_s=10.0, n_beats=4)], 3700, 3000 + 500)
    assert [type(e) for e in out] == [HeartRateEvent, AlertEvent]  # other events pass first
    assert seen(out) == [("bradycardia", "onset", 1500, "vfib")]
    assert c.n_dropped == {}


def test_an_end_dated_after_the_vfib_end_raises_the_onset_first():
    c = AlarmChain(FS)
    c.filter([vfib("onset", 1000), alert("tachycardia", "onset", 1100)], 1200, 1100)
    out = c.filter([vfib("end", 2000), alert("tachycardia", "end", 2100)], 2200, 2100)
    assert seen(out) == [("vfib", "end", 2000, None), ("tachycardia", "onset", 1100, "vfib"),
                         ("tachycardia", "end", 2100, None)]


def test_alerts_wait_for_the_vf_analysis_and_are_judged_in_sample_order():
    c = AlarmChain(FS)
    # the v_run onset is dated past what the VF detector has analysed: it waits
    assert seen(c.filter([alert("v_run", "onset", 1100)], 1000, 1100)) == []
    # the vfib onset raised at 1050 is before it: held; the earlier svt onset passes
    out = c.filter([alert("svt", "onset", 1020), vfib("onset", 1050)], 1200, 1100)
    assert seen(out) == [("vfib", "onset", 1050, None), ("svt", "onset", 1020, None)]
    assert c.held_kinds == ["v_run"]


@pytest.mark.parametrize("kind", ["pause", "vt", "afib"])
def test_pause_vt_and_af_are_never_held(kind):
    assert kind not in CHAINED_KINDS
    c = AlarmChain(FS)
    out = c.filter([vfib("onset", 1000), alert(kind, "event", 1500, end_index=1900)], 2000, 1500)
    if kind == "pause":  # closed (1900) inside the open VF episode: dropped, not held
        assert seen(out) == [("vfib", "onset", 1000, None)]
        assert c.n_dropped == {"pause": 1} and c.held_kinds == []
    else:
        assert seen(out) == [("vfib", "onset", 1000, None), (kind, "event", 1500, None)]
    with pytest.raises(ValueError):
        AlarmChain(FS, kinds=("v_run", "pause"))


def test_a_pause_is_judged_by_the_beat_that_closes_it():
    """A pause that closes after the vfib end is raised as it is (a pause after VF may be
    asystole), even when it opened inside the VF; one that closes inside is dropped; a pause
    waits until the VF analysis has reached its closing beat, then leaves in sample order."""
    c = AlarmChain(FS)
    out = c.filter([vfib("onset", 1000), alert("pause", "event", 800, end_index=1200)], 1100, 1200)
    assert seen(out) == [("vfib", "onset", 1000, None)]  # waits: VF analysed to 1100 only
    out = c.filter([], 1300, 1200)
    assert seen(out) == [] and c.n_dropped == {"pause": 1}
    out = c.filter([vfib("end", 3000), alert("pause", "event", 2500, end_index=3400)],
                   3500, 3400)
    assert seen(out) == [("vfib", "end", 3000, None), ("pause", "event", 2500, None)]
    out = c.filter([alert("pause", "event", 3600, end_index=4400)], 5000, 4400)
    assert seen(out) == [("pause", "event", 3600, None)]
    assert c.n_dropped == {"pause": 1}


def test_a_pause_closing_inside_vf_at_the_end_of_the_stream_is_dropped():
    c = AlarmChain(FS)
    c.filter([vfib("onset", 1000)], 2000, 1000)
    out = c.filter([alert("pause", "event", 1500, end_index=2100)], None, None, final=True)
    assert seen(out) == [] and c.n_dropped == {"pause": 1}


def test_a_flush_inside_vf_drops_what_is_held():
    c = AlarmChain(FS)
    c.filter([vfib("onset", 1000), alert("v_run", "onset", 1500),
              alert("vflutter", "onset", 1600, "alarm")], 2000, 1600)
    out = c.filter([vfib("end", 2500), alert("v_run", "end", 2500)], None, None, final=True)
    assert seen(out) == [("vfib", "end", 2500, None)]
    assert c.n_dropped == {"v_run": 1, "vflutter": 1} and c.held_kinds == []


def _device_alerts(classifier, chunk, chain=True, confirm=False):
    """The excerpt's alerts; ``confirm`` false by default: these tests are about the chain,
    and on this excerpt the VF stage grades the flutter alarm after the VF a warning
    (tests/edge/runtime/test_ventricular.py)."""
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    rec = read_record(EXCERPT)
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false",
                             f"rhythm.alarm_chain={str(chain).lower()}",
                             f"rhythm.vflutter.confirm={str(confirm).lower()}"])
    dev = DeviceStream(classifier, cfg, device_id=2, fs_hz=rec.fs_hz)
    events = []
    for i in range(0, rec.signal_mv.shape[0], chunk):
        events += dev.process(i, rec.signal_mv[i:i + chunk])
    events += dev.flush()
    return sorted(seen(events), key=lambda a: (a[2], a[0], a[1])), dev


def test_pauses_closing_inside_vf_are_dropped_at_every_chunk_size(classifier, cudb_data_dir):
    """CUDB cu03 from 430 s: VF from 465.7 s to its end (508.9 s). The beats the detector
    still finds in it leave gaps that raised two ``pause`` warnings under the ``vfib`` alarm
    (482.1 and 490.2 s); with the chain they are dropped and counted, at any chunking."""
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    x = read_record(cudb_data_dir / "cu03", sampfrom=250 * 430).signal_mv[:, :1]
    got = {}
    for chain, chunk in (("true", 250), ("true", 9), ("true", 2500), ("false", 250)):
        cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false",
                                 f"rhythm.alarm_chain={chain}"])
        dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=250.0)
        events = []
        for i in range(0, x.shape[0], chunk):
            events += dev.process(i, x[i:i + chunk])
        events += dev.flush()
        got[chain, chunk] = [(a[0], a[1], round(a[2] / 250 + 430, 1)) for a in seen(events)
                             if a[0] in ("pause", "vfib")]
        if chain == "true":
            assert dev.chain.n_dropped["pause"] == 2
    assert got["true", 250] == got["true", 9] == got["true", 2500] == [
        ("vfib", "onset", 471.0), ("vfib", "end", 508.9)]
    assert [a for a in got["false", 250] if a[0] == "pause"] == [
        ("pause", "event", 482.1), ("pause", "event", 490.2)]


def test_device_stream_chains_the_flutter_alarm_under_vfib_at_every_chunk_size(classifier):
    ref, dev = _device_alerts(classifier, 250)
    vf = [a for a in ref if a[0] == "vfib"]
    assert [a[1] for a in vf] == ["onset", "end"]
    on, off = vf[0][2], vf[1][2]
    # nothing chained is dated inside the vfib episode unless it is raised after it
    assert not [a for a in ref if a[0] in CHAINED_KINDS and a[1] == "onset"
                and on <= a[2] < off and a[3] is None]
    late = [a for a in ref if a[3] == "vfib"]
    assert late and all(a[1] == "onset" and on <= a[2] < off for a in late)
    assert dev.chain.n_dropped.get("vflutter", 0) >= 1
    # without the chain, the flutter alarm opened inside the VF is raised there
    plain, _ = _device_alerts(classifier, 250, chain=False)
    inside = [a for a in plain if a[0] == "vflutter" and a[1] == "onset" and on <= a[2] < off]
    assert len(inside) == len(late) + dev.chain.n_dropped["vflutter"]
    for chunk in (5, 2500, 17500):
        assert _device_alerts(classifier, chunk)[0] == ref, chunk


def test_ecg_edge_run_counts_chained_alerts_in_its_status(int8_model, tmp_path):
    events = run_replay_jsonl(EXCERPT, int8_model, tmp_path / "events.jsonl",
                              "--set", "rhythm.vflutter.confirm=false")
    late = [e for e in events if e["type"] == "alert"
            and e["detail"].get("chained_under") == "vfib"]
    assert late and late[0]["kind"] == "vflutter"
    final = [e for e in events if e["type"] == "status"][-1]
    assert final["counters"]["alerts_chained"]["vflutter"] >= 2
    assert final["counters"]["alerts_chained_dropped"]["vflutter"] >= 1
