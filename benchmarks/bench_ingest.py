"""Ingest benchmark: K simulated gateways -> one local Mosquitto -> one or two ``ecg-edge
ingest`` processes -> PostgreSQL (and SQLite).

Every server is started here on a free loopback port (Mosquitto with persistence; a
PostgreSQL cluster made with ``initdb``, ``fsync`` and ``synchronous_commit`` on) and deleted
at the end. Gateways publish the event mix of a real wearer (per device and second of ECG:
1 strip of 90 samples, ~1.6 beats, 0.2 hr, 0.07 alerts; the proportions of ``ecg-edge run
--replay 208``) at QoS 1 with ``boot``, from two publisher processes.

Throughput runs (``--events`` per run): the gateways' backlog is published while ingest is
away (the broker queues it for the ingest's persistent session), then ingest drains it; the
clock runs from ingest start to the last row committed (a count query every 0.25 s). During
every PostgreSQL run ingest is ``kill -9``-ed at 1/3 of the rows and restarted at once, and
the broker is restarted (stop, start: persistence) at 2/3. Afterwards the rows are checked
against what was published: **lost** = published ``(device_id, boot, seq)`` without a row,
**duplicated** = rows beyond one per key. ``events/s`` counts outage time in; ``steady
events/s`` is the median of 1 s windows with rows arriving.

Latency run: gateways publish at ``--rate`` events/s (below capacity) for ``--latency-s`` with
ingest running; broker-to-row latency = the row's ``ingest_us`` (commit batch time) minus the
event's ``time_s`` (stamped by the gateway right before publishing; same host clock).

    python benchmarks/bench_ingest.py                  # ~3 min on 2 cores
    python benchmarks/bench_ingest.py --events 100000 --latency-s 10

Loopback only, every loop bounded. Results: ``benchmarks/results/ingest.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.common import output_file, positive_float, positive_int, run_bench  # noqa: E402
from edge.events.model import (  # noqa: E402
    AlertEvent,
    BeatEvent,
    HeartRateEvent,
    StripEvent,
    event_to_dict,
)

FS = 360.0
#: Seconds of ECG in one gateway's cycle and what it emits (≈ ecg-edge run --replay 208).
CYCLE = [("strip", 1.0), ("beat", 0.6), ("beat", 1.0), ("strip", 2.0), ("beat", 1.7),
         ("beat", 2.3), ("strip", 3.0), ("beat", 3.2), ("strip", 4.0), ("beat", 4.1),
         ("beat", 4.8), ("hr", 5.0), ("strip", 5.0)]
ALERT_EVERY = 15  # one alert per 15 s of ECG


def gateway_events(dev: int, n: int, t0_s: float):
    """The first ``n`` events of gateway ``dev`` (boot 1): ``(topic, dict)``."""
    seq = 0
    k = 0
    cycle_s = 5.0
    strip = [round(0.1 * ((i * 7) % 13) - 0.6, 3) for i in range(90)]
    proba = {"N": 0.91, "S": 0.03, "V": 0.04, "F": 0.01, "Q": 0.01}
    rr = {"pre": 0.81, "post": 0.79, "local": 0.8, "long": 0.82}
    while seq < n:
        for kind, at in CYCLE:
            if seq >= n:
                break
            t = k * cycle_s + at
            si = int(t * FS)
            if kind == "beat":
                e = BeatEvent(device_id=dev, seq=seq, time_s=t0_s + t, sample_index=si,
                              fs_hz=FS, label="V" if seq % 17 == 0 else "N", proba=proba,
                              rr_s=rr, rhythm="AFIB" if (k // 40) % 5 == 0 else "N")
                leaf = "beats"
            elif kind == "strip":
                e = StripEvent(device_id=dev, seq=seq, time_s=t0_s + t, sample_index=si - 360,
                               fs_hz=FS, strip_fs_hz=90.0, samples_mv=strip)
                leaf = "strip"
            else:
                e = HeartRateEvent(device_id=dev, seq=seq, time_s=t0_s + t, sample_index=si,
                                   fs_hz=FS, hr_bpm=70.0 + k % 20, window_s=10.0, n_beats=12,
                                   af_burden_1h=0.2, af_burden_run=0.2)
                leaf = "hr"
            yield f"ecg/{dev}/{leaf}", e
            seq += 1
            if kind == "hr" and (k * cycle_s) % ALERT_EVERY == 0 and seq < n:
                a = AlertEvent(device_id=dev, seq=seq, time_s=t0_s + t, kind="v_run",
                               state="onset" if k % 2 else "end", severity="alarm",
                               sample_index=si, fs_hz=FS, detail={"n_beats": 4})
                yield f"ecg/{dev}/alerts", a
                seq += 1
        k += 1


def _payload(e, boot: int = 1, stamp: bool = False) -> bytes:
    d = event_to_dict(e)
    if stamp:
        d["time_s"] = round(time.time(), 6)
    d["boot"] = boot
    return json.dumps(d, separators=(",", ":")).encode()


def publisher(*args) -> None:
    """:func:`_publish` in a publisher process; Ctrl-C (it reaches the whole process group)
    ends it quietly: the parent says it in one line."""
    try:
        _publish(*args)
    except KeyboardInterrupt:
        sys.exit(130)


def _publish(port: int, devices: list[int], per_device: int, rate_per_s: float | None,
             stamp: bool, done: mp.Queue) -> None:
    """Publish ``per_device`` events of each device at QoS 1 (interleaved by device, as a
    fleet does), paced to ``rate_per_s`` when given; reports the count on ``done``."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{devices[0]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    gens = [gateway_events(d, per_device, t0_s=time.time()) for d in devices]
    infos = []
    sent = 0
    start = time.monotonic()
    live = True
    while live:
        live = False
        for g in gens:
            item = next(g, None)
            if item is None:
                continue
            live = True
            topic, e = item
            infos.append(client.publish(topic, _payload(e, stamp=stamp), qos=1))
            sent += 1
            if rate_per_s:
                ahead = sent / rate_per_s - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(300)
    client.disconnect()
    client.loop_stop()
    done.put(sent)


def publish(port: int, n_devices: int, per_device: int, *, rate_per_s: float | None = None,
            stamp: bool = False, n_proc: int = 2) -> int:
    done: mp.Queue = mp.Queue()
    groups = [list(range(1 + i, n_devices + 1, n_proc)) for i in range(n_proc)]
    procs = [mp.Process(target=publisher, args=(port, g, per_device,
                                                rate_per_s / n_proc if rate_per_s else None,
                                                stamp, done)) for g in groups if g]
    for p in procs:
        p.start()
    total = sum(done.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(60)
    return total


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, all threads (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ingest:
    """An ``ecg-edge ingest`` subprocess."""

    def __init__(self, db: str, port: int, client_id: str, share: str | None, log: Path,
                 protocol: str = "3.1.1"):
        self.argv = [sys.executable, "-m", "edge.cli", "ingest", "--db", db, "--mqtt",
                     f"127.0.0.1:{port}", "--client-id", client_id, "--json", "--no-prune",
                     "-v", "--protocol", protocol]
        if share:
            self.argv += ["--share", share]
        self.log = log
        self.outputs: list[dict] = []
        self.proc: subprocess.Popen | None = None
        self.cpu_s = 0.0  # CPU of every run of this worker (start-up included)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "a"),
                                     env=dict(os.environ, PYTHONPATH=str(REPO)))

    def wait_connected(self, n: int, timeout_s: float = 60.0) -> None:
        """Wait until the log shows ``n`` connections of this process (or its restarts)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.read_text().count("INFO edge.store.ingest: "
                                                                "connected to") >= n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"ingest did not connect; see {self.log}")

    def _add_cpu(self) -> None:
        self.cpu_s += proc_cpu_s(self.proc.pid)

    def kill9(self) -> None:
        self._add_cpu()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        self._add_cpu()
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=120)
        if out.strip():
            self.outputs.append(json.loads(out))


def counter(db: str):
    """A function returning the rows stored so far."""
    tables = ("beats", "hr", "alerts", "strips", "device_events")
    if db.startswith("postgresql"):
        import psycopg

        conn = psycopg.connect(db, autocommit=True)

        def count() -> int:
            try:
                return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in tables)
            except psycopg.errors.UndefinedTable:
                return 0
    else:
        import sqlite3

        conn = sqlite3.connect(db, timeout=30)

        def count() -> int:
            try:
                return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in tables)
            except sqlite3.OperationalError:
                return 0
    return count, conn


def verify(db: str, n_devices: int, per_device: int) -> dict:
    """Lost and duplicated rows against what was published."""
    from edge.store import EventStore

    with EventStore.open(db) as store:
        keys = []
        for t in ("beats", "hr", "alerts", "strips", "device_events"):
            keys += store.query(f"SELECT device_id, boot, seq FROM {t}")
        sizes = None
        if store.dialect == "postgresql":
            sizes = {t: {"rows": store.count(t), "bytes": int(store.query(
                f"SELECT pg_total_relation_size('{t}')")[0][0])}
                for t in ("beats", "hr", "alerts", "strips")}
    expected = {(d, 1, s) for d in range(1, n_devices + 1) for s in range(per_device)}
    got = set(map(tuple, keys))
    return {"published": len(expected), "rows": len(keys), "lost": len(expected - got),
            "duplicated": len(keys) - len(got), "unexpected": len(got - expected),
            "table_sizes": sizes}


def end_sessions(db: str, port: int, client_ids: list[str], protocol: str) -> None:
    """Delete the runs' persistent sessions (a later run must not share the broker with
    them: an offline session keeps receiving its copy, or its share of a group)."""
    from edge.store.ingest import MqttIngest, MqttIngestSettings

    for cid in client_ids:
        ing = MqttIngest(MqttIngestSettings(host="127.0.0.1", port=port, client_id=cid,
                                            protocol=protocol), db)
        ing.end_session()
        ing.close()


def drain_run(label: str, db: str, broker, *, n_devices: int, per_device: int, procs: int,
              faults: bool, work: Path, protocol: str = "3.1.1") -> dict:
    """Backlog published while ingest is away, then drained (see the module docstring)."""
    share = f"bench-{label}" if procs > 1 else None
    ingests = [Ingest(db, broker.port, f"{label}-{i}", share, work / f"{label}-{i}.log",
                      protocol) for i in range(procs)]
    # register the persistent sessions (subscribe once), then leave
    for ing in ingests:
        ing.start()
    for ing in ingests:
        ing.wait_connected(1)
    time.sleep(0.5)  # SUBSCRIBE acknowledged
    for ing in ingests:
        ing.stop()
    # what one start costs (imports, connect, schema check): the registration run did nothing
    # else; subtracted per start below to give the CPU cost of the events themselves
    startup_cpu_s = statistics.mean(ing.cpu_s for ing in ingests)
    for ing in ingests:
        ing.cpu_s = 0.0
    n = n_devices * per_device
    t_pub = time.monotonic()
    published = publish(broker.port, n_devices, per_device)
    pub_s = time.monotonic() - t_pub
    count, conn = counter(db)
    base = count()
    timeline: list[tuple[float, int]] = []
    events: list[str] = []
    start = time.monotonic()
    broker_cpu0 = proc_cpu_s(broker.proc.pid)
    for ing in ingests:
        ing.start()
    killed = restarted = False
    deadline = start + 600
    while time.monotonic() < deadline:
        c = count() - base
        now = time.monotonic() - start
        timeline.append((now, c))
        if c >= n:
            break
        if faults and not killed and c >= n / 3:
            ingests[0].kill9()
            ingests[0].start()
            events.append(f"kill -9 of ingest at {c} rows ({now:.1f} s), restarted")
            killed = True
        elif faults and killed and not restarted and c >= 2 * n / 3:
            t0 = time.monotonic()
            broker_cpu0 -= proc_cpu_s(broker.proc.pid)
            broker.stop()
            broker.start(timeout_s=60)
            events.append(f"broker restarted at {c} rows ({now:.1f} s; down "
                          f"{time.monotonic() - t0:.1f} s)")
            restarted = True
        time.sleep(0.25)
    elapsed = timeline[-1][0]
    broker_cpu = proc_cpu_s(broker.proc.pid) - broker_cpu0
    time.sleep(1.0)
    for ing in ingests:
        ing.stop()
    ingest_cpu = sum(ing.cpu_s for ing in ingests)
    starts = procs + (1 if killed else 0)
    event_cpu = ingest_cpu - starts * startup_cpu_s
    conn.close()
    per_s = []
    for (t1, c1), (t2, c2) in zip(timeline, timeline[4:]):
        if c2 > c1 and c2 < n:
            per_s.append((c2 - c1) / (t2 - t1))
    check = verify(db, n_devices, per_device)
    end_sessions(db, broker.port, [f"{label}-{i}" for i in range(procs)], protocol)
    outs = [o for ing in ingests for o in ing.outputs]
    return {"label": label, "db": db.split("://")[0] if "://" in db else "sqlite",
            "mqtt": protocol, "ingest_processes": procs, "devices": n_devices, "events": n,
            "published": published, "publish_s": round(pub_s, 2),
            "drain_s": round(elapsed, 2), "events_per_s": round(n / elapsed),
            "steady_events_per_s": round(statistics.median(per_s)) if per_s else None,
            "ingest_cpu_s": round(ingest_cpu, 2),
            "events_per_ingest_cpu_s": round(n / ingest_cpu) if ingest_cpu else None,
            "startup_cpu_s": round(startup_cpu_s, 2),
            "events_per_ingest_cpu_s_after_startup": round(n / event_cpu)
            if event_cpu > 0 else None,
            "broker_cpu_s": round(broker_cpu, 2),
            "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "faults": events, "redeliveries_absorbed": sum(o["duplicates"] for o in outs),
            "malformed": sum(o["malformed"] for o in outs), **check}


def latency_run(db: str, broker, *, n_devices: int, rate: float, seconds: float,
                work: Path) -> dict:
    ing = Ingest(db, broker.port, "latency", None, work / "latency.log")
    ing.start()
    ing.wait_connected(1)
    time.sleep(0.5)
    per_device = int(rate * seconds / n_devices)
    publish(broker.port, n_devices, per_device, rate_per_s=rate, stamp=True)
    time.sleep(2.0)
    ing.stop()
    from edge.store import EventStore

    with EventStore.open(db) as store:
        lat = sorted((r[0] - r[1]) / 1000.0 for t in ("beats", "hr", "alerts", "strips")
                     for r in store.query(f"SELECT ingest_us, time_us FROM {t}"))
    q = statistics.quantiles(lat, n=100)
    return {"rate_events_per_s": rate, "seconds": seconds, "devices": n_devices,
            "rows": len(lat), "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1),
            "max_ms": round(lat[-1], 1)}


def new_pg_db(server) -> str:
    return server.new_database()


def wearer_day(sizes: dict) -> dict:
    """Bytes per wearer-day from the PostgreSQL table sizes and the event mix."""
    per_cycle = {"beats": sum(k == "beat" for k, _ in CYCLE),
                 "strips": sum(k == "strip" for k, _ in CYCLE),
                 "hr": sum(k == "hr" for k, _ in CYCLE), "alerts": 5.0 / ALERT_EVERY}
    out = {}
    for t, n in per_cycle.items():
        s = sizes[t]
        per_row = s["bytes"] / max(s["rows"], 1)
        out[t] = round(per_row * n / 5.0 * 86400 / 1e6, 1)
    out["total_MB"] = round(sum(out.values()), 1)
    out["without_strips_MB"] = round(out["total_MB"] - out["strips"], 1)
    return out


def to_markdown(report: dict) -> str:
    lines = ["# Ingest benchmark", "",
             f"Host: {report['host']['cpus']} CPUs (shared), loopback Mosquitto "
             f"{report['mosquitto']}, PostgreSQL {report['postgres']} (fsync on, "
             f"synchronous_commit on), SQLite WAL synchronous=FULL. Command: "
             f"`{report['command']}`", "",
             "| run | db | MQTT | ingest processes | events | events/s (outages included) | "
             "steady events/s | events per ingest CPU-s (start-ups excluded) | load avg | lost | "
             "duplicated | re-deliveries absorbed | faults |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['label']} | {r['db']} | {r['mqtt']} | {r['ingest_processes']} | "
                     f"{r['events']} | "
                     f"{r['events_per_s']} | {r['steady_events_per_s']} | "
                     f"{r['events_per_ingest_cpu_s']} "
                     f"({r['events_per_ingest_cpu_s_after_startup']}) | "
                     f"{r['load_avg_1min_after']} | "
                     f"{r['lost']} | "
                     f"{r['duplicated']} | {r['redeliveries_absorbed']} | "
                     f"{'; '.join(r['faults']) or '-'} |")
    lat = report["latency"]
    lines += ["", f"Broker-to-row latency at {lat['rate_events_per_s']:g} events/s "
              f"({lat['devices']} gateways, {lat['seconds']:g} s, {lat['rows']} rows, "
              f"PostgreSQL): p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max "
              f"{lat['max_ms']} ms.", "",
              f"Two processes / one (PostgreSQL, steady): **{report['scale_2_vs_1']}x**.", "",
              "Columns: *events/s* = events / (ingest start → last row), outages and "
              "start-ups included; *steady* = median rate over 1 s windows with rows "
              "arriving; *events per ingest CPU-s* = events / CPU seconds of the ingest "
              "process(es), all threads (in brackets without the measured CPU of each "
              "start: imports, connect, schema check) — an estimate, not a measurement, of "
              "what one process would sustain with a core of its own; *load avg* = the host's "
              "1-minute load average after the run "
              "(2 CPUs, shared with other sessions' work: above 2 the wall-clock rates are "
              "those of a share of a core); *lost* / *duplicated* = published "
              "(device_id, boot, seq) without a row / rows beyond one per key, counted in the "
              "database; *re-deliveries absorbed* = messages the broker sent again that were "
              "already stored (the key made them no-ops).", "",
              "Size per wearer-day in PostgreSQL (MB, tables + indexes, from this run's "
              f"rows): {json.dumps(report['wearer_day_MB'])}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=positive_int, default=200, help="simulated gateways")
    ap.add_argument("--events", type=positive_int, default=120_000,
                    help="events per throughput run (at least one per device)")
    ap.add_argument("--rate", type=positive_float, default=2000.0,
                    help="latency run: events/s")
    ap.add_argument("--latency-s", type=positive_float, default=20.0,
                    help="latency run: seconds")
    ap.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    ap.add_argument("--out", type=output_file,
                    default=str(REPO / "benchmarks" / "results" / "ingest.json"))
    args = ap.parse_args(argv)
    if args.events < args.devices:
        ap.error(f"--events {args.events} is fewer than --devices {args.devices}: each "
                 "gateway publishes at least one event")
    if shutil.which("mosquitto") is None:
        print("needs mosquitto (apt-get install mosquitto)", file=sys.stderr)
        return 2
    from tests.edge.store.pg_support import pg_bin

    if pg_bin("initdb") is None:
        print("needs PostgreSQL server binaries (apt-get install postgresql)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:  # the servers' folders go on every exit: results, error or Ctrl-C
        return run_bench("bench_ingest", lambda: _run(args, argv, work),
                         interrupted="interrupted; servers stopped, nothing written")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, argv: list[str] | None, work: Path) -> int:
    from tests.edge.sinks.broker_support import Broker
    from tests.edge.store.pg_support import PostgresServer

    os.chmod(work, 0o755)
    per_device = args.events // args.devices
    broker = Broker(work / "broker")
    conf = broker.conf.read_text().replace("max_queued_messages 100000",
                                           "max_queued_messages 0") \
        .replace("max_inflight_messages 100", "max_inflight_messages 2000")
    broker.conf.write_text(conf)
    pg = PostgresServer(fsync=True)
    runs = []
    try:
        pg.start()
        broker.start()
        mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
        mosq_version = mosq.split("\n")[0].replace("mosquitto version ", "")
        # (label, ingest processes, broker restart + ingest kill -9, MQTT protocol)
        for label, procs, faults, protocol in (("pg-1", 1, True, "3.1.1"),
                                               ("pg-2", 2, True, "3.1.1"),
                                               ("pg-1-clean", 1, False, "3.1.1"),
                                               ("pg-2-clean", 2, False, "3.1.1"),
                                               ("pg-1-clean-v5", 1, False, "5")):
            runs.append(drain_run(label, new_pg_db(pg), broker, n_devices=args.devices,
                                  per_device=per_device, procs=procs, faults=faults, work=work,
                                  protocol=protocol))
            print(json.dumps(runs[-1]), flush=True)
        if not args.no_sqlite:
            runs.append(drain_run("sqlite-1", str(work / "bench.sqlite"), broker,
                                  n_devices=args.devices, per_device=per_device, procs=1,
                                  faults=True, work=work))
            print(json.dumps(runs[-1]), flush=True)
        latency = latency_run(new_pg_db(pg), broker, n_devices=args.devices, rate=args.rate,
                              seconds=args.latency_s, work=work)
        print(json.dumps(latency), flush=True)
        with __import__("psycopg").connect(pg.url()) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        broker.stop()
        pg.cleanup()
    one = [r for r in runs if r["label"] == "pg-1-clean"][0]
    two = [r for r in runs if r["label"] == "pg-2-clean"][0]
    report = {
        "command": "python benchmarks/bench_ingest.py " + " ".join(argv or sys.argv[1:]),
        "host": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
        "mosquitto": mosq_version, "postgres": pg_version, "runs": runs, "latency": latency,
        "scale_2_vs_1": round(two["steady_events_per_s"] / one["steady_events_per_s"], 2),
        "wearer_day_MB": wearer_day(runs[0]["table_sizes"]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
