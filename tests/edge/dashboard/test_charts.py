"""Chart frames (pure pandas: the strip window, R-peak marks on the strip, local clock time)
and the Altair charts built from them (these need altair, which Streamlit brings)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from edge.dashboard.charts import (
    hr_chart,
    hr_frame,
    local_datetimes,
    strip_chart,
    strip_frames,
)
from edge.dashboard.state import MonitorState
from tests.edge.dashboard.support import EventMaker


def peaky_session(seconds: int = 20):
    """Strip with a 1.5 mV spike at every whole second + 0.5 s; a beat there."""
    mk = EventMaker()
    out = []
    for k in range(seconds):
        v = np.zeros(90)
        v[45] = 1.5
        out.append(mk.strip(float(k), values=v.tolist()))
        out.append(mk.beat(k + 0.5, "V" if k % 5 == 0 else "N"))
        out.append(mk.hr(k + 0.5, 60.0))
    return mk, out


def test_strip_window_and_beats_sit_on_the_peaks():
    mk, events = peaky_session()
    st = MonitorState()
    st.apply_many(events)
    strip, beats = strip_frames(st.snapshot(1), window_s=10.0)
    span = strip["t_stream_s"].iloc[-1] - strip["t_stream_s"].iloc[0]
    assert 9.9 <= span <= 10.0
    assert len(beats) == 10 and set(beats["label"]) == {"N", "V"}
    np.testing.assert_allclose(beats["mv"], 1.5)
    # local clock time: stream time + the wall clock at stream start (the piece is emitted one
    # strip sample after its last sample: within 1/90 s)
    want = dt.datetime.fromtimestamp(mk.t0_s + beats["t_stream_s"].iloc[0])
    assert abs((beats["time"].iloc[0] - want).total_seconds()) <= 1 / 90 + 1e-6


def test_strip_chart_layers():
    pytest.importorskip("altair")
    _, events = peaky_session()
    st = MonitorState()
    st.apply_many(events)
    strip, beats = strip_frames(st.snapshot(1), window_s=10.0)
    chart = strip_chart(strip, beats).to_dict()
    assert len(chart["layer"]) == 3
    assert chart["layer"][0]["encoding"]["y"]["title"] == "ECG (mV)"


def test_empty_snapshot_gives_empty_frames():
    st = MonitorState()
    st.apply(EventMaker().link("connected"))
    strip, beats = strip_frames(st.snapshot(1), 10.0)
    assert strip.empty and beats.empty and hr_frame(st.snapshot(1)).empty


def test_hr_frame():
    _, events = peaky_session()
    st = MonitorState()
    st.apply_many(events)
    f = hr_frame(st.snapshot(1), span_s=5.0)
    assert len(f) == 6 and (f["bpm"] == 60.0).all()


def test_hr_chart():
    pytest.importorskip("altair")
    _, events = peaky_session()
    st = MonitorState()
    st.apply_many(events)
    f = hr_frame(st.snapshot(1), span_s=5.0)
    assert hr_chart(f).to_dict()["encoding"]["y"]["title"] == "heart rate (bpm)"


def test_local_datetimes_handles_nan():
    out = local_datetimes(np.array([0.0, np.nan]))
    assert out.iloc[0] == dt.datetime.fromtimestamp(0) and out.isna().iloc[1]


def test_every_class_has_a_colour_and_a_name():
    from edge.aami import AAMI_CLASSES
    from edge.dashboard.charts import CLASS_COLORS, CLASS_NAMES

    assert tuple(CLASS_COLORS) == tuple(CLASS_NAMES) == AAMI_CLASSES


def af_state():
    """20 s of strip and beats; an AF episode from 2 to 6 s and an ongoing one from 12 s."""
    mk, events = peaky_session()
    st = MonitorState()
    st.apply_many(events)
    st.apply(mk.alert(2.0, "afib", "onset", "warning"))
    st.apply(mk.alert(6.0, "afib", "end", "warning", duration_s=4.0))
    st.apply(mk.alert(12.0, "afib", "onset", "warning"))
    return st.snapshot(1)


def test_episode_frame_clips_episodes_to_the_span_and_runs_ongoing_ones_to_its_end():
    from edge.dashboard.charts import episode_frame

    snap = af_state()
    whole = episode_frame(snap, 0.0, 20.0)
    assert list(whole["band"]) == ["AF", "AF (ongoing)"]
    assert list(whole["ongoing"]) == [False, True]
    np.testing.assert_allclose(whole["start_s"], [2.0, 12.0], atol=0.01)
    np.testing.assert_allclose(whole["end_s"], [6.0, 20.0], atol=0.01)
    np.testing.assert_allclose(whole["shown_s"], [4.0, 8.0], atol=0.01)
    # local clock: stream time + the strip's clock offset, as the strip's own times
    want = dt.datetime.fromtimestamp(snap.clock_offset_s + float(whole["start_s"].iloc[1]))
    assert abs((whole["start"].iloc[1] - want).total_seconds()) < 1e-3
    late = episode_frame(snap, 10.0, 19.99)  # the strip window: the ended one is out of view
    assert list(late["band"]) == ["AF (ongoing)"]
    np.testing.assert_allclose(late[["start_s", "end_s"]].iloc[0], [12.0, 19.99], atol=0.01)
    assert episode_frame(snap, 6.5, 11.0).empty
    quiet = MonitorState()
    quiet.apply_many(peaky_session()[1])
    assert episode_frame(quiet.snapshot(1), 0.0, 20.0).empty


def test_strip_and_hr_charts_shade_the_episodes():
    pytest.importorskip("altair")
    from edge.dashboard.charts import EPISODE_COLOR, episode_frame

    snap = af_state()
    strip, beats = strip_frames(snap, window_s=10.0)
    episodes = episode_frame(snap, float(strip["t_stream_s"].min()),
                             float(strip["t_stream_s"].max()))
    chart = strip_chart(strip, beats, episodes=episodes).to_dict()
    assert len(chart["layer"]) == 5  # band, its label, line, R peaks, letters
    band = chart["layer"][0]
    assert band["mark"]["type"] == "rect" and band["mark"]["color"] == EPISODE_COLOR
    assert band["encoding"]["x2"]["field"] == "end"
    ds = chart["datasets"][band["data"]["name"]]
    assert [r["band"] for r in ds] == ["AF (ongoing)"]
    f = hr_frame(snap)
    hr = hr_chart(f, episodes=episode_frame(snap, 0.0, 20.0)).to_dict()
    assert [layer["mark"]["type"] for layer in hr["layer"]] == ["rect", "text", "line"]
    # without episodes the charts are what they were
    assert len(strip_chart(strip, beats, episodes=episodes.iloc[:0]).to_dict()["layer"]) == 3
