"""History, ward overview and strips read back from a synthetic night with known content, on
both backends."""
from __future__ import annotations

import pytest

from edge.store import EventStore, RetentionPolicy
from edge.store.history import (
    device_history,
    hr_series,
    render_history,
    strip_around,
    ward_overview,
)
from tests.edge.store.support import alert, beat, hr, link, quality, strip

H0 = 497223 * 3600.0  # an hour boundary (Unix s)
NOW = H0 + 2 * 3600


def night() -> list:
    """Device 5: 10 beats (4 in AF at 0.5-s intervals, 4 in sinus rhythm at 0.8 s, one
    unreadable, the last without a rhythm), 6 hr values over two hours with a silence, a v_run
    that ended, an afib still going, a link gap and two seq numbers never received."""
    seq = iter(range(1000))
    ev = []
    labels = "NNNNNNVVSS"
    rhythms = ["AFIB"] * 4 + ["N"] * 4 + ["NOISE", None]
    for i, (lab, rh) in enumerate(zip(labels, rhythms)):
        ev.append(beat(5, next(seq), H0 + 1 + i, lab, rh, rr_pre_s=0.5 if i < 4 else 0.8))
    # the AF episode as the device dated it: from before the first beat to after the fifth,
    # which left as N before the end was confirmed
    ev.append(alert(5, next(seq), H0 + 0.5, "afib", "onset", "warning"))
    ev.append(alert(5, next(seq), H0 + 5.5, "afib", "end", "warning"))
    for t, bpm, burden in ((0, 60, .1), (60, 70, .2), (120, 80, .3), (3600, 100, .25),
                           (3660, None, None), (3720, 90, .2)):
        ev.append(hr(5, next(seq), H0 + t, bpm, burden))
    next(seq), next(seq)  # lost on the way
    ev.append(alert(5, next(seq), H0 + 30, "v_run", "onset"))
    ev.append(alert(5, next(seq), H0 + 40, "v_run", "end"))
    ev.append(link(5, next(seq), H0 + 3000))
    ev.append(alert(5, next(seq), H0 + 3650, "afib", "onset"))
    return ev


def ward() -> list:
    return [hr(6, 0, H0 + 10, 70.0), link(6, 1, H0 + 5, "connected"),
            quality(6, 2, H0 + 11, "noisy"), beat(6, 3, H0 + 12, "N", "N"),
            hr(7, 0, H0 + 10, 120.0), alert(7, 1, H0 + 20, "bigeminy", "onset", "warning"),
            # device 8: an alarm of a previous gateway run does not stay active
            alert(8, 0, H0 + 5, "v_run", "onset", boot=1), hr(8, 0, H0 + 50, 65.0, boot=2)]


@pytest.fixture
def store(db_url):
    with EventStore.open(db_url) as s:
        s.write(night() + ward())
        yield s


def test_history_of_one_wearer(store):
    (r,) = device_history(store, 3 * 3600, device=5, now_s=NOW)
    assert r["device_id"] == 5 and r["boots"] == [1]
    assert r["beats"] == {"N": 6, "S": 2, "V": 2} and r["beats_total"] == 10
    # as the device counts it: share of analysed time in its dated AF episode (4 x 0.5 s and
    # the fifth beat's 0.8 s of 4 x 0.5 + 4 x 0.8 s); the NOISE beat counts neither way
    assert r["af_burden"] == pytest.approx({"time": 2.8 / 5.2, "analysed_s": 5.2,
                                            "beats": 0.5, "beats_with_rhythm": 8,
                                            "last_1h": 0.2, "max_1h": 0.25})
    assert [(a["kind"], a["state"], a["time_s"]) for a in r["alerts"]] == [
        ("afib", "onset", H0 + 0.5), ("afib", "end", H0 + 5.5), ("v_run", "onset", H0 + 30),
        ("v_run", "end", H0 + 40), ("afib", "onset", H0 + 3650)]
    assert r["hr_hourly"] == [
        {"hour_s": int(H0), "min": 60.0, "mean": 70.0, "max": 80.0, "n": 3},
        {"hour_s": int(H0) + 3600, "min": 90.0, "mean": 95.0, "max": 100.0, "n": 2}]
    gaps = r["gaps"]
    assert gaps["missing_events"] == 2
    assert gaps["silences"] == [{"from_s": H0 + 120, "to_s": H0 + 3600, "duration_s": 3480.0}]
    assert gaps["link"] == [{"time_s": H0 + 3000, "gap_s": 2.0, "lost_samples": 720,
                             "action": "filled"}]
    assert (r["first_s"], r["last_s"]) == (H0, H0 + 3720)


def test_events_retention_deleted_are_not_reported_missing(db_url):
    """Strips are kept shortest: after retention the seq numbers of deleted strips are holes,
    which are not events the store never received; holes are counted from the latest
    cut-off that deleted rows (and said so), lost ones after it still are."""
    ev = [beat(5, 0, H0 + 10), strip(5, 1, H0 + 20), beat(5, 2, H0 + 30), strip(5, 3, H0 + 40),
          beat(5, 4, H0 + 3000), beat(5, 6, H0 + 3100)]  # seq 5 never arrived
    with EventStore.open(db_url) as s:
        s.write(ev)
        assert s.pruned_before_s() is None
        (r,) = device_history(s, 3 * 3600, device=5, now_s=NOW)
        assert r["gaps"]["missing_events"] == 1 and r["gaps"]["missing_counted_from_s"] is None
        s.prune(RetentionPolicy(strip_days=(NOW - H0 - 100) / 86400, beat_days=0,
                                hr_days=0, alert_days=0, device_days=0), now_s=NOW)
        assert s.count("strips") == 0 and s.pruned_before_s() == pytest.approx(H0 + 100)
        (r,) = device_history(s, 3 * 3600, device=5, now_s=NOW)
        assert r["gaps"]["missing_events"] == 1  # seq 5, not the two strips
        assert r["gaps"]["missing_counted_from_s"] == pytest.approx(H0 + 100)
        assert "(counted from " in render_history([r])
        # a window that starts after the cut-off is counted as before
        (r,) = device_history(s, NOW - H0 - 2000, device=5, now_s=NOW)
        assert r["gaps"]["missing_counted_from_s"] is None
        # a later prune that deletes nothing keeps the cut-off
        s.prune(RetentionPolicy(strip_days=1), now_s=NOW)
        assert s.pruned_before_s() == pytest.approx(H0 + 100)


def test_events_stamped_after_now_are_shown_and_pointed_out(store):
    (r,) = device_history(store, 3 * 3600, device=5, now_s=H0 + 3000)  # afib etc. are later
    assert r["last_s"] == H0 + 3720
    assert "note: events stamped up to " in render_history([r])
    (r,) = device_history(store, 3 * 3600, device=5, now_s=NOW)
    assert "note:" not in render_history([r])


def test_window_and_devices(store):
    assert [r["device_id"] for r in device_history(store, 3 * 3600, now_s=NOW)] == [5, 6, 7, 8]
    (r,) = device_history(store, 3500, device=5, now_s=NOW)  # from H0 + 3700
    assert r["beats_total"] == 0 and r["alerts"] == [] and len(r["hr_hourly"]) == 1
    assert device_history(store, 3600, device=99, now_s=NOW) == []


def test_text_rendering_names_everything(store):
    text = render_history(device_history(store, 3 * 3600, device=5, now_s=NOW))
    for needle in ("device 5", "beats 10: N 6  S 2  V 2",
                   "AF burden: 53.8 % of 5 s analysed (50.0 % of 8 beats)", "afib",
                   "60 / 70 / 80", "1 link gaps, 1 silences, 2 events missing by seq"):
        assert needle in text
    assert render_history([]) == "no events stored in this window\n"


def test_ward_overview_puts_active_alarms_first(store):
    rows = ward_overview(store, 3 * 3600, now_s=NOW)
    assert [r.device_id for r in rows] == [5, 7, 6, 8]
    five, seven, six, eight = rows
    assert [a["kind"] for a in five.active] == ["afib"] and five.priority == 0
    assert five.hr_bpm == 90.0 and five.rhythm is None and five.last_label == "S"
    assert five.link == "gap"
    assert seven.priority == 1 and seven.hr_bpm == 120.0
    assert (six.hr_bpm, six.rhythm, six.link, six.quality, six.active) == (
        70.0, "N", "connected", "noisy", ())
    assert eight.active == () and eight.boot == 2


def test_hr_series_and_strip_around_an_alarm(store):
    assert hr_series(store, 5, 3 * 3600, now_s=NOW)[:2] == [(H0, 60.0), (H0 + 60, 70.0)]
    # 1 s strips (125 Hz) around the afib onset at H0 + 3650
    store.write([strip(5, 500 + k, H0 + 3640 + k) for k in range(20)])
    a = [a for a in device_history(store, 3 * 3600, device=5, now_s=NOW)[0]["alerts"]
         if a["kind"] == "afib"][-1]
    s = strip_around(store, 5, 1, a["sample_index"], before_s=4, after_s=4)
    assert s is not None and len(s["t_s"]) == len(s["mv"])
    assert min(s["t_s"]) == pytest.approx(-4, abs=0.01) and max(s["t_s"]) <= 4
    assert s["t_s"] == sorted(s["t_s"]) and None in s["mv"]
    assert strip_around(store, 5, 1, a["sample_index"] + 10**7) is None


def test_a_lossy_link_is_summed_in_the_text_not_listed_gap_by_gap(store):
    """Session 47 audit: 10 % frame loss printed 175 'link gap' lines for 3 minutes of ECG.
    Over 10 gaps the text sums them and lists the 10 longest, in time order; the result
    keeps every gap."""
    (r,) = device_history(store, 3 * 3600, device=5, now_s=NOW)
    r["gaps"]["link"] = [{"time_s": H0 + i, "gap_s": round(0.1 * (1 + i % 7), 1),
                          "lost_samples": 36, "action": "filled"} for i in range(175)]
    text = render_history([r])
    listed = [line for line in text.splitlines() if "link gap at" in line]
    assert len(listed) == 10 and all("0.7 s" in line for line in listed)
    assert "70.0 s lost in 175 link gaps from " in text and "the 10 longest:" in text
    assert listed == sorted(listed) and len(r["gaps"]["link"]) == 175
    r["gaps"]["link"] = r["gaps"]["link"][:3]
    assert sum("link gap at" in line for line in render_history([r]).splitlines()) == 3


def test_af_burden_of_a_run_whose_wearable_restarted(db_url):
    """Audit (session 49): a wearable that restarted (counter from 0 again) within one run
    gave 'AF burden: 200.0 %': its second stretch's sample indices overlap the first, and
    each beat was counted once per episode. An episode now covers its own stretch (between
    the link events that restarted the pipeline)."""
    from dataclasses import replace

    from tests.edge.store.support import FS, T0

    t1 = H0 + 100.0
    first = [beat(5, k, t1 + k, rhythm="AFIB", rr_pre_s=1.0) for k in range(10)]
    onset = alert(5, 10, t1 + 9.5, "afib", "onset")
    onset = replace(onset, event=replace(onset.event, sample_index=first[0].event.sample_index
                                         - 1))
    end = alert(5, 11, t1 + 9.6, "afib", "end")
    end = replace(end, event=replace(end.event, sample_index=first[-1].event.sample_index))
    reset = link(5, 12, t1 + 20)
    reset = replace(reset, event=replace(reset.event, action="reset"))
    second = []  # the same sample indices again, 30 s later, in sinus rhythm
    for k in range(10):
        b = beat(5, 13 + k, t1 + 30 + k, rhythm="N", rr_pre_s=1.0)
        second.append(replace(b, event=replace(b.event, sample_index=int((t1 + k - T0) * FS))))
    with EventStore.open(db_url) as store:
        store.write(first + [onset, end, reset] + second)
        (r,) = device_history(store, 3600, device=5, now_s=t1 + 60)
    assert r["af_burden"]["analysed_s"] == pytest.approx(20.0)
    assert r["af_burden"]["time"] == pytest.approx(0.5)


def test_max_1h_counts_the_hour_of_each_stretch_after_a_restart(db_url):
    """A wearable whose counter started 2 h in and restarted from 0 within the run: the
    1-hour burdens of either stretch (minutes each) had a 'full hour' behind them, measured
    from the run's lowest sample index. Each stretch now starts its own hour."""
    from dataclasses import replace

    from tests.edge.store.support import FS

    t1 = H0 + 100.0

    def hr_at(seq, t, index_s, burden):
        e = hr(6, seq, t, 70.0, burden)
        return replace(e, event=replace(e.event, sample_index=int(index_s * FS)))

    first = [hr_at(k, t1 + 5 * k, 7200 + 5 * k, 0.9) for k in range(6)]
    reset = link(6, 6, t1 + 31)
    reset = replace(reset, event=replace(reset.event, action="reset"))
    second = [hr_at(7 + k, t1 + 35 + 5 * k, 5 * k, 0.1) for k in range(6)]
    with EventStore.open(db_url) as store:
        store.write(first + [reset] + second)
        (r,) = device_history(store, 3600, device=6, now_s=t1 + 100)
    assert r["af_burden"]["max_1h"] is None and r["af_burden"]["last_1h"] == 0.1
