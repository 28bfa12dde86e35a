"""Whole-daemon benchmark.

    MITDB_DIR=... python benchmarks/bench_daemon.py [--model M] [--record 233] [--rt-s 60]

1. Throughput: the full record replayed in-process (ReplaySource, as fast as possible, frames
   decoded exactly as from a serial port) through the daemon into a JSONL file sink, pinned
   to one core; reported as stream seconds per CPU second (x real time), with per-stage times.
2. Peak memory: the same run as `ecg-edge run` in a subprocess (LiteRT interpreter, no
   TensorFlow import), ru_maxrss of the child.
3. Real time: the simulated wearable on a pty at 1x for --rt-s seconds -> SerialSource ->
   daemon: CPU share (process CPU s / wall s) and latency from the arrival of the chunk that
   completes a beat's look-ahead to the beat's event (median, p99).

Writes benchmarks/results/daemon.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import check_model, check_records, positive_float, run_bench  # noqa: E402


def throughput(model: str, record: str) -> dict:
    from edge.model.classifier import BeatClassifier
    from edge.runtime.daemon import Daemon
    from edge.runtime.settings import load_config
    from edge.sinks import RotatingJsonlSink
    from firmware_bridge.replay import ReplayConfig
    from firmware_bridge.replay_source import ReplaySource

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    clf = BeatClassifier(model)
    cfg = load_config(None, ['source.serial.port="x"', "outputs.status_interval_s=0"])
    out = Path(tempfile.mkdtemp()) / "ev.jsonl"
    src = ReplaySource(ReplayConfig(record=record, speed=None), max_frames_per_read=64)
    c0, w0 = time.process_time(), time.perf_counter()
    res = Daemon(cfg, source=src, classifier=clf, sinks=[RotatingJsonlSink(out)]).run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    stream_s = res.counters["stream_s"]
    return {"record": record, "stream_s": stream_s, "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3), "x_real_time_cpu": round(stream_s / cpu, 1),
            "x_real_time_wall": round(stream_s / wall, 1), "beats": res.counters["beats"],
            "events": res.counters["events"], "stages": res.stages,
            "jsonl_bytes": out.stat().st_size}


def _child_usage(cmd: list[str], env: dict) -> tuple[float, float]:
    """Peak RSS (MB) and CPU seconds (user + system) of a command run as a child of a small
    wrapper process."""
    code = ("import resource,subprocess,sys;"
            "p=subprocess.run(sys.argv[1:]);"
            "r=resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(r.ru_maxrss, r.ru_utime + r.ru_stime)")
    p = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True,
                       env=env, cwd=ROOT, check=True)
    rss_kb, cpu_s = p.stdout.strip().splitlines()[-1].split()
    return round(int(rss_kb) / 1024, 1), float(cpu_s)


def _child_peak_rss_mb(cmd: list[str], env: dict) -> float:
    """Peak RSS (MB) of a command run as a child of a small wrapper process."""
    return _child_usage(cmd, env)[0]


def peak_memory(model: str, record: str) -> dict:
    """Peak RSS of ``ecg-edge run`` (a) on a serial port fed by the simulated wearable in
    another process -- the device's configuration -- and (b) with the in-process replay source,
    which also loads wfdb (and with it pandas) to read the record."""
    from firmware_bridge.replay import spawn_replay

    out = Path(tempfile.mkdtemp()) / "ev.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = [sys.executable, "-m", "edge.cli", "run", "--model", model, "--quiet",
           "--jsonl", str(out)]
    with spawn_replay([record, "--speed", "max", "--duration-s", "1800"], env=env) as sim:
        serial_mb = _child_peak_rss_mb(run + ["--port", sim.device_path, "--idle-exit-s", "2"],
                                       env)
    replay_mb = _child_peak_rss_mb(run + ["--replay", record, "--speed", "max"], env)
    chk = subprocess.run([sys.executable, "-c",
                          "import edge.runtime.daemon, edge.model.classifier, sys;"
                          "edge.model.classifier.load_interpreter_class();"
                          "print('tensorflow' in sys.modules)"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    return {"peak_rss_mb": serial_mb, "peak_rss_mb_replay_source": replay_mb,
            "tensorflow_imported": chk.stdout.strip()}


def real_time(model: str, record: str, seconds: float) -> dict:
    from edge.model.classifier import BeatClassifier
    from edge.runtime.daemon import Daemon
    from edge.runtime.settings import load_config
    from edge.sinks import RotatingJsonlSink
    from firmware_bridge.replay import ReplayConfig, start_replay
    from firmware_bridge.serial_source import SerialConfig, SerialSource

    clf = BeatClassifier(model)
    cfg = load_config(None, ['source.serial.port="x"', "outputs.status_interval_s=0",
                             "daemon.idle_exit_s=1.5"])
    out = Path(tempfile.mkdtemp()) / "ev.jsonl"
    with start_replay(ReplayConfig(record=record, speed=1.0, duration_s=seconds)) as h:
        src = SerialSource(SerialConfig(port=h.device_path))
        daemon = Daemon(cfg, source=src, classifier=clf, sinks=[RotatingJsonlSink(out)])
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.perf_counter()
        res = daemon.run()
        wall = time.perf_counter() - w0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"seconds": seconds, "wall_s": round(wall, 2),
            "cpu_share_percent_incl_simulator_thread": round(100 * cpu / wall, 2),
            "daemon_busy_percent": round(100 * res.counters["processing_s"] / wall, 2),
            "latency": res.counters["latency"], "beats": res.counters["beats"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="int8 .tflite model (default: the bundled one)")
    ap.add_argument("--record", default="233", help="MIT-BIH record ($MITDB_DIR) or its path")
    ap.add_argument("--rt-s", type=positive_float, default=60.0,
                    help="seconds of the real-time run (default %(default)s)")
    args = ap.parse_args(argv)
    return run_bench("bench_daemon", lambda: _run(args), data_dir_option=False)


def _run(args: argparse.Namespace) -> int:
    from edge.model.bundled import default_model_path

    model = str(args.model or default_model_path())
    check_model(model)  # before any work: a damaged model or a missing record is one line
    check_records([args.record])
    result = {"throughput": throughput(model, args.record),
              "memory": peak_memory(model, args.record),
              "real_time": real_time(model, args.record, args.rt_s)}
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "daemon.json").write_text(json.dumps(result, indent=1))
    t, m, r = result["throughput"], result["memory"], result["real_time"]
    stages = sorted(t["stages"].items(), key=lambda kv: -kv[1]["cpu_s"])
    md = ["# Daemon benchmark", "", f"record {t['record']} ({t['stream_s']:.0f} s), model "
          f"{Path(model).name}", "",
          f"- throughput (one core): **{t['x_real_time_cpu']}x real time** per CPU s "
          f"({t['x_real_time_wall']}x wall), {t['beats']} beats",
          f"- peak memory (`ecg-edge run --port` on the simulated wearable's pty, TF imported: "
          f"{m['tensorflow_imported']}): **{m['peak_rss_mb']} MB** RSS; with the in-process "
          f"replay source (loads wfdb and pandas): {m['peak_rss_mb_replay_source']} MB",
          f"- 1x real time for {r['seconds']:.0f} s on a pty: CPU share "
          f"{r['cpu_share_percent_incl_simulator_thread']}% (incl. simulator thread), daemon "
          f"busy {r['daemon_busy_percent']}%; latency median {r['latency']['median_ms']} ms, "
          f"p99 {r['latency']['p99_ms']} ms", "", "| stage | calls | s |", "|---|---|---|"]
    md += [f"| {k} | {v['calls']} | {v['cpu_s']:.3f} |" for k, v in stages]
    (res_dir / "daemon.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
