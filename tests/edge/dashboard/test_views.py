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
    from edge.events.model import ALERT_KINDS, LINK_STATES, QUALITY_LEVELS

    assert set(views.ALERT_NAMES) == set(ALERT_KINDS)
    assert set(views._QUALITY_BADGE) == set(QUALITY_LEVELS)
    assert set(views._LINK_BADGE) <= set(LINK_STATES)
    assert set(views._BADGE) == set(AAMI_CLASSES)
