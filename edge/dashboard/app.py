"""The ecg-edge dashboard: Streamlit entry point.

Run::

    ecg-edge dashboard --jsonl events.jsonl [--mqtt HOST[:PORT]] [--report DIR]
    streamlit run edge/dashboard/app.py -- --jsonl events.jsonl --mqtt localhost:1883

Two pages (sidebar, or ``?page=report`` in the address): the **live view** (redrawn every
``--refresh-s`` seconds by ``st.fragment(run_every=...)``, without reloading the page) and the
**evaluation report**. The event feeds are read by one background :class:`Monitor` per server
process (``st.cache_resource``), shared by every browser session.

Tests inject a :class:`~edge.dashboard.config.DashboardConfig` through
``st.session_state[CONFIG_KEY]`` instead of command-line arguments (Streamlit's ``AppTest``).
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `streamlit run edge/dashboard/app.py`: make `edge` importable
    _repo = str(Path(__file__).resolve().parents[2])
    if _repo not in sys.path:
        sys.path.insert(0, _repo)

import streamlit as st

from edge.dashboard.config import DashboardConfig, parse_app_args
from edge.dashboard.feeds import JsonlFollower, MqttFeed
from edge.dashboard.monitor import Monitor, register_monitor
from edge.dashboard.report_page import render_report
from edge.dashboard.state import MonitorState
from edge.dashboard.views import render_feed_status, render_live
from edge.errors import ConfigError

__all__ = ["CONFIG_KEY", "PAGES", "get_monitor", "main"]

logger = logging.getLogger(__name__)

#: ``st.session_state`` key of an injected :class:`DashboardConfig` (tests).
CONFIG_KEY = "ecg_dashboard_config"

#: Page keys (``?page=...``) and titles.
PAGES = {"live": "Live monitor", "ward": "Ward overview", "wearer": "Wearer history",
         "report": "Evaluation report"}


def _build_monitor(config: DashboardConfig) -> Monitor:
    feeds = []
    if config.jsonl is not None:
        feeds.append(JsonlFollower(config.jsonl))
    if config.mqtt is not None:
        feeds.append(MqttFeed(config.mqtt))
    monitor = Monitor(MonitorState(config.state), feeds,
                      poll_interval_s=config.poll_interval_s)
    return register_monitor(monitor.start())


@st.cache_resource(show_spinner=False)
def _cached_monitor(key: str, _config: DashboardConfig) -> Monitor:
    return _build_monitor(_config)


def get_monitor(config: DashboardConfig) -> Monitor:
    """The server-wide monitor for ``config`` (created and started on first use)."""
    return _cached_monitor(repr(config), config)


def _config() -> DashboardConfig:
    injected = st.session_state.get(CONFIG_KEY)
    if isinstance(injected, DashboardConfig):
        return injected
    return parse_app_args(sys.argv[1:])


def _page_from_query(default: str = "live") -> str:
    page = st.query_params.get("page", default)
    return page if page in PAGES else default


def main() -> None:
    """Render the app (called on every script run)."""
    st.set_page_config(page_title="ecg-edge monitor", page_icon=":material/ecg_heart:",
                       layout="wide", initial_sidebar_state="auto")
    try:
        config = _config()
    except ConfigError as exc:
        st.error(f"**Bad dashboard arguments** — {exc}")
        st.stop()
    # with only a database, the ward overview is the first page
    default = "ward" if config.db and config.jsonl is None and config.mqtt is None else "live"
    with st.sidebar:
        st.markdown("### :material/ecg_heart: ecg-edge")
        keys = list(PAGES)
        page = st.radio("Page", keys, index=keys.index(_page_from_query(default)),
                        format_func=PAGES.get, key="ecg_page")
        if page != _page_from_query(default):
            st.query_params["page"] = page
    if page == "report":
        render_report(config.report_dir)
        return
    if page in ("ward", "wearer"):
        if config.db is None:
            st.title(PAGES[page])
            st.info("These pages read the event store that `ecg-edge ingest` fills: start "
                    "the dashboard with `--db URL` (an SQLite file or postgresql://...).")
            return
        from edge.dashboard.store_pages import render_ward, render_wearer

        if page == "ward":
            render_ward(config.db)
        else:
            render_wearer(config.db)
        return

    monitor = get_monitor(config)
    with st.sidebar:
        status_box = st.container()
        st.caption(f"refresh every {config.refresh_s:g} s · strip window {config.window_s:g} s"
                   " · times are local clock time")

    st.title("Live ECG monitor")

    @st.fragment(run_every=config.refresh_s)
    def live() -> None:
        t0 = time.perf_counter()
        render_live(config, monitor.state.snapshots(), monitor.feed_statuses(),
                    monitor.state.daemon_online, malformed=monitor.malformed_counts())
        st.caption(f"updated {time.strftime('%H:%M:%S')} · "
                   f"{(time.perf_counter() - t0) * 1000:.0f} ms")

    live()
    with status_box:
        render_feed_status(config, monitor.feed_statuses(), monitor.state.daemon_online)


main()
