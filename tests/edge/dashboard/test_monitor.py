"""Monitor: feeds polled into the state, in a background thread."""
from __future__ import annotations

import time

import pytest

from edge.dashboard.feeds import FeedStatus
from edge.dashboard.monitor import Monitor, register_monitor, stop_all_monitors
from edge.dashboard.state import MonitorState
from edge.errors import ConfigError
from tests.edge.dashboard.support import EventMaker


class ListFeed:
    def __init__(self, batches, name="list") -> None:
        self.name = name
        self.batches = list(batches)
        self.closed = False

    def poll(self):
        return self.batches.pop(0) if self.batches else []

    def status(self):
        return FeedStatus(name=self.name, connected=True)

    def close(self):
        self.closed = True


class BrokenFeed(ListFeed):
    def poll(self):
        raise RuntimeError("boom")


def test_start_polls_once_synchronously_then_in_the_background():
    mk = EventMaker()
    feed = ListFeed([[mk.hr(1.0)], [mk.hr(2.0), mk.hr(3.0)]])
    state = MonitorState()
    mon = Monitor(state, [BrokenFeed([]), feed], poll_interval_s=0.01)
    mon.start()
    assert state.n_events >= 1  # before any thread ran
    deadline = time.monotonic() + 5
    while state.n_events < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.n_events == 3 and mon.running  # the broken feed did not stop the others
    assert [s.name for s in mon.feed_statuses()] == ["list", "list"]
    mon.stop()
    assert not mon.running and feed.closed


def test_stop_all_registered_monitors():
    mon = register_monitor(Monitor(MonitorState(), [ListFeed([])]).start())
    assert stop_all_monitors() >= 1 and not mon.running


def test_poll_interval_must_be_positive():
    with pytest.raises(ConfigError) as err:
        Monitor(MonitorState(), [], poll_interval_s=0)
    assert err.value.field == "poll_interval_s"
