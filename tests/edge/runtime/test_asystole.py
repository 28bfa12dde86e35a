"""``asystole``: no heartbeat for ``alerts.asystole_s``, raised while it lasts -- not for a
flat line (lead off) nor in VF -- and the heart rate says so."""
import numpy as np
import pytest

from edge.errors import ConfigError
from edge.runtime.alerts import AlertConfig
from edge.runtime.asystole import AsystoleWatch

FS = 250.0


def good(a, b, horizon):
    return "good"


def never(t):
    return False


def test_no_beat_for_asystole_s_is_an_alarm_dated_there_and_ended_by_the_next_beat():
    w = AsystoleWatch(after_s=4.0, fs_hz=FS, device_id=2)
    assert w.check(10_000, good, never) == []  # no beat yet: the clock does not run
    assert w.beats([1000, 1200]) == []
    assert w.due_index == 1200 + 1000
    assert w.check(2199, good, never) == []  # not looked far enough yet
    (on,) = w.check(2200, good, never)
    assert (on.kind, on.state, on.severity, on.sample_index, on.device_id) == (
        "asystole", "onset", "alarm", 2200, 2)
    assert on.detail == {"last_beat_index": 1200, "after_s": 4.0, "since_s": 4.0}
    assert w.is_open and w.due_index is None and w.check(9000, good, never) == []
    (end,) = w.beats([3700])
    assert (end.state, end.sample_index, end.detail["duration_s"]) == ("end", 3700, 10.0)
    assert not w.is_open and w.due_index == 3700 + 1000 and w.n_episodes == 1


def test_a_flat_line_or_vf_is_not_asystole_and_the_clock_starts_again():
    w = AsystoleWatch(after_s=4.0, fs_hz=FS)
    w.beats([1000])
    assert w.check(2000, lambda a, b, h: "lead_off", never) == []
    assert w.n_technical == 1 and w.due_index == 3000  # looked at again one period later
    assert w.check(2999, good, never) == []
    assert w.check(3000, good, lambda t: t < 2500) != []  # VF over by then: asystole
    w = AsystoleWatch(after_s=4.0, fs_hz=FS)
    w.beats([1000])
    assert w.check(5000, good, lambda t: True) == [] and w.due_index == 6000  # 1000 per period
    # an open episode is ended by VF declared (a flat-looking start of VF is VF)
    w = AsystoleWatch(after_s=4.0, fs_hz=FS)
    w.beats([1000])
    assert len(w.check(2000, good, never)) == 1
    (end,) = w.interrupt(2600, "vfib")
    assert end.detail == {"duration_s": 6.4, "ended_by": "vfib"} and end.sample_index == 2600
    assert w.due_index == 3600
    (end,) = (w.check(3600, good, never) and w.flush(4000))
    assert end.detail["ended_by"] == "end of stream" and w.due_index is None


@pytest.mark.parametrize("bad", [1.0, 31.0, float("nan"), float("inf"), True, "4"])
def test_asystole_s_is_a_number_of_seconds_in_2_to_30(bad):
    with pytest.raises(ConfigError, match="asystole_s"):
        AlertConfig(asystole_s=bad)


def _stream(classifier, x, fs, step, settings=()):
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false", *settings])
    dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=fs)
    events = []
    for i in range(0, x.size, step):
        events += dev.process(i, x[i:i + step, None])
    return events + dev.flush()


def _asystole_in_every_chunking(classifier, x, steps):
    """The ``asystole`` alerts (state, index, detail) of ``x`` (360 Hz) streamed in chunks of
    each of ``steps`` samples, checked equal; and the last run's events."""
    ref = None
    for step in steps:
        ev = _stream(classifier, x, 360.0, step)
        asy = [(e.state, e.sample_index, e.detail) for e in ev
               if e.type == "alert" and e.kind == "asystole"]
        ref = ref if ref is not None else asy
        assert asy == ref, step
    return ref, ev


@pytest.fixture(scope="module")
def stopped_heart(mitdb_dir):
    """Record 100's first 20 s, 10 s of baseline noise (0.02 mV: the heart stopped, the
    electrodes on), then 20 s more of the record; and the same with a flat line instead (an
    electrode off)."""
    from edge.io.records import read_record

    x = read_record("100", channels=[0], sampto=360 * 40, data_dir=mitdb_dir).signal_mv[:, 0]
    noise = x[7200] + 0.02 * np.random.default_rng(0).standard_normal(3600)
    return (np.concatenate([x[:7200], noise, x[7200:]]),
            np.concatenate([x[:7200], np.full(3600, x[7200]), x[7200:]]))


def test_the_daemon_raises_asystole_whatever_the_chunking_and_the_rate_says_zero(
        classifier, stopped_heart):
    x, _ = stopped_heart
    ref, ev = _asystole_in_every_chunking(classifier, x, (7, 36, 360, 3600, 18_000))
    (on, end) = ref
    assert on[0] == "onset" and 20.0 < on[1] / 360 < 24.0  # 4 s after the last beat
    assert on[1] - on[2]["last_beat_index"] == 4 * 360
    assert end[0] == "end" and end[1] / 360 > on[1] / 360
    hr = {round(e.sample_index / 360): e.hr_bpm for e in ev if e.type == "hr"}
    assert hr[25] == 0.0 and hr[20] > 60  # not the last beats' rate while it lasts


def test_a_flat_line_is_lead_off_not_asystole_and_has_no_rate(classifier, stopped_heart):
    _, flat = stopped_heart
    ev = _stream(classifier, flat, 360.0, 360)
    assert not [e for e in ev if e.type == "alert" and e.kind == "asystole"]
    assert any(e.type == "quality" and e.quality == "lead_off" for e in ev)
    hr = {round(e.sample_index / 360): e.hr_bpm for e in ev if e.type == "hr"}
    assert hr[25] is None and hr[30] is None and hr[15] > 60
    # session 48 audit: the no-rate events said 13 beats, the window as of the last beat;
    # they count what is left of it (25 s: the beats of 15-20 s; 30 s: none)
    n = {round(e.sample_index / 360): e.n_beats for e in ev if e.type == "hr"}
    assert 4 <= n[25] <= 8 and n[30] == 0 and n[15] >= 10


def test_no_asystole_in_ventricular_fibrillation(classifier):
    """CUDB cu01 (excerpt): VF from 34 s, no QRS after it -- vflutter, then vfib; never
    asystole, in any chunking."""
    from edge.io.records import read_record
    from tests.edge.runtime.daemon_support import REPO

    rec = read_record(REPO / "tests" / "data" / "cudb" / "cudb_cu01_excerpt")
    for step in (25, 2500):
        ev = _stream(classifier, rec.signal_mv[:, 0], rec.fs_hz, step)
        kinds = {e.kind for e in ev if e.type == "alert"}
        assert "vfib" in kinds and "asystole" not in kinds
        # no heart rate while VF lasts (session 50 audit: 82-142 bpm read from its waves)
        (onset,) = [e.sample_index for e in ev if e.type == "alert" and e.kind == "vfib"
                    and e.state == "onset"]
        hr = [(e.sample_index, e.hr_bpm) for e in ev if e.type == "hr"]
        assert [v for t, v in hr if t > onset] and all(v is None for t, v in hr if t > onset)
        assert any(v is not None and v > 0 for t, v in hr if t < onset)


def test_the_clock_runs_from_the_learning_beats_on():
    """A detector still learning (a hand-held recorder's first seconds of motion) may miss
    beats until it re-learns: no asystole is counted before ``learning_beats`` beats."""
    w = AsystoleWatch(after_s=4.0, fs_hz=FS, learning_beats=3)
    w.beats([1000, 1200])
    assert w.due_index is None and w.check(9000, good, never) == []
    w.beats([9100])
    assert w.due_index == 10_100 and len(w.check(10_100, good, never)) == 1
    w.reset()
    assert w.due_index is None


def test_while_learning_the_clock_runs_from_the_start_with_the_learning_limit():
    """A stream that never shows a beat (a stopped heart at connection, or a signal the
    detector cannot read) is an alarm after ``asystole_learning_s``, not silence; the
    learning limit holds until ``learning_beats`` beats, then ``asystole_s``."""
    w = AsystoleWatch(after_s=4.0, fs_hz=FS, learning_beats=3, learning_after_s=8.0,
                      start_index=500)
    assert w.learning and w.due_index == 500 + 2000
    assert w.check(2499, good, never) == []
    (on,) = w.check(2500, good, never)
    assert on.detail == {"last_beat_index": None, "after_s": 8.0, "since_s": 8.0,
                         "learning": True, "beats_seen": 0}
    (end,) = w.beats([3000])
    assert end.detail["duration_s"] == 2.0 and w.due_index == 3000 + 2000  # still learning
    w.beats([3200, 3400])
    assert not w.learning and w.due_index == 3400 + 1000
    (on,) = w.check(4400, good, never)
    assert "learning" not in on.detail and on.detail["after_s"] == 4.0
    w.reset(10_000)  # a restart: learning again, from its first sample
    assert w.learning and w.due_index == 12_000
    w.flush(11_000)  # the end of a stream stops the clock
    assert w.due_index is None
    # the electrodes not on yet: lead-off is not asystole, looked at again a period later
    w = AsystoleWatch(after_s=4.0, fs_hz=FS, learning_beats=3, learning_after_s=8.0,
                      start_index=0)
    assert w.check(2000, lambda a, b, h: "lead_off", never) == [] and w.due_index == 4000
    # learning_beats 0: the clock runs from the start with asystole_s
    w = AsystoleWatch(after_s=4.0, fs_hz=FS, learning_beats=0, learning_after_s=8.0,
                      start_index=0)
    assert w.due_index == 1000


@pytest.mark.parametrize("bad", [3.9, 61.0, float("nan"), True, "8"])
def test_asystole_learning_s_is_from_asystole_s_to_60(bad):
    with pytest.raises(ConfigError, match="asystole_learning_s"):
        AlertConfig(asystole_learning_s=bad)
    assert AlertConfig(asystole_s=10.0, asystole_learning_s=10.0).asystole_learning_s == 10.0
    # unset, it follows a longer asystole_s (session 50 audit: raising asystole_s to 20 was
    # refused for a key the user never set)
    assert AlertConfig().asystole_learning_s == 15.0
    assert AlertConfig(asystole_s=20.0).asystole_learning_s == 20.0


def test_a_stream_that_starts_with_a_stopped_heart_raises_asystole(classifier, stopped_heart):
    """Session 50: the clock ran only from the 10th beat, so a heart stopped when the wearable
    was put on (or a signal the detector never reads) raised nothing, whatever its length.
    Baseline noise (20 s of 0.01 mV: before any beat the floor is min_qrs_mv, 0.05 mV, which
    stronger noise can pass) from the start, then record 100: an alarm 15 s into the stream
    (``alerts.asystole_learning_s``), ended by the first beat; the same at every chunking.
    A flat line from the start (the electrodes not on) is lead-off, not asystole."""
    x, flat = stopped_heart
    noise = x[7200] + 0.01 * np.random.default_rng(1).standard_normal(7200)
    stopped = np.concatenate([noise, x[:7200]])  # 20 s, then beats
    ref, _ = _asystole_in_every_chunking(classifier, stopped, (7, 360, 3600, stopped.size))
    (on, end) = ref
    assert on[1] == 15 * 360 and on[2]["learning"] and on[2]["beats_seen"] == 0
    assert on[2]["last_beat_index"] is None and on[2]["after_s"] == 15.0
    assert end[0] == "end" and 20.0 <= end[1] / 360 < 21.5  # the first beat
    off = np.concatenate([flat[7200:10_800], flat[7200:10_800], x[:7200]])
    ev = _stream(classifier, off, 360.0, 360)
    assert not [e for e in ev if e.type == "alert" and e.kind == "asystole"]


def test_vf_declared_long_ago_still_holds_the_clock(classifier):
    """The stream keeps its last 16 VF / flutter-flag changes for ``_blocked_at``; a
    ``vfib`` onset pushed out by many flag changes inside the same VF still holds it."""
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false"])
    dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0)
    dev._new_declared = [(1000, "vfib", True)] + [
        (2000 + 100 * k, "vflutter", k % 2 == 0) for k in range(20)]  # ends off
    dev._asystole([])
    assert len(dev._declared) == 16 and dev._blocked_at(10_000)


def test_a_link_gap_the_detector_could_not_see_restarts_the_clock():
    w = AsystoleWatch(after_s=4.0, fs_hz=FS)
    w.beats([1000])
    gaps = [(1500, 1600)]  # lost on the link, filled with invalid samples (and settling)

    def unseen(a, b):
        return next((end for start, end in reversed(gaps) if start < b and end > a), None)
    assert w.check(2000, good, never, unseen) == []
    assert w.n_unseen == 1 and w.due_index == 1600 + 1000  # 4 s of signal after the gap
    (on,) = w.check(2600, good, never, unseen)
    assert on.sample_index == 2600 and on.detail["last_beat_index"] == 1000


def test_a_lossy_link_raises_no_false_asystole(classifier, mitdb_dir, caplog):
    """Record 100 sent in 0.1-s frames of which 10 % never arrive (seed 3). With each lost
    frame filled with invalid samples that the detector blanked, and settled after, it
    missed about half the beats, which raised 15 false asystole alarms in 300 s (session 45
    audit); a gap now restarts the clock (checked here with the detector made blind to the
    gaps again: bridges not announced). Since session 46 the gaps are bridged and the
    detector finds the beats around them, so there is nothing to raise in the first place."""
    import logging

    from edge.io.records import read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    caplog.set_level(logging.ERROR, logger="edge")
    x = read_record("100", channels=[0], sampto=360 * 120, data_dir=mitdb_dir).signal_mv
    counts = {}
    for case in ("bridged", "blind", "blind, clock blind too"):
        rng = np.random.default_rng(3)
        cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false"])
        dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0)
        if case != "bridged":
            dev.pipeline.detector.bridge = lambda start, stop: None  # blanked as before
        if case == "blind, clock blind too":
            dev._unseen = lambda a, b: None  # the clock as it was: blind to gaps
        ev = []
        for i in range(0, x.shape[0], 36):
            if rng.random() >= 0.1:
                ev += dev.process(i, x[i:i + 36])
        ev += dev.flush()
        counts[case] = sum(1 for e in ev if e.type == "alert" and e.kind == "asystole")
        n_beats = sum(1 for e in ev if e.type == "beat")
        assert dev.n_gaps > 50
        if case == "bridged":
            assert n_beats >= 0.85 * 144, n_beats  # 144 beats in 120 s, 10 % of them lost
        elif case == "blind":
            assert dev.asystole.n_unseen > 0 and n_beats < 0.7 * 144, n_beats
    assert counts == {"bridged": 0, "blind": 0, "blind, clock blind too": counts[
        "blind, clock blind too"]} and counts["blind, clock blind too"] > 0


def test_no_rate_from_beats_long_gone(classifier, stopped_heart):
    """Session 50 audit: the rolling rate is kept as of the last beat, so an ``hr`` event long
    after it read that rate (75 bpm, 13 intervals, 5 s after a stop) whenever no asystole
    episode was open -- here the first seconds of a stream, where the asystole limit is 15 s.
    When the last beat is older than twice ``asystole_s`` there is no rate."""
    x, _ = stopped_heart
    quiet = x[2160] + 0.005 * np.random.default_rng(2).standard_normal(360 * 14)
    y = np.concatenate([x[:2160], quiet, x[:7200]])  # 6 s of beats, 14 s stopped, 20 s
    ev = _stream(classifier, y, 360.0, 360)
    hr = {round(e.sample_index / 360): e.hr_bpm for e in ev if e.type == "hr"}
    assert hr[15] is None and hr[20] is None, hr  # 9 and 14 s after the last beat
    assert hr[35] and hr[35] > 60


