"""Streamlit render functions of the live view (one device panel, the alarm banner, the
no-data / disconnected states and the feed status).

Everything here reads :class:`~edge.dashboard.state.DeviceSnapshot` objects and feed statuses;
nothing reads events or files. The app calls :func:`render_live` inside
``st.fragment(run_every=...)`` so only this part of the page is redrawn.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence

import streamlit as st

from edge.dashboard.charts import (
    CLASS_NAMES,
    episode_frame,
    hr_chart,
    hr_frame,
    strip_chart,
    strip_frames,
)
from edge.dashboard.config import DashboardConfig
from edge.dashboard.feeds import FeedStatus
from edge.dashboard.state import BEAT_CLASSES, AlertRecord, DeviceSnapshot, RhythmEpisode

__all__ = [
    "ALERT_NAMES",
    "alert_title",
    "burden_text",
    "clock",
    "episode_rows",
    "malformed_text",
    "render_alarm_banner",
    "render_device",
    "render_feed_status",
    "render_live",
    "render_rhythm",
    "rhythm_text",
]

logger = logging.getLogger(__name__)

#: Plain names of the alert kinds.
ALERT_NAMES = {"v_run": "ventricular run", "bigeminy": "ventricular bigeminy",
               "trigeminy": "ventricular trigeminy", "bradycardia": "bradycardia",
               "tachycardia": "tachycardia", "pause": "pause",
               "vflutter": "ventricular flutter / fibrillation", "afib": "atrial fibrillation",
               "aflutter": "atrial flutter", "svt": "supraventricular tachycardia",
               "vfib": "ventricular fibrillation / flutter",
               "vt": "ventricular tachycardia", "asystole": "asystole (no heartbeat)"}

_BADGE = {"N": "green", "S": "orange", "V": "red", "F": "violet", "Q": "gray"}
_QUALITY_BADGE = {"good": "green", "noisy": "orange", "saturated": "red", "lead_off": "red",
                  "link_gap": "orange"}
_LINK_BADGE = {"connected": "green", "connecting": "orange", "reconnecting": "orange",
               "gap": "orange", "rate_change": "blue", "disconnected": "red", "closed": "red",
               "alarms_delayed": "red", "alarms_delivered": "green", "stalled": "red",
               "resumed": "green"}
#: How long a single-occurrence alert (pause) stays in the banner (s).
RECENT_EVENT_S = 60.0


def clock(unix_s: float | None, *, tenths: bool = False) -> str:
    """Local clock time ``HH:MM:SS`` (``--:--:--`` when unknown)."""
    if unix_s is None or not math.isfinite(unix_s):
        return "--:--:--"
    text = time.strftime("%H:%M:%S", time.localtime(unix_s))
    return f"{text}.{int((unix_s % 1) * 10)}" if tenths else text


def alert_title(a: AlertRecord) -> str:
    """e.g. ``ventricular run (VT, 5 beats, 150 bpm)``; an alert held under a ``vfib`` alarm
    and raised after it (``detail.chained_under``) says it began during VF, a ``vflutter``
    the VF stage graded a warning (``detail.vf_confirmed`` false) that it did not confirm, a
    ``vt`` warning (a run shorter than ``[rhythm.vt] alarm_min_beats``) that it was
    non-sustained."""
    name = ALERT_NAMES.get(a.kind, a.kind)
    d = a.detail
    bits = []
    if a.kind == "v_run" and d.get("vt"):
        bits.append("VT")
    if a.kind == "vt" and a.severity == "warning":
        bits.append("non-sustained")  # shorter than [rhythm.vt] alarm_min_beats
    if d.get("n_beats") is not None:
        bits.append(f"{d['n_beats']} beats")
    if d.get("rate_bpm") is not None:
        bits.append(f"{float(d['rate_bpm']):.0f} bpm")
    if d.get("duration_s") is not None:
        bits.append(f"{float(d['duration_s']):.1f} s")
    if d.get("rr_s") is not None and a.kind == "pause":
        bits.append(f"RR {float(d['rr_s']):.1f} s")
    if d.get("chained_under") == "vfib":
        bits.append("began during VF")  # held under the vfib alarm, raised after it
    if a.kind == "vflutter" and d.get("vf_confirmed") is False:
        bits.append("not confirmed by the VF stage")  # graded a warning ([rhythm.vflutter])
    return name + (f" ({', '.join(bits)})" if bits else "")


def burden_text(share: float | None) -> str:
    """An AF burden as a percentage: ``90 %``, ``4.2 %`` under 10 %, ``0 %``; ``--`` unknown."""
    if share is None or not math.isfinite(share):
        return "--"
    pct = 100.0 * share
    return f"{pct:.1f} %" if 0 < pct < 10 else f"{pct:.0f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--"
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{seconds / 3600:.1f} h"


#: Short names of the rhythm-episode kinds (a metric's value must fit a phone's third).
_EPISODE_SHORT = {"afib": "AF", "aflutter": "flutter"}


def rhythm_text(snap: DeviceSnapshot) -> str:
    """The current rhythm in a few words: an ongoing episode (``AF, ongoing``), else the
    latest beat's rhythm (``no AF``, ``AF``, ``flutter``, ``unreadable``), ``unknown``
    without either."""
    ongoing = snap.open_episodes
    if ongoing:
        return " + ".join(_EPISODE_SHORT.get(e.kind, e.kind) for e in ongoing) + ", ongoing"
    return {"N": "no AF", "AFIB": "AF", "AFL": "flutter",
            "NOISE": "unreadable"}.get(snap.rhythm or "", "unknown")


def episode_rows(snap: DeviceSnapshot, *, limit: int = 10) -> list[dict[str, str]]:
    """The latest ``limit`` rhythm episodes as table rows, newest first: rhythm, onset and
    end (local clock; ``ongoing``) and duration (so far, for an ongoing one)."""
    off = snap.clock_offset_s
    if off is None and snap.beats:
        off = snap.beats[-1].time_s - snap.beats[-1].t_stream_s
    now = snap.latest_t_stream_s

    def at(t: float | None) -> str:
        return clock(None if t is None or off is None else t + off)

    def row(e: RhythmEpisode) -> dict[str, str]:
        return {"rhythm": ALERT_NAMES.get(e.kind, e.kind) + (" (from beats)" if e.from_beats
                                                             else ""),
                "onset": at(e.onset_t_stream_s),
                "end": "ongoing" if e.ongoing else at(e.end_t_stream_s),
                "duration": _duration(e.duration_s(now)) + (" so far" if e.ongoing else "")}

    return [row(e) for e in reversed(snap.rhythm_episodes[-limit:])]


def render_rhythm(snap: DeviceSnapshot) -> None:
    """AF burden (last hour, whole run) and the current rhythm; nothing when the daemon does
    not analyse the rhythm."""
    if not snap.has_rhythm:
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("AF burden, last hour", burden_text(snap.af_burden_1h),
              help="share of the last hour of analysed ECG in atrial fibrillation or flutter")
    c2.metric("AF burden, whole run", burden_text(snap.af_burden_run),
              help="share of the daemon's whole run of analysed ECG in atrial fibrillation "
                   "or flutter")
    c3.metric("Rhythm", rhythm_text(snap),
              help="an open atrial fibrillation (AF) / flutter episode, else the rhythm of the "
                   "latest beat")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _stamped(event_time_s: float | None, age_s: float | None, slack_s: float) -> str:
    """`` (N ago by this clock)`` when the latest event's own time stamp is older than its
    arrival by more than ``slack_s`` (a file written earlier and read now, an outbox
    drained late): the receive age alone would read as live data. Empty otherwise, and
    when either time is unknown (clocks are not compared beyond that)."""
    if event_time_s is None or age_s is None or not math.isfinite(event_time_s):
        return ""
    by_stamp = time.time() - event_time_s
    if by_stamp - age_s <= slack_s:
        return ""
    return f" ({_age(by_stamp)} by this clock)"


def render_feed_status(config: DashboardConfig, statuses: Sequence[FeedStatus],
                       daemon_online: bool | None) -> None:
    """Where the data comes from, and whether each feed is connected (sidebar)."""
    st.markdown("**Event sources**")
    if not statuses:
        st.caption("none configured")
    for s in statuses:
        icon = ":green[:material/check_circle:]" if s.connected else ":red[:material/cancel:]"
        extra = f" — {s.detail}" if s.detail else ""
        bad = f", {s.n_bad} malformed" if s.n_bad else ""
        st.caption(f"{icon} `{s.name}`: {s.n_events} events{bad}{extra}")
    if daemon_online is not None:
        st.caption(f"daemon: {':green[online]' if daemon_online else ':red[offline]'}")


def render_alarm_banner(snaps: Sequence[DeviceSnapshot], *, now_s: float | None = None,
                        multi: bool = False) -> int:
    """Open alarms and warnings of every device, on top of the page; returns how many.

    An alarm (VT, flutter) is a red box, a warning an amber one; single-occurrence alerts
    (pause) stay for :data:`RECENT_EVENT_S` seconds.
    """
    now = time.time() if now_s is None else now_s
    n = 0
    for snap in snaps:
        who = f"device {snap.device_id}: " if multi else ""
        items = list(snap.active_alerts.values())
        items += [a for a in snap.alerts if a.state == "event"
                  and now - a.time_s <= RECENT_EVENT_S]
        for a in sorted(items, key=lambda a: (a.severity != "alarm", -a.time_s)):
            since = "since" if a.state == "onset" else "at"
            title = alert_title(a).upper() if a.severity == "alarm" else alert_title(a)
            text = f"**{who}{title}** — {since} {clock(a.time_s)}"
            if a.severity == "alarm":
                st.error(f"### ALARM: {text}", icon=":material/e911_emergency:")
            else:
                st.warning(f"Alert: {text}", icon=":material/warning:")
            n += 1
    return n


def _class_badges(counts) -> str:
    return " ".join(f":{_BADGE.get(c, 'gray')}-badge[{c} {counts.get(c, 0)}]"
                    for c in BEAT_CLASSES)


def render_device(snap: DeviceSnapshot, config: DashboardConfig, *,
                  now_monotonic_s: float | None = None) -> None:
    """One device: state warnings, heart rate, quality, link, strip, counts, beats, alerts."""
    age = snap.seconds_since_data(now_monotonic_s)
    stale = age is None or age > config.stale_after_s
    stamped = _stamped(snap.last_event_time_s, age, config.stale_after_s)
    if stale:
        st.error(f"**Disconnected** — nothing received from device {snap.device_id} for "
                 f"{_age(age).removesuffix(' ago')}; its last event is stamped "
                 f"{clock(snap.last_event_time_s)}{stamped}. The values below are not live.",
                 icon=":material/signal_disconnected:")
    elif snap.link_state in ("disconnected", "closed", "reconnecting"):
        reason = snap.link_detail or "the wearable is not sending"
        st.warning(f"Link {snap.link_state}: {reason}", icon=":material/sensors_off:")
    if snap.daemon_state == "stopped":
        st.warning("The daemon stopped (end of replay or shut down).",
                   icon=":material/stop_circle:")
    if snap.quality == "link_gap":
        st.warning("Samples were lost on the link around the last beat (**link_gap**): its "
                   "class may be wrong.", icon=":material/sensors_off:")
    elif snap.quality not in ("good", "unknown"):
        st.warning(f"Signal quality **{snap.quality}**: beat classes and rate may be wrong.",
                   icon=":material/warning:")

    hr = snap.current_hr_bpm
    trend = snap.hr_trend_bpm(config.hr_trend_s)
    c1, c2, c3 = st.columns(3)
    c1.metric("Heart rate", "-- bpm" if hr is None else f"{hr:.0f} bpm",
              delta=None if trend is None else f"{trend:+.0f} bpm",
              delta_color="off", help=f"trend: change over the last {config.hr_trend_s:.0f} s",
              chart_data=[round(float(v)) for v in snap.hr_bpm[-60:] if math.isfinite(v)]
              or None)
    c2.metric("Signal quality", snap.quality)
    c3.metric("Link", snap.link_state, help=snap.link_detail or None)
    st.caption(f":{_QUALITY_BADGE.get(snap.quality, 'gray')}-badge[quality {snap.quality}] "
               f":{_LINK_BADGE.get(snap.link_state, 'gray')}-badge[link {snap.link_state}] "
               f"last received {_age(age)}{stamped} · {snap.n_events} events"
               + (f" · {snap.lost_messages} lost" if snap.lost_messages else "")
               + (f" · model {snap.model_version}" if snap.model_version else ""))
    render_rhythm(snap)

    strip, beats = strip_frames(snap, config.window_s)
    st.markdown(f"**ECG, last {config.window_s:g} s** (R peaks coloured by class"
                + ("; atrial fibrillation / flutter shaded" if snap.has_rhythm else "") + ")")
    if strip.empty:
        st.info("No ECG strip received yet (the daemon sends one piece per second; "
                "`outputs.strip` must be on).", icon=":material/hourglass_empty:")
    else:
        t_end = float(strip["t_stream_s"].max())
        episodes = episode_frame(snap, float(strip["t_stream_s"].min()), t_end)
        st.altair_chart(strip_chart(strip, beats, episodes=episodes), width="stretch")
        in_view = {c: int((beats["label"] == c).sum()) for c in BEAT_CLASSES} \
            if not beats.empty else {}
        shown = ", ".join(f"{n} {c}" for c, n in in_view.items() if n) or "none"
        bands = "; ".join(f"{b.band} {b.shown_s:.0f} s" for b in episodes.itertuples())
        st.caption(f"R peaks on screen: {shown}"
                   + (f" · rhythm on screen: {bands}" if bands else ""))

    st.markdown("**Beats per class** (since start)  \n" + _class_badges(snap.counts))
    recent = list(snap.beats)[-8:]
    if recent:
        st.markdown("**Latest beats**  \n" + " ".join(
            f":{_BADGE.get(b.label, 'gray')}-badge[{clock(b.time_s)} {b.label}"
            f"{'' if math.isnan(b.proba) else f' {b.proba:.2f}'}]" for b in reversed(recent)))
        last_v = next((b for b in reversed(snap.beats) if b.label == "V"), None)
        if last_v is not None:
            st.caption(f"last V beat ({CLASS_NAMES['V']}) at {clock(last_v.time_s)}")

    hrf = hr_frame(snap)
    if hrf["bpm"].notna().sum() >= 2:
        st.markdown("**Heart-rate trend** (last 10 min)")
        t_end = float(snap.hr_t_stream_s[-1])
        st.altair_chart(hr_chart(hrf, episodes=episode_frame(snap, t_end - 600.0, t_end)),
                        width="stretch")

    if snap.rhythm_episodes:
        st.markdown("**Rhythm episodes**")
        st.table(episode_rows(snap), hide_index=True)

    st.markdown("**Alerts**")
    if not snap.alerts:
        st.caption("no alerts")
    else:
        rows = [{"time": clock(a.time_s), "alert": alert_title(a), "state": a.state,
                 "severity": a.severity} for a in reversed(list(snap.alerts)[-20:])]
        st.table(rows, hide_index=True)


def malformed_text(malformed: Mapping[str, int]) -> str:
    """e.g. ``3 malformed messages ignored (field label 2, not a JSON object 1)``; ``""``
    when there were none."""
    n = sum(malformed.values())
    if not n:
        return ""
    kinds = ", ".join(f"{kind} {count}" for kind, count in malformed.items())
    return f"{n} malformed message{'s' if n != 1 else ''} ignored ({kinds})"


def render_live(config: DashboardConfig, snaps: Sequence[DeviceSnapshot],
                statuses: Sequence[FeedStatus], daemon_online: bool | None, *,
                selected: int | None = None, malformed: Mapping[str, int] | None = None
                ) -> None:
    """The live view: empty state, or the alarm banner, a device picker (several devices)
    and the device panel; ``malformed`` (refused payloads by kind) is shown as a count."""
    bad = malformed_text(malformed or {})
    if bad:
        st.caption(f":orange-badge[:material/report: {bad}] — the first of each kind is in "
                   f"the dashboard's log; the numbers shown come only from valid events")
    if not statuses:
        st.info("**No event source configured.** Start the dashboard with `--jsonl PATH` "
                "(the daemon's `ecg-edge run --jsonl PATH`) and/or `--mqtt HOST[:PORT]`.",
                icon=":material/info:")
        return
    if daemon_online is False:
        st.error("**Daemon offline** — the edge daemon's MQTT last will says it is gone.",
                 icon=":material/signal_disconnected:")
    if not snaps:
        waiting = "; ".join(f"{s.name}: {s.detail or ('connected' if s.connected else 'down')}"
                            for s in statuses)
        st.warning(f"**No data yet** — waiting for events ({waiting}).",
                   icon=":material/hourglass_empty:")
        return
    render_alarm_banner(snaps, multi=len(snaps) > 1)
    by_id = {s.device_id: s for s in snaps}
    if len(snaps) > 1:
        st.table([{"device": s.device_id,
                   "HR (bpm)": "--" if s.current_hr_bpm is None else f"{s.current_hr_bpm:.0f}",
                   "quality": s.quality, "link": s.link_state,
                   "alarms": ", ".join(ALERT_NAMES.get(k, k) for k in s.active_alerts) or "-",
                   "last data": _age(s.seconds_since_data())} for s in snaps],
                 hide_index=True)
    dev = snaps[0].device_id
    if len(snaps) > 1:
        dev = st.radio("Device", list(by_id), horizontal=True, key="ecg_device",
                       index=list(by_id).index(selected) if selected in by_id else 0)
    st.subheader(f"Device {dev}")
    render_device(by_id[dev], config)

