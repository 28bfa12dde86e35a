"""The dashboard's background worker: polls the event feeds into a :class:`MonitorState`.

One :class:`Monitor` per Streamlit server process (the app caches it with
``st.cache_resource``), shared by every browser session: feeds are read once, whatever the
number of viewers, and keep being read while no one watches (so alerts are not missed).

Lifecycle: construct, :meth:`Monitor.start` (one synchronous poll, then a daemon thread),
:meth:`Monitor.stop`.
"""
from __future__ import annotations

import logging
import math
import threading
import weakref
from collections import Counter
from collections.abc import Sequence

from edge.dashboard.feeds import EventFeed, FeedStatus
from edge.dashboard.state import MonitorState
from edge.errors import ConfigError

__all__ = ["Monitor", "register_monitor", "stop_all_monitors"]

logger = logging.getLogger(__name__)


class Monitor:
    """Feeds -> state, every ``poll_interval_s`` seconds in a background thread.

    Parameters
    ----------
    state : where events go.
    feeds : event sources (JSONL, MQTT, or test fakes).
    poll_interval_s : pause between polls (s).
    """

    def __init__(self, state: MonitorState, feeds: Sequence[EventFeed], *,
                 poll_interval_s: float = 0.1) -> None:
        if not (math.isfinite(poll_interval_s) and poll_interval_s > 0):
            raise ConfigError("poll_interval_s", f"must be > 0 s, got {poll_interval_s!r}")
        self.state = state
        self.feeds = list(feeds)
        self.poll_interval_s = float(poll_interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()
        self.n_polls = 0

    def poll_once(self) -> int:
        """Poll every feed once; returns the number of events applied."""
        n = 0
        with self._poll_lock:
            for feed in self.feeds:
                try:
                    events = feed.poll()
                except Exception:  # a broken feed must not stop the others
                    logger.exception("polling %s failed", feed.name)
                    continue
                n += self.state.apply_many(events)
            self.n_polls += 1
        return n

    def _run(self) -> None:
        while not self._stop.is_set():
            n = self.poll_once()
            if n == 0:
                self._stop.wait(self.poll_interval_s)

    def start(self) -> Monitor:
        """Poll once now, then keep polling in a daemon thread; returns ``self``."""
        if self._thread is not None:
            return self
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="ecg-dashboard-monitor",
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the polling thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def feed_statuses(self) -> list[FeedStatus]:
        """Status of every feed."""
        return [f.status() for f in self.feeds]

    def malformed_counts(self) -> dict[str, int]:
        """Payloads refused so far, by kind, over every feed and the state (most frequent
        first); empty when everything decoded."""
        total: Counter[str] = Counter(self.state.rejects.by_kind())
        for status in self.feed_statuses():
            total.update(status.malformed)
        return dict(total.most_common())

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop polling and close the feeds; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        for feed in self.feeds:
            try:
                feed.close()
            except Exception:  # closing is best effort
                logger.exception("closing %s failed", feed.name)


_REGISTRY: weakref.WeakSet[Monitor] = weakref.WeakSet()


def register_monitor(monitor: Monitor) -> Monitor:
    """Remember ``monitor`` so :func:`stop_all_monitors` can stop it; returns it."""
    _REGISTRY.add(monitor)
    return monitor


def stop_all_monitors() -> int:
    """Stop every registered monitor (tests, server shutdown); returns how many."""
    monitors = list(_REGISTRY)
    for m in monitors:
        m.stop()
    _REGISTRY.clear()
    return len(monitors)
