"""The dashboard package's public API, and what importing it pulls in."""
from __future__ import annotations

import subprocess
import sys

import edge.dashboard


def test_public_api_is_locked():
    assert set(edge.dashboard.__all__) == {
        "DashboardConfig", "parse_app_args", "EventFeed", "FeedStatus", "JsonlFeedConfig",
        "JsonlFollower", "MqttFeedConfig", "MqttFeed", "Monitor", "StateConfig",
        "MonitorState", "DeviceSnapshot", "BeatMark", "AlertRecord"}
    for name in edge.dashboard.__all__:
        assert hasattr(edge.dashboard, name), name


def test_importing_the_package_needs_neither_streamlit_nor_tensorflow():
    code = ("import sys, edge.dashboard, edge.dashboard.cli\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('streamlit', 'tensorflow', 'keras', 'paho')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
