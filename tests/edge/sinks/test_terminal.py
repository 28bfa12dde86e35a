import io

import pytest

from edge.errors import ConfigError
from edge.events.model import AlertEvent, HeartRateEvent, LinkStatusEvent, StatusEvent
from edge.sinks.terminal import TerminalSink, TerminalSinkSettings


def test_terminal_lines(beat):
    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    t.emit(HeartRateEvent(device_id=1, sample_index=3600, fs_hz=360.0, hr_bpm=71.6,
                          window_s=10.0, n_beats=12))
    t.emit(beat(3960, "V"))
    t.emit(LinkStatusEvent(device_id=1, state="gap", lost_samples=36, gap_s=0.1,
                           action="filled"))
    lines = buf.getvalue().splitlines()
    assert "HR 72 bpm" in lines[0] and "beat V" in lines[1] and "HR 72" in lines[1]
    assert "36 samples lost" in lines[2]


def test_terminal_without_beats(beat):
    buf = io.StringIO()
    TerminalSink(buf, color="never", beats=False).emit(beat(5))
    assert buf.getvalue() == ""


def test_settings_color_rule():
    with pytest.raises(ConfigError) as err:
        TerminalSinkSettings(color="rainbow")
    assert err.value.field == "color" and "auto, always or never" in err.value.rule


def test_alarms_delayed_stands_out():
    buf = io.StringIO()
    t = TerminalSink(buf, color="always")
    t.emit(LinkStatusEvent(device_id=1, state="alarms_delayed", detail="2 alert(s) waiting"))
    t.emit(LinkStatusEvent(device_id=1, state="alarms_delivered", detail="delivered"))
    first, second = buf.getvalue().splitlines()
    assert "LINK alarms_delayed 2 alert(s) waiting" in first and "\x1b[" in first
    assert "link alarms_delivered delivered" in second and "\x1b[" not in second


def test_beat_lines_show_the_interval_as_it_was_and_no_stale_rate_after_asystole(beat):
    """Session 44: after a 7.65-s pause a beat line read "RR 3.00 s" (the model's RR
    feature, clipped to 3 s) and "HR 0" stayed on the beat lines after the asystole ended."""
    from edge.events.model import AlertEvent

    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    t.emit(HeartRateEvent(device_id=1, sample_index=3600, fs_hz=360.0, hr_bpm=60.0,
                          window_s=10.0, n_beats=10))
    t.emit(beat(3960))
    t.emit(AlertEvent(device_id=1, kind="asystole", state="onset", severity="alarm",
                      sample_index=3960 + 1440, fs_hz=360.0))
    t.emit(beat(3960 + 2754))  # 7.65 s later
    t.emit(AlertEvent(device_id=1, kind="asystole", state="end", severity="alarm",
                      sample_index=3960 + 2754, fs_hz=360.0))
    t.emit(beat(3960 + 2754 + 360))
    lines = buf.getvalue().splitlines()
    assert "RR -- s  HR 60" in lines[1]  # the first beat: no interval before it (session 48)
    assert "RR 7.65 s  HR 0" in lines[3]
    assert "RR 1.00 s" in lines[5] and "HR" not in lines[5]


def test_alert_sample_indices_read_as_stream_times_and_status_counts_dropped_alerts():
    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    t.emit(AlertEvent(device_id=1, kind="pause", state="event", severity="warning",
                      sample_index=3600, fs_hz=360.0, detail={"rr_s": 2.8, "end_index": 4608}))
    t.emit(StatusEvent(device_id=0, state="stopped", uptime_s=3.0, counters={
        "beats": 10, "samples": 9000, "gaps": 0,
        "alerts_chained_dropped": {"v_run": 4, "pause": 2}}))
    t.emit(StatusEvent(device_id=0, state="stopped", uptime_s=3.0,
                       counters={"alerts_chained_dropped": {}}))
    pause, status, plain = buf.getvalue().splitlines()
    assert pause.endswith("ALERT pause event (warning) rr_s=2.8 end=0:00:12.8")
    assert status.endswith("0 gaps; not raised under vfib: pause 2, v_run 4")
    assert plain.endswith("0 gaps")


def test_a_lossy_link_prints_a_filled_gap_line_at_most_every_10_s():
    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    for k in range(30):  # a lost frame every second for 30 s
        t.emit(LinkStatusEvent(device_id=1, state="gap", lost_samples=36, gap_s=0.1,
                               action="filled", sample_index=360 * k, fs_hz=360.0))
    t.emit(LinkStatusEvent(device_id=1, state="gap", lost_samples=3600, gap_s=10.0,
                           action="reset", sample_index=360 * 31, fs_hz=360.0))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0] == "0:00:00.0 dev1 link gap: 36 samples lost (0.10 s), filled"
    assert lines[1].endswith("filled; 9 more filled since the last line (0.90 s)")
    assert lines[1].startswith("0:00:10.0") and lines[2].startswith("0:00:20.0")
    assert lines[3] == "dev1 link gap: 3600 samples lost (10.00 s), reset"
    # session 48 audit: the gaps after the last line were never printed; the end of the run
    # (the final status, or closing) says them, once
    for k in range(33, 38):
        t.emit(LinkStatusEvent(device_id=1, state="gap", lost_samples=36, gap_s=0.1,
                               action="filled", sample_index=360 * k, fs_hz=360.0))
    t.emit(StatusEvent(device_id=1, state="stopped", uptime_s=40.0, counters={"gaps": 36}))
    t.close()
    lines = buf.getvalue().splitlines()
    assert lines[4].startswith("0:00:33.0") and lines[5:] == [
        "dev1 link gap: 4 more filled since the last line (0.40 s)",
        "status stopped: uptime 40.0 s, 0 beats, 0 samples, 36 gaps"]


def test_an_unclassified_beat_prints_no_probability():
    from dataclasses import replace

    from edge.events.model import BeatEvent

    b = BeatEvent(device_id=1, sample_index=720, fs_hz=360.0, label="Q",
                  proba={c: float("nan") for c in "NSVFQ"}, rr_s={"pre": 0.8},
                  quality="link_gap")
    buf = io.StringIO()
    t = TerminalSink(buf, color="never")
    t.emit(b)
    t.emit(replace(b, sample_index=1000, label="N", proba={"N": 0.97}, quality="good"))
    lines = buf.getvalue().splitlines()
    assert "beat Q  p=--" in lines[0] and lines[0].endswith("[link_gap]")
    assert "p=0.97" in lines[1] and "nan" not in buf.getvalue()
