"""Data of the database pages (ward overview, wearer history): pure functions of what
:mod:`edge.store.history` returns, tested without Streamlit. Times are local clock time."""
from __future__ import annotations

import time
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from edge.dashboard.charts import CLASS_COLORS, local_datetimes
from edge.store.history import WardRow

__all__ = ["NONE", "ward_table", "alarm_lines", "hr_trend_chart", "alert_table", "strip_chart_db",
           "beats_chart", "age_text"]


def age_text(seconds: float | None) -> str:
    """``"12 s ago"``, ``"5 min ago"``, ``"3 h ago"`` (:data:`NONE` when unknown)."""
    if seconds is None:
        return NONE
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _clock(unix_s: float | None) -> str:
    return NONE if unix_s is None else time.strftime("%H:%M:%S", time.localtime(unix_s))


#: Shown for an unknown value (a plain "-" would render as a list bullet in a table).
NONE = "–"


def ward_table(rows: Sequence[WardRow], now_s: float | None = None) -> pd.DataFrame:
    """One line per device, in the overview's order (active alarms first)."""
    now_s = time.time() if now_s is None else now_s
    out = []
    for r in rows:
        alarms = ", ".join(f"{a['kind']} ({a['severity']}) since {_clock(a['time_s'])}"
                           for a in r.active) or "none"
        out.append({
            "device": r.device_id,
            "active alarms": alarms,
            "heart rate": NONE if r.hr_bpm is None else f"{r.hr_bpm:.0f} bpm",
            "rhythm": r.rhythm or NONE,
            "AF burden 1 h": NONE if r.af_burden_1h is None else
            f"{100 * r.af_burden_1h:.0f} %",
            "link": r.link or NONE,
            "signal": r.quality or NONE,
            "last event": age_text(None if r.last_seen_s is None else now_s - r.last_seen_s),
        })
    return pd.DataFrame(out, columns=["device", "active alarms", "heart rate", "rhythm",
                                      "AF burden 1 h", "link", "signal", "last event"])


def alarm_lines(rows: Sequence[WardRow]) -> list[tuple[str, str]]:
    """``(severity, text)`` of every active alarm/warning, alarms first."""
    out = []
    for r in rows:
        for a in r.active:
            out.append((a["severity"], f"Device {r.device_id}: {a['kind']} "
                                       f"{a['severity']} since {_clock(a['time_s'])}"))
    return sorted(out, key=lambda x: x[0] != "alarm")


def hr_trend_chart(series: Sequence[tuple[float, float]], hourly: Sequence[dict]) -> alt.Chart:
    """Heart rate over the window: every ``hr`` value, and the hourly min-max band."""
    hr = pd.DataFrame(series, columns=["t", "bpm"])
    hr["time"] = local_datetimes(hr["t"].to_numpy())
    band = pd.DataFrame(hourly)
    layers = []
    if not band.empty:
        band["start"] = local_datetimes(band["hour_s"].to_numpy(dtype=float))
        band["end"] = local_datetimes(band["hour_s"].to_numpy(dtype=float) + 3600)
        layers.append(alt.Chart(band).mark_rect(opacity=0.15, color="#1565c0").encode(
            x=alt.X("start:T", title="local time"), x2="end:T",
            y=alt.Y("min:Q", title="bpm"), y2="max:Q",
            tooltip=[alt.Tooltip("min:Q", format=".0f"), alt.Tooltip("mean:Q", format=".0f"),
                     alt.Tooltip("max:Q", format=".0f")]))
    layers.append(alt.Chart(hr).mark_line(color="#1565c0", strokeWidth=1).encode(
        x=alt.X("time:T", title="local time"),
        y=alt.Y("bpm:Q", title="bpm", scale=alt.Scale(zero=False))))
    return alt.layer(*layers).properties(height=220)


def alert_table(alerts: Sequence[dict]) -> pd.DataFrame:
    """The alarm timeline, newest first."""
    rows = [{"time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a["time_s"])),
             "severity": a["severity"], "kind": a["kind"], "state": a["state"],
             "detail": ", ".join(f"{k} {v}" for k, v in a["detail"].items())}
            for a in sorted(alerts, key=lambda a: -a["time_s"])]
    return pd.DataFrame(rows, columns=["time", "severity", "kind", "state", "detail"])


def strip_chart_db(strip: dict, title: str) -> alt.Chart:
    """A stored strip around an alarm (seconds relative to it; gaps where invalid)."""
    df = pd.DataFrame({"t_s": strip["t_s"], "mV": np.array(strip["mv"], dtype=float)})
    line = alt.Chart(df).mark_line(color="#212121", strokeWidth=1).encode(
        x=alt.X("t_s:Q", title="s from the alarm"), y=alt.Y("mV:Q", title="mV"))
    rule = alt.Chart(pd.DataFrame({"t_s": [0.0]})).mark_rule(color=CLASS_COLORS["V"]).encode(
        x="t_s:Q")
    return (line + rule).properties(height=160, title=title)


def beats_chart(counts: dict[str, int]) -> alt.Chart:
    """Beats per class (bars in the classes' colours)."""
    df = pd.DataFrame({"class": list(counts), "beats": list(counts.values())})
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("class:N", sort=list(CLASS_COLORS)), y="beats:Q",
        color=alt.Color("class:N", scale=alt.Scale(domain=list(CLASS_COLORS),
                                                    range=list(CLASS_COLORS.values())),
                        legend=None)).properties(height=160)
