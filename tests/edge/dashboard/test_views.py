"""Render helpers of the live view: alert wording, clock times, the alarm banner."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest

from edge.dashboard.state import AlertRecord
from edge.dashboard.views import alert_title, clock


def test_alert_titles_in_plain_words():
    a = AlertRecord(kind="v_run", state="onset", severity="alarm", t_stream_s=1.0,
                    time_s=0.0, detail={"vt": True, "n_beats": 5, "rate_bpm": 151.2})
    assert alert_title(a) == "ventricular run (VT, 5 beats, 151 bpm)"
    p = AlertRecord(kind="pause", state="event", severity="warning", t_stream_s=1.0,
                    time_s=0.0, detail={"rr_s": 2.71})
    assert alert_title(p) == "pause (RR 2.7 s)"
    b = AlertRecord(kind="bradycardia", state="onset", severity="warning", t_stream_s=1.0,
                    time_s=0.0, detail={"rate_bpm": 31.0, "chained_under": "vfib"})
    assert alert_title(b) == "bradycardia (31 bpm, began during VF)"
    for confirmed, title in ((False, "ventricular flutter / fibrillation (not confirmed by "
                                     "the VF stage)"),
                             (True, "ventricular flutter / fibrillation")):
        f = AlertRecord(kind="vflutter", state="onset", severity="warning", t_stream_s=1.0,
                        time_s=0.0, detail={"onset_index": 250, "vf_confirmed": confirmed})
        assert alert_title(f) == title
    for severity, title in (("warning", "ventricular tachycardia (non-sustained, 4 beats, "
                                        "127 bpm)"),
                            ("alarm", "ventricular tachycardia (4 beats, 127 bpm)")):
        v = AlertRecord(kind="vt", state="onset", severity=severity, t_stream_s=1.0,
                        time_s=0.0, detail={"n_beats": 4, "rate_bpm": 126.6})
        assert alert_title(v) == title


def test_clock_is_local_time():
    t = time.mktime((2026, 11, 25, 14, 3, 21, 0, 0, -1)) + 0.45
    assert clock(t) == "14:03:21" and clock(t, tenths=True) == "14:03:21.4"
    assert clock(None) == "--:--:--" and clock(float("nan")) == "--:--:--"


def _banner_app():
    import time as _time

    from edge.dashboard.state import MonitorState
    from edge.dashboard.views import render_alarm_banner
    from tests.edge.dashboard.support import EventMaker

    mk = EventMaker(t0_s=_time.time() - 30)
    st_ = MonitorState()
    st_.apply(mk.alert(1.0, "vflutter", "onset", "alarm"))
    st_.apply(mk.alert(2.0, "tachycardia", "onset", "warning", rate_bpm=130))
    st_.apply(mk.alert(28.0, "pause", "event", "warning", rr_s=3.0))
    st_.apply(mk.alert(3.0, "bigeminy", "onset", "warning"))
    st_.apply(mk.alert(4.0, "bigeminy", "end", "warning"))
    render_alarm_banner(st_.snapshots())


def test_alarm_banner_shows_open_alarms_first_and_recent_pauses():
    at = AppTest.from_function(_banner_app).run()
    assert not at.exception
    assert len(at.error) == 1 and "VENTRICULAR FLUTTER / FIBRILLATION" in at.error[0].value
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 2
    assert any("tachycardia (130 bpm)" in w for w in warnings)
    assert any("pause (RR 3.0 s)" in w for w in warnings)
    assert not any("bigeminy" in w for w in warnings)  # ended


def test_names_and_badges_cover_the_event_enumerations():
    from edge.aami import AAMI_CLASSES
    from edge.dashboard import views
    from edge.events.model import ALERT_KINDS, BEAT_QUALITY_LEVELS, LINK_STATES

    assert set(views.ALERT_NAMES) == set(ALERT_KINDS)
    assert set(views._QUALITY_BADGE) == set(BEAT_QUALITY_LEVELS)  # a beat's sets the badge
    assert set(views._LINK_BADGE) <= set(LINK_STATES)
    assert set(views._BADGE) == set(AAMI_CLASSES)


def test_burden_rhythm_and_episode_texts():
    from edge.dashboard.state import MonitorState
    from edge.dashboard.views import burden_text, episode_rows, rhythm_text
    from tests.edge.dashboard.support import EventMaker

    assert [burden_text(v) for v in (None, float("nan"), 0.0, 0.0042, 0.0951, 0.9034, 1.0)] \
        == ["--", "--", "0 %", "0.4 %", "9.5 %", "90 %", "100 %"]
    mk = EventMaker()
    st_ = MonitorState()
    st_.apply_many(mk.session(4, v_every=0))
    assert rhythm_text(st_.snapshot(1)) == "unknown" and episode_rows(st_.snapshot(1)) == []
    st_.apply(mk.strip(4.0))
    st_.apply(mk.beat(4.5, rhythm="N"))
    assert rhythm_text(st_.snapshot(1)) == "no AF"
    for k in range(5, 200):
        st_.apply(mk.strip(float(k)))
        st_.apply(mk.beat(k + 0.5, rhythm="N" if k < 150 else "AFIB"))
    st_.apply(mk.alert(10.0, "afib", "onset", "warning"))
    st_.apply(mk.alert(70.4, "afib", "end", "warning", duration_s=60.4))
    st_.apply(mk.alert(120.0, "afib", "onset", "warning"))
    snap = st_.snapshot(1)
    assert rhythm_text(snap) == "AF, ongoing"
    rows = episode_rows(snap)
    assert rows[0] == {"rhythm": "atrial fibrillation", "onset": clock(mk.t0_s + 120.0),
                       "end": "ongoing", "duration": "80 s so far"}  # to 200 s
    assert rows[1]["end"] == clock(mk.t0_s + 70.4) and rows[1]["duration"] == "60 s"
    assert len(episode_rows(snap, limit=1)) == 1


def _rhythm_panel_app():
    import time as _time

    from edge.dashboard.config import DashboardConfig
    from edge.dashboard.state import MonitorState
    from edge.dashboard.views import render_device
    from tests.edge.dashboard.support import EventMaker

    mk = EventMaker(t0_s=_time.time() - 20)
    st_ = MonitorState()
    for k in range(20):
        st_.apply(mk.strip(float(k)))
        st_.apply(mk.beat(k + 0.5, rhythm="AFIB" if k >= 4 else "N"))
    st_.apply(mk.alert(3.0, "afib", "onset", "warning", p_af=0.97))
    st_.apply(mk.hr(19.5, 110.0, af_burden_1h=0.8123, af_burden_run=0.0456))
    st_.apply(mk.hr(19.6, 111.0))
    render_device(st_.snapshot(1), DashboardConfig(window_s=10.0, stale_after_s=3600.0))


def test_device_panel_shows_the_burden_the_rhythm_and_the_episode():
    at = AppTest.from_function(_rhythm_panel_app).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AF burden, last hour"] == "81 %"
    assert metrics["AF burden, whole run"] == "4.6 %"
    assert metrics["Rhythm"] == "AF, ongoing"
    captions = " ".join(c.value for c in at.caption)
    assert "rhythm on screen: AF (ongoing) 10 s" in captions
    table = next(t.value for t in at.table if "rhythm" in t.value.columns)
    assert list(table["end"]) == ["ongoing"] and "so far" in table["duration"].iloc[0]
    assert any("atrial fibrillation / flutter shaded" in m.value for m in at.markdown)


def _plain_panel_app():
    import time as _time

    from edge.dashboard.config import DashboardConfig
    from edge.dashboard.state import MonitorState
    from edge.dashboard.views import render_device
    from tests.edge.dashboard.support import EventMaker

    mk = EventMaker(t0_s=_time.time() - 12)
    st_ = MonitorState()
    st_.apply_many(mk.session(12))
    render_device(st_.snapshot(1), DashboardConfig(window_s=10.0, stale_after_s=3600.0))


def test_without_rhythm_analysis_the_panel_is_unchanged():
    at = AppTest.from_function(_plain_panel_app).run()
    assert not at.exception, at.exception
    assert [m.label for m in at.metric] == ["Heart rate", "Signal quality", "Link"]
    assert not any("rhythm" in c.value for c in at.caption)
    assert not any("Rhythm episodes" in m.value or "shaded" in m.value for m in at.markdown)
