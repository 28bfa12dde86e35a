"""``ecg-edge dashboard`` with its real Streamlit server: stopping it stops the server."""
from __future__ import annotations

import pytest

pytest.importorskip("streamlit")


def test_sigterm_stops_the_streamlit_server_too(tmp_path):
    """A service manager stops the dashboard with SIGTERM: its Streamlit child went on
    holding the port (session 45 audit). Now it is stopped too, and the command says 143."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.edge.sinks.broker_support import free_port

    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("")
    proc = subprocess.Popen([sys.executable, "-m", "edge.dashboard.cli", "--jsonl", str(jsonl),
                             "--port", str(free_port())], stderr=subprocess.PIPE)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    kids: list[int] = []
    deadline = time.monotonic() + 30
    while not kids and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        kids = [int(k) for k in children.read_text().split()] if children.exists() else []
    assert kids, "the Streamlit server did not start"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(20) == 143
    for kid in kids:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{kid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
            stat = Path(f"/proc/{kid}/stat")
            if stat.exists() and stat.read_text().split()[2] == "Z":  # reaped by init later
                break
        alive = Path(f"/proc/{kid}/stat").exists() and \
            Path(f"/proc/{kid}/stat").read_text().split()[2] != "Z"
        assert not alive, f"Streamlit server {kid} still running"
