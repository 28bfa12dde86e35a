"""Memory and start-up of the device path (issue 18): helpers for ``bench_efficiency.py``.

    MITDB_DIR=... python benchmarks/efficiency_memory.py [--repeats 5] [--seconds 20]

prints the three measurements as JSON:

``import_rss_mb()``        peak RSS (MB, ``ru_maxrss``) of a fresh interpreter after importing each
                           component, cumulatively (python -> numpy -> kernels -> model
                           interpreter -> edge device path -> everything ``ecg-edge run`` imports),
                           plus ``scipy.signal`` after numpy for reference
``daemon_peak_rss_mb()``   peak RSS of ``ecg-edge run --port PTY`` fed by the simulated wearable
                           (``firmware_bridge.replay``) -- bench_daemon's child-RSS helper
``startup_s()``            launch of ``ecg-edge run --port PTY --json`` -> its first processed
                           sample on stdout (defined below), median and worst of ``repeats``

Start-up, precisely: the wall time from ``Popen`` of ``python -m edge.cli run --port PTY --json``
to the arrival on its stdout of the first ``strip`` event (the first event that carries processed
samples: conditioned, decimated ECG). The simulated wearable sends at maximum speed, so samples
are waiting on the pty when the port opens and no waiting for the wearable is counted; only
the daemon's own start (interpreter, imports, configuration, model load, port open) and the
processing of its first read. Also reported: the time to the ``link`` "connected" event (port
open, before any sample) and the daemon's CPU seconds (user + system, ``/proc/PID/stat``) when
the first strip arrives, which does not depend on the machine's load (the load average is
reported with the wall times).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_daemon import _child_usage  # noqa: E402  (after the path set-up)

__all__ = ["import_rss_mb", "daemon_peak_rss_mb", "daemon_cpu_1x", "startup_s",
           "FORBIDDEN_ON_DEVICE"]

#: Modules ``ecg-edge run --port`` must not import (heavy and unused on the device).
FORBIDDEN_ON_DEVICE = ("scipy.signal", "scipy.ndimage", "scipy.stats", "scipy.linalg",
                       "scipy.special", "pandas", "wfdb", "tensorflow", "matplotlib")

#: Cumulative import steps of :func:`import_rss_mb` (label, statements).
_IMPORT_STEPS = (
    ("python", ""),
    ("numpy", "import numpy"),
    # (before issue 18 the device's kernels and designs came from scipy.signal/ndimage)
    ("kernels", "try:\n    import edge.dsp.kernels, edge.dsp.designs\n"
                "except ImportError:\n    from scipy import ndimage, signal"),
    ("model_interpreter", "import edge.model.classifier as c; c.load_interpreter_class()"),
    ("edge_device_path", "import edge.runtime.daemon, edge.runtime.device, edge.sinks"),
    ("whole_run", "import edge.cli.main, edge.cli.run, edge.runtime.loader, "
                  "firmware_bridge.serial_source"),
)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                                    if os.environ.get("PYTHONPATH") else ""))


def _rss_after(statements: str) -> tuple[float, list[str]]:
    # VmHWM (peak RSS of this process image): ru_maxrss would keep the high-water mark of the
    # parent's memory copied at fork, which survives exec on Linux.
    code = (f"{statements}\nimport resource, sys, json\n"
            "try:\n    hwm = [int(x.split()[1]) for x in open('/proc/self/status') "
            "if x.startswith('VmHWM')][0]\n"
            "except OSError:\n    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(json.dumps([hwm / 1024, "
            f"[m for m in {FORBIDDEN_ON_DEVICE!r} if m in sys.modules]]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                       cwd=ROOT, check=True)
    rss, present = json.loads(p.stdout.strip().splitlines()[-1])
    return round(rss, 1), present


def import_rss_mb() -> dict[str, float]:
    """Peak RSS (MB) of a fresh interpreter after each cumulative import step (see
    ``_IMPORT_STEPS``), and ``scipy.signal_for_reference`` (numpy + scipy.signal)."""
    out: dict[str, float] = {}
    done: list[str] = []
    for label, stmt in _IMPORT_STEPS:
        if stmt:
            done.append(stmt)
        out[label], _ = _rss_after("\n".join(done) or "pass")
    out["scipy.signal_for_reference"], _ = _rss_after("import numpy\nimport scipy.signal")
    return out


def _record_args(record: str) -> list[str]:
    data_dir = os.environ.get("MITDB_DIR")
    return [record] + (["--data-dir", data_dir] if data_dir else [])


def _daemon_on_pty(sim_args: list[str], idle_exit_s: float) -> tuple[float, float, float, Path]:
    """``ecg-edge run --port PTY --quiet --jsonl FILE`` (its own process) fed by the simulated
    wearable (``firmware_bridge.replay`` with ``sim_args``, another process) until it has been
    idle ``idle_exit_s``: its peak RSS (MB), CPU seconds, wall seconds and the JSONL file."""
    import tempfile

    from firmware_bridge.replay import spawn_replay

    out = Path(tempfile.mkdtemp()) / "ev.jsonl"
    env = _env()
    run = [sys.executable, "-m", "edge.cli", "run", "--quiet", "--jsonl", str(out)]
    with spawn_replay(sim_args, env=env) as sim:
        w0 = time.perf_counter()
        mb, cpu = _child_usage(run + ["--port", sim.device_path, "--idle-exit-s",
                                      str(idle_exit_s)], env)
        wall = time.perf_counter() - w0
    return mb, cpu, wall, out


def daemon_peak_rss_mb(seconds: float = 20, *, record: str = "233",
                       speed: float | None = 1.0) -> dict:
    """Peak RSS (MB) of ``ecg-edge run --port PTY --quiet --jsonl FILE`` while the simulated
    wearable sends ``seconds`` of ``record`` at ``speed`` (1 = real time, its default frames;
    None = as fast as possible); the daemon exits 2 s after the stream ends."""
    sim_args = _record_args(record) + ["--speed", "max" if speed is None else str(speed),
                                       "--duration-s", str(seconds)]
    mb, _, _, out = _daemon_on_pty(sim_args, 2)
    n_events = sum(1 for _ in out.open()) if out.exists() else 0
    return {"peak_rss_mb": mb, "record": record, "stream_s": seconds,
            "speed": "max" if speed is None else speed, "events": n_events}


def daemon_cpu_1x(seconds: float, samples_per_frame: int, *, record: str = "233",
                  startup_cpu_s: float = 0.0) -> dict:
    """The daemon's CPU share at 1x real time: :func:`daemon_peak_rss_mb`'s set-up with the
    wearable sending ``samples_per_frame`` samples per frame (record 233: 360 Hz); the CPU
    seconds include the process start-up, ``cpu_percent_without_startup`` takes
    ``startup_cpu_s`` off."""
    sim_args = _record_args(record) + ["--speed", "1", "--duration-s", str(seconds),
                                       "--samples-per-frame", str(samples_per_frame)]
    _, cpu, wall, out = _daemon_on_pty(sim_args, 1)
    beats = sum(1 for line in out.open() if '"type":"beat"' in line) if out.exists() else 0
    return {"seconds": seconds, "samples_per_frame": samples_per_frame,
            "frame_ms": round(1000 * samples_per_frame / 360.0, 1), "daemon_cpu_s": round(cpu, 3),
            "wall_s": round(wall, 2), "cpu_percent_of_stream": round(100 * cpu / seconds, 3),
            "cpu_percent_without_startup": round(100 * (cpu - startup_cpu_s) / seconds, 3),
            "startup_cpu_s": startup_cpu_s, "beats": beats}


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_startup(record: str) -> dict:
    from firmware_bridge.replay import spawn_replay

    env = _env()
    with spawn_replay(_record_args(record) + ["--speed", "max", "--duration-s", "30"],
                      env=env) as sim:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--port", sim.device_path,
                              "--json", "--idle-exit-s", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
        connected = first = cpu = None
        try:
            for line in p.stdout:
                event = json.loads(line)
                if event.get("type") == "link" and event.get("state") == "connected":
                    connected = time.perf_counter() - t0
                if event.get("type") == "strip":
                    first = time.perf_counter() - t0
                    cpu = _cpu_s(p.pid)
                    break
        finally:
            p.terminate()
            p.wait(timeout=30)
    if first is None:
        raise RuntimeError("ecg-edge run produced no strip event")
    return {"first_sample_s": first, "connected_s": connected, "cpu_s_at_first_sample": cpu}


def startup_s(repeats: int = 5, *, record: str = "233") -> dict:
    """Start-up of ``ecg-edge run --port PTY --json`` (see the module docstring): median and
    worst over ``repeats`` launches, after one untimed launch (bytecode caches written)."""
    _one_startup(record)
    runs = [_one_startup(record) for _ in range(repeats)]

    def stats(key: str) -> dict:
        vals = [r[key] for r in runs if r[key] is not None]
        return {"median": round(statistics.median(vals), 3), "worst": round(max(vals), 3)}

    return {"repeats": repeats, "first_sample_s": stats("first_sample_s"),
            "connected_s": stats("connected_s"),
            "cpu_s_at_first_sample": stats("cpu_s_at_first_sample"),
            "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="imports,daemon,startup",
                    help="comma-separated subset of imports,daemon,startup")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not only <= {"imports", "daemon", "startup"}:
        ap.error(f"--only: unknown part(s) {sorted(only - {'imports', 'daemon', 'startup'})}")
    if only & {"daemon", "startup"} and not os.environ.get("MITDB_DIR"):
        ap.error("the simulated wearable replays MIT-BIH record 233: set MITDB_DIR")
    if args.repeats < 1 or not args.seconds > 0:
        ap.error("--repeats must be >= 1 and --seconds > 0")
    try:
        result = _measure(only, args)
    except KeyboardInterrupt:
        print("efficiency_memory: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(result, indent=1))
    return 0


def _measure(only: set[str], args: argparse.Namespace) -> dict:
    result = {}
    if "imports" in only:
        result["import_rss_mb"] = import_rss_mb()
    if "daemon" in only:
        result["daemon_peak_rss_mb"] = daemon_peak_rss_mb(args.seconds)
    if "startup" in only:
        result["startup_s"] = startup_s(args.repeats)
    return result


if __name__ == "__main__":
    sys.exit(main())
