import math

import pytest

from edge.errors import ConfigError
from edge.runtime.alerts import AlertConfig, BeatInfo, RhythmMonitor

FS = 360.0


def feed(labels, rr_s=0.8, monitor=None, clean=True, start=0):
    m = monitor or RhythmMonitor(fs_hz=FS, device_id=3)
    out, i = [], start
    rrs = rr_s if isinstance(rr_s, list) else [rr_s] * len(labels)
    for lab, rr in zip(labels, rrs):
        i += int(round((rr if rr == rr else 0.8) * FS))
        out += m.process([BeatInfo(i, lab, rr, clean)])
    return m, out


def kinds(events):
    return [(e.kind, e.state) for e in events]


def test_v_run_of_three_is_an_alert_and_fast_runs_are_vt():
    _, ev = feed("NNNNVVNNN", rr_s=0.8)
    assert kinds(ev) == []  # a couplet is not a run
    m, ev = feed("NNNNVVVVNNN", rr_s=[0.8] * 4 + [0.45] * 4 + [0.8] * 3)
    assert kinds(ev) == [("v_run", "onset"), ("v_run", "end")]
    onset, end = ev
    assert onset.detail["vt"] and onset.severity == "alarm" and onset.detail["n_beats"] == 3
    assert end.detail["n_beats"] == 4 and end.device_id == 3 and end.detail["duration_s"] > 0


def test_bigeminy_and_trigeminy_onset_and_end():
    _, ev = feed("NN" + "VN" * 5 + "NNN")
    assert kinds(ev) == [("bigeminy", "onset"), ("bigeminy", "end")]
    _, ev = feed("N" + "NNV" * 5 + "NNNN")
    assert kinds(ev) == [("trigeminy", "onset"), ("trigeminy", "end")]
    _, ev = feed("N" + "NV" * 3 + "NNN")  # three cycles < default four
    assert kinds(ev) == []


def test_brady_and_tachy_with_hysteresis():
    cfg = AlertConfig(brady_bpm=50, tachy_bpm=120, hysteresis_bpm=5)
    m = RhythmMonitor(cfg, fs_hz=FS)
    _, ev = feed("N" * 20, rr_s=1.3, monitor=m)  # 46 bpm
    assert kinds(ev) == [("bradycardia", "onset")]
    _, ev = feed("N" * 20, rr_s=1.15, monitor=m, start=10**6)  # 52 bpm: inside hysteresis
    assert kinds(ev) == []
    _, ev = feed("N" * 20, rr_s=0.8, monitor=m, start=2 * 10**6)  # 75 bpm
    assert kinds(ev) == [("bradycardia", "end")]
    _, ev = feed("N" * 30, rr_s=0.4, monitor=m, start=3 * 10**6)  # 150 bpm
    assert kinds(ev) == [("tachycardia", "onset")]
    assert m.flush()[0].kind == "tachycardia"


def test_pause_only_over_clean_intervals():
    _, ev = feed("NNNNN", rr_s=[0.8, 0.8, 3.2, 0.8, 0.8])
    assert kinds(ev) == [("pause", "event")]
    assert ev[0].detail["rr_s"] == pytest.approx(3.2)
    _, ev = feed("NNNNN", rr_s=[0.8, 0.8, 3.2, 0.8, 0.8], clean=False)
    assert kinds(ev) == []
    _, ev = feed("NN", rr_s=[0.8, math.nan])
    assert kinds(ev) == []


def test_vflutter_follows_the_detector_flag():
    m = RhythmMonitor(fs_hz=FS)
    assert kinds(m.process([], True, now_index=1000)) == [("vflutter", "onset")]
    assert m.process([], True, now_index=2000) == []
    ev = m.process([], False, now_index=3000)
    assert kinds(ev) == [("vflutter", "end")] and ev[0].severity == "alarm"
    assert ev[0].detail["duration_s"] == pytest.approx(2000 / FS, abs=1e-3)


@pytest.mark.parametrize("kw,field", [({"vrun_min_beats": 1}, "vrun_min_beats"),
                                      ({"brady_bpm": 200}, "brady_bpm"),
                                      ({"pause_s": 0}, "pause_s"),
                                      ({"hysteresis_bpm": 100}, "hysteresis_bpm")])
def test_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        AlertConfig(**kw)
    assert err.value.field == field
