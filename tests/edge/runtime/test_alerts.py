import math

import pytest

from edge.errors import ConfigError
from edge.runtime.alerts import AlertConfig, BeatInfo, RhythmMonitor

FS = 360.0


def feed(labels, rr_s=0.8, monitor=None, clean=True, start=0):
    """The rules after learning (``learning_beats=0``) unless a monitor is given."""
    m = monitor or RhythmMonitor(AlertConfig(learning_beats=0), fs_hz=FS, device_id=3)
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


def test_fast_v_run_is_a_warning_when_another_stage_raises_the_vt_alarm():
    m = RhythmMonitor(AlertConfig(learning_beats=0), fs_hz=FS, device_id=3, vt_alarm=False)
    _, ev = feed("NNNNVVVVNNN", rr_s=[0.8] * 4 + [0.45] * 4 + [0.8] * 3, monitor=m)
    assert kinds(ev) == [("v_run", "onset"), ("v_run", "end")]
    assert ev[0].detail["vt"] and ev[0].severity == "warning"


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


def svt_beats(labels, rr_s):
    """BeatInfo for ``labels`` with preceding intervals ``rr_s`` (s, one per beat)."""
    out, i = [], 0
    for lab, rr in zip(labels, rr_s):
        i += int(round(rr * FS))
        out.append(BeatInfo(i, lab, rr))
    return out


def test_three_s_beats_at_120_bpm_are_an_svt_episode():
    m = RhythmMonitor(fs_hz=FS, device_id=3)
    beats = svt_beats("NNNNSSSNNN", [0.8] * 4 + [0.5] * 3 + [0.8] * 3)
    ev = m.process(beats)
    assert kinds(ev) == [("svt", "onset"), ("svt", "end")]
    onset, end = ev
    assert onset.sample_index == beats[4].sample_index and end.sample_index == beats[6].sample_index
    assert onset.detail == {"n_beats": 3, "rate_bpm": 120.0} and onset.severity == "warning"
    assert end.detail["n_beats"] == 3 and end.detail["duration_s"] == pytest.approx(1.0)
    assert m.open_episodes == {}


def test_a_long_svt_run_is_one_episode_that_ends_with_the_run():
    m = RhythmMonitor(fs_hz=FS)
    beats = svt_beats("NN" + "S" * 10 + "NN", [0.8] * 2 + [0.4] * 10 + [0.8] * 2)
    ev = m.process(beats[:8])
    assert kinds(ev) == [("svt", "onset")] and ev[0].detail["rate_bpm"] == 150.0
    assert m.open_episodes == {"svt": beats[2].sample_index}
    ev = m.process(beats[8:])
    assert kinds(ev) == [("svt", "end")] and ev[0].detail["n_beats"] == 10


@pytest.mark.parametrize("labels, rr", [
    ("NNNNSSNNN", [0.8] * 4 + [0.5] * 2 + [0.8] * 3),           # two S beats: no run
    ("NNNNSSSNNN", [0.8] * 4 + [0.75] * 3 + [0.8] * 3),         # three S beats at 80 bpm
    ("NNNNSSNSSNN", [0.8] * 4 + [0.5, 0.5, 0.8, 0.5, 0.5, 0.8, 0.8]),  # 2 + 2, not a run of 4
    ("NNNNSSVSNN", [0.8] * 4 + [0.5] * 4 + [0.8] * 2),          # a V beat breaks the run
])
def test_short_or_slow_s_runs_are_not_svt(labels, rr):
    _, ev = feed(labels, rr_s=rr)
    assert [k for k in kinds(ev) if k[0] == "svt"] == []


def test_an_s_run_across_a_link_gap_does_not_count():
    m = RhythmMonitor(fs_hz=FS)
    beats = svt_beats("NNSSSSN", [0.8, 0.8, 0.5, 0.5, 0.5, 0.5, 0.8])
    beats[4] = BeatInfo(beats[4].sample_index, "S", 0.5, clean=False)
    assert [k for k in kinds(m.process(beats)) if k[0] == "svt"] == []
    beats = svt_beats("NNSSSSSN", [0.8, 0.8] + [0.5] * 5 + [0.8])
    beats[4] = BeatInfo(beats[4].sample_index, "S", 0.5, clean=False)
    ev = RhythmMonitor(fs_hz=FS).process(beats)  # S S | S S S: the second part is a run
    assert kinds(ev) == [("svt", "onset"), ("svt", "end")]
    assert ev[0].sample_index == beats[4].sample_index


def test_svt_thresholds_are_configurable():
    beats = svt_beats("NNSSSSNN", [0.8, 0.8] + [0.55] * 4 + [0.8, 0.8])  # 109 bpm
    cfg = AlertConfig(svt_min_beats=5, svt_rate_bpm=100)
    assert kinds(RhythmMonitor(cfg, fs_hz=FS).process(beats)) == []
    cfg = AlertConfig(svt_min_beats=4, svt_rate_bpm=110)
    assert kinds(RhythmMonitor(cfg, fs_hz=FS).process(beats)) == []
    cfg = AlertConfig(svt_min_beats=4, svt_rate_bpm=105)
    assert kinds(RhythmMonitor(cfg, fs_hz=FS).process(beats)) == [("svt", "onset"),
                                                                  ("svt", "end")]


def test_flush_ends_an_open_svt_episode():
    m = RhythmMonitor(fs_hz=FS)
    m.process(svt_beats("NSSSS", [0.8] + [0.5] * 4))
    ev = m.flush()
    assert kinds(ev) == [("svt", "end")] and m.open_episodes == {}
    # after the flush a new S beat starts a new run, not the old one's fourth beat
    assert m.process(svt_beats("SS", [0.5, 0.5])) == []


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
def test_alerts_do_not_depend_on_how_beats_are_chunked(chunk):
    labels = ("NNNNSSSNNN" + "NSSNNN" + "N" + "S" * 8 + "NNVVVVNN" + "NV" * 5 + "NNN"
              + "NNSSSSNN")
    rr = ([0.8] * 4 + [0.5] * 3 + [0.8] * 3 + [0.8] + [0.45] * 2 + [0.8] * 3 + [0.8]
          + [0.42] * 8 + [0.8, 0.8] + [0.45] * 4 + [0.8] * 2 + [0.8] * 10 + [0.8] * 3
          + [0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.8, 0.8])
    beats = svt_beats(labels, rr)
    whole = RhythmMonitor(fs_hz=FS).process(beats)
    assert ("svt", "onset") in kinds(whole) and ("v_run", "onset") in kinds(whole)
    m = RhythmMonitor(fs_hz=FS)
    pieces = []
    for i in range(0, len(beats), chunk):
        pieces += m.process(beats[i:i + chunk])
    assert pieces == whole


@pytest.mark.parametrize("kw,field", [({"vrun_min_beats": 1}, "vrun_min_beats"),
                                      ({"svt_min_beats": 1}, "svt_min_beats"),
                                      ({"svt_rate_bpm": 0}, "svt_rate_bpm"),
                                      ({"brady_bpm": 200}, "brady_bpm"),
                                      ({"pause_s": 0}, "pause_s"),
                                      ({"hysteresis_bpm": 100}, "hysteresis_bpm")])
def test_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        AlertConfig(**kw)
    assert err.value.field == field


# -- learning: beat-pattern alerts held during the first beats after a start or reset --------

def test_a_false_v_run_in_the_learning_beats_is_dropped_and_counted():
    # the README demo's start (record 233): the first beats called N V V V, then normal
    labels = "NVVVN" + "N" * 20
    rr = [0.8] + [0.45] * 3 + [0.8] * 21
    m, ev = feed(labels, rr, monitor=RhythmMonitor(fs_hz=FS))
    assert kinds(ev) == []
    assert m.n_learning_dropped == 1 and not m.learning
    _, ev = feed(labels, rr)  # without learning: the false alarm
    assert kinds(ev) == [("v_run", "onset"), ("v_run", "end")]


def test_a_run_still_going_when_learning_ends_is_raised_then_dated_at_its_first_beat():
    m = RhythmMonitor(AlertConfig(learning_beats=10), fs_hz=FS)
    labels = "NN" + "V" * 12 + "N"
    out = []
    for k, b in enumerate(feed_beats(labels, 0.4)):
        ev = [e for e in m.process([b]) if e.kind == "v_run"]  # (tachycardia is not held)
        if k < 9:
            assert ev == []  # held
        out += [(k, e) for e in ev]
    assert [(k, e.kind, e.state) for k, e in out] == [(9, "v_run", "onset"),
                                                      (14, "v_run", "end")]
    onset = out[0][1]
    assert onset.sample_index == feed_beats(labels, 0.4)[2].sample_index  # first V beat
    assert onset.detail["learning_held"] is True and onset.detail["vt"] is True
    assert m.n_learning_dropped == 0


def test_learning_starts_again_after_reset_and_bigeminy_is_held():
    m = RhythmMonitor(AlertConfig(learning_beats=10), fs_hz=FS)
    feed("N" * 12, monitor=m)
    _, ev = feed("NVVVN", [0.8, 0.45, 0.45, 0.45, 0.8], monitor=m)
    assert kinds(ev) == [("v_run", "onset"), ("v_run", "end")]  # learnt: raised
    m.flush()
    m.reset()
    assert m.learning
    _, ev = feed("NVVVN", [0.8, 0.45, 0.45, 0.45, 0.8], monitor=m, start=10 ** 6)
    assert kinds(ev) == []  # learning again after the reset
    _, ev = feed("NV" * 4 + "N" * 4, monitor=RhythmMonitor(fs_hz=FS))
    assert kinds(ev) == []  # bigeminy inside the learning beats: dropped


def test_flush_while_learning_raises_nothing_held_but_ends_other_episodes():
    m = RhythmMonitor(AlertConfig(learning_beats=10), fs_hz=FS)
    _, ev = feed("NVVVV", [0.8] + [0.45] * 4, monitor=m)
    assert ev == []
    assert kinds(m.flush()) == []
    assert m.n_learning_dropped == 1


def test_pause_and_rate_alerts_are_never_held():
    m = RhythmMonitor(AlertConfig(learning_beats=10), fs_hz=FS)
    _, ev = feed("NNN", [0.8, 3.0, 0.8], monitor=m)
    assert kinds(ev) == [("pause", "event")]


def test_learning_beats_must_be_a_non_negative_integer():
    with pytest.raises(ConfigError, match="learning_beats"):
        AlertConfig(learning_beats=-1)
    with pytest.raises(ConfigError, match="learning_beats"):
        AlertConfig(learning_beats=2.5)


def feed_beats(labels, rr_s, start=0):
    out, i = [], start
    for lab in labels:
        i += int(round(rr_s * FS))
        out.append(BeatInfo(i, lab, rr_s, True))
    return out


@pytest.mark.parametrize("name", ["pause_s", "vt_rate_bpm", "svt_rate_bpm", "rate_window_s"])
def test_an_infinite_threshold_is_refused_not_an_alert_switched_off(name):
    """Session 44 audit: ``alerts.pause_s = inf`` was accepted, silencing every pause."""
    with pytest.raises(ConfigError, match=name):
        AlertConfig(**{name: float("inf")})
