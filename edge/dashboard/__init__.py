"""The live monitoring dashboard (Streamlit) and the model report page.

Modules, one job each::

    state.py    bounded per-device buffers filled from daemon events (MonitorState)
    feeds.py    event sources: JSONL tail-follow (JsonlFollower), MQTT subscriber (MqttFeed);
                every payload decoded strictly (edge.events.decode)
    rejects.py  malformed payloads counted by kind, logged once per kind (Rejects)
    monitor.py  background worker polling the feeds into the state (Monitor)
    config.py   the dashboard's settings and the app's command line (DashboardConfig)
    charts.py   chart data and Altair charts (ECG strip with classified R peaks, HR trend)
    views.py    Streamlit render functions of the live view
    report.py   reading an evaluation report (the files training.evaluate writes)
    report_page.py  the evaluation report page (Streamlit)
    app.py      the Streamlit script (``streamlit run edge/dashboard/app.py -- ...``)
    cli.py      ``ecg-edge dashboard`` (launches streamlit, localhost by default)

Importing this package does not import Streamlit (``views``, ``report_page`` and ``app`` do);
everything but those three is tested without it.
"""
from __future__ import annotations

from edge.dashboard.config import DashboardConfig, parse_app_args
from edge.dashboard.feeds import (
                                  EventFeed,
                                  FeedStatus,
                                  JsonlFeedConfig,
                                  JsonlFollower,
                                  MqttFeed,
                                  MqttFeedConfig,
)
from edge.dashboard.monitor import Monitor
from edge.dashboard.state import (
                                  AlertRecord,
                                  BeatMark,
                                  DeviceSnapshot,
                                  MonitorState,
                                  StateConfig,
)

__all__ = [
                                  "AlertRecord",
                                  "BeatMark",
                                  "DashboardConfig",
                                  "DeviceSnapshot",
                                  "EventFeed",
                                  "FeedStatus",
                                  "JsonlFeedConfig",
                                  "JsonlFollower",
                                  "Monitor",
                                  "MonitorState",
                                  "MqttFeed",
                                  "MqttFeedConfig",
                                  "StateConfig",
                                  "parse_app_args",
]
