"""The database pages in a real browser: a replay of the bundled MIT-BIH excerpt (record 233)
runs through the daemon into a JSONL file, ``ecg-edge ingest`` stores it in SQLite with
three more wearers of the last six hours (one in atrial fibrillation with an active alarm,
one with a bigeminy warning, one quiet), and headless Chromium must show the ward overview
(active alarm first, heart rates, link and signal state) and a wearer's history (heart-rate
trend, alarm timeline, the stored strip around an alarm).

Artifacts: ``artifacts/dashboard_ward.png`` and ``artifacts/dashboard_wearer.png``; with
``ECG_EDGE_UPDATE_SCREENSHOT=1`` the ward one is copied to ``docs/dashboard_ward.png`` (the
README image).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

pytest.importorskip("streamlit")

from edge.events.model import StripEvent  # noqa: E402
from edge.store import EventStore, StoredEvent  # noqa: E402
from tests.edge.dashboard.test_app_browser import (  # noqa: E402
    ARTIFACTS,
    EXCERPT,
    _chromium,
    _wait_for,
    dashboard_in_chromium,
)
from tests.edge.runtime.daemon_support import REPO, subprocess_env  # noqa: E402
from tests.edge.store.support import T0, alert, beat, hr, link, quality  # noqa: E402

DOCS_SHOT = REPO / "docs" / "dashboard_ward.png"


def _shift(events: list[StoredEvent], t0: float) -> list[StoredEvent]:
    from dataclasses import replace

    return [StoredEvent(e.boot, replace(e.event, time_s=round(e.event.time_s + t0, 6)))
            for e in events]


def ecg_mv(t_s: float) -> float:
    """A plain synthetic ECG (P, QRS, T as Gaussians) at an irregular ~100 bpm."""
    import math

    beat_s = 0.55 + 0.15 * abs(math.sin(7.3 * math.floor(t_s / 0.6)))
    x = t_s % beat_s
    wave = (0.12 * math.exp(-((x - 0.08) / 0.025) ** 2) + 1.1 * math.exp(-((x - 0.2) / 0.012)
            ** 2) - 0.25 * math.exp(-((x - 0.23) / 0.01) ** 2)
            + 0.3 * math.exp(-((x - 0.42) / 0.05) ** 2))
    return round(wave + 0.03 * math.sin(40 * t_s), 3)


def ward_night(now: float) -> list[StoredEvent]:
    """Devices 11-13 over the last six hours."""
    import math

    out = []
    span = 6 * 3600
    for dev, base, af in ((11, 92.0, True), (12, 64.0, False), (13, 71.0, False)):
        seq = 0
        for k in range(0, span, 60):
            bpm = base + 12 * math.sin(k / 3000.0) + (8 * math.sin(k / 97.0) if af else 0)
            out.append(hr(dev, seq, T0 + k, round(bpm, 1), 0.4 if af else 0.0))
            out.append(beat(dev, seq + 1, T0 + k + 1, "V" if k % 1800 == 0 else "N",
                            "AFIB" if af and k > 3 * 3600 else "N"))
            seq += 2
        out.append(link(dev, seq, T0 + 10, "connected"))
        out.append(quality(dev, seq + 1, T0 + span - 30, "noisy" if dev == 13 else "good"))
        seq += 2
        if dev == 11:
            for j in range(12):  # 1 s strips around the afib onset
                t = T0 + span - 606 + j
                out.append(StoredEvent(1, StripEvent(
                    device_id=dev, seq=seq, time_s=t, sample_index=int((t - T0) * 360),
                    fs_hz=360.0, strip_fs_hz=90.0,
                    samples_mv=[ecg_mv(j + i / 90.0) for i in range(90)])))
                seq += 1
            out.append(alert(dev, seq, T0 + span - 5000, "v_run", "onset"))
            out.append(alert(dev, seq + 1, T0 + span - 4990, "v_run", "end"))
            out.append(alert(dev, seq + 2, T0 + span - 600, "afib", "onset"))
        if dev == 12:
            out.append(alert(dev, seq, T0 + span - 900, "bigeminy", "onset", "warning"))
    return _shift(out, now - span - T0)


def test_ward_and_wearer_pages_in_headless_chromium(tmp_path):
    browser, driver = _chromium()
    env = subprocess_env()
    events = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, "-m", "edge.cli", "run", "--replay", str(EXCERPT),
                    "--speed", "max", "--jsonl", str(events), "--quiet"], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=300)
    db = tmp_path / "ward.db"
    subprocess.run([sys.executable, "-m", "edge.cli", "ingest", "--db", str(db), "--jsonl",
                    str(events)], cwd=REPO, env=env, check=True, capture_output=True,
                   timeout=300)
    with EventStore.open(str(db)) as store:
        store.write(ward_night(time.time()))

    # only --db: the ward overview is the first page
    with dashboard_in_chromium(["--db", str(db), "--report", str(tmp_path / "no-report")],
                               browser=browser, driver=driver, cwd=tmp_path, env=env,
                               size="1280,1100") as (drv, url, _):

        def body() -> str:
            return drv.find_element("tag name", "body").text

        _wait_for(drv, lambda: "Ward overview" in body() and "active alarms" in body()
                  and "Device 11: afib alarm" in body(), 60, "the ward overview")
        text = body()
        rows = drv.find_elements("css selector", "[data-testid='stTable'] tbody tr")
        order = [r.text.split()[0] for r in rows]
        assert order[:2] == ["11", "12"], order   # the alarm, then the warning
        assert set(order) == {"1", "11", "12", "13"}
        assert re.search(r"11\s+afib \(alarm\) since \d\d:\d\d:\d\d", text)
        assert "Device 12: bigeminy warning" in text and "noisy" in text
        assert re.search(r"\b\d{2,3} bpm\b", text)
        assert not text.rstrip().endswith("None")  # no stray value shown by Streamlit magic
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard_ward.png"
        assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
        if os.environ.get("ECG_EDGE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, DOCS_SHOT)

        drv.set_window_size(1280, 2200)
        drv.get(url + "?page=wearer&device=11")
        def sized_charts() -> int:
            charts = drv.find_elements("css selector", "[data-testid='stVegaLiteChart']")
            return len([c for c in charts if c.size["width"] > 200 and c.size["height"] > 100])

        # Streamlit draws the page in pieces and Vega draws a chart's title after its frame:
        # wait for the last pieces (the afib strip's title, the v_run caption) before judging
        _wait_for(drv, lambda: "Wearer history" in body() and "Alarm timeline" in body()
                  and "ECG around each alarm" in body() and "afib onset" in body()
                  and "strip not stored" in body(), 60, "the wearer's history")
        text = body()
        assert "afib" in text and "v_run" in text and "onset" in text and "end" in text
        _wait_for(drv, lambda: sized_charts() >= 3, 30,
                  "three charts: heart-rate trend, beats per class and a strip")
        assert "afib onset" in text and "strip not stored" in text  # v_run: no strip kept
        assert not text.rstrip().endswith("None")
        drv.save_screenshot(str(ARTIFACTS / "dashboard_wearer.png"))
