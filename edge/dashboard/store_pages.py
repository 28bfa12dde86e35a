"""The database pages (Streamlit): the **ward overview** of every device (last heart rate,
rhythm, active alarms first, link and signal state) and a **wearer's history** (alarm
timeline, heart-rate trend, AF burden, the stored strip around each alarm), read from the
event store that ``ecg-edge ingest`` fills (``--db URL``)."""
from __future__ import annotations

import time

import streamlit as st

from edge.dashboard.ward import (
    alarm_lines,
    alert_table,
    beats_chart,
    hr_trend_chart,
    strip_chart_db,
    ward_table,
)
from edge.errors import EdgeError
from edge.store import EventStore
from edge.store.history import device_history, hr_series, strip_around, ward_overview

__all__ = ["render_ward", "render_wearer", "WINDOWS"]

#: History windows offered (label -> seconds).
WINDOWS = {"6 h": 6 * 3600.0, "24 h": 86400.0, "7 days": 7 * 86400.0}


def _open(db: str) -> EventStore | None:
    try:
        return EventStore.open(db, must_exist=True)
    except EdgeError as exc:
        st.error(f"**Cannot open the event store** — {exc}")
        return None


def render_ward(db: str, refresh_s: float = 5.0) -> None:
    """The ward overview, redrawn every ``refresh_s`` seconds."""
    st.title("Ward overview")

    @st.fragment(run_every=refresh_s)
    def ward() -> None:
        store = _open(db)
        if store is None:
            return
        try:
            with store:
                rows = ward_overview(store, 86400.0)
        except EdgeError as exc:  # a damaged file found by the query, not at open
            _read_error(exc)
            return
        for severity, text in alarm_lines(rows):
            (st.error if severity == "alarm" else st.warning)(text, icon=":material/alarm:")
        if not rows:
            st.info("No device has sent events in the last 24 h.")
            return
        st.table(ward_table(rows).set_index("device"))
        links = " · ".join(f"[device {r.device_id}](?page=wearer&device={r.device_id})"
                           for r in rows)
        st.markdown(f"History: {links}")
        st.caption(f"{len(rows)} devices seen in the last 24 h · updated "
                   f"{time.strftime('%H:%M:%S')} · local clock time")

    ward()


def _read_error(exc: EdgeError) -> None:
    st.error(f"**Cannot read the event store** — {exc}. Nothing below this point is shown: "
             "a damaged database file (a failing SD card?) must be restored or replaced.")


def render_wearer(db: str) -> None:
    """One wearer's history (device from ``?device=``, else a choice)."""
    st.title("Wearer history")
    store = _open(db)
    if store is None:
        return
    try:
        with store:
            _wearer(store)
    except EdgeError as exc:  # a damaged file found by a query, not at open
        _read_error(exc)


def _wearer(store: EventStore) -> None:
    """:func:`render_wearer`'s page over an open store."""
    devices = [r.device_id for r in ward_overview(store, WINDOWS["7 days"])]
    if not devices:
        st.info("No device has sent events in the last 7 days.")
        return
    wanted = st.query_params.get("device")
    index = devices.index(int(wanted)) if wanted and wanted.isdigit() and \
        int(wanted) in devices else 0
    c1, c2 = st.columns(2)
    device = c1.selectbox("Device", devices, index=index, key="ecg_wearer_device")
    window = c2.radio("Window", list(WINDOWS), index=1, horizontal=True,
                      key="ecg_wearer_window")
    if str(device) != wanted:
        st.query_params["device"] = str(device)
    since_s = WINDOWS[window]
    reports = device_history(store, since_s, device=device)
    if not reports:
        st.info(f"Device {device}: no events in the last {window}.")
        return
    r = reports[0]
    series = hr_series(store, device, since_s)
    af = r["af_burden"]
    m = st.columns(4)
    m[0].metric("Beats", f"{r['beats_total']:,}")
    m[1].metric("AF burden", "-" if af["time"] is None else f"{100 * af['time']:.1f} %",
                help="share of analysed time in AF or flutter, as the device counts it "
                     "(each beat with a readable rhythm brings its preceding interval); "
                     + ("" if af["beats"] is None else
                        f"{100 * af['beats']:.1f} % of {af['beats_with_rhythm']:,} beats"))
    m[2].metric("Alerts", len(r["alerts"]))
    m[3].metric("Missing events", r["gaps"]["missing_events"],
                help="holes in the gateway's sequence numbers")
    st.subheader("Heart rate")
    if series:
        st.altair_chart(hr_trend_chart(series, r["hr_hourly"]), width="stretch")
    else:
        st.caption("no heart-rate values in this window")
    left, right = st.columns([2, 1])
    with left:
        st.subheader("Alarm timeline")
        if r["alerts"]:
            st.table(alert_table(r["alerts"]))
        else:
            st.caption("no alerts in this window")
    with right:
        st.subheader("Beats per class")
        if r["beats"]:
            st.altair_chart(beats_chart(r["beats"]), width="stretch")
        g = r["gaps"]
        st.caption(f"{len(g['link'])} link gaps · {len(g['silences'])} silences over "
                   f"2 min · {g['missing_events']} events missing")
    st.subheader("ECG around each alarm")
    shown = 0
    for a in [a for a in r["alerts"] if a["state"] in ("onset", "event")][-6:][::-1]:
        s = strip_around(store, device, a["boot"], a["sample_index"])
        title = (f"{a['kind']} {a['state']} "
                 f"{time.strftime('%H:%M:%S', time.localtime(a['time_s']))}")
        if s is None:
            st.caption(f"{title}: strip not stored (retention, or strips not sent)")
            continue
        st.altair_chart(strip_chart_db(s, title), width="stretch")
        shown += 1
    if not shown and not r["alerts"]:
        st.caption("no alarms in this window")

