"""Fleet load benchmark: K simulated wearables at 1x real time -> one process with K
pipelines -> MqttSink (file outbox) -> one local Mosquitto -> a subscriber process.

For each K it reports the daemon process's CPU (cores, all threads: pipelines, outbox, paho),
Mosquitto's CPU, whether the pipelines kept up with real time (stream seconds processed per
wall second, per device), and the end-to-end latency of beat events (the event's ``time_s``
stamp in the daemon -> receipt by the subscriber; same host clock), median and p99.

The K at which one core saturates is the first K whose daemon CPU reaches ``--saturation``
(default 0.9 core), that falls behind real time, or whose pipeline latency p99 exceeds
``--max-p99-ms``; the latency is then measured again at K/2.

    MITDB_DIR=/work/shared/data/mitdb python benchmarks/bench_fleet.py \
        --model /tmp/untrained_cnn.tflite --ks 8,16,32,48,64 --duration-s 20

Loopback only; every loop is bounded by ``--duration-s``. Results:
``benchmarks/results/fleet.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    check_model,
    check_records,
    output_file,
    positive_float,
    positive_ints,
    run_bench,
)
from firmware_bridge.replay import ReplayConfig  # noqa: E402
from firmware_bridge.replay_source import ReplaySource  # noqa: E402
from firmware_bridge.sources import SampleChunk  # noqa: E402

logger = logging.getLogger("bench_fleet")

RECORDS = ["100", "101", "103", "105", "106", "108", "109", "111", "112", "113", "114", "115",
           "116", "117", "118", "119", "121", "122", "123", "124", "200", "201", "202", "203",
           "205", "207", "208", "209", "210", "212", "213", "214", "215", "219", "220", "221",
           "222", "223", "228", "230", "231", "232", "233", "234"]

_SUBSCRIBER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
port, out, stop_after = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
lat, n = [], [0]
def on_message(c, u, m):
    n[0] += 1
    try:
        p = json.loads(m.payload)
    except ValueError:
        return
    if p.get("type") == "beat":
        lat.append(time.time() - p["time_s"])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
c.on_connect = lambda c, u, f, rc, p: c.subscribe("ecg/+/beats", qos=1)
c.on_message = on_message
c.connect("127.0.0.1", port)
c.loop_start()
print("ready", flush=True)
try:
    time.sleep(stop_after)
except KeyboardInterrupt:  # Ctrl-C reaches the whole group: the parent says it in one line
    sys.exit(130)
c.loop_stop()
json.dump({"latencies_s": lat, "messages": n[0]}, open(out, "w"))
"""


class FleetSource:
    """K in-process replay sources behind one SampleSource (same decoder path as ecg-sim)."""

    def __init__(self, sources: list[ReplaySource]) -> None:
        self.sources = sources
        self.default_read_timeout_s = 0.05
        self.t_finished: float | None = None
        self.cpu_finished: float | None = None

    def open(self) -> None:
        for s in self.sources:
            s.open()

    def close(self) -> None:
        for s in self.sources:
            s.close()

    @property
    def finished(self) -> bool:
        done = all(s.finished for s in self.sources)
        if done and self.t_finished is None:
            self.t_finished = time.monotonic()
            self.cpu_finished = time.process_time()
        return done

    def drain_events(self):  # noqa: ANN201
        out = []
        for s in self.sources:
            out += s.drain_events()
        return out

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:
        deadline = time.monotonic() + (timeout_s or 0.05)
        while True:
            chunks: list[SampleChunk] = []
            for s in self.sources:
                if not s.finished:
                    chunks += s.read(0.0)
            if chunks or time.monotonic() >= deadline:
                return chunks
            time.sleep(0.005)


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_fleet(k: int, *, model: str, duration_s: float, port: int, broker_pid: int,
              workdir: Path) -> dict:
    from edge.model.classifier import BeatClassifier
    from edge.runtime.daemon import Daemon
    from edge.runtime.settings import load_config
    from edge.sinks import MqttSink, MqttSinkSettings
    from edge.sinks.outbox import Outbox, OutboxConfig

    data_dir = os.environ.get("MITDB_DIR")
    sources = [ReplaySource(ReplayConfig(record=RECORDS[i % len(RECORDS)], data_dir=data_dir,
                                         speed=1.0, duration_s=duration_s, device_id=i + 1,
                                         start_s=60.0 * (i // len(RECORDS))))
               for i in range(k)]
    sub_out = workdir / f"sub_{k}.json"
    sub = subprocess.Popen([sys.executable, "-c", _SUBSCRIBER, str(port), str(sub_out),
                            str(duration_s + 15)], stdout=subprocess.PIPE, text=True)
    sub.stdout.readline()
    config = load_config(None, ["outputs.status_interval_s=0", "sinks.terminal.enabled=false",
                                'source.kind="replay"', 'source.replay.record="100"'])
    outbox = Outbox(OutboxConfig(path=str(workdir / f"outbox_{k}.sqlite")))
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=port, drain_timeout_s=10.0),
                    outbox=outbox)
    clf = BeatClassifier(model)
    fleet = FleetSource(sources)
    fleet.open()  # loads the K records; the replay clocks start now
    daemon = Daemon(config, source=fleet, classifier=clf, sinks=[sink])
    cpu0, wall0, b0 = time.process_time(), time.monotonic(), _proc_cpu_s(broker_pid)
    result = daemon.run()
    b1 = _proc_cpu_s(broker_pid)
    t_end = fleet.t_finished or time.monotonic()
    wall = t_end - wall0
    cpu = (fleet.cpu_finished or time.process_time()) - cpu0
    broker_cpu = b1 - b0
    sub.wait(duration_s + 60)
    got = json.loads(sub_out.read_text())
    lat = sorted(got["latencies_s"])
    stream_s = result.counters["stream_s"]
    out = {"k": k, "wall_s": round(wall, 2), "daemon_cpu_cores": round(cpu / wall, 3),
           "broker_cpu_cores": round(broker_cpu / wall, 3),
           "stream_s_per_device_per_wall_s": round(stream_s / k / wall, 3),
           "lag_s": round(wall - duration_s, 2),
           "beats": result.counters["beats"], "beats_received": len(lat),
           "events": sum(result.counters["events"].values()),
           "latency_ms": {"median": round(1e3 * statistics.median(lat), 1) if lat else None,
                          "p99": round(1e3 * lat[int(0.99 * (len(lat) - 1))], 1) if lat
                          else None,
                          "max": round(1e3 * lat[-1], 1) if lat else None},
           "pipeline_latency_ms": result.counters.get("latency")}
    logger.info("%s", out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="int8 .tflite model")
    ap.add_argument("--ks", type=positive_ints, default="8,16,32,48,64",
                    help="fleet sizes to try, ascending")
    ap.add_argument("--duration-s", type=positive_float, default=20.0,
                    help="replay length per K (s)")
    ap.add_argument("--saturation", type=positive_float, default=0.9, help="daemon CPU (cores) "
                    "that counts as a saturated core")
    ap.add_argument("--max-p99-ms", type=positive_float, default=1000.0, help="pipeline latency "
                    "p99 (chunk arrival -> beat emitted) beyond which the fleet counts as "
                    "saturated (a shared host may never give the process a full core)")
    ap.add_argument("--out", type=output_file,
                    default=str(REPO / "benchmarks" / "results" / "fleet.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("edge").setLevel(logging.ERROR)
    logging.getLogger("firmware_bridge").setLevel(logging.ERROR)
    if shutil.which("mosquitto") is None:
        print("needs mosquitto (apt-get install mosquitto)", file=sys.stderr)
        return 2
    return run_bench("bench_fleet", lambda: _run(args), data_dir_option=False)


def _run(args: argparse.Namespace) -> int:
    check_model(args.model)  # before any broker or replay: a damaged model is one line
    check_records(RECORDS[:max(args.ks)])  # read from $MITDB_DIR, as the replays do
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        return _sweep(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sweep(args: argparse.Namespace, work: Path) -> int:
    sys.path.insert(0, str(REPO / "tests" / "edge"))
    from tests.edge.sinks.broker_support import Broker  # noqa: PLC0415

    rows = []
    saturated_k = None
    with Broker(work / "broker") as broker:
        for k in args.ks:
            row = run_fleet(k, model=args.model, duration_s=args.duration_s, port=broker.port,
                            broker_pid=broker.proc.pid, workdir=work)
            rows.append(row)
            p99 = (row["pipeline_latency_ms"] or {}).get("p99_ms") or 0.0
            if row["daemon_cpu_cores"] >= args.saturation or \
                    row["lag_s"] > 0.05 * args.duration_s or p99 > args.max_p99_ms:
                saturated_k = k
                break
        half = None
        if saturated_k:
            half = run_fleet(max(1, saturated_k // 2), model=args.model,
                             duration_s=args.duration_s, port=broker.port,
                             broker_pid=broker.proc.pid, workdir=work)
    report = {"host": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
              "duration_s": args.duration_s, "model": args.model, "sweep": rows,
              "saturated_k": saturated_k, "at_half_saturation": half}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({"saturated_k": saturated_k, "at_half": half}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
