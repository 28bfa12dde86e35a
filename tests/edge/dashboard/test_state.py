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


# -- rhythm episodes and AF burden (issue 15) --------------------------------------------------

def af_session(mk: EventMaker, seconds: int, *, af_from_s: float = 0.0,
               rhythm: str = "AFIB") -> list[dict]:
    """A strip piece and a beat per second; beats from ``af_from_s`` carry ``rhythm``, the
    others ``N``."""
    out = []
    for k in range(seconds):
        out.append(mk.strip(float(k)))
        out.append(mk.beat(k + 0.2, rhythm=rhythm if k + 0.2 >= af_from_s else "N"))
    return out


def test_rhythm_episode_from_onset_and_end_alerts():
    mk = EventMaker()
    st = MonitorState()
    st.apply_many(af_session(mk, 40, af_from_s=35.0, rhythm="N"))
    assert st.snapshot(1).rhythm_episodes == () and st.snapshot(1).rhythm == "N"
    # the onset is dated back to where the rhythm changed (5 s), and arrives later
    st.apply(mk.alert(5.0, "afib", "onset", "warning", p_af=0.95))
    snap = st.snapshot(1)
    (ep,) = snap.rhythm_episodes
    assert ep.kind == "afib" and ep.ongoing
    assert ep.onset_t_stream_s == pytest.approx(5.0, abs=0.01)
    assert not ep.from_beats and snap.open_episodes == (ep,)
    assert ep.duration_s(snap.latest_t_stream_s) == pytest.approx(35.0, abs=0.05)
    st.apply(mk.alert(30.0, "afib", "end", "warning", duration_s=25.0))
    (ep,) = st.snapshot(1).rhythm_episodes
    assert not ep.ongoing and ep.end_t_stream_s == pytest.approx(30.0, abs=0.01)
    assert ep.duration_s() == pytest.approx(25.0, abs=0.01)
    assert st.snapshot(1).open_episodes == ()
    # another kind is its own episode; other alert kinds are not episodes
    st.apply(mk.alert(36.0, "aflutter", "onset", "warning"))
    st.apply(mk.alert(37.0, "v_run", "onset", "alarm"))
    assert [e.kind for e in st.snapshot(1).rhythm_episodes] == ["afib", "aflutter"]


def test_an_episode_whose_onset_was_missed_opens_at_its_first_af_beat():
    """The dashboard joined mid-episode (MQTT alerts are not retained): the beats' rhythm
    opens the episode; the onset alert, if it comes late, moves it back; a beat of the
    episode arriving after its end alert (topics are not ordered) does not reopen it."""
    mk = EventMaker()
    st = MonitorState()
    st.apply_many(af_session(mk, 20, af_from_s=8.0))
    (ep,) = st.snapshot(1).rhythm_episodes
    assert ep.from_beats and ep.ongoing
    assert ep.onset_t_stream_s == pytest.approx(8.2, abs=0.01)
    st.apply(mk.alert(3.0, "afib", "onset", "warning"))
    (ep,) = st.snapshot(1).rhythm_episodes
    assert not ep.from_beats and ep.onset_t_stream_s == pytest.approx(3.0, abs=0.01)

    late_beat = mk.beat(20.2, rhythm="AFIB")  # left the daemon before the end alert
    end = mk.alert(18.0, "afib", "end", "warning", duration_s=15.0)  # dated back 2.5 s
    st.apply({**end, "time_s": late_beat["time_s"] + 0.5})  # ... emitted after the beat
    st.apply(late_beat)
    assert [e.ongoing for e in st.snapshot(1).rhythm_episodes] == [False]
    st.apply(mk.beat(40.2, rhythm="AFIB"))  # after the end: a new episode, onset missed
    first, second = st.snapshot(1).rhythm_episodes
    assert second.ongoing and second.from_beats
    assert second.onset_t_stream_s == pytest.approx(40.2, abs=0.01)


def test_an_end_without_its_onset_is_placed_by_its_duration():
    mk = EventMaker()
    st = MonitorState()
    st.apply_many(af_session(mk, 10, rhythm="N"))
    st.apply(mk.alert(9.0, "afib", "end", "warning", duration_s=6.5))
    st.apply(mk.alert(9.5, "aflutter", "end", "warning", duration_s="long"))  # not a number
    afib, afl = st.snapshot(1).rhythm_episodes
    assert afib.onset_t_stream_s == pytest.approx(2.5, abs=0.01)
    assert afib.end_t_stream_s == pytest.approx(9.0, abs=0.01)
    assert afl.onset_t_stream_s == afl.end_t_stream_s == pytest.approx(9.5, abs=0.01)


def test_a_stopped_daemon_ends_open_episodes_at_the_last_beat():
    mk = EventMaker()
    st = MonitorState()
    st.apply_many(af_session(mk, 12))
    st.apply(mk.alert(0.5, "afib", "onset", "warning"))
    st.apply(mk.status("stopped"))
    (ep,) = st.snapshot(1).rhythm_episodes
    assert not ep.ongoing and ep.end_t_stream_s == pytest.approx(11.2, abs=0.01)


def test_af_burden_from_hr_and_status_events():
    mk = EventMaker()
    st = MonitorState()
    st.apply_many(mk.session(4))
    snap = st.snapshot(1)
    assert snap.af_burden_1h is None and snap.af_burden_run is None and not snap.has_rhythm
    st.apply(mk.hr(4.5, 80.0, af_burden_1h=0.5, af_burden_run=0.25))
    snap = st.snapshot(1)
    assert (snap.af_burden_1h, snap.af_burden_run) == (0.5, 0.25) and snap.has_rhythm
    st.apply(mk.hr(5.5, 80.0))  # no burden in it (unknown): the last value stands
    assert st.snapshot(1).af_burden_1h == 0.5
    st.apply(mk.status(af_burden_1h=0.75, af_burden_run=0.5))
    assert (st.snapshot(1).af_burden_1h, st.snapshot(1).af_burden_run) == (0.75, 0.5)


def test_status_burden_table_reaches_the_other_devices():
    """A daemon with two devices: its status (sent as device 2) lists both burdens in
    ``counters.af_burden``; device 1 takes its entry, an unknown device is not created, and a
    malformed entry is counted and skipped."""
    one, two = EventMaker(device_id=1), EventMaker(device_id=2)
    st = MonitorState()
    st.apply_many(one.session(3) + two.session(3))
    table = {"1": {"af_burden_1h": 0.9, "af_burden_run": 0.8},
             "2": {"af_burden_1h": 0.0, "af_burden_run": 0.0},
             "5": {"af_burden_1h": 0.3, "af_burden_run": 0.3},
             "x": {"af_burden_1h": 0.3}, "3": {"af_burden_1h": 7}, "4": "much"}
    assert st.apply(two.status(af_burden_1h=0.0, af_burden_run=0.0,
                               counters={"af_burden": table}))
    assert (st.snapshot(1).af_burden_1h, st.snapshot(1).af_burden_run) == (0.9, 0.8)
    assert st.snapshot(2).af_burden_run == 0.0
    assert st.device_ids() == [1, 2] and st.snapshot(5) is None
    assert st.rejects.by_kind() == {"field counters.af_burden": 3}
    st.apply(two.status(counters={"af_burden": [0.1]}))
    assert st.rejects.by_kind() == {"field counters.af_burden": 4}


def test_restart_forgets_episodes_and_burden():
    mk = EventMaker()
    st = MonitorState(StateConfig(restart_seq_margin=5))
    st.apply_many(af_session(mk, 10))
    st.apply(mk.hr(10.5, 80.0, af_burden_1h=0.9, af_burden_run=0.9))
    assert st.snapshot(1).rhythm_episodes and st.snapshot(1).af_burden_run == 0.9
    fresh = EventMaker()
    st.apply(fresh.strip(0.0))
    snap = st.snapshot(1)
    assert snap.rhythm_episodes == () and snap.af_burden_run is None


def test_rhythm_episodes_stay_bounded():
    cfg = StateConfig(max_alerts=5)
    mk = EventMaker()
    st = MonitorState(cfg)
    for k in range(50):
        st.apply(mk.alert(10.0 * k, "afib", "onset", "warning"))
        st.apply(mk.alert(10.0 * k + 5, "afib", "end", "warning", duration_s=5.0))
    eps = st.snapshot(1).rhythm_episodes
    assert len(eps) == 5 and eps[-1].onset_t_stream_s == pytest.approx(490.0, abs=0.01)
