"""``vt`` from V runs, ``vfib`` from the conditioned signal, and both through ``ecg-edge run``."""
import subprocess
import sys

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.runtime.alerts import BeatInfo
from edge.runtime.ventricular import VtConfig, VtTracker
from tests.edge.runtime.daemon_support import REPO, run_replay_jsonl, subprocess_env

EXCERPT = REPO / "tests" / "data" / "cudb" / "cudb_cu01_excerpt"
FS = 360.0


def beats(labels, rr_s, start=1000, clean=None):
    out, at = [], start
    for k, lab in enumerate(labels):
        at += int(rr_s * FS)
        out.append(BeatInfo(at, lab, rr_s, True if clean is None else clean[k]))
    return out


def kinds(events):
    return [(e.kind, e.state) for e in events]


NO_LEARNING = VtConfig(learning_beats=0)  # the run rules themselves
GRADED = VtConfig(learning_beats=0, alarm_min_beats=5)  # alarms from the 5th beat


def test_vt_needs_three_fast_v_beats():
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    assert t.process(beats("NNVVN", 0.5)) == []  # two V beats: no run
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    assert t.process(beats("NVVVN", 0.75)) == []  # 80 bpm: idioventricular, not VT
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    ev = t.process(beats("NVVVVN", 0.4))  # 150 bpm
    assert kinds(ev) == [("vt", "onset"), ("vt", "end")]
    on, end = ev
    assert on.severity == end.severity == "alarm" and on.detail["rate_bpm"] == 150.0
    assert on.detail["n_beats"] == 3 and end.detail["n_beats"] == 4
    assert end.detail["sustained"] is False
    assert (t.n_episodes, t.n_alarms, t.n_warnings) == (1, 1, 0)


def test_vt_is_an_alarm_from_the_fifth_beat_a_shorter_run_a_warning_when_it_ends():
    bs = beats("NVVVVVVN", 0.4)
    t = VtTracker(GRADED, fs_hz=FS)
    raised = [(k, e) for k, b in enumerate(bs) for e in t.process([b])]
    # nothing at the 3rd V beat (the run opens); the alarm at the 5th, dated at the first
    assert [(k, e.state, e.severity) for k, e in raised] == [
        (5, "onset", "alarm"), (7, "end", "alarm")]
    on, end = raised[0][1], raised[1][1]
    assert on.sample_index == bs[1].sample_index and on.detail["n_beats"] == 5
    assert on.detail["rate_bpm"] == 150.0 and end.detail["n_beats"] == 6
    assert (t.n_alarms, t.n_warnings) == (1, 0)
    # a 4-beat run: both events when the run is known to have ended (the next beat)
    bs = beats("NVVVVN", 0.4)
    t = VtTracker(GRADED, fs_hz=FS)
    raised = [(k, e.state, e.severity) for k, b in enumerate(bs) for e in t.process([b])]
    assert raised == [(5, "onset", "warning"), (5, "end", "warning")]
    # alarm_min_beats = vt_min_beats (the default): every run an alarm at once
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    raised = [(k, e.state, e.severity) for k, b in enumerate(bs) for e in t.process([b])]
    assert raised == [(3, "onset", "alarm"), (5, "end", "alarm")]
    t = VtTracker(VtConfig(learning_beats=0, alarm_min_beats=4), fs_hz=FS)
    assert [e.severity for e in t.process(beats("NVVVVN", 0.4))] == ["alarm", "alarm"]
    # a run still short at the end of the stream (or a vfib onset): a warning with its end
    t = VtTracker(GRADED, fs_hz=FS)
    assert t.process(beats("NVVV", 0.4)) == []
    assert [(e.state, e.severity) for e in t.flush()] == [
        ("onset", "warning"), ("end", "warning")]
    assert t.flush() == []


def test_vt_grading_does_not_depend_on_how_beats_are_batched():
    bs = beats("NVVVVN" + "N" * 5 + "V" * 7 + "NNVVVNVV" + "V" * 12 + "N", 0.4)
    cfg = VtConfig(alarm_min_beats=5)  # learning on
    ref = VtTracker(cfg, fs_hz=FS).process(bs)
    for size in (1, 2, 3, 7):
        t = VtTracker(cfg, fs_hz=FS)
        got = [e for i in range(0, len(bs), size) for e in t.process(bs[i:i + size])]
        assert [(e.state, e.severity, e.sample_index, e.detail) for e in got] == \
            [(e.state, e.severity, e.sample_index, e.detail) for e in ref]
    assert [e.severity for e in ref if e.state == "onset"] == ["alarm", "warning", "alarm"]


def test_sustained_vt_and_runs_broken_by_bad_signal():
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    ev = t.process(beats("N" + "V" * 80 + "N", 0.4))  # 32 s of VT
    assert kinds(ev) == [("vt", "onset"), ("vt", "end")]
    assert ev[1].detail["sustained"] is True and ev[1].detail["duration_s"] >= 30
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    ev = t.process(beats("VVVV", 0.4, clean=[True, True, False, True]))
    assert kinds(ev) == []  # the interval across the gap restarts the run
    assert kinds(t.flush()) == []
    t = VtTracker(NO_LEARNING, fs_hz=FS)
    t.process(beats("VVV", 0.4))
    assert kinds(t.flush()) == [("vt", "end")]


def test_vt_config_rules():
    with pytest.raises(ConfigError, match="vt_min_beats"):
        VtConfig(vt_min_beats=2)
    with pytest.raises(ConfigError, match="sustained_s"):
        VtConfig(sustained_s=0)
    with pytest.raises(ConfigError, match="learning_beats"):
        VtConfig(learning_beats=-3)
    with pytest.raises(ConfigError, match="min_v_evidence"):
        VtConfig(min_v_evidence=float("nan"))
    with pytest.raises(ConfigError, match="min_v_evidence"):
        VtConfig(min_v_evidence=-1)
    with pytest.raises(ConfigError, match="alarm_min_beats"):
        VtConfig(alarm_min_beats=2)
    with pytest.raises(ConfigError, match="alarm_min_beats"):
        VtConfig(vt_min_beats=4, alarm_min_beats=3)
    with pytest.raises(ConfigError, match="alarm_min_beats"):
        VtConfig(alarm_min_beats=5.0)
    with pytest.raises(ConfigError, match="alarm_min_beats"):
        VtConfig(alarm_min_beats=True)


def pbeats(p_v, rr_s=0.4, start=1000):
    """V beats with the given P(V) after one N beat (no learning in these trackers)."""
    out = [BeatInfo(start, "N", rr_s, True, 0.01)]
    for k, p in enumerate(p_v):
        out.append(BeatInfo(start + (k + 1) * int(rr_s * FS), "V", rr_s, True, p))
    return out + [BeatInfo(start + (len(p_v) + 1) * int(rr_s * FS), "N", rr_s, True, 0.02)]


def test_vt_needs_evidence_doubtful_v_calls_stay_quiet_confident_or_long_runs_open():
    cfg = VtConfig(learning_beats=0)  # min_v_evidence 0.9
    # em-noise DS1 false alarm: a couplet plus a noise spike called V (208: 0.82 0.98 0.56)
    assert VtTracker(cfg, fs_hz=FS).process(pbeats([0.82, 0.98, 0.45])) == []
    assert VtTracker(cfg, fs_hz=FS).process(pbeats([0.6, 0.55, 0.7])) == []
    ev = VtTracker(cfg, fs_hz=FS).process(pbeats([0.93, 0.96, 0.99]))  # a real 3-beat run
    assert kinds(ev) == [("vt", "onset"), ("vt", "end")]
    assert ev[0].detail["v_evidence"] == pytest.approx(1.38) and ev[0].detail["n_beats"] == 3
    # doubtful beats open once enough of them: at the 6th, dated at the run's first beat
    bs = pbeats([0.66] * 8)
    t = VtTracker(cfg, fs_hz=FS)
    raised = [(k, e) for k, b in enumerate(bs) for e in t.process([b])]
    assert [(k, e.state) for k, e in raised] == [(6, "onset"), (9, "end")]
    assert raised[0][1].sample_index == bs[1].sample_index
    assert raised[0][1].detail["n_beats"] == 6
    # unknown P(V) (NaN: a caller without probabilities) passes; 0 turns the gate off
    assert kinds(VtTracker(cfg, fs_hz=FS).process(beats("NVVVN", 0.4))) == [
        ("vt", "onset"), ("vt", "end")]
    assert VtTracker(cfg, fs_hz=FS).process(beats("NVVVN", 0.4))[0].detail["v_evidence"] is None
    off = VtConfig(learning_beats=0, min_v_evidence=0)
    assert len(VtTracker(off, fs_hz=FS).process(pbeats([0.6, 0.55, 0.7]))) == 2


def test_vt_in_the_learning_beats_is_held_dropped_or_raised_late():
    # a false run at the start (the README demo: N V V V N ...) is never raised
    t = VtTracker(fs_hz=FS)
    assert t.process(beats("NVVVN" + "N" * 10, 0.4)) == []
    assert t.n_learning_dropped == 1 and not t.learning
    assert kinds(VtTracker(NO_LEARNING, fs_hz=FS).process(beats("NVVVN", 0.4))) == [
        ("vt", "onset"), ("vt", "end")]
    # a VT from the first beat is raised on the 10th beat, dated at its first beat
    t = VtTracker(fs_hz=FS)
    bs = beats("V" * 20 + "N", 0.4)
    raised = [(k, e) for k, b in enumerate(bs) for e in t.process([b])]
    assert [(k, e.state) for k, e in raised] == [(9, "onset"), (20, "end")]
    assert raised[0][1].sample_index == bs[0].sample_index
    assert raised[0][1].detail["learning_held"] is True and t.n_episodes == 1
    # learning again after reset; a held run at the end of the stream ends unraised
    t.reset()
    assert t.process(beats("NVVVV", 0.4)) == [] and t.flush() == []
    # graded: a short run inside the learning is dropped, at its end or the stream's
    t = VtTracker(VtConfig(alarm_min_beats=5), fs_hz=FS)
    assert t.process(beats("NVVVN", 0.4)) == [] and t.n_learning_dropped == 1
    t = VtTracker(VtConfig(alarm_min_beats=5), fs_hz=FS)
    assert t.process(beats("NVVV", 0.4)) == [] and t.flush() == []
    assert t.n_learning_dropped == 1
    # and an alarm-length run from the first beat is raised when the learning ends
    t = VtTracker(VtConfig(alarm_min_beats=5), fs_hz=FS)
    bs = beats("V" * 20 + "N", 0.4)
    raised = [(k, e.state, e.severity) for k, b in enumerate(bs) for e in t.process([b])]
    assert raised == [(9, "onset", "alarm"), (20, "end", "alarm")]


def test_device_stream_vfib_on_the_cudb_excerpt(classifier):
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    rec = read_record(EXCERPT)
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false"])
    dev = DeviceStream(classifier, cfg, device_id=3, fs_hz=rec.fs_hz)
    events = []
    for i in range(0, rec.signal_mv.shape[0], 125):
        events += dev.process(i, rec.signal_mv[i:i + 125])
    events += dev.flush()
    vf = [e for e in events if e.type == "alert" and e.kind == "vfib"]
    assert [e.state for e in vf] == ["onset", "end"]
    on = vf[0]
    assert on.severity == "alarm" and on.device_id == 3
    assert 8546 < on.sample_index <= 8546 + 8 * 250  # alarm within 8 s of the reference
    assert abs(on.detail["onset_index"] - 8546) < 4 * 250
    assert on.detail["rhythm"] in ("VF", "VFL")
    assert cfg.rhythm.vf.p_shockable <= on.detail["p_shockable"] <= 1
    off = load_config(None, ['source.serial.port="x"', "rhythm.ventricular=false"])
    dev = DeviceStream(classifier, off, device_id=3, fs_hz=rec.fs_hz)
    events = dev.process(0, rec.signal_mv) + dev.flush()
    assert not any(e.type == "alert" and e.kind in ("vfib", "vt") for e in events)


@pytest.mark.parametrize("veto", [True, False])
def test_device_stream_feeds_its_beats_to_the_organised_rhythm_veto(classifier, veto):
    """The daemon passes the detector's beats to the VF stage: at a threshold every sinus
    window passes (P >= 0.001), the veto leaves one vfib episode over the synthetic VF
    (40-70 s) in 20-ms frames; with ``rhythm.vf.organised_veto = false`` it starts at once."""
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config
    from tests.edge.rhythm.test_ventricular import synthetic_ecg, synthetic_vf

    fs = 250.0
    x = np.concatenate([synthetic_ecg(40, fs), synthetic_vf(30, fs), synthetic_ecg(30, fs)])
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false",
                             "rhythm.vf.p_shockable=0.001",
                             f"rhythm.vf.organised_veto={str(veto).lower()}"])
    dev = DeviceStream(classifier, cfg, device_id=2, fs_hz=fs)
    events = []
    for i in range(0, x.size, 5):
        events += dev.process(i, x[i:i + 5, None])
    events += dev.flush()
    vf = [e for e in events if e.type == "alert" and e.kind == "vfib"]
    assert [e.state for e in vf] == ["onset", "end"]
    onset = vf[0].detail["onset_index"] / fs
    assert (38 <= onset <= 42) if veto else onset <= 5
    det = dev.ventricular.detector  # the daemon's tests the veto first (changes_only)
    assert (det.n_vetoed + det.n_vetoed_unscored > 30) is veto


def test_fast_v_run_is_the_vt_alarm_only_without_the_ventricular_stage(classifier):
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    on = load_config(None, ['source.serial.port="x"'])
    off = load_config(None, ['source.serial.port="x"', "rhythm.ventricular=false"])
    assert DeviceStream(classifier, on, device_id=1, fs_hz=250.0).monitor.vt_alarm is False
    assert DeviceStream(classifier, off, device_id=1, fs_hz=250.0).monitor.vt_alarm is True


def test_ecg_edge_run_raises_vfib_end_to_end(int8_model, tmp_path):
    events = run_replay_jsonl(EXCERPT, int8_model, tmp_path / "events.jsonl")
    vf = [e for e in events if e["type"] == "alert" and e["kind"] == "vfib"]
    assert [e["state"] for e in vf] == ["onset", "end"]
    assert vf[0]["severity"] == "alarm" and vf[0]["fs_hz"] == 250.0
    assert 8546 < vf[0]["sample_index"] <= 8546 + 8 * 250
    assert vf[0]["detail"]["rhythm"] in ("VF", "VFL")
    assert vf[1]["detail"]["duration_s"] > 15
    # before the reference onset: no ventricular alarm of the new kinds
    assert not any(e["type"] == "alert" and e["kind"] in ("vfib", "vt")
                   and e["sample_index"] < 8546 for e in events)


def _vt_through_vf(start_s=20.0):
    """The CUDB excerpt's conditioned signal (VF from sample 8546) with a 150-bpm V run fed
    alongside it from ``start_s`` on, straight through the VF, one second at a time."""
    from edge.dsp.preprocess import PreprocessConfig, Preprocessor
    from edge.io.records import read_record
    from edge.runtime.ventricular import DeviceVentricular

    rec = read_record(EXCERPT)
    fs = rec.fs_hz
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    dev = DeviceVentricular(device_id=1, fs_hz=fs, fs_proc_hz=pre.config.fs_out_hz)
    x = rec.signal_mv[:, 0]
    v_at = list(range(int(start_s * fs), x.size, int(0.4 * fs)))  # a V beat every 0.4 s
    events = []
    for i in range(0, x.size, int(fs)):
        # beats are released ~1 s after the signal they sit in, as the pipeline does
        released = [BeatInfo(a, "V", 0.4, True) for a in v_at if i - fs <= a < i]
        events += dev.beats(released)
        events += dev.signal(pre.process(x[i:i + int(fs)]))
    events += dev.signal(pre.flush()) + dev.end()
    return dev, events


def test_no_vt_inside_an_open_vfib_episode_and_vfib_ends_an_open_vt():
    dev, events = _vt_through_vf()
    vt = [e for e in events if e.kind == "vt"]
    vf = [e for e in events if e.kind == "vfib"]
    assert [e.state for e in vf] == ["onset", "end"]
    assert [e.state for e in vt] == ["onset", "end"]  # one VT episode, ended by the VF
    vt_end, vf_on = vt[1], vf[0]
    assert vt_end.detail["ended_by"] == "vfib" and vt_end.detail["n_beats"] > 3
    assert vt_end.sample_index <= vf_on.sample_index  # dated at the run's last V beat
    assert dev.n_beats_in_vf > 0  # the V beats inside the VF fed no VT


def test_v_beats_released_inside_vf_raise_no_vt():
    dev, events = _vt_through_vf(start_s=45.0)  # the vfib alarm is up by 45 s
    assert kinds(events) == [("vfib", "onset"), ("vfib", "end")]
    assert dev.n_beats_in_vf >= 30


def _demo_alerts(classifier, overrides, *, restart_after_s=None):
    """The bundled demo excerpt's first 20 s through the daemon's per-device chain (1-s
    chunks); with ``restart_after_s``, a link gap longer than gap filling there restarts the
    pipeline and the same 20 s are sent again. Returns the v_run / vt alerts."""
    from edge.io.records import read_record
    from edge.runtime.demo import DEMO_RECORD
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    rec = read_record(DEMO_RECORD)
    fs = rec.fs_hz
    x = rec.signal_mv[:int(20 * fs)]
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false", *overrides])
    dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=fs)
    events, step = [], int(fs)
    for i in range(0, x.shape[0], step):
        events += dev.process(i, x[i:i + step])
    if restart_after_s is not None:
        origin = x.shape[0] + int(restart_after_s * fs)
        for i in range(0, x.shape[0], step):
            events += dev.process(origin + i, x[i:i + step])
        assert dev.n_resets == 1
    events += dev.flush()
    return [e for e in events if e.type == "alert" and e.kind in ("v_run", "vt")]


def test_demo_start_raises_no_false_vt_after_start_or_restart(classifier):
    """Issue 17 defect 1: record 233's first beats are called N V V V (reference V N V N):
    the template starts from a V and the RR context is empty. The learning beats hold it."""
    no_gate = "rhythm.vt.min_v_evidence=0"  # the learning alone (the gate: next test)
    before = _demo_alerts(classifier, ["alerts.learning_beats=0", "rhythm.vt.learning_beats=0",
                                       no_gate], restart_after_s=30)
    assert {(e.kind, e.state) for e in before} >= {("vt", "onset"), ("v_run", "onset")}
    assert sum(e.kind == "vt" and e.state == "onset" for e in before) == 2  # start + restart
    assert _demo_alerts(classifier, [no_gate], restart_after_s=30) == []
    assert _demo_alerts(classifier, [], restart_after_s=30) == []


def test_device_stream_gives_the_vt_gate_the_beats_p_v(classifier):
    """Without learning, the demo's false start run (P(V) 0.73 0.55 0.86: evidence 0.64) is
    still a v_run (not gated) but no vt: the daemon passes each beat's P(V) to the tracker."""
    ev = _demo_alerts(classifier, ["alerts.learning_beats=0", "rhythm.vt.learning_beats=0"])
    assert [(e.kind, e.state) for e in ev][:2] == [("v_run", "onset"), ("v_run", "end")]
    assert not any(e.kind == "vt" for e in ev)


def test_device_stream_grades_a_short_vt_run_a_warning_with_alarm_min_beats(classifier):
    """The demo's false 3-beat start run (learning and gate off): an alarm by default, a
    warning with ``[rhythm.vt] alarm_min_beats = 5`` (the setting reaches the tracker)."""
    off = ["alerts.learning_beats=0", "rhythm.vt.learning_beats=0", "rhythm.vt.min_v_evidence=0"]
    ev = [e for e in _demo_alerts(classifier, off) if e.kind == "vt"]
    assert ev and {e.severity for e in ev} == {"alarm"}
    graded = [e for e in _demo_alerts(classifier, [*off, "rhythm.vt.alarm_min_beats=5"])
              if e.kind == "vt"]
    assert [(e.state, e.sample_index) for e in graded] == [(e.state, e.sample_index) for e in ev]
    assert {e.severity for e in graded} == {"warning"}


def test_alarm_min_beats_setting_errors():
    from edge.runtime.settings import load_config

    for bad in ("2", "4.5", "true", '"five"'):
        with pytest.raises(ConfigError, match="alarm_min_beats"):
            load_config(None, ['source.serial.port="x"', f"rhythm.vt.alarm_min_beats={bad}"])


def test_ecg_edge_demo_shows_no_vt_alarm_at_start(int8_model):
    out = subprocess.run([sys.executable, "-m", "edge.cli", "demo", "--speed", "max",
                          "--duration-s", "20", "--model", str(int8_model), "--color", "never"],
                         cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert " beat V " in out.stdout  # the V beats are still shown
    assert "ALERT vt" not in out.stdout and "ALERT v_run" not in out.stdout, out.stdout


def _events_by_call(classifier, record, first_index, chunk_s=1.0):
    """(call number, event as a dict with its sample indices taken relative to the stream's
    first sample) of every event of ``record`` fed to a DeviceStream from ``first_index``."""
    from edge.events.model import event_to_dict
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    rec = read_record(record)
    cfg = load_config(None, ['source.serial.port="x"'])
    dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=rec.fs_hz, first_index=first_index)
    step = int(chunk_s * rec.fs_hz)
    calls = [dev.process(first_index + i, rec.signal_mv[i:i + step])
             for i in range(0, rec.signal_mv.shape[0], step)] + [dev.flush()]
    out = []
    for k, events in enumerate(calls):
        for e in events:
            d = event_to_dict(e)
            d.pop("t_stream_s", None)  # derived from sample_index
            d["sample_index"] -= first_index
            det = d.get("detail")
            for n in ("onset_index", "end_index"):
                if isinstance(det, dict) and n in det:
                    det[n] -= first_index
            out.append((k, d))
    return out


@pytest.mark.parametrize("record", [EXCERPT, REPO / "edge" / "data" / "mitdb_233_excerpt"])
def test_events_do_not_depend_on_where_the_device_counter_starts(classifier, record):
    """A stream that starts at device sample 10**6 (a wearable's running counter, a daemon
    restart, a rate change) gives the same events, dated the same relative to its start, in
    the same calls as one starting at 0 (``vt`` used to wait until the VF detector's count of
    samples reached the beats' absolute index, and ``vfib`` was dated too early)."""
    at0 = _events_by_call(classifier, record, 0)
    assert at0 == _events_by_call(classifier, record, 10**6)
    onsets = [k for k, d in at0 if d["type"] == "alert" and d["kind"] in ("vfib", "vt")
              and d["state"] == "onset"]
    last = max(k for k, _ in at0)  # the final flush
    assert onsets and all(k < last for k in onsets)  # raised while streaming


# -- vflutter graded by the VF stage (FlutterConfirm) -----------------------------------------

def _flutter(state, at):
    from edge.events.model import AlertEvent
    return AlertEvent(device_id=1, kind="vflutter", state=state, severity="alarm",
                      sample_index=at, fs_hz=FS, detail={})


def _graded(events):
    return [(e.state, e.severity, e.sample_index, e.detail.get("onset_index"),
             e.detail.get("end_index"), e.detail["vf_confirmed"]) for e in events]


def _gate(lookback_s=2.0, hold_s=4.0):
    from edge.runtime.ventricular import FlutterConfirm, FlutterConfirmConfig
    return FlutterConfirm(FlutterConfirmConfig(confirm=True, lookback_s=lookback_s,
                                               hold_s=hold_s), fs_hz=FS)


def _ends(first_s, last_s):
    return [int(round(t * FS)) for t in range(first_s, last_s + 1)]


def test_vflutter_after_a_shockable_window_is_an_alarm_at_once():
    g = _gate()
    g.windows(_ends(1, 10), [t == 9 for t in range(1, 11)])  # shockable window ends at 9 s
    out = g.feed([_flutter("onset", int(10.5 * FS))])
    assert _graded(out) == [("onset", "alarm", int(10.5 * FS), int(10.5 * FS), None, True)]
    assert _graded(g.feed([_flutter("end", 12 * int(FS))])) == [
        ("end", "alarm", 12 * int(FS), None, 12 * int(FS), True)]
    assert (g.n_confirmed, g.n_unconfirmed) == (1, 0)


def test_vflutter_waits_for_a_shockable_window_within_the_hold_and_is_raised_at_it():
    g = _gate()
    on = int(10.5 * FS)
    g.windows(_ends(1, 11), [False] * 11)
    assert g.feed([_flutter("onset", on), _flutter("end", int(11.5 * FS))]) == []
    assert g.pending
    out = g.feed([])
    assert out == []
    g.windows(_ends(12, 13), [False, True])  # shockable window ends at 13 s (2.5 s later)
    assert _graded(g.decide()) == [
        ("onset", "alarm", 13 * int(FS), on, None, True),
        # the end is dated before the alarm: raised with it, its date kept
        ("end", "alarm", 13 * int(FS), None, int(11.5 * FS), True)]
    assert not g.pending


def test_vflutter_without_a_shockable_window_is_a_warning_once_the_hold_is_scored():
    g = _gate()
    on = int(10.5 * FS)
    g.windows(_ends(1, 12), [True] + [False] * 11)  # 1 s: far before the lookback
    assert g.feed([_flutter("onset", on)]) == []
    g.windows(_ends(13, 14), [False, False])
    assert g.decide() == []  # the windows up to 14.5 s are not all scored yet
    g.windows(_ends(15, 15), [False])
    assert _graded(g.decide()) == [("onset", "warning", int(14.5 * FS), on, None, False)]
    assert _graded(g.feed([_flutter("end", 20 * int(FS))])) == [
        ("end", "warning", 20 * int(FS), None, 20 * int(FS), False)]
    assert (g.n_confirmed, g.n_unconfirmed) == (0, 1)


def test_vflutter_at_the_end_of_the_stream_is_graded_on_what_was_scored():
    g = _gate()
    g.windows(_ends(1, 10), [False] * 10)
    assert g.feed([_flutter("onset", 10 * int(FS))]) == []
    out = g.finish([_flutter("end", int(10.8 * FS))])
    assert _graded(out) == [("onset", "warning", 10 * int(FS), 10 * int(FS), None, False),
                            ("end", "warning", int(10.8 * FS), None, int(10.8 * FS), False)]
    g.reset()
    assert not g.pending and g.finish([]) == []


def test_vflutter_grading_does_not_depend_on_how_the_windows_come():
    rng = np.random.default_rng(3)
    ends = _ends(1, 120)
    shock = (rng.random(len(ends)) < 0.08).tolist()
    flags = [(int(t * FS), s) for t, s in ((7.3, "onset"), (9.1, "end"), (30.2, "onset"),
                                           (31.0, "end"), (50.5, "onset"), (80.0, "end"))]
    ref = None
    # the device feeds a flutter change at most the R-peak detector's lag (< 2 s) after the
    # windows that reach it; 25-s batches are far beyond that, within what the gate keeps
    for step in (1, 3, 17, 25):
        g, out, k = _gate(), [], 0
        for i in range(0, len(ends), step):
            g.windows(ends[i:i + step], shock[i:i + step])
            last = ends[min(i + step, len(ends)) - 1]
            while k < len(flags) and flags[k][0] <= last:
                out += g.feed([_flutter(flags[k][1], flags[k][0])])
                k += 1
            out += g.decide()
        out += g.finish([])
        assert len(out) == 6
        if ref is None:
            ref = _graded(out)
        assert _graded(out) == ref, step


@pytest.mark.parametrize("key,value", [("confirm", 1), ("lookback_s", -1.0),
                                       ("hold_s", float("nan")), ("hold_s", 61.0),
                                       ("lookback_s", True)])
def test_flutter_confirm_config_rules(key, value):
    from edge.runtime.ventricular import FlutterConfirmConfig
    with pytest.raises(ConfigError, match=key):
        FlutterConfirmConfig(**{key: value})


def _excerpt_alerts(classifier, chunk, *settings):
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    rec = read_record(REPO / "tests" / "data" / "cudb" / "cudb_cu21_excerpt")
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false", *settings])
    dev = DeviceStream(classifier, cfg, device_id=2, fs_hz=rec.fs_hz)
    events = []
    for i in range(0, rec.signal_mv.shape[0], chunk):
        events += dev.process(i, rec.signal_mv[i:i + chunk])
    events += dev.flush()
    return [(e.kind, e.state, e.severity, e.sample_index, e.detail.get("onset_index"),
             e.detail.get("vf_confirmed")) for e in events
            if e.type == "alert" and e.kind in ("vflutter", "vfib")]


def test_device_stream_grades_vflutter_by_the_vf_stage_at_every_chunk_size(classifier):
    on = ["rhythm.vflutter.confirm=true", "rhythm.alarm_chain=false"]
    ref = _excerpt_alerts(classifier, 250, *on)
    fl = [a for a in ref if a[0] == "vflutter" and a[1] == "onset"]
    vf = [a for a in ref if a[0] == "vfib"]
    # cu21 excerpt: the flutter alarm inside the VF is confirmed; the flag after the VF stage
    # has ended its episode (the stage sees no shockable window) is a warning
    assert [a[2] for a in fl] == ["alarm", "warning", "warning"]
    assert fl[0][5] is True and vf[0][3] <= fl[0][3] < vf[1][3]
    assert all(a[5] is False and a[3] >= vf[1][3] for a in fl[1:])
    for chunk in (5, 2500, 17500):
        assert _excerpt_alerts(classifier, chunk, *on) == ref, chunk
    # off: every flutter flag is an alarm at its onset, as before
    plain = [a for a in _excerpt_alerts(classifier, 250, "rhythm.vflutter.confirm=false",
                                        "rhythm.alarm_chain=false")
             if a[0] == "vflutter" and a[1] == "onset"]
    assert [a[2] for a in plain] == ["alarm"] * 3 and [a[3] for a in plain] == [
        a[4] for a in fl]


def test_ecg_edge_run_grades_vflutter_and_counts_it_in_its_status(int8_model, tmp_path):
    events = run_replay_jsonl(REPO / "tests" / "data" / "cudb" / "cudb_cu21_excerpt",
                              int8_model, tmp_path / "events.jsonl",
                              "--set", "rhythm.vflutter.confirm=true")
    fl = [e for e in events if e["type"] == "alert" and e["kind"] == "vflutter"]
    # the confirmed one inside the VF waits under vfib and ends there (the chain drops it);
    # the two after the VF are warnings, their ends too
    assert [(e["state"], e["severity"], e["detail"]["vf_confirmed"]) for e in fl] == [
        ("onset", "warning", False), ("end", "warning", False)] * 2
    status = [e for e in events if e["type"] == "status"][-1]["counters"]
    assert status["vflutter_graded"] == {"alarm": 1, "warning": 2}
    assert status["alerts_chained_dropped"] == {"vflutter": 1}
