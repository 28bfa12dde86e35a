"""What per-event fsync costs in the MQTT outbox, by event class.

    python benchmarks/bench_outbox_durability.py [--minutes 5] [--dir DIR]

Replays the event mix of a monitored wearer (rates and payload sizes measured from
``ecg-edge run --replay edge/data/mitdb_233_excerpt --json``: per second 1.73 beats of 303 B,
1 strip of 743 B, 0.2 hr of 216 B, an alert every 25 s of 223 B) into an
:class:`~edge.sinks.outbox.Outbox` on ``--dir`` (a file system like the gateway's), each append
followed by its acknowledgement (the delete the sink does on PUBACK), as fast as possible.
Configurations:

* ``normal``           ``synchronous = "normal"``, nothing fsync'd per event
* ``normal+alert``     ``fsync_types = ("alert",)`` (the default)
* ``normal+alert+beat`` ``fsync_types = ("alert", "beat")``
* ``full``             ``synchronous = "full"`` (every append and every delete fsync'd)

Reported per configuration and event type: append time median / p99 / max (ms), and the
daemon-thread time per hour of monitoring those appends cost. Writes
``benchmarks/results/outbox_durability.{json,md}``. The number depends on the storage: run it
on the gateway's SD card to choose there.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import output_dir, positive_float, run_bench  # noqa: E402

#: Events per second and payload bytes of one monitored wearer (see the module docstring).
MIX = {"beat": (1.73, 303), "strip": (1.0, 743), "hr": (0.2, 216), "alert": (0.04, 223)}
CONFIGS = {"normal": ("normal", ()), "normal+alert": ("normal", ("alert",)),
           "normal+alert+beat": ("normal", ("alert", "beat")), "full": ("full", ())}


def schedule(minutes: float) -> list[str]:
    """Event types in stream order for ``minutes`` of monitoring (deterministic)."""
    out: list[tuple[float, str]] = []
    for kind, (rate, _) in MIX.items():
        n = int(rate * minutes * 60)
        out.extend(((i + 0.5) / rate, kind) for i in range(n))
    return [k for _, k in sorted(out)]


def run_config(name: str, directory: Path, kinds: list[str]) -> dict:
    from edge.sinks.outbox import Outbox, OutboxConfig

    sync, fsync_types = CONFIGS[name]
    path = directory / f"{name}.sqlite"
    for p in directory.glob(f"{name}.sqlite*"):
        p.unlink()
    times: dict[str, list[float]] = {k: [] for k in MIX}
    ack_s: list[float] = []
    with Outbox(OutboxConfig(path=str(path), synchronous=sync,
                             fsync_types=fsync_types)) as ob:
        for kind in kinds:
            payload = b"x" * MIX[kind][1]
            t0 = time.perf_counter()
            oid = ob.append(f"ecg/1/{kind}", payload, qos=1, retain=False, event_type=kind)
            t1 = time.perf_counter()
            ob.ack([oid])
            ack_s.append(time.perf_counter() - t1)
            times[kind].append(t1 - t0)
    per_type = {}
    hour_ms = 0.0
    for kind, ts in times.items():
        a = np.asarray(ts) * 1000.0
        per_type[kind] = {"n": int(a.size), "median_ms": round(float(np.median(a)), 3),
                          "p99_ms": round(float(np.percentile(a, 99)), 3),
                          "max_ms": round(float(a.max()), 3)}
        hour_ms += float(a.mean()) * MIX[kind][0] * 3600
    acks = np.asarray(ack_s) * 1000.0
    hour_ms += float(acks.mean()) * sum(r for r, _ in MIX.values()) * 3600
    return {"config": name, "synchronous": sync, "fsync_types": list(fsync_types),
            "per_type": per_type,
            "ack_median_ms": round(float(np.median(acks)), 3),
            "ack_p99_ms": round(float(np.percentile(acks, 99)), 3),
            "daemon_ms_per_hour": round(hour_ms, 1),
            "share_of_daemon_thread": round(hour_ms / 3.6e6, 5)}


def file_system(directory: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(directory)], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()
        return " ".join(out[-1].split()[:2]) if len(out) > 1 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def write_md(res: dict, path: Path) -> None:
    lines = ["# Outbox durability: the cost of fsync per event class", "",
             f"`{res['command']}` — {res['events']} events ({res['minutes']} min of one "
             f"wearer's mix), each appended then acknowledged; directory on "
             f"`{res['file_system']}`, {res['host']}.", "",
             "| config | beat append median / p99 ms | strip | hr | alert | ack (delete) "
             "median / p99 ms | daemon-thread ms per hour |",
             "|---|---|---|---|---|---|---|"]
    for r in res["results"]:
        cells = [f"{r['per_type'][k]['median_ms']} / {r['per_type'][k]['p99_ms']}"
                 for k in ("beat", "strip", "hr", "alert")]
        lines.append(f"| `{r['config']}` | " + " | ".join(cells)
                     + f" | {r['ack_median_ms']} / {r['ack_p99_ms']} | "
                       f"{r['daemon_ms_per_hour']} |")
    lines += ["", "The fsync'd classes pay the storage's fsync latency once per event; an "
              "alert's fsync also makes every earlier append durable (one WAL). What an "
              "fsync costs is a property of the storage: measure on the gateway's card."]
    path.write_text("\n".join(lines) + "\n")


def minutes_of_mix(text: str) -> float:
    """An argparse type: minutes of the mix, enough for one event of every class (the rarest,
    an alert, comes every 25 s): 0.5 or more."""
    value = positive_float(text)
    if value < 0.5:
        raise argparse.ArgumentTypeError(f"expected at least 0.5 min (one alert), got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=minutes_of_mix, default=30.0)
    ap.add_argument("--dir", type=Path, default=None,
                    help="directory of the outbox files (default: a temporary one)")
    ap.add_argument("--out", type=output_dir, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if args.dir is not None:
        return run_bench("bench_outbox_durability", lambda: _run(args, args.dir))
    directory = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    try:
        return run_bench("bench_outbox_durability", lambda: _run(args, directory))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run(args: argparse.Namespace, directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    kinds = schedule(args.minutes)
    results = [run_config(name, directory, kinds) for name in CONFIGS]
    res = {"command": "python benchmarks/bench_outbox_durability.py"
                      + (f" --minutes {args.minutes:g}" if args.minutes != 30.0 else ""),
           "minutes": args.minutes, "events": len(kinds), "file_system": file_system(directory),
           "host": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
           "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "outbox_durability.json").write_text(json.dumps(res, indent=1) + "\n")
    write_md(res, args.out / "outbox_durability.md")
    print((args.out / "outbox_durability.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
