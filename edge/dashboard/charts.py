"""Chart data and Altair charts of the live view: the ECG strip with classified R peaks, and the
heart-rate trend, both with the rhythm episodes (atrial fibrillation / flutter) as shaded bands.

The frame builders are pure functions of a :class:`~edge.dashboard.state.DeviceSnapshot`
(tested without Streamlit). Times are shown as local clock time: a stream time plus the
snapshot's clock offset gives the daemon host's Unix time, converted to a naive local
``datetime`` (Vega-Lite shows naive times as they are, so the axis reads the same clock as the
alert list).
"""
from __future__ import annotations

import datetime as _dt
import logging

import numpy as np
import pandas as pd

from edge.dashboard.state import BEAT_CLASSES, DeviceSnapshot, RhythmEpisode

__all__ = [
    "CLASS_COLORS",
    "CLASS_NAMES",
    "EPISODE_COLOR",
    "EPISODE_SHORT_NAMES",
    "episode_frame",
    "hr_chart",
    "hr_frame",
    "local_datetimes",
    "strip_chart",
    "strip_frames",
]

logger = logging.getLogger(__name__)

#: Colour of each AAMI class on the strip (N neutral, ectopic classes loud).
CLASS_COLORS = {"N": "#2e7d32", "S": "#ef6c00", "V": "#d50000", "F": "#8e24aa", "Q": "#757575"}

#: Plain names of the AAMI classes.
CLASS_NAMES = {"N": "normal", "S": "supraventricular ectopic", "V": "ventricular ectopic",
               "F": "fusion", "Q": "unclassifiable"}


#: Fill colour of a rhythm-episode band.
EPISODE_COLOR = "#ffb300"

#: Short band labels of the rhythm-episode alert kinds.
EPISODE_SHORT_NAMES = {"afib": "AF", "aflutter": "AFL"}


def local_datetimes(unix_s: np.ndarray) -> pd.Series:
    """Unix seconds -> naive local datetimes (NaN -> NaT)."""
    unix_s = np.asarray(unix_s, dtype=float)
    out = pd.to_datetime(unix_s, unit="s", utc=True, errors="coerce")
    tz = _dt.datetime.now().astimezone().tzinfo
    return pd.Series(out.tz_convert(tz).tz_localize(None))


def _offset(snap: DeviceSnapshot) -> float:
    """Stream -> wall clock offset (s); without strip, the latest beat's (or 0)."""
    if snap.clock_offset_s is not None:
        return snap.clock_offset_s
    if snap.beats:
        return snap.beats[-1].time_s - snap.beats[-1].t_stream_s
    return 0.0


def strip_frames(snap: DeviceSnapshot, window_s: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last ``window_s`` seconds of strip, and the beats in them.

    Returns
    -------
    strip : columns ``time`` (local datetime), ``mv`` (mV, NaN = invalid / break),
        ``t_stream_s``.
    beats : columns ``time``, ``mv`` (strip value at the R peak: the largest deflection within
        two strip samples), ``label``, ``name``, ``proba``, ``t_stream_s``.
    """
    t, v = snap.strip_t_stream_s, snap.strip_mv
    empty_beats = pd.DataFrame({"time": pd.Series(dtype="datetime64[ns]"),
                                "mv": pd.Series(dtype=float), "label": pd.Series(dtype=str),
                                "name": pd.Series(dtype=str), "proba": pd.Series(dtype=float),
                                "t_stream_s": pd.Series(dtype=float)})
    if t.size == 0:
        return (pd.DataFrame({"time": pd.Series(dtype="datetime64[ns]"),
                              "mv": pd.Series(dtype=float),
                              "t_stream_s": pd.Series(dtype=float)}), empty_beats)
    t_end = float(np.nanmax(t))
    keep = t >= t_end - window_s
    t, v = t[keep], v[keep]
    off = _offset(snap)
    strip = pd.DataFrame({"time": local_datetimes(t + off), "mv": v, "t_stream_s": t})
    rows = [b for b in snap.beats if t[0] <= b.t_stream_s <= t_end]
    if not rows:
        return strip, empty_beats
    bt = np.array([b.t_stream_s for b in rows])
    dt = float(np.nanmedian(np.diff(t))) if t.size > 1 else 0.011
    idx = np.clip(np.searchsorted(t, bt), 0, t.size - 1)
    mv = np.empty(bt.size)
    for k, i in enumerate(idx):
        lo, hi = max(0, i - 2), min(t.size, i + 3)
        seg = v[lo:hi]
        near = np.abs(t[lo:hi] - bt[k]) <= 2.5 * dt
        seg = seg[near & np.isfinite(seg)]
        mv[k] = seg[np.argmax(np.abs(seg))] if seg.size else np.nan
    beats = pd.DataFrame({"time": local_datetimes(bt + off), "mv": mv,
                          "label": [b.label for b in rows],
                          "name": [CLASS_NAMES.get(b.label, b.label) for b in rows],
                          "proba": [b.proba for b in rows], "t_stream_s": bt})
    beats["mv"] = beats["mv"].fillna(0.0)
    return strip, beats


def episode_frame(snap: DeviceSnapshot, t_start_s: float, t_end_s: float) -> pd.DataFrame:
    """The rhythm episodes overlapping stream times ``[t_start_s, t_end_s]``, clipped to it
    (an ongoing episode reaches ``t_end_s``).

    Returns
    -------
    frame : columns ``start``, ``end`` (local datetimes), ``kind``, ``band`` (``AF``, or
        ``AF (ongoing)``), ``onset`` (clock text of the episode's real onset), ``ongoing``,
        ``shown_s`` (seconds of the episode inside the span), ``start_s``/``end_s`` (stream s).
    """
    rows = []
    for ep in snap.rhythm_episodes:
        end = t_end_s if ep.end_t_stream_s is None else ep.end_t_stream_s
        lo, hi = max(ep.onset_t_stream_s, t_start_s), min(end, t_end_s)
        if hi < lo or (hi == lo and not ep.ongoing):
            continue
        rows.append((lo, hi, ep))
    off = _offset(snap)
    frame = pd.DataFrame({
        "start": local_datetimes(np.array([r[0] for r in rows], dtype=float) + off),
        "end": local_datetimes(np.array([r[1] for r in rows], dtype=float) + off),
        "kind": pd.Series([r[2].kind for r in rows], dtype=str),
        "band": pd.Series([_band(r[2]) for r in rows], dtype=str),
        "onset": pd.Series([_clock_text(r[2].onset_t_stream_s + off) for r in rows],
                           dtype=str),
        "ongoing": pd.Series([r[2].ongoing for r in rows], dtype=bool),
        "shown_s": pd.Series([r[1] - r[0] for r in rows], dtype=float),
        "start_s": pd.Series([r[0] for r in rows], dtype=float),
        "end_s": pd.Series([r[1] for r in rows], dtype=float)})
    return frame


def _band(ep: RhythmEpisode) -> str:
    name = EPISODE_SHORT_NAMES.get(ep.kind, ep.kind)
    return f"{name} (ongoing)" if ep.ongoing else name


def _clock_text(unix_s: float) -> str:
    t = local_datetimes(np.array([unix_s]))[0]
    return "--:--:--" if pd.isna(t) else t.strftime("%H:%M:%S")


def _episode_layers(x, episodes: pd.DataFrame | None):
    """Shaded bands (and their labels at the top) of ``episodes``; ``[]`` without any."""
    import altair as alt

    if episodes is None or episodes.empty:
        return []
    tooltip = [alt.Tooltip("band:N", title="rhythm"), alt.Tooltip("onset:N", title="since")]
    band = alt.Chart(episodes).mark_rect(color=EPISODE_COLOR, opacity=0.22).encode(
        x=x, x2="end:T", tooltip=tooltip)
    label = alt.Chart(episodes).mark_text(align="left", baseline="top", dx=3, dy=2,
                                          color="#8d5a00", fontWeight="bold").encode(
        x=x, y=alt.value(0), text="band:N")
    return [band, label]


def hr_frame(snap: DeviceSnapshot, span_s: float = 600.0) -> pd.DataFrame:
    """Heart rate over the last ``span_s`` seconds of stream time: ``time`` (local), ``bpm``."""
    t, bpm = snap.hr_t_stream_s, snap.hr_bpm
    if t.size == 0:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns]"),
                             "bpm": pd.Series(dtype=float)})
    keep = t >= t[-1] - span_s
    return pd.DataFrame({"time": local_datetimes(t[keep] + _offset(snap)), "bpm": bpm[keep]})


def strip_chart(strip: pd.DataFrame, beats: pd.DataFrame, *, height_px: int = 260,
                episodes: pd.DataFrame | None = None):
    """Layered Altair chart: the ECG line (mV vs local time) and one mark per R peak,
    coloured by class and labelled with its letter; ``episodes`` (:func:`episode_frame`)
    shaded behind them."""
    import altair as alt

    x = alt.X("time:T", title="local time", axis=alt.Axis(format="%H:%M:%S", labelFlush=True,
                                                          tickCount=5))
    bands = _episode_layers(alt.X("start:T", title="local time"), episodes)
    line = alt.Chart(strip).mark_line(color="#212121", strokeWidth=1.2).encode(
        x=x, y=alt.Y("mv:Q", title="ECG (mV)", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("time:T", format="%H:%M:%S.%L"),
                 alt.Tooltip("mv:Q", title="mV", format=".2f")])
    scale = alt.Scale(domain=list(BEAT_CLASSES), range=[CLASS_COLORS[c] for c in BEAT_CLASSES])
    color = alt.Color("label:N", title="beat class", scale=scale,
                      legend=alt.Legend(orient="top", direction="horizontal"))
    points = alt.Chart(beats).mark_point(filled=True, size=90, opacity=0.9).encode(
        x=x, y="mv:Q", color=color,
        tooltip=[alt.Tooltip("time:T", format="%H:%M:%S.%L"), "label:N", "name:N",
                 alt.Tooltip("proba:Q", format=".2f")])
    text = alt.Chart(beats).mark_text(dy=-14, fontWeight="bold", fontSize=13).encode(
        x=x, y="mv:Q", text="label:N", color=alt.Color("label:N", scale=scale, legend=None))
    return alt.layer(*bands, line, points, text).properties(height=height_px)


def hr_chart(frame: pd.DataFrame, *, height_px: int = 140,
             episodes: pd.DataFrame | None = None):
    """Heart-rate trend: bpm vs local time; ``episodes`` (:func:`episode_frame`) shaded
    behind it."""
    import altair as alt

    line = alt.Chart(frame).mark_line(point=True, color="#c62828").encode(
        x=alt.X("time:T", title="local time", axis=alt.Axis(format="%H:%M:%S", tickCount=4)),
        y=alt.Y("bpm:Q", title="heart rate (bpm)", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("time:T", format="%H:%M:%S"),
                 alt.Tooltip("bpm:Q", format=".0f")])
    bands = _episode_layers(alt.X("start:T", title="local time"), episodes)
    return (alt.layer(*bands, line) if bands else line).properties(height=height_px)
