"""The dashboard's rhythm view on a live MQTT feed it joins mid-episode: a real daemon
(``ecg-edge run --replay 201 --mqtt``) publishes to a real Mosquitto; one dashboard state
follows from the start, a second subscribes only after the ``afib`` onset went out (MQTT does
not retain alerts). The late one must still show the episode as ongoing (opened from the beats'
``rhythm``) and the AF burden, and both must end it when the replay ends."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from edge.dashboard.feeds import MqttFeed, MqttFeedConfig
from edge.dashboard.state import MonitorState
from tests.edge.runtime.daemon_support import REPO, subprocess_env


def _poll(feed: MqttFeed, state: MonitorState) -> None:
    state.apply_many(feed.poll())


def _until(feeds, predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for feed, state in feeds:
            _poll(feed, state)
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_dashboard_joining_mid_episode_shows_it_from_the_beats(int8_model, mitdb_dir,
                                                                   broker):
    port = broker.port
    feeds: list[MqttFeed] = []
    daemon = None

    def feed() -> MqttFeed:
        f = MqttFeed(MqttFeedConfig(host="127.0.0.1", port=port, topic_prefix="ecg"))
        feeds.append(f)
        deadline = time.monotonic() + 10
        while not f.wait_connected(0.2) and time.monotonic() < deadline:
            pass
        assert f.connected, f.status()
        return f

    try:
        early, early_state = feed(), MonitorState()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "--replay", "201", "--speed", "8",
             "--set", "source.replay.duration_s=150", "--set", "outputs.strip=false",
             "--set", "outputs.status_interval_s=0.5", "--model", str(int8_model),
             "--mqtt", f"127.0.0.1:{port}", "--quiet"],
            cwd=REPO, env={**subprocess_env(), "MITDB_DIR": str(mitdb_dir)},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def onset_seen() -> bool:
            snap = early_state.snapshot(1)
            return snap is not None and bool(snap.open_episodes)

        _until([(early, early_state)], onset_seen, 60, "the afib onset (first subscriber)")
        (onset,) = early_state.snapshot(1).open_episodes
        assert not onset.from_beats  # the first subscriber got the alert

        late, late_state = feed(), MonitorState()  # joins after the onset was published

        def late_shows_episode() -> bool:
            snap = late_state.snapshot(1)
            # the retained status may predate the onset (burden 0): wait for a fresh one
            return snap is not None and bool(snap.open_episodes) \
                and snap.af_burden_1h is not None and snap.af_burden_1h > 0.0

        both = [(early, early_state), (late, late_state)]
        _until(both, late_shows_episode, 60, "the episode and burden at the late subscriber")
        (ep,) = late_state.snapshot(1).open_episodes
        assert ep.from_beats and ep.kind == "afib"
        assert ep.onset_t_stream_s > onset.onset_t_stream_s  # it saw only later beats
        assert late_state.snapshot(1).af_burden_1h > 0.0
        assert not any(a.kind == "afib" for a in late_state.snapshot(1).alerts)

        def ended() -> bool:
            snaps = [st.snapshot(1) for _, st in both]
            return all(s.daemon_state == "stopped" and s.rhythm_episodes
                       and not s.open_episodes for s in snaps)

        _until(both, ended, 90, "the end of the replay at both subscribers")
        assert daemon.wait(30) == 0, daemon.stderr.read()
        for _, st in both:
            (done,) = st.snapshot(1).rhythm_episodes
            assert done.end_t_stream_s == pytest.approx(150.0, abs=0.01)  # end of stream
            assert st.snapshot(1).af_burden_run > 0.5
        assert late_state.snapshot(1).af_burden_run == early_state.snapshot(1).af_burden_run
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(10)
        for f in feeds:
            f.close()
