"""Fixtures shared by the device-side tests (sinks, store, dashboard)."""
from __future__ import annotations

import pytest

from tests.edge.sinks.broker_support import Broker, need_mosquitto


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port (skips when it is not installed)."""
    need_mosquitto()
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()
