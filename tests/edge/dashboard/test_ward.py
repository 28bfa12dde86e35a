"""The database pages' data (edge.dashboard.ward), without Streamlit."""
from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("altair")

from edge.dashboard.ward import (  # noqa: E402
    age_text,
    alarm_lines,
    alert_table,
    beats_chart,
    hr_trend_chart,
    strip_chart_db,
    ward_table,
)
from edge.store.history import WardRow  # noqa: E402


def _row(dev, active=(), hr=70.0):
    return WardRow(device_id=dev, last_seen_s=1000.0, hr_bpm=hr, rhythm="AFIB",
                   last_label="N", af_burden_1h=0.25, active=tuple(active), link="connected",
                   quality="good", boot=1)


def test_ward_table_and_alarm_lines():
    afib = {"kind": "afib", "severity": "alarm", "time_s": 990.0, "boot": 1, "detail": {}}
    big = {"kind": "bigeminy", "severity": "warning", "time_s": 980.0, "boot": 1, "detail": {}}
    rows = [_row(7, [big]), _row(5, [afib]), _row(6, hr=None)]
    df = ward_table(rows, now_s=1030.0)
    assert list(df["device"]) == [7, 5, 6]
    assert df.iloc[1]["heart rate"] == "70 bpm" and df.iloc[2]["heart rate"] == "–"
    assert df.iloc[1]["AF burden 1 h"] == "25 %" and df.iloc[0]["last event"] == "30 s ago"
    assert df.iloc[2]["active alarms"] == "none"
    lines = alarm_lines(rows)
    assert [s for s, _ in lines] == ["alarm", "warning"] and "Device 5: afib" in lines[0][1]


@pytest.mark.parametrize("seconds, text", [(None, "–"), (-3, "0 s ago"), (59, "59 s ago"),
                                           (600, "10 min ago"), (36000, "10.0 h ago")])
def test_age_text(seconds, text):
    assert age_text(seconds) == text


def test_charts_build_from_history_data():
    hr = hr_trend_chart([(3600.0 * 500, 60.0), (3600.0 * 500 + 60, 80.0)],
                        [{"hour_s": 3600 * 500, "min": 60.0, "mean": 70.0, "max": 80.0,
                          "n": 2}])
    assert hr.to_dict()["layer"][0]["mark"]["type"] == "rect"
    strip = strip_chart_db({"t_s": [-0.1, 0.0, 0.1], "mv": [0.1, None, 0.2]}, "afib onset")
    assert strip.to_dict()["layer"][0]["mark"]["type"] == "line"
    assert beats_chart({"N": 3, "V": 1}).to_dict()["mark"]["type"] == "bar"
    t = alert_table([{"time_s": 10.0, "severity": "alarm", "kind": "v_run", "state": "onset",
                      "detail": {"n_beats": 5}},
                     {"time_s": 20.0, "severity": "alarm", "kind": "v_run", "state": "end",
                      "detail": {}}])
    assert isinstance(t, pd.DataFrame) and list(t["state"]) == ["end", "onset"]
    assert t.iloc[1]["detail"] == "n_beats 5"
