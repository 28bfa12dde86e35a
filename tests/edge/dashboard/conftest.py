"""Fixtures of the dashboard tests."""
from __future__ import annotations

import pytest

pytest.importorskip("streamlit")


@pytest.fixture(autouse=True)
def _stop_monitors():
    """Stop the background monitors an app test started (they poll files every 0.1 s)."""
    yield
    from edge.dashboard.monitor import stop_all_monitors

    stop_all_monitors()
