"""edge.runtime.rhythm: the AF analyser in the daemon -- beat rhythm, afib alert episodes, AF
burden -- and the daemon end to end on a record that opens in atrial fibrillation."""
from __future__ import annotations

import numpy as np
import pytest

from edge.runtime.rhythm import AfBurden, DeviceRhythm, event_rhythm

FS = 250.0


def beat_times(rng: np.random.Generator, af_s: float, sinus_s: float) -> np.ndarray:
    """Beat sample indices (at FS): ``af_s`` of irregular RR (AF-like), then ``sinus_s`` of
    regular 0.8 s RR with small respiratory variation."""
    rr: list[float] = []
    while sum(rr) < af_s:
        rr.append(float(rng.uniform(0.35, 1.1)))
    t_af = sum(rr)
    k = 0
    while sum(rr) < t_af + sinus_s:
        rr.append(0.8 + 0.02 * np.sin(k / 4.0))
        k += 1
    return np.round(np.cumsum(rr) * FS).astype(np.int64)


def feed(dr: DeviceRhythm, beats: np.ndarray):
    rhythms, alerts = [], []
    prev = None
    for b in beats.tolist():
        rr = np.nan if prev is None else (b - prev) / FS
        rhythm, a = dr.beat(b, "N", rr, prev is not None)
        rhythms.append(rhythm)
        alerts.extend(a)
        prev = b
    return rhythms, alerts


def test_burden_window_and_run():
    b = AfBurden(window_s=100.0)
    assert b.window_share is None and b.run_share is None
    for t in range(1, 101):
        b.add(float(t), 1.0, af=t > 50)
    assert b.window_share == pytest.approx(0.5) and b.run_share == pytest.approx(0.5)
    for t in range(101, 151):
        b.add(float(t), 1.0, af=False)
    assert b.window_share == pytest.approx(50 / 100) and b.run_share == pytest.approx(50 / 150)
    b.add(151.0, float("nan"), af=True)  # not analysed time
    assert b.run_share == pytest.approx(50 / 150)


def test_burden_follows_a_change_dated_back():
    b = AfBurden(window_s=100.0)
    for t in range(1, 61):
        b.add(float(t), 1.0, af=False)
    b.relabel_since(30.0, af=True)  # AF confirmed at 60 s, dated back to 30 s
    assert b.run_share == pytest.approx(30 / 60) and b.window_share == pytest.approx(30 / 60)
    b.relabel_since(30.0, af=True)  # idempotent
    assert b.run_share == pytest.approx(30 / 60)
    b.relabel_since(50.0, af=False)  # the episode ended at 50 s
    assert b.run_share == pytest.approx(20 / 60)


def test_burden_continues_from_an_earlier_stream_on_another_time_base():
    """A rate change starts a new stream whose times restart: the earlier run still counts,
    its intervals end where the new stream begins, leave the window as time goes on, and a
    change dated back in the new stream does not reach them."""
    old = AfBurden(window_s=100.0)
    for t in range(1001, 1061):
        old.add(float(t), 1.0, af=True)  # 60 s of AF ending at 1060 s of the old stream
    b = AfBurden(window_s=100.0)
    b.continue_from(old, at_s=0.0)
    assert b.run_share == pytest.approx(1.0) and b.window_share == pytest.approx(1.0)
    for t in range(1, 41):
        b.add(float(t), 1.0, af=False)
    assert b.run_share == pytest.approx(60 / 100) and b.window_share == pytest.approx(0.6)
    b.relabel_since(-500.0, af=False)  # reaches back before the new stream: only its own
    assert b.run_share == pytest.approx(60 / 100)
    for t in range(41, 91):
        b.add(float(t), 1.0, af=False)
    # the window (100 s) ends at 90 s: of the old intervals (ending -59..0 s) the 10 that
    # end after -10 s are still in it
    assert b.window_share == pytest.approx(10 / 100) and b.run_share == pytest.approx(60 / 150)
    empty = AfBurden(window_s=100.0)
    empty.continue_from(AfBurden(), at_s=5.0)  # nothing to carry
    assert empty.run_share is None and empty.window_share is None


def test_event_rhythm_labels():
    assert event_rhythm(None) is None and event_rhythm("N") == "N"
    assert event_rhythm("AF/AFL") == "AFIB" and event_rhythm("NOISE") == "NOISE"


def test_unclean_stretch_ends_an_open_episode_as_unreadable(rng):
    """AF, then 20 s of beats whose intervals are not clean (bad signal): the open afib
    episode ends where the unreadable stretch began (reason ``unreadable``), the beats are
    NOISE, and the same beats all clean give one open episode."""
    beats = beat_times(rng, af_s=240.0, sinus_s=0.0)
    t = beats / FS
    bad = (t >= 150.0) & (t < 170.0)
    dr = DeviceRhythm(device_id=2, fs_hz=FS)
    rhythms, alerts = [], []
    prev = None
    for b, unclean in zip(beats.tolist(), bad.tolist()):
        rr = np.nan if prev is None else (b - prev) / FS
        rhythm, a = dr.beat(b, "N", rr, prev is not None and not unclean)
        rhythms.append(rhythm)
        alerts.extend(a)
        prev = b
    assert [(a.state, a.detail.get("reason")) for a in alerts[:2]] == [
        ("onset", None), ("end", "unreadable")]
    assert 149.0 <= alerts[1].sample_index / FS <= 150.0
    assert "NOISE" in rhythms and rhythms[int(np.argmax(t >= 165.0))] == "NOISE"
    _, clean_alerts = feed(DeviceRhythm(device_id=2, fs_hz=FS), beats)
    assert [a.state for a in clean_alerts] == ["onset"]


def test_af_then_sinus_gives_one_episode_with_evidence(rng):
    beats = beat_times(rng, af_s=180.0, sinus_s=180.0)
    dr = DeviceRhythm(device_id=3, fs_hz=FS)
    rhythms, alerts = feed(dr, beats)
    assert [(a.kind, a.state) for a in alerts] == [("afib", "onset"), ("afib", "end")]
    onset, end = alerts
    assert onset.severity == "warning" and onset.device_id == 3
    assert onset.sample_index / FS < 60.0  # dated where the AF began, not when confirmed
    assert 0.5 <= onset.detail["p_af"] <= 1.0 and "nrmssd" in onset.detail
    assert 150.0 <= end.sample_index / FS <= 240.0
    assert end.detail["duration_s"] == pytest.approx((end.sample_index - onset.sample_index)
                                                     / FS, abs=1e-3)
    assert rhythms[0] is None and "AFIB" in rhythms and rhythms[-1] == "N"
    assert 0.3 <= dr.burden.run_share <= 0.7


def test_regular_rhythm_raises_nothing(rng):
    beats = beat_times(rng, af_s=0.0, sinus_s=300.0)
    dr = DeviceRhythm(device_id=1, fs_hz=FS)
    rhythms, alerts = feed(dr, beats)
    assert alerts == [] and set(rhythms[-100:]) == {"N"}
    assert dr.burden.run_share == 0.0


def test_end_of_stream_closes_an_open_episode(rng):
    beats = beat_times(rng, af_s=240.0, sinus_s=0.0)
    dr = DeviceRhythm(device_id=1, fs_hz=FS)
    _, alerts = feed(dr, beats)
    assert [a.state for a in alerts] == ["onset"]
    end = dr.end(int(beats[-1]) + 10, "end of stream")
    assert [(a.state, a.detail["reason"]) for a in end] == [("end", "end of stream")]
    assert dr.end(int(beats[-1]) + 20, "again") == []
    # after the end the analyser starts over: earlier sample indices are accepted
    assert dr.beat(5, "N", np.nan, False)[1] == []


def test_daemon_reports_afib_and_burden(classifier, mitdb_dir):
    """MIT-BIH 201 (DS1) opens in atrial fibrillation (reference '(AFIB' from sample 60 to
    378 s): 6 minutes replayed through the daemon give an afib onset within the first
    minute, AFIB beats and a positive AF burden in the hr events."""
    from edge.runtime.daemon import Daemon
    from edge.runtime.demo import BeatCollector
    from edge.runtime.settings import load_config
    from firmware_bridge.replay import ReplayConfig
    from firmware_bridge.replay_source import ReplaySource

    config = load_config(options={"source.kind": "replay", "source.replay.record": "201",
                                  "outputs.status_interval_s": 0.0, "outputs.strip": False})
    src = ReplaySource(ReplayConfig(record="201", data_dir=str(mitdb_dir), duration_s=360.0,
                                    speed=None))
    sink = BeatCollector()  # keeps every event in .events
    Daemon(config, source=src, classifier=classifier, sinks=[sink]).run()
    afib = [e for e in sink.events if e.type == "alert" and e.kind == "afib"]
    assert afib and afib[0].state == "onset" and afib[0].t_stream_s < 60.0
    beats = [e for e in sink.events if e.type == "beat"]
    assert sum(e.rhythm == "AFIB" for e in beats) > len(beats) // 2
    hr = [e for e in sink.events if e.type == "hr"]
    assert hr[-1].af_burden_run is not None and hr[-1].af_burden_run > 0.5
    assert hr[-1].af_burden_1h == pytest.approx(hr[-1].af_burden_run, abs=1e-6)


def test_daemon_ends_afib_on_unreadable_signal(classifier, mitdb_dir, tmp_path):
    """MIT-BIH 201 (DS1, atrial fibrillation to 378 s), first 6 minutes, with 20 s of strong
    broadband noise from 200 s: the quality stage grades it noisy, the daemon passes those
    beats as unreadable, the open afib episode ends where the noise began (reason
    ``unreadable``), beats in it carry the NOISE rhythm, and AF is confirmed anew after it.
    Without the noise the episode runs on."""
    import wfdb

    from edge.runtime.daemon import Daemon
    from edge.runtime.demo import BeatCollector
    from edge.runtime.settings import load_config
    from firmware_bridge.replay import ReplayConfig
    from firmware_bridge.replay_source import ReplaySource

    fs = 360
    rec = wfdb.rdrecord(str(mitdb_dir / "201"), sampto=fs * 360)
    sig = rec.p_signal.copy()
    rng = np.random.default_rng(7)
    sig[200 * fs:220 * fs] += 1.0 * rng.standard_normal((20 * fs, sig.shape[1]))
    wfdb.wrsamp("201noise", fs=fs, units=rec.units, sig_name=rec.sig_name, p_signal=sig,
                fmt=["212"] * rec.n_sig, write_dir=str(tmp_path))

    def run(record: str):
        config = load_config(options={"source.kind": "replay", "source.replay.record": record,
                                      "outputs.status_interval_s": 0.0,
                                      "outputs.strip": False})
        src = ReplaySource(ReplayConfig(record=record, speed=None, duration_s=360.0))
        sink = BeatCollector()
        Daemon(config, source=src, classifier=classifier, sinks=[sink]).run()
        return sink.events

    events = run(str(tmp_path / "201noise"))
    afib = [(e.state, e.detail.get("reason"), e.t_stream_s) for e in events
            if e.type == "alert" and e.kind == "afib"]
    assert afib[0][0] == "onset" and afib[1][:2] == ("end", "unreadable")
    # dated at the last beat before the first interval graded unclean (the quality stage
    # grades 2-s windows, the detector emits no beats inside the worst of the noise)
    assert 195.0 <= afib[1][2] <= 205.0
    assert afib[2][0] == "onset" and afib[2][2] >= 215.0  # confirmed anew after the noise
    noise = [e.t_stream_s for e in events if e.type == "beat" and e.rhythm == "NOISE"]
    assert noise and 200.0 <= min(noise) and max(noise) <= 240.0
    clean = run(str(mitdb_dir / "201"))
    assert not any(e.type == "alert" and e.kind == "afib" and e.state == "end"
                   and e.t_stream_s < 300.0 for e in clean)
    assert not any(e.type == "beat" and e.rhythm == "NOISE" and e.t_stream_s < 360.0
                   for e in clean)


def test_daemon_raises_svt_on_a_real_run(classifier, mitdb_dir):
    """MIT-BIH 209 (DS1): the reference marks supraventricular tachyarrhythmia '(SVTA' from
    555.7 s to 584.3 s. Replayed from 540 s through the daemon, an svt alert (S run at >= 100
    bpm) opens inside that stretch and carries its rate; the S beats of the run are reported
    (no AF there to change them)."""
    from edge.runtime.daemon import Daemon
    from edge.runtime.demo import BeatCollector
    from edge.runtime.settings import load_config
    from firmware_bridge.replay import ReplayConfig
    from firmware_bridge.replay_source import ReplaySource

    config = load_config(options={"source.kind": "replay", "source.replay.record": "209",
                                  "outputs.status_interval_s": 0.0, "outputs.strip": False})
    start_s = 540.0
    src = ReplaySource(ReplayConfig(record="209", data_dir=str(mitdb_dir), start_s=start_s,
                                    duration_s=60.0, speed=None))
    sink = BeatCollector()  # keeps every event in .events
    Daemon(config, source=src, classifier=classifier, sinks=[sink]).run()
    svt = [e for e in sink.events if e.type == "alert" and e.kind == "svt"]
    onsets = [e for e in svt if e.state == "onset"]
    assert onsets, [(e.kind, e.state) for e in sink.events if e.type == "alert"]
    # the replay keeps the record's sample numbering: stream time is record time
    assert all(start_s <= e.t_stream_s <= start_s + 60.0 for e in sink.events
               if e.type == "beat")
    assert any(555.0 <= e.t_stream_s <= 585.0 and e.detail["rate_bpm"] >= 100
               for e in onsets), [(e.t_stream_s, e.detail) for e in onsets]
    assert not any(e.type == "alert" and e.kind == "afib" for e in sink.events)


def test_rhythm_settings_are_typed_and_checked():
    from edge.errors import ConfigError
    from edge.runtime.settings import load_config

    base = ['source.serial.port="x"']
    cfg = load_config(None, base + ["rhythm.enabled=false", "rhythm.analyser.min_episode_s=60"])
    assert cfg.rhythm.enabled is False and cfg.rhythm.analyser.min_episode_s == 60.0
    assert load_config(None, base).rhythm.enabled is True
    for override, field in [('rhythm.enabled="no"', "rhythm.enabled"),
                            ("rhythm.analyser.window_beats=2.5", "rhythm.analyser.window_beats"),
                            ("rhythm.analyser.p_offset=0.9", "rhythm.analyser.p_offset"),
                            ("rhythm.colour=1", "rhythm.colour")]:
        with pytest.raises(ConfigError) as info:
            load_config(None, base + [override])
        assert info.value.field == field


def test_rhythm_off_leaves_the_fields_out(classifier, mitdb_dir):
    """Three minutes of MIT-BIH 201 (atrial fibrillation) with the analyser on, on without
    rhythm-aware calls, and off."""
    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    x = read_record("201", data_dir=mitdb_dir, sampto=360 * 180).signal_mv
    out = {}
    for key, options in ((True, ["rhythm.enabled=true"]), (False, ["rhythm.enabled=false"]),
                         ("model calls", ["rhythm.beat_context=false"])):
        cfg = load_config(None, ['source.serial.port="x"', *options, "outputs.strip=false"])
        dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0)
        events = dev.process(0, x) + dev.flush()
        out[key] = events
        assert (dev.rhythm is None) is (key is False)
    # rhythm-aware calls: only S calls in confirmed AF changed (to N); off, the model's calls
    model = [e for e in out["model calls"] if e.type == "beat"]
    assert [e.label for e in model] == [e.label for e in out[False] if e.type == "beat"]
    aware = [e for e in out[True] if e.type == "beat"]
    changed = [(m, a) for m, a in zip(model, aware) if m.label != a.label]
    assert changed and all(m.label == "S" and a.label == "N" and a.rhythm == "AFIB"
                           and a.proba == m.proba for m, a in changed)
    assert not any(e.label == "S" and e.rhythm == "AFIB" for e in aware)
    beats_on = [e for e in out[True] if e.type == "beat"]
    beats_off = [e for e in out[False] if e.type == "beat"]
    assert len(beats_on) == len(beats_off) > 100
    assert any(e.rhythm == "AFIB" for e in beats_on)
    assert all(e.rhythm is None for e in beats_off)
    assert any(e.type == "alert" and e.kind == "afib" for e in out[True])
    assert not any(e.type == "alert" and e.kind == "afib" for e in out[False])
    hr_off = [e for e in out[False] if e.type == "hr"]
    assert hr_off and all(e.af_burden_run is None for e in hr_off)


@pytest.mark.parametrize("size", [1, 7, 250, None])
def test_beats_in_batches_are_the_beats_one_by_one(rng, size):
    """DeviceRhythm.beats (the daemon hands it a chunk's beats) gives each beat the rhythm,
    call and alerts of beat() + call() one at a time, and the same burden."""
    beats = beat_times(rng, af_s=200.0, sinus_s=200.0)
    labels = rng.choice(["N", "S", "V"], size=beats.size, p=[0.8, 0.15, 0.05]).tolist()
    rr = [np.nan] + (np.diff(beats) / FS).tolist()
    clean = [i > 0 and i % 50 != 0 for i in range(beats.size)]
    one = DeviceRhythm(device_id=1, fs_hz=FS)
    want = []
    for b, lab, r, ok in zip(beats.tolist(), labels, rr, clean):
        rhythm, alerts = one.beat(b, lab, r, ok)
        want.append((rhythm, one.call(lab), alerts))
    many = DeviceRhythm(device_id=1, fs_hz=FS)
    got = []
    size = size or beats.size
    for i in range(0, beats.size, size):
        got += many.beats(beats[i:i + size].tolist(), labels[i:i + size], rr[i:i + size],
                          clean[i:i + size])
    assert got == want
    assert sum(len(a) for *_, a in want) == 2 and ("AFIB", "N") in {(w[0], w[1]) for w in want}
    assert many.n_calls_changed == one.n_calls_changed > 0
    assert many.burden.run_share == one.burden.run_share
    assert many.burden.window_share == one.burden.window_share
    assert many.beats([], [], [], []) == []


@pytest.mark.parametrize("size", [1, 3])
def test_daemon_lists_and_other_inputs_give_the_same_beats(mitdb_dir, size):
    """The daemon's plain lists take the analyser's list path; the same beats as numpy
    scalars take the array path: the same rhythms, calls, alerts, counts and burden, on a
    real record with AF, S and V beats and unclean intervals."""
    from edge.io.records import read_annotations

    ann = read_annotations("201", "atr", data_dir=mitdb_dir, sampto=15 * 60 * 360)
    keep = np.isin(ann.symbol, list("NLRAaJSVFejE/fQ"))
    idx = ann.sample_index[keep]
    cls = {"V": "V", "F": "F", "A": "S", "a": "S", "J": "S", "S": "S"}
    labels = [cls.get(s, "N") for s in ann.symbol[keep].tolist()]
    rr = [np.nan] + (np.diff(idx) / 360.0).tolist()
    clean = [i > 0 and i % 53 != 0 for i in range(idx.size)]
    plain, other = DeviceRhythm(device_id=1, fs_hz=360.0), DeviceRhythm(device_id=1, fs_hz=360.0)
    got, want = [], []
    for i in range(0, idx.size, size):
        sl = slice(i, i + size)
        got += plain.beats(idx[sl].tolist(), labels[sl], rr[sl], clean[sl])
        want += other.beats(list(idx[sl]), [np.str_(c) for c in labels[sl]], rr[sl],
                            [np.bool_(c) for c in clean[sl]])
    assert got == want and any(a for _, _, a in got)
    assert plain.n_calls_changed == other.n_calls_changed > 0
    assert plain.n_svt_calls == other.n_svt_calls
    assert plain.burden.run_share == other.burden.run_share > 0
    assert plain.burden.window_share == other.burden.window_share


@pytest.mark.parametrize("bad", [
    lambda d: d.beats([500, 400], ["N", "N"], [0.8, 0.8], [True, True]),
    lambda d: d.beats([500, 600], ["N"], [0.8, 0.8], [True, True]),
    lambda d: d.beats([500, 600], ["N", "N"], [0.8, 0.8], [True]),
    lambda d: (d.beats([500], ["N"], [0.8], [True]), d.beats([500], ["N"], [0.8], [True])),
])
def test_bad_beats_raise_the_same_error_from_lists_and_arrays(bad):
    """A beat going back or lists of other lengths: the same SignalError whichever path."""
    from edge.errors import SignalError

    def as_numpy(d):
        class Numpy:  # the same beats as numpy scalars (the array path)
            def beats(self, idx, labels, rr, clean):
                return d.beats([np.int64(i) for i in idx], labels, rr,
                               [np.bool_(c) for c in clean])
        return Numpy()

    with pytest.raises(SignalError) as want:
        bad(as_numpy(DeviceRhythm(device_id=1, fs_hz=360.0)))
    with pytest.raises(SignalError) as got:
        bad(DeviceRhythm(device_id=1, fs_hz=360.0))
    assert str(got.value) == str(want.value)
