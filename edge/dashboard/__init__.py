"""The live monitoring dashboard (Streamlit) and the model report page.

Modules, one job each::

    state.py    bounded per-device buffers filled from daemon events (MonitorState)
    feeds.py    event sources: JSONL tail-follow (JsonlFollower), MQTT subscriber (MqttFeed)
    monitor.py  background worker polling the feeds into the state (Monitor)
    config.py   the dashboard's settings and the app's command line (DashboardConfig)
    charts.py   chart data and Altair charts (ECG strip with classified R peaks, HR trend)
    views.py    Streamlit render functions of the live view
    report.py   the evaluation report page (reads training.evaluate's files)
    app.py      the Streamlit script (``streamlit run edge/dashboard/app.py -- ...``)
    cli.py      ``ecg-edge dashboard`` (launches streamlit, localhost by default)

Importing this package does not import Streamlit (``views``, ``report`` and ``app`` do).
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
