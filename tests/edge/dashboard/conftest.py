"""Fixtures of the dashboard tests.

Only the tests that render with Streamlit (``test_app``, ``test_app_browser``, ``test_views``)
skip when it is not installed; state, feeds, monitor, charts, report, config and the command
line are tested without it (``test_without_streamlit`` proves it)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _stop_monitors():
    """Stop the background monitors an app test started (they poll files every 0.1 s)."""
    yield
    from edge.dashboard.monitor import stop_all_monitors

    stop_all_monitors()
