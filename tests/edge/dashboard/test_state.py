"""MonitorState: events in, bounded per-device buffers out."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from edge.dashboard.state import MonitorState, StateConfig
from edge.errors import ConfigError
from edge.events.decode import parse_event
from edge.events.model import Presence
from tests.edge.dashboard.support import STRIP_FS_HZ, EventMaker


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_session_fills_strip_beats_hr_counts():
    mk = EventMaker()
    st = MonitorState()
    assert st.apply_many(mk.session(12)) == 1 + 12 * 2 + 6  # link, strips + beats, rates
    snap = st.snapshot(1)
    assert st.device_ids() == [1]
    assert snap.strip_mv.size == 12 * 90
    np.testing.assert_allclose(np.diff(snap.strip_t_stream_s), 1 / STRIP_FS_HZ, atol=1e-9)
    assert snap.counts["V"] == 3 and snap.counts["N"] == 9 and list(snap.counts)[:5] == \
        list("NSVFQ")
    assert snap.current_hr_bpm == 81.0
    assert snap.hr_trend_bpm(60.0) == pytest.approx(81.0 - 71.0)  # earliest available
    assert snap.link_state == "connected" and snap.quality == "good"
    assert snap.lost_messages == 0
    # the strip maps stream time onto the wall clock of its emission
    assert snap.clock_offset_s == pytest.approx(mk.t0_s)


def test_memory_stays_bounded_over_hours():
    """Three hours of events (a strip piece and ~1.2 beats per second) fill the buffers to
    their capacities and no further."""
    cfg = StateConfig(strip_history_s=30.0, max_beats=300, max_hr_points=500, max_alerts=50)
    st = MonitorState(cfg)
    mk = EventMaker()
    sizes = []
    for k in range(3 * 3600):
        st.apply(mk.strip(float(k)))
        st.apply(mk.beat(k + 0.1, "V" if k % 7 == 0 else "N"))
        if k % 5 == 0:
            st.apply(mk.hr(k + 0.5, 72.0))
        if k % 60 == 0:
            st.apply(mk.alert(k + 0.2, "pause", "event", "warning", rr_s=2.5))
        if k in (5400, 3 * 3600 - 1):
            sizes.append(st.memory_bytes())
    snap = st.snapshot(1)
    assert sizes[0] == sizes[1]  # flat after the buffers filled
    assert snap.strip_mv.size <= cfg.strip_capacity
    # capacity is strip_history_s at the highest accepted rate (360 Hz): 120 s at 90 Hz
    assert snap.strip_t_stream_s[-1] - snap.strip_t_stream_s[0] <= cfg.strip_capacity / STRIP_FS_HZ
    assert len(snap.beats) == 300 and snap.hr_bpm.size == 500 and len(snap.alerts) == 50
    assert snap.counts["V"] + snap.counts["N"] == 3 * 3600  # counts are plain integers
    assert np.all(np.diff(snap.strip_t_stream_s) > 0)


def test_ring_buffer_wraps_in_order():
    st = MonitorState(StateConfig(strip_history_s=2.0, max_strip_fs_hz=90.0))
    mk = EventMaker()
    for k in range(7):
        st.apply(mk.strip(k * 0.5, n=45, values=list(np.arange(45) + 100 * k)))
    snap = st.snapshot(1)
    assert snap.strip_mv.size == StateConfig(strip_history_s=2.0,
                                             max_strip_fs_hz=90.0).strip_capacity
    assert np.all(np.diff(snap.strip_t_stream_s) > 0)
    assert snap.strip_mv[-1] == 644.0


def test_strip_gap_breaks_the_line_and_invalid_samples_are_nan():
    st = MonitorState()
    mk = EventMaker()
    st.apply(mk.strip(0.0, n=4, values=[0.1, None, 0.3, 0.4]))
    st.apply(mk.strip(5.0, n=2, values=[1.0, 1.1]))
    snap = st.snapshot(1)
    assert np.isnan(snap.strip_mv[1])
    assert snap.strip_mv.size == 4 + 1 + 2 and np.isnan(snap.strip_mv[4])


def test_alert_onset_end_and_single_events():
    st = MonitorState()
    mk = EventMaker()
    st.apply(mk.alert(1.0, "v_run", "onset", "alarm", vt=True))
    st.apply(mk.alert(2.0, "pause", "event", "warning", rr_s=2.6))
    assert set(st.snapshot(1).active_alerts) == {"v_run"}
    st.apply(mk.alert(3.0, "v_run", "end", "warning"))
    snap = st.snapshot(1)
    assert snap.active_alerts == {} and [a.state for a in snap.alerts] == ["onset", "event",
                                                                           "end"]


def test_lost_messages_from_sequence_holes_and_reordering():
    st = MonitorState()
    mk = EventMaker()
    events = mk.session(5)
    del events[3]
    st.apply_many(reversed(events))  # MQTT topics are not ordered with each other
    assert st.snapshot(1).lost_messages == 1


def test_daemon_restart_clears_the_stream():
    st = MonitorState(StateConfig(restart_seq_margin=10))
    old = EventMaker()
    st.apply_many(old.session(20))
    new = EventMaker(t0_s=old.t0_s + 100)
    st.apply_many(new.session(2, v_every=0))
    snap = st.snapshot(1)
    assert snap.counts["V"] == 0 and snap.counts["N"] == 2
    assert snap.strip_t_stream_s[0] == 0.0


def test_source_link_events_of_device_0_apply_to_the_device():
    st = MonitorState()
    src = EventMaker(device_id=0)
    st.apply(src.link("connected", "record 233"))
    st.apply_many(EventMaker(device_id=1).session(2)[1:])  # no link event of its own
    assert st.device_ids() == [1]
    assert st.snapshot(1).link_state == "connected"
    assert st.snapshot(1).link_detail == "record 233"


def test_daemon_presence_online_offline():
    st = MonitorState()
    assert st.apply({"type": "presence", "state": "offline"})
    assert st.daemon_online is False
    assert st.apply(Presence(state="online", boot=2))
    assert st.daemon_online is True
    assert st.device_ids() == []


def test_bad_events_are_counted_by_kind_and_change_nothing(caplog):
    """Dicts are decoded strictly: what the loose parser turned into numbers (a string rate,
    an unknown class, a strip faster than the buffer) is refused, counted and logged once."""
    st = MonitorState()
    mk = EventMaker()
    beat, hr = mk.beat(1.0, "N"), mk.hr(1.5, 60.0)
    with caplog.at_level(logging.WARNING, logger="edge.dashboard.rejects"):
        assert not st.apply({"no": "type"})
        assert not st.apply({"type": "status", "state": "offline"})  # neither event nor presence
        assert not st.apply({"type": "beat", "device_id": 1})  # no label
        assert not st.apply({**beat, "label": "X"})
        assert not st.apply({**beat, "label": 5})
        assert not st.apply({**hr, "hr_bpm": "75"})
        assert not st.apply({**hr, "hr_bpm": True})
        assert not st.apply("not a mapping")
        assert not st.apply({"type": "strip", "device_id": 1, "seq": 9, "time_s": 1.0,
                             "sample_index": 0, "fs_hz": 360, "strip_fs_hz": 0,
                             "samples_mv": [1.0]})
    assert st.n_rejected == 9
    assert st.rejects.by_kind() == {"field hr_bpm": 2, "field label": 2,
                                    "field device_id": 1, "field type": 1,
                                    "field sample_index": 1, "not a JSON object": 1,
                                    "field strip_fs_hz": 1}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 7
    assert st.device_ids() == [] and st.snapshot(1) is None  # no device made up either
    assert st.apply(beat) and st.apply(hr)
    snap = st.snapshot(1)
    assert dict(snap.counts) == {"N": 1, "S": 0, "V": 0, "F": 0, "Q": 0}
    assert snap.hr_bpm.tolist() == [60.0]


def test_a_strip_faster_than_the_buffer_is_refused_not_squeezed():
    st = MonitorState(StateConfig(max_strip_fs_hz=50.0))
    assert not st.apply(EventMaker().strip(0.0))  # 90 Hz
    assert st.rejects.by_kind() == {"strip rate": 1}
    assert st.device_ids() == []


def test_every_event_type_is_applied_and_the_signal_types_derive_from_the_model():
    from edge.dashboard.state import _SIGNAL_TYPES
    from edge.events.model import EVENT_CLASSES

    mk = EventMaker()
    one_of_each = {"beat": mk.beat(1.0), "hr": mk.hr(1.0), "alert": mk.alert(1.0),
                   "quality": mk.quality(1.0, "noisy"), "link": mk.link("connected"),
                   "strip": mk.strip(0.0), "status": mk.status()}
    assert set(one_of_each) == set(EVENT_CLASSES)  # a new type needs a line here
    st = MonitorState()
    for etype, event in one_of_each.items():
        assert st.apply(event), etype
    assert st.n_rejected == 0 and st.snapshot(1).n_events == len(one_of_each)
    assert _SIGNAL_TYPES == {"beat", "hr", "alert", "quality", "strip"}
    shown = MonitorState()  # a device that only sent link / status events is not shown
    shown.apply(EventMaker(device_id=5).link("connected"))
    shown.apply(EventMaker(device_id=5).status())
    shown.apply(EventMaker(device_id=6).beat(1.0))
    assert shown.device_ids() == [6]


def test_typed_events_are_applied_as_they_are():
    st = MonitorState()
    e = parse_event(json.dumps(EventMaker().beat(2.0, "V", p=0.8)))
    assert st.apply(e)
    snap = st.snapshot(1)
    assert snap.counts["V"] == 1 and snap.beats[0].proba == 0.8


def test_stale_detection_uses_arrival_time():
    clock = FakeClock()
    st = MonitorState(clock=clock)
    st.apply(EventMaker().hr(1.0, None))
    clock.t += 7.5
    snap = st.snapshot(1)
    assert snap.seconds_since_data(clock()) == pytest.approx(7.5)
    assert snap.current_hr_bpm is None


def test_too_many_devices_forgets_the_quietest():
    clock = FakeClock()
    st = MonitorState(StateConfig(max_devices=2), clock=clock)
    for dev in (1, 2, 3):
        clock.t += 1
        st.apply(EventMaker(device_id=dev).hr(1.0))
    assert st.device_ids() == [2, 3]


@pytest.mark.parametrize("field,value", [("strip_history_s", 0.0), ("max_beats", 0),
                                         ("max_devices", 1.5), ("max_strip_fs_hz", -1.0)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError) as err:
        StateConfig(**{field: value})
    assert err.value.field == field
