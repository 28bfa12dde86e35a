"""The dashboard in a real browser: a replay of MIT-BIH record 233 (the bundled excerpt, which
has V beats) runs through the daemon into a JSONL file, the dashboard follows that file, and
headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium) must show
the ECG strip, the heart rate and classified beats including a V. A second test replays
MIT-BIH 201 (atrial fibrillation from the start; needs ``MITDB_DIR``) and checks the AF burden
and the AF episode, first ongoing, then ended (``artifacts/dashboard_af.png``).

Artifacts: ``artifacts/dashboard_live.png`` (wide) and ``artifacts/dashboard_live_narrow.png``
(phone-sized window); with ``ECG_EDGE_UPDATE_SCREENSHOT=1`` the wide one is also copied to
``docs/dashboard_live.png`` (the README image).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit")  # the dashboard under test is a Streamlit app

from tests.edge.runtime.daemon_support import REPO, read_jsonl, subprocess_env

EXCERPT = REPO / "edge" / "data" / "mitdb_233_excerpt"
ARTIFACTS = REPO / "artifacts"
DOCS_SHOT = REPO / "docs" / "dashboard_live.png"
BEAT_CNN_KERAS = REPO / "edge" / "models" / "beat_cnn.keras"


def _chromium() -> tuple[str, str]:
    browser = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"))
                    if p), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver; .ci/run does)")
    return browser, driver


@pytest.fixture(scope="module")
def live_model(tmp_path_factory) -> Path:
    """A trained int8 model: the bundled one, or ``edge/models/beat_cnn.keras`` quantized
    with ``convert/quantize.py`` (an untrained model would classify no V beat), or, failing
    both, the daemon tests' model (the V assertions then say why they fail)."""
    from edge.model.bundled import default_model_path

    bundled = default_model_path()
    if bundled.is_file():
        return bundled
    if BEAT_CNN_KERAS.exists() and os.environ.get("MITDB_DIR"):
        out = tmp_path_factory.mktemp("model") / "beat_cnn_int8.tflite"
        proc = subprocess.run([sys.executable, str(REPO / "convert" / "quantize.py"),
                               "--model", str(BEAT_CNN_KERAS), "--out", str(out),
                               "--per-class", "20", "--no-parity"], check=False, cwd=REPO,
                              env=subprocess_env(), capture_output=True, text=True, timeout=300)
        if proc.returncode == 0 and out.is_file():
            return out
    from tests.edge.runtime.daemon_support import model_path

    return model_path()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http_ok(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _browser(browser: str, driver: str, size: str):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[dev]' (selenium drives the "
                    "installed chromium; no browser download)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={size}",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='ecg-edge-chromium-')}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=opts)


@contextlib.contextmanager
def dashboard_in_chromium(options: list[str], *, browser: str, driver: str, cwd: Path,
                          env: dict, size: str, stop_also: subprocess.Popen | None = None):
    """``ecg-edge dashboard OPTIONS`` (as its own command line builds it) on a free loopback
    port, its page opened in headless Chromium of ``size``; yields ``(driver, url, command)``
    and stops the browser, the dashboard (and ``stop_also``) at the end."""
    from edge.dashboard.cli import add_parser, streamlit_command

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    port = _free_port()
    cmd = streamlit_command(parser.parse_args(["dashboard", *options, "--port", str(port)]))
    dash = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    drv = None
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http_ok(url + "_stcore/health", 45, dash)
        drv = _browser(browser, driver, size)
        drv.get(url)
        yield drv, url, cmd
    finally:
        if drv is not None:
            drv.quit()
        _stop(dash)
        if stop_also is not None:
            _stop(stop_also)


def _wait_for(drv, predicate, timeout_s: float, what: str) -> None:
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except WebDriverException:  # an element went stale while the page redrew: retry
            time.sleep(0.05)
        time.sleep(0.25)
    text = drv.find_element("tag name", "body").text
    raise AssertionError(f"timed out waiting for {what}; page text:\n{text[:3000]}")


def test_live_dashboard_in_headless_chromium(live_model, tmp_path):
    browser, driver = _chromium()
    events = tmp_path / "events.jsonl"
    env = subprocess_env()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--replay", str(EXCERPT), "--speed", "5",
         "--model", str(live_model), "--jsonl", str(events), "--quiet"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with dashboard_in_chromium(["--jsonl", str(events), "--report", str(tmp_path / "no-report")],
                               browser=browser, driver=driver, cwd=tmp_path, env=env,
                               size="1280,1700", stop_also=daemon) as (drv, _, cmd):
        assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"  # localhost by default
        drv.execute_script("window.__no_reload_marker = 42;")
        def body() -> str:
            return drv.find_element("tag name", "body").text

        def strip_and_hr() -> bool:
            charts = drv.find_elements("css selector", "[data-testid='stVegaLiteChart']")
            sized = [c for c in charts if c.size["width"] > 200 and c.size["height"] > 100]
            return bool(sized) and re.search(r"Heart rate\s*\n\s*\d{2,3} bpm", body()) is not None

        _wait_for(drv, strip_and_hr, 60, "the ECG strip chart and a heart rate")
        v_count = re.compile(r"\bV ([1-9]\d*)\b")
        _wait_for(drv, lambda: v_count.search(body()) and "R peaks on screen:" in body()
                  and re.search(r"R peaks on screen: [^\n]*\d+ V", body()), 60,
                  "a V beat in the class counts and on the strip")
        text = body()
        assert "Live ECG monitor" in text and "Device 1" in text
        assert re.search(r"\b\d\d:\d\d:\d\d\b", text)  # local clock times
        updated = re.search(r"updated (\d\d:\d\d:\d\d)", text).group(1)
        time.sleep(1.5)
        assert re.search(r"updated (\d\d:\d\d:\d\d)", body()).group(1) != updated
        assert drv.execute_script("return window.__no_reload_marker;") == 42  # no reload
        # the daemon really classified V beats, and the page shows as many as it has seen
        got_v = sum(1 for e in read_jsonl(events) if e["type"] == "beat" and e["label"] == "V")
        assert got_v > 0, f"the model {live_model.name} classified no V beat on record 233"
        time.sleep(0.6)  # let the strip scroll on once more before the picture
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard_live.png"
        assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
        if os.environ.get("ECG_EDGE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, DOCS_SHOT)

        # a phone-sized window: everything stacks, nothing sticks out sideways
        drv.set_window_size(400, 1400)
        _wait_for(drv, strip_and_hr, 20, "the strip in a narrow window")
        overflow = drv.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 1, f"page wider than a 400 px window by {overflow} px"
        drv.save_screenshot(str(ARTIFACTS / "dashboard_live_narrow.png"))


def _split_at_shutdown(events: list[dict]) -> int:
    """Index of the daemon's shutdown tail: from the source's 'disconnected' (end of record)
    on come the flushed beats, the end of an open episode and the final status."""
    return next(i for i, e in enumerate(events)
                if e["type"] == "link" and e["state"] == "disconnected")


def test_af_episode_and_burden_in_headless_chromium(live_model, mitdb_dir, tmp_path):
    """Four minutes of MIT-BIH 201 (DS1; reference atrial fibrillation from the start) run
    through the daemon into a JSONL file. The dashboard first follows the events up to the
    end of the record (the episode still open, as on a live feed), then the rest: the page
    must show the AF burden the last ``hr`` event carried, the episode shaded on the strip as
    ongoing, then the episode ended with its duration and the final status's burden."""
    import json

    from edge.dashboard.views import burden_text

    browser, driver = _chromium()
    env = {**subprocess_env(), "MITDB_DIR": str(mitdb_dir)}
    full = tmp_path / "daemon.jsonl"
    subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--replay", "201", "--speed", "max",
         "--set", "source.replay.duration_s=240", "--set", "outputs.status_interval_s=0",
         "--model", str(live_model), "--jsonl", str(full), "--quiet"],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, timeout=300)
    events = read_jsonl(full)
    cut = _split_at_shutdown(events)
    live, tail = events[:cut], events[cut:]
    onsets = [e for e in live if e["type"] == "alert" and e["kind"] == "afib"]
    assert onsets and onsets[0]["state"] == "onset", "the daemon raised no afib onset on 201"
    last_hr = [e for e in live if e["type"] == "hr"][-1]
    assert last_hr["af_burden_1h"] > 0.5
    ends = [e for e in tail if e["type"] == "alert" and e["kind"] == "afib"]
    assert [e["state"] for e in ends] == ["end"]
    final = tail[-1]
    assert final["type"] == "status" and final["af_burden_1h"] > 0.5

    followed = tmp_path / "events.jsonl"
    followed.write_text("".join(json.dumps(e) + "\n" for e in live))
    with dashboard_in_chromium(["--jsonl", str(followed), "--report", str(tmp_path / "none")],
                               browser=browser, driver=driver, cwd=tmp_path, env=env,
                               size="1280,2000") as (drv, _, _):

        def body() -> str:
            return drv.find_element("tag name", "body").text

        want_1h = burden_text(last_hr["af_burden_1h"])
        burden = re.compile(r"AF burden, last hour\s*\n\s*" + re.escape(want_1h))
        whole_run = re.compile(r"AF burden, whole run\s*\n\s*"
                               + re.escape(burden_text(last_hr["af_burden_run"])))

        def live_page_complete() -> bool:
            # one snapshot must show everything: the page is re-rendered as events arrive,
            # so a second read may catch it half drawn (a flake under load)
            text = body()
            return bool(burden.search(text) and whole_run.search(text)
                        and re.search(r"Rhythm\s*\n\s*AF, ongoing", text)
                        and re.search(r"rhythm on screen: AF \(ongoing\) \d+ s", text)
                        and "Rhythm episodes" in text
                        and re.search(r"atrial fibrillation\s+\d\d:\d\d:\d\d\s+ongoing", text)
                        and "Alert: atrial fibrillation" in text)  # the open episode's banner
        _wait_for(drv, live_page_complete, 60,
                  f"AF burden {want_1h}, the ongoing AF episode on the strip, in the episode "
                  "list and in the banner")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard_af.png"
        assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 20_000

        with followed.open("a", encoding="utf-8") as fh:  # the daemon's shutdown tail
            fh.write("".join(json.dumps(e) + "\n" for e in tail))
        duration = float(ends[0]["detail"]["duration_s"])
        whole = round(duration)
        shown = f"{whole // 60} min {whole % 60:02d} s"
        final_1h = re.compile(r"AF burden, last hour\s*\n\s*"
                              + re.escape(burden_text(final["af_burden_1h"])))
        ended = re.compile(r"atrial fibrillation\s+\d\d:\d\d:\d\d\s+\d\d:\d\d:\d\d\s+"
                           + re.escape(shown))

        def ended_page_complete() -> bool:
            text = body()
            return bool("daemon stopped" in text and shown in text and final_1h.search(text)
                        and "ongoing" not in text and ended.search(text))
        _wait_for(drv, ended_page_complete, 30,
                  f"the ended episode ({shown}), no ongoing one, and the final burden")
        drv.save_screenshot(str(ARTIFACTS / "dashboard_af_ended.png"))
