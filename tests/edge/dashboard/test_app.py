"""The Streamlit app with ``AppTest``: the live page (data, empty, disconnected, alarm and
several-device states) and the report page (report, no report, damaged report)."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest

from edge.dashboard.app import CONFIG_KEY
from edge.dashboard.config import DashboardConfig
from edge.dashboard.feeds import JsonlFeedConfig
from tests.edge.dashboard.support import EventMaker, make_report, write_jsonl

APP = str(Path(__file__).resolve().parents[3] / "edge" / "dashboard" / "app.py")


def run_app(config: DashboardConfig, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[CONFIG_KEY] = config
    if page:
        at.query_params["page"] = page
    return at.run()


def texts(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, metrics, tables)."""
    parts = [e.value for e in at.markdown] + [e.value for e in at.caption]
    for kind in ("error", "warning", "info", "success"):
        parts += [e.value for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.delta or ''}" for m in at.metric]
    parts += [t.value.to_string() for t in at.table]
    parts += [h.value for h in at.title] + [h.value for h in at.subheader] \
        + [h.value for h in at.header]
    return "\n".join(str(p) for p in parts)


def jsonl_config(path: Path, **kw) -> DashboardConfig:
    return DashboardConfig(jsonl=JsonlFeedConfig(path=path), **kw)


def live_events(n_s: int = 12) -> tuple[EventMaker, list[dict]]:
    mk = EventMaker(t0_s=time.time() - n_s)
    return mk, mk.session(n_s)


def test_live_page_shows_strip_heart_rate_classes_and_alerts(tmp_path):
    mk, events = live_events()
    events += [mk.alert(10.5, "v_run", "onset", "alarm", vt=True, n_beats=4, rate_bpm=140.0),
               mk.status("running", "cnn-test-7")]
    path = write_jsonl(tmp_path / "events.jsonl", events)
    at = run_app(jsonl_config(path, stale_after_s=3600.0))
    assert not at.exception, at.exception
    out = texts(at)
    assert "Live ECG monitor" in out and "Device 1" in out
    hr = next(m for m in at.metric if m.label == "Heart rate")
    assert hr.value == "81 bpm"  # the last hr event: 70 + 11
    assert "V 3" in out and "N 9" in out  # class counts (every 4th beat a V)
    assert "R peaks on screen:" in out
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 1  # the ECG strip (and the HR trend)
    alarms = [e.value for e in at.error]
    assert any("ALARM" in a and "VENTRICULAR RUN" in a for a in alarms), alarms
    assert "model cnn-test-7" in out
    assert "Disconnected" not in out and "No data yet" not in out


def test_live_page_counts_malformed_lines_and_keeps_its_numbers(tmp_path):
    mk, events = live_events()
    path = write_jsonl(tmp_path / "events.jsonl", events)
    with path.open("a") as fh:  # a rate as a string, an unknown class, garbage
        fh.write(json.dumps({**mk.hr(11.6, 80.0), "hr_bpm": "300"}) + "\n")
        fh.write(json.dumps({**mk.beat(11.7, "V"), "label": "X"}) + "\n")
        fh.write(json.dumps({**mk.beat(11.8, "V"), "label": "Y"}) + "\n")
        fh.write("{garbage\n")
    at = run_app(jsonl_config(path, stale_after_s=3600.0))
    assert not at.exception, at.exception
    out = texts(at)
    assert "4 malformed messages ignored (field label 2, field hr_bpm 1, not a JSON object 1)" \
        in out
    assert ", 4 malformed" in out  # the feed's line in the sidebar
    hr = next(m for m in at.metric if m.label == "Heart rate")
    assert hr.value == "81 bpm"  # not 300
    assert "V 3" in out and "N 9" in out


def test_live_page_says_disconnected_when_data_stops(tmp_path):
    _, events = live_events()
    path = write_jsonl(tmp_path / "events.jsonl", events)
    at = run_app(jsonl_config(path, stale_after_s=0.2))
    time.sleep(0.3)
    at.run()
    assert not at.exception
    assert any("Disconnected" in e.value and "device 1" in e.value for e in at.error)


def test_an_old_file_read_now_says_how_old_its_events_are(tmp_path):
    """Audit (session 49): a file of 3-min-old events read now showed "last data 5 s ago" and
    no hint that nothing in it was live."""
    mk = EventMaker(t0_s=time.time() - 200)
    path = write_jsonl(tmp_path / "events.jsonl", mk.session(12))
    at = run_app(jsonl_config(path, stale_after_s=60.0))
    assert not at.exception
    assert re.search(r"last received \d+ s ago \(3 min ago by this clock\)", texts(at))
    at = run_app(jsonl_config(path, stale_after_s=0.2))
    time.sleep(0.3)
    at.run()
    (err,) = [e.value for e in at.error if "Disconnected" in e.value]
    assert "nothing received from device 1" in err and "min ago by this clock" in err


def test_live_page_without_sources_says_how_to_start():
    at = run_app(DashboardConfig())
    assert not at.exception
    assert any("No event source configured" in e.value for e in at.info)
    assert not at.metric


def test_live_page_waiting_for_a_missing_file(tmp_path):
    at = run_app(jsonl_config(tmp_path / "not-yet.jsonl"))
    assert not at.exception
    warn = " ".join(e.value for e in at.warning)
    assert "No data yet" in warn and "not-yet.jsonl" in warn


def test_live_page_link_and_quality_problems(tmp_path):
    mk, events = live_events()
    events += [mk.quality(11.0, "noisy"), mk.link("reconnecting", "serial port vanished")]
    path = write_jsonl(tmp_path / "events.jsonl", events)
    at = run_app(jsonl_config(path, stale_after_s=3600.0))
    warn = " ".join(e.value for e in at.warning)
    assert "reconnecting" in warn and "serial port vanished" in warn
    assert "noisy" in warn


def test_live_page_with_several_devices(tmp_path):
    events = []
    for dev in (1, 2):
        mk = EventMaker(device_id=dev, t0_s=time.time() - 12)
        events += mk.session(12)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    at = run_app(jsonl_config(path, stale_after_s=3600.0))
    assert not at.exception
    assert at.table[0].value["device"].tolist() == [1, 2]
    at.radio(key="ecg_device").set_value(2).run()
    assert "Device 2" in texts(at)


def test_report_page_shows_metrics_confusion_records_and_strips(tmp_path):
    pytest.importorskip("matplotlib")
    rep = make_report(tmp_path / "report")
    at = run_app(DashboardConfig(report_dir=rep), page="report")
    assert not at.exception, at.exception
    out = texts(at)
    assert "Model evaluation report" in out and "Metrics per class" in out
    metrics = at.table[0].value
    assert metrics["class"].tolist() == ["N", "S", "V", "F", "Q"]
    assert {"Se %", "+P %", "F1 %"} <= set(metrics.columns)
    assert "Accuracy" in [m.label for m in at.metric]
    images = at.get("image")
    assert len(images) >= 3  # confusion matrix + strips
    assert "beats wrongly called V (false positives)" in out
    assert len(at.dataframe) == 1  # per-record results
    at.radio(key="report_mode").set_value("end_to_end").run()
    assert "Detection: Se 100.0 %" in texts(at)


def test_report_page_without_a_report(tmp_path):
    at = run_app(DashboardConfig(report_dir=tmp_path / "nothing"), page="report")
    assert not at.exception
    assert any("No report found at" in e.value and "nothing" in e.value for e in at.info)


def test_report_page_with_a_damaged_report(tmp_path):
    (tmp_path / "report.json").write_text("{not json")
    at = run_app(DashboardConfig(report_dir=tmp_path), page="report")
    assert not at.exception
    assert any("Damaged report" in e.value for e in at.error)


@pytest.mark.parametrize("page", ["ward", "wearer"])
def test_a_store_damaged_past_its_schema_is_one_error_not_a_traceback(tmp_path, page):
    """Audit (session 49): a database damaged where the schema does not lie (a failing SD
    card) opened, then the wearer page showed a StoreError traceback."""
    import os

    from edge.store import EventStore
    from tests.edge.dashboard.test_store_pages_browser import ward_night

    db = tmp_path / "night.db"
    with EventStore.open(str(db)) as store:
        store.write(ward_night(time.time()))
    data = bytearray(db.read_bytes())
    for off in range(16384, len(data), 16384):
        data[off:off + 300] = bytes(range(256)) + bytes(44)
    db.write_bytes(bytes(data))
    at = run_app(DashboardConfig(db=str(db)), page=page)
    assert not at.exception, at.exception
    assert "Cannot read the event store" in texts(at) and "malformed" in texts(at)
    assert os.path.exists(db)
