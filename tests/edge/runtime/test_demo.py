import re
import subprocess
import sys
import time

from tests.edge.runtime.daemon_support import REPO, subprocess_env


def test_demo_prints_beats_quickly_and_a_summary(int8_model):
    """`ecg-edge demo` with no data directory: classified beats appear within 5 s of the
    start, then the summary with the EC57 agreement."""
    env = subprocess_env()
    env.pop("MITDB_DIR", None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "demo", "--speed", "30",
                             "--duration-s", "60", "--model", str(int8_model),
                             "--color", "never"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    first_beat = None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if first_beat is None and re.search(r" beat [NSVFQ] ", line):
            first_beat = time.monotonic() - t0
    assert proc.wait(60) == 0
    out = "".join(lines)
    assert first_beat is not None and first_beat < 5.0, out[-2000:]
    assert "=== summary ===" in out and "EC57 detection vs reference" in out
    se = float(re.search(r"Se ([\d.]+)%", out).group(1))
    assert se > 95.0


def test_run_demo_in_process(int8_model):
    import io

    from edge.runtime.demo import run_demo

    buf = io.StringIO()
    res = run_demo(speed=None, model=int8_model, duration_s=30.0, stream=buf, show_beats=False)
    assert sum(res.beats_per_class.values()) > 30
    assert res.agreement.detection.se > 0.95
    import re
    assert not re.search(r" beat [NSVFQ] ", buf.getvalue())


def test_ctrl_c_scores_only_what_was_played(int8_model):
    """Issue 14, bad input 4: after Ctrl-C the summary scored the detections against the whole
    5-minute reference (Se 19.50 % after 60 s). It must score only the span played."""
    import signal

    env = subprocess_env()
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "demo", "--speed", "20",
                             "--model", str(int8_model), "--color", "never", "--no-beats"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(6.0)  # ~100 s of the 300 s excerpt
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-2000:]
    m = re.search(r"EC57 detection vs reference \(the (\d+) s played\): Se ([\d.]+)%", out)
    assert m, out[-2000:]
    assert 20 < int(m.group(1)) < 290 and float(m.group(2)) > 95.0
