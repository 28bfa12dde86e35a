"""The device path imports only what it runs (issue 18): ``ecg-edge check``, ``ecg-edge run
--port`` on the simulated wearable's pty, and ``ecg-edge annotate`` never import
``scipy.signal``, ``scipy.ndimage`` or ``scipy.stats`` (~75 MB, ~0.5 s); ``run --port`` and
``check`` not pandas or wfdb either. Each command runs for real in a fresh interpreter that
reports ``sys.modules`` at exit."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.replay import spawn_replay

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "deploy" / "ecg-edge.toml"
SCIPY_HEAVY = ("scipy.signal", "scipy.ndimage", "scipy.stats", "scipy.linalg", "scipy.special")
NOT_ON_DEVICE = SCIPY_HEAVY + ("pandas", "wfdb", "tensorflow", "matplotlib", "edge.dashboard")

_WRAPPER = """
import atexit, json, sys
atexit.register(lambda: print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["ecg-edge"] + sys.argv[1:]
from edge.cli import main
sys.exit(main())
"""


def _modules_of(argv: list[str], env: dict | None = None) -> tuple[set[str], str]:
    run_env = dict(os.environ if env is None else env, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], cwd=REPO, env=run_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return set(json.loads(line[len("MODULES "):])), proc.stdout


def _present(modules: set[str], names) -> list[str]:
    # Exact names: importing any submodule normally imports its package first; the kernels'
    # extension files (scipy.signal._sosfilt...) are loaded by file, without their package.
    return [n for n in names if n in modules]


def test_check_imports_no_heavy_module():
    modules, out = _modules_of(["check", str(CONFIG)])
    assert "filter kernels: direct" in out
    assert _present(modules, NOT_ON_DEVICE) == []
    assert "scipy.signal._sosfilt" in modules  # the kernels did load (by file)


def test_run_on_a_serial_port_imports_no_heavy_module(mitdb_dir, tmp_path):
    events = tmp_path / "ev.jsonl"
    with spawn_replay(["100", "--data-dir", str(mitdb_dir), "--speed", "max",
                       "--duration-s", "60"]) as sim:
        modules, _ = _modules_of(["run", "--port", sim.device_path, "--quiet", "--jsonl",
                                  str(events), "--idle-exit-s", "1"])
    kinds = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert kinds.count("beat") > 50  # the whole pipeline ran: ~75 beats in 60 s of record 100
    assert _present(modules, NOT_ON_DEVICE) == []


def test_annotate_imports_no_scipy_signal_ndimage_or_stats(mitdb_dir, tmp_path):
    modules, out = _modules_of(["annotate", "100", "--data-dir", str(mitdb_dir), "--out-dir",
                                str(tmp_path)])
    assert (tmp_path / "100.cls").exists()
    assert _present(modules, SCIPY_HEAVY + ("edge.dashboard",)) == []
    # wfdb reads the record; its wfdb.io.record imports pandas at module level (not avoided)
    assert "wfdb" in modules


@pytest.mark.parametrize("argv", [["run", "--help"], ["annotate", "--help"]])
def test_help_of_a_device_command_does_not_load_the_dashboard(argv):
    run_env = dict(os.environ, PYTHONPATH=str(REPO))
    code = ("import sys\nfrom edge.cli.main import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "print([m for m in sys.modules if m.startswith(('edge.dashboard', 'scipy.signal'))])")
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, env=run_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
