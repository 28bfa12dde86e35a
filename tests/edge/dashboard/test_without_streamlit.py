"""The dashboard's state, feeds, monitor, charts, report reader, settings and command line are
tested without Streamlit: their test files run in a Python where ``import streamlit`` fails
(``sys.modules["streamlit"] = None``), and none of their tests may skip for it. Only the tests
that render with Streamlit (``test_app``, ``test_views``, ``test_app_browser``) or start its
server (``test_cli_server``) skip there."""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

#: Test files that must run, and pass, without Streamlit.
WITHOUT_STREAMLIT = ("test_state.py", "test_feeds.py", "test_monitor.py", "test_charts.py",
                     "test_report.py", "test_config.py", "test_cli.py", "test_api.py")
#: Test files that need Streamlit (they must skip cleanly, not fail, without it).
NEED_STREAMLIT = ("test_app.py", "test_views.py", "test_app_browser.py",
                  "test_cli_server.py")

_RUN_WITHOUT_STREAMLIT = (
    "import sys\n"
    "sys.modules['streamlit'] = None  # any `import streamlit...` now raises ImportError\n"
    "import pytest\n"
    "sys.exit(pytest.main(sys.argv[1:]))\n")


def test_dashboard_tests_run_without_streamlit(tmp_path):
    report = tmp_path / "junit.xml"
    files = [str(HERE / name) for name in WITHOUT_STREAMLIT + NEED_STREAMLIT]
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT_STREAMLIT, "-q", "-rs", "-p", "no:cacheprovider",
         "-o", "addopts=", f"--junitxml={report}", *files],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    ran: dict[str, list[str]] = {}
    skipped: dict[str, list[str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1] + ".py"
        skip = case.find("skipped")
        (skipped if skip is not None else ran).setdefault(module, []).append(
            skip.get("message", "") if skip is not None else case.get("name", ""))
    for name in WITHOUT_STREAMLIT:
        assert ran.get(name), f"{name}: no test ran without streamlit"
        assert not any("streamlit" in m for m in skipped.get(name, [])), (name, skipped[name])
    for name in NEED_STREAMLIT:  # skipped at import, for the stated reason
        assert not ran.get(name), (name, ran[name])
        assert re.search(rf"SKIPPED \[\d+\] \S*{name}:\d+: could not import 'streamlit'",
                         proc.stdout), (name, proc.stdout[-3000:])
