"""The alarm path end to end: from the sample that completes an alarm's evidence to the alert
at an MQTT subscriber, at 1x real time, in steady state, across a broker restart and across a
half-open link.

    MITDB_DIR=/work/shared/data/mitdb python benchmarks/bench_alarm_path.py [--steady-s 120]

Everything runs on this machine: a Mosquitto started on a free loopback port (persistence on),
the daemon (``Daemon`` + ``ReplaySource`` at speed 1 with the wearable's own frame size, 36
samples = 100 ms at 360 Hz, decoded by the real frame decoder + ``MqttSink`` with a file
outbox and the shipped defaults; in a process of its own per wearer in scenario A, in this
process otherwise), and a subscriber (QoS 1, persistent session) in this process.

Evidence. For every alert the sample that completes its evidence is found exactly, offline:
the same frames are fed to a ``DeviceStream`` one sample at a time, and the alert's evidence
sample ``E`` is the last sample fed when the alert came out (for a V run that is the sample
that lets the pipeline classify the third V -- its window and the next R peak it needs for
the RR features; for VF the sample that turns the flutter detector on; for a pause the one
that releases the beat ending it). At 1x, ``E`` exists on the wearable at
``clock_origin + (E - first + 1) / fs`` (the replay's clock); the latency is from then to the
subscriber's receipt. It includes waiting for the rest of the frame (up to 100 ms), the
daemon's read loop, processing, the outbox (alerts fsync'd), the broker and the subscriber.
Alerts emitted at the end of the replay (episodes closed by the final flush) are counted for
loss but not timed.

Scenarios:

A. steady: three wearers at once (MIT-BIH 203, 207, 200, alert-dense segments), each with
   its own daemon process (one gateway per wearer) and ``--steady-s`` seconds: latency
   median / p99 / worst over every alert and over alarm-severity ones, split into evidence
   -> emitted (frame wait, read loop, pipeline) and emitted -> received (outbox, MQTT).
B. broker restart: the bundled excerpt of record 233 around its first ventricular run (and a
   second segment around a bigeminy onset); Mosquitto is stopped 5 s before the alert's
   evidence is complete and started again 15 s after: time from the broker's start to the
   alert acknowledged (PUBACK) and received; ``alarm_fallback.after_s = 10`` with a hook
   command that logs its time: when the hook fired after the alert was queued. Run once more
   with the former policy (paho's 1..30 s doubling, no alarm ceiling) for comparison.
C. half-open link: the daemon publishes through a relay that stops forwarding without closing
   (no FIN) 5 s before the alert: time to declare the link dead (``ack_timeout_s``), then the
   route heals 20 s later: time to the alert's receipt.
D. idle half-open link: a connected sink with nothing to publish, ``keepalive_s = 10``: time
   from the freeze to the link declared dead (keep-alive only).

In every scenario the alerts received are compared with the alerts the offline pass expects:
"lost" counts the missing ones.

Writes ``benchmarks/results/alarm_path.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import check_records, output_dir, positive_float, run_bench  # noqa: E402

EXCERPT = ROOT / "edge" / "data" / "mitdb_233_excerpt"
#: (record, start_s) of the steady scenario: the densest 150-s windows of alerts.
STEADY = [("203", 690.0), ("207", 1530.0), ("200", 1050.0)]
#: Wall clock minus monotonic clock (one process: both clocks are read here).
WALL_OFFSET = time.time() - time.monotonic()


@dataclass(frozen=True)
class Expected:
    """An alert the offline pass produced; ``nth``: its rank among the device's alerts of the
    same kind and state. Alerts are matched on ``(device, kind, state, nth)``, not on
    ``sample_index``: ``vflutter`` onsets and ends are dated at the end of the chunk that
    changed the flutter flag, so their index depends on the chunk size."""

    device_id: int
    kind: str
    state: str
    nth: int
    sample_index: int
    severity: str
    evidence_index: int | None  # None: emitted by the final flush

    @property
    def key(self) -> tuple:
        return (self.device_id, self.kind, self.state, self.nth)


def classifier():
    from edge.model.classifier import BeatClassifier
    from edge.runtime.settings import load_config

    cfg = load_config(None, ['source.kind="replay"', 'source.replay.record="100"'])
    return BeatClassifier(cfg.pipeline.model_path())


def daemon_config(record: str, *overrides: str):
    from edge.runtime.settings import load_config

    return load_config(None, ['source.kind="replay"', f'source.replay.record="{record}"',
                              "sinks.terminal.enabled=false", *overrides])


def offline(rc, cfg) -> tuple[int, float, list[Expected]]:
    """The alerts of a replay and the exact sample completing each one's evidence."""
    from edge.runtime.device import DeviceStream
    from firmware_bridge.replay_source import ReplaySource

    src = ReplaySource(replace(rc, speed=None))
    src.open()
    chunks = []
    while not src.finished:
        chunks.extend(src.read(0.1))
    src.close()
    first, fs = chunks[0].sample_index, chunks[0].fs_hz
    ds = DeviceStream(classifier(), cfg, device_id=rc.device_id, fs_hz=fs, first_index=first)
    out: list[Expected] = []
    rank: dict[tuple, int] = {}

    def add(ev, evidence: int | None) -> None:  # noqa: ANN001
        k = (ev.kind, ev.state)
        rank[k] = rank.get(k, -1) + 1
        out.append(Expected(rc.device_id, ev.kind, ev.state, rank[k], ev.sample_index,
                            ev.severity, evidence))
    for c in chunks:
        x = c.to_mv()
        for i in range(c.n_samples):
            for ev in ds.process(c.sample_index + i, x[i:i + 1]):
                if ev.type == "alert":
                    add(ev, c.sample_index + i)
    for ev in ds.flush():
        if ev.type == "alert":
            add(ev, None)
    return first, fs, out


class Subscriber:
    """QoS 1, persistent session; keeps the first receipt (Unix s) of every alert and the
    alarm-path link events."""

    def __init__(self, port: int, name: str) -> None:
        import paho.mqtt.client as mqtt

        self.alerts: dict[tuple, float] = {}  # (device, kind, state, nth) -> receipt, Unix s
        self.emitted: dict[tuple, float] = {}  # the alert's own time_s (when it was queued)
        self._seen: set[tuple] = set()  # (device, boot, seq): QoS 1 may deliver twice
        self._rank: dict[tuple, int] = {}
        self.links: list[tuple[float, dict]] = []
        self.n_messages = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name,
                                  clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [("ecg/+/alerts", 1), ("ecg/+/status", 1)])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        t = time.time()
        try:
            p = json.loads(msg.payload)
        except ValueError:
            return
        with self._lock:
            self.n_messages += 1
            if p.get("type") == "alert":
                uid = (p["device_id"], p.get("boot"), p["seq"])
                if uid in self._seen:
                    return
                self._seen.add(uid)
                k = (p["device_id"], p["kind"], p["state"])
                self._rank[k] = self._rank.get(k, -1) + 1
                key = (*k, self._rank[k])
                self.alerts[key] = t
                self.emitted[key] = float(p["time_s"])
            elif p.get("type") == "link" and str(p.get("state", "")).startswith("alarms_"):
                self.links.append((t, p))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class AckWatch:
    """Polls a sink's outbox every 5 ms: when the queued alerts went from some to none."""

    def __init__(self, sink) -> None:  # noqa: ANN001
        self.sink = sink
        self.cleared: list[float] = []  # Unix s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        had = False
        while not self._stop.wait(0.005):
            try:
                n = self.sink.outbox.urgent_pending
            except Exception:  # noqa: BLE001 - the outbox closed at the end
                return
            if had and n == 0:
                self.cleared.append(time.time())
            had = n > 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def run_device(clf, rc, cfg, sink_settings, *, actions=()) -> dict:
    """Run one replay at 1x through a daemon into an MQTT sink; ``actions`` are
    ``(stream time s, callable)`` run when the replay's clock reaches them."""
    from edge.runtime.daemon import Daemon
    from edge.sinks import MqttSink
    from firmware_bridge.replay_source import ReplaySource

    src = ReplaySource(rc)
    sink = MqttSink(sink_settings)
    watch = AckWatch(sink)
    daemon = Daemon(cfg, source=src, classifier=clf, sinks=[sink])
    t = threading.Thread(target=daemon.run, name=f"daemon-{rc.device_id}")
    t.start()
    done: list[tuple[float, str]] = []
    while src.clock_origin_s is None and t.is_alive():
        time.sleep(0.001)
    origin = src.clock_origin_s
    for t_stream, fn in sorted(actions, key=lambda a: a[0]):
        delay = origin + t_stream - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        done.append((time.time(), fn()))
    t.join()
    watch.stop()
    return {"origin_wall_s": origin + WALL_OFFSET, "daemon": daemon, "sink": sink,
            "cleared": watch.cleared, "actions": done}


def latencies(expected: list[Expected], sub: Subscriber, origins: dict[int, tuple]) -> dict:
    """Per timed alert: subscriber receipt - time its evidence sample existed (ms)."""
    rows = []
    lost = []
    for e in expected:
        got = sub.alerts.get(e.key)
        if got is None:
            lost.append(e.key)
            continue
        if e.evidence_index is None:
            continue
        origin_wall, first, fs = origins[e.device_id]
        t_evidence = origin_wall + (e.evidence_index - first + 1) / fs
        emitted = sub.emitted[e.key]
        rows.append({"key": list(e.key), "sample_index": e.sample_index,
                     "evidence_index": e.evidence_index, "severity": e.severity,
                     "latency_ms": round((got - t_evidence) * 1000.0, 1),
                     "evidence_to_emit_ms": round((emitted - t_evidence) * 1000.0, 1),
                     "emit_to_receipt_ms": round((got - emitted) * 1000.0, 1)})
    return {"rows": rows, "lost": lost}


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=float)
    return {"n": int(a.size), "median_ms": round(float(np.median(a)), 1),
            "p99_ms": round(float(np.percentile(a, 99)), 1), "worst_ms": round(float(a.max()), 1)}


def sink_settings(port: int, outbox: Path, **kw):
    from edge.sinks import MqttSinkSettings

    return MqttSinkSettings(enabled=True, host="127.0.0.1", port=port, outbox_path=str(outbox),
                            drain_timeout_s=40.0, **kw)


def worker(spec: dict) -> int:
    """One wearer's gateway (``--worker``): the daemon of ``spec`` at 1x into MQTT; writes the
    replay's clock origin (Unix s) and the daemon's counters to ``spec["out"]``."""
    from firmware_bridge.replay import ReplayConfig

    rc = ReplayConfig(record=spec["record"], start_s=spec["start_s"],
                      duration_s=spec["duration_s"], speed=1.0, device_id=spec["device_id"])
    r = run_device(classifier(), rc, daemon_config(spec["record"]),
                   sink_settings(spec["port"], Path(spec["outbox"])))
    Path(spec["out"]).write_text(json.dumps({
        "origin_wall_s": r["origin_wall_s"],
        "events": r["daemon"].events_by_type, "mqtt": r["sink"].stats()["mqtt"]}))
    return 0


def scenario_steady(broker, work: Path, seconds: float) -> dict:
    """Each wearer's daemon in a process of its own (one gateway per wearer), all at once."""
    from firmware_bridge.replay import ReplayConfig

    runs = []
    expected: list[Expected] = []
    origins: dict[int, tuple] = {}
    for dev, (record, start) in enumerate(STEADY, start=1):
        rc = ReplayConfig(record=record, start_s=start, duration_s=seconds, speed=1.0,
                          device_id=dev)
        first, fs, exp = offline(rc, daemon_config(record))
        expected.extend(exp)
        runs.append((rc, first, fs))
    sub = Subscriber(broker.port, "bench-steady")
    procs = []
    for rc, _, _ in runs:
        spec = {"record": rc.record, "start_s": rc.start_s, "duration_s": seconds,
                "device_id": rc.device_id, "port": broker.port,
                "outbox": str(work / f"steady-{rc.device_id}.sqlite"),
                "out": str(work / f"steady-{rc.device_id}.json")}
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)],
                                      cwd=ROOT))
    try:
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError(f"a wearer's daemon failed (exit {p.returncode})")
    except KeyboardInterrupt:  # the workers end on the same Ctrl-C: let them go first
        for p in procs:
            p.wait(30)
        raise
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(e.key not in sub.alerts for e in expected):
        time.sleep(0.1)
    sub.close()
    for rc, first, fs in runs:
        out = json.loads((work / f"steady-{rc.device_id}.json").read_text())
        origins[rc.device_id] = (out["origin_wall_s"], first, fs)
    lat = latencies(expected, sub, origins)
    all_ms = [r["latency_ms"] for r in lat["rows"]]
    alarm_ms = [r["latency_ms"] for r in lat["rows"] if r["severity"] == "alarm"]
    emit_ms = [r["evidence_to_emit_ms"] for r in lat["rows"]]
    path_ms = [r["emit_to_receipt_ms"] for r in lat["rows"]]
    return {"wearers": [f"{r}@{s:g}s" for r, s in STEADY], "seconds_each": seconds,
            "alerts_expected": len(expected), "alerts_timed": len(all_ms),
            "lost": len(lat["lost"]), "lost_keys": lat["lost"],
            "all_alerts": summary(all_ms), "alarm_severity": summary(alarm_ms),
            "evidence_to_emit": summary(emit_ms), "emit_to_receipt": summary(path_ms),
            "per_alert": lat["rows"]}


def _first_timed(expected: list[Expected]) -> Expected:
    """The first timed alarm-severity alert (the alarm path's subject), else the first timed
    alert (a warning-only segment)."""
    timed = [e for e in expected if e.evidence_index is not None]
    return next((e for e in timed if e.severity == "alarm"), timed[0])


def scenario_broker_restart(clf, broker, work: Path, start_s: float, *, label: str,
                            policy: str = "new") -> dict:
    """Broker down from 5 s before the first alert's evidence to 15 s after it."""
    from firmware_bridge.replay import ReplayConfig

    rc = ReplayConfig(record=str(EXCERPT), start_s=start_s, duration_s=40.0, speed=1.0,
                      device_id=1)
    hook_log = work / f"hook-{label}.log"
    hook = json.dumps(["sh", "-c", f"echo $ECG_EDGE_ALARM_STATE $(date +%s.%N) >> {hook_log}"])
    cfg = daemon_config(str(EXCERPT), "alarm_fallback.after_s=10", "alarm_fallback.bell=false",
                        "alarm_fallback.repeat_s=0", f"alarm_fallback.command={hook}",
                        f"alarm_fallback.clear_command={hook}")
    first, fs, expected = offline(rc, cfg)
    target = _first_timed(expected)
    t_ev = (target.evidence_index - first + 1) / fs
    kw = ({"reconnect_min_s": 1.0, "reconnect_max_s": 30.0, "reconnect_alarm_max_s": 30.0,
           "reconnect_jitter": 0.0} if policy == "old" else {})
    sub = Subscriber(broker.port, f"bench-{label}")
    t_start: dict[str, float] = {}

    def stop():
        broker.stop()
        return "broker stopped"

    def start():
        t_start["spawn"] = time.time()
        broker.start()
        t_start["listening"] = time.time()
        return "broker started"
    r = run_device(clf, rc, cfg, sink_settings(broker.port, work / f"{label}.sqlite", **kw),
                   actions=[(t_ev - 5.0, stop), (t_ev + 15.0, start)])
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and any(e.key not in sub.alerts for e in expected):
        time.sleep(0.1)
    sub.close()
    got = sub.alerts.get(target.key)
    acked = [t for t in r["cleared"] if t >= t_start["spawn"]]
    hooks = [line.split() for line in hook_log.read_text().splitlines()] \
        if hook_log.exists() else []
    sink = r["sink"]
    alert_emitted = sub.emitted.get(target.key, float("nan"))
    lost = [e.key for e in expected if e.key not in sub.alerts]
    return {"label": label, "policy": policy, "segment": f"233 excerpt from {start_s:g} s",
            "alert": list(target.key), "broker_down_s": 20.0,
            "acked_after_broker_start_s": round(acked[0] - t_start["spawn"], 3) if acked
            else None,
            "received_after_broker_start_s": round(got - t_start["spawn"], 3) if got else None,
            "broker_spawn_to_listening_s": round(t_start["listening"] - t_start["spawn"], 3),
            "hook": [{"state": s, "after_alert_queued_s": round(float(t) - alert_emitted, 3)}
                     for s, t in hooks],
            "waits": [(round(t + WALL_OFFSET - t_start["spawn"], 3), w, d)
                      for t, w, d in sink.link_log if w in ("wait", "connected")][-6:],
            "alerts_expected": len(expected), "lost": len(lost), "lost_keys": lost}


def scenario_half_open(clf, broker, work: Path, start_s: float) -> dict:
    """The daemon publishes through a relay that freezes 5 s before the alert and heals 20 s
    after the freeze."""
    from firmware_bridge.replay import ReplayConfig
    from tests.edge.sinks.broker_support import Relay

    rc = ReplayConfig(record=str(EXCERPT), start_s=start_s, duration_s=45.0, speed=1.0,
                      device_id=1)
    cfg = daemon_config(str(EXCERPT), "alarm_fallback.bell=false")
    first, fs, expected = offline(rc, cfg)
    target = _first_timed(expected)
    t_ev = (target.evidence_index - first + 1) / fs
    relay = Relay(broker.port)
    sub = Subscriber(broker.port, "bench-half-open")
    marks: dict[str, float] = {}

    def freeze():
        marks["freeze"] = time.monotonic()
        relay.freeze()
        return "relay frozen"

    def heal():
        marks["heal"] = time.time()
        relay.heal()
        return "relay healed"
    r = run_device(clf, rc, cfg, sink_settings(relay.port, work / "half-open.sqlite"),
                   actions=[(t_ev - 5.0, freeze), (t_ev + 15.0, heal)])
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and any(e.key not in sub.alerts for e in expected):
        time.sleep(0.1)
    sub.close()
    relay.close()
    sink = r["sink"]
    down = [(t, w, d) for t, w, d in sink.link_log if t >= marks["freeze"]
            and w in ("timeout", "disconnected")]
    got = sub.alerts.get(target.key)
    lost = [e.key for e in expected if e.key not in sub.alerts]
    return {"segment": f"233 excerpt from {start_s:g} s", "alert": list(target.key),
            "keepalive_s": sink.settings.keepalive_s, "ack_timeout_s": sink.settings.ack_timeout_s,
            "declared_dead_after_freeze_s": round(down[0][0] - marks["freeze"], 3) if down
            else None, "by": down[0][2] if down else None,
            "received_after_heal_s": round(got - marks["heal"], 3) if got else None,
            "alerts_expected": len(expected), "lost": len(lost), "lost_keys": lost}


def scenario_idle_keepalive(broker) -> dict:
    from edge.sinks import MqttSink, MqttSinkSettings
    from tests.edge.sinks.broker_support import Relay

    relay = Relay(broker.port)
    sink = MqttSink(MqttSinkSettings(host="127.0.0.1", port=relay.port, drain_timeout_s=0.0))
    try:
        time.sleep(3.0)
        t0 = time.monotonic()
        relay.freeze()
        while sink.connected and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        dead = time.monotonic() - t0 if not sink.connected else None
        return {"keepalive_s": sink.settings.keepalive_s,
                "declared_dead_after_freeze_s": round(dead, 3) if dead else None,
                "link_timeouts": sink.n_link_timeouts}
    finally:
        sink.close(timeout_s=0)
        relay.close()


def write_md(res: dict, path: Path) -> None:
    a = res["steady"]
    lines = ["# Alarm path: evidence → MQTT subscriber", "",
             f"`{res['command']}` — {res['host']}; Mosquitto {res['mosquitto']} on loopback; "
             f"{res['wall_s']:.0f} s. Definitions in the script's docstring.", "",
             "## A. Steady state, 1× real time, 100-ms frames", "",
             f"{len(a['wearers'])} wearers at once, one daemon process each "
             f"({', '.join(a['wearers'])}), "
             f"{a['seconds_each']:g} s each: {a['alerts_expected']} alerts expected, "
             f"{a['alerts_timed']} timed, **{a['lost']} lost**.", "",
             "| alerts | n | median ms | p99 ms | worst ms |", "|---|---|---|---|---|"]
    for name, k in (("all: evidence → subscriber", "all_alerts"),
                    ("severity alarm: evidence → subscriber", "alarm_severity"),
                    ("all: evidence → emitted (frame wait, read loop, pipeline)",
                     "evidence_to_emit"),
                    ("all: emitted → subscriber (outbox, MQTT, broker)", "emit_to_receipt")):
        s = a[k]
        lines.append(f"| {name} | {s['n']} | {s.get('median_ms', '-')} | {s.get('p99_ms', '-')}"
                     f" | {s.get('worst_ms', '-')} |")
    lines += ["", "## B. Broker restart (down 5 s before the alert to 15 s after it)", "",
              "| run | reconnect policy | alert acked (PUBACK) after broker start | received "
              "after broker start | local hook after alert queued | lost |",
              "|---|---|---|---|---|---|"]
    for b in res["broker_restart"]:
        hook = ", ".join(f"{h['state']} {h['after_alert_queued_s']} s" for h in b["hook"])
        lines.append(f"| {b['label']} ({b['alert'][1]} {b['alert'][2]}) | {b['policy']} | "
                     f"{b['acked_after_broker_start_s']} s | "
                     f"{b['received_after_broker_start_s']} s | {hook or '-'} | "
                     f"{b['lost']} of {b['alerts_expected']} |")
    c = res["half_open"]
    d = res["idle_keepalive"]
    lines += ["", "## C. Half-open link (relay stops forwarding, no FIN)", "",
              f"With events flowing (keepalive {c['keepalive_s']} s, ack_timeout "
              f"{c['ack_timeout_s']} s): link declared dead "
              f"**{c['declared_dead_after_freeze_s']} s** after the freeze ({c['by']}); the "
              f"alert raised during the outage received **{c['received_after_heal_s']} s** "
              f"after the route healed; lost {c['lost']} of {c['alerts_expected']}.", "",
              f"Idle (nothing in flight, keepalive {d['keepalive_s']} s): declared dead "
              f"**{d['declared_dead_after_freeze_s']} s** after the freeze.", ""]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steady-s", type=positive_float, default=180.0,
                    help="seconds of each wearer in the steady scenario")
    ap.add_argument("--out", type=output_dir, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--only", choices=("steady",), default=None,
                    help="run only the steady scenario (printed, results not written)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        logging.basicConfig(level=logging.WARNING)
        try:
            return worker(json.loads(args.worker))
        except KeyboardInterrupt:  # Ctrl-C reaches the whole group: the parent says it
            return 130
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if shutil.which("mosquitto") is None:
        print("needs mosquitto (apt-get install mosquitto)", file=sys.stderr)
        return 2
    if not os.environ.get("MITDB_DIR"):
        print("set MITDB_DIR to the MIT-BIH directory", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-alarm-"))
    try:  # the broker's and the wearers' files go on every exit
        return run_bench("bench_alarm_path", lambda: _run(args, work), data_dir_option=False,
                         interrupted="interrupted; broker stopped, nothing written")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    from tests.edge.sinks.broker_support import Broker

    check_records([r for r, _ in STEADY])  # before any work: $MITDB_DIR holds them
    t0 = time.monotonic()
    clf = classifier()
    res: dict = {"command": "MITDB_DIR=... python benchmarks/bench_alarm_path.py"
                            + (f" --steady-s {args.steady_s:g}" if args.steady_s != 180 else ""),
                 "host": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python "
                         f"{platform.python_version()}",
                 "mosquitto": subprocess.run(["mosquitto", "-h"], capture_output=True,
                                             text=True).stdout.split("\n")[0].split()[-1]}
    broker = Broker(work / "broker").start()
    try:
        print("A: steady state...", file=sys.stderr)
        res["steady"] = scenario_steady(broker, work, args.steady_s)
        if args.only == "steady":
            print(json.dumps({k: v for k, v in res["steady"].items() if k != "per_alert"},
                             indent=1))
            print(json.dumps(sorted(res["steady"]["per_alert"],
                                    key=lambda r: -r["latency_ms"])[:8], indent=1))
            return 0
        print("B: broker restarts...", file=sys.stderr)
        res["broker_restart"] = [
            scenario_broker_restart(clf, broker, work, 15.0, label="vt"),
            scenario_broker_restart(clf, broker, work, 115.0, label="bigeminy"),
            scenario_broker_restart(clf, broker, work, 15.0, label="vt-old", policy="old"),
        ]
        print("C: half-open link...", file=sys.stderr)
        res["half_open"] = scenario_half_open(clf, broker, work, 15.0)
        print("D: idle half-open link...", file=sys.stderr)
        res["idle_keepalive"] = scenario_idle_keepalive(broker)
    finally:
        broker.stop()
    res["wall_s"] = round(time.monotonic() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "alarm_path.json").write_text(json.dumps(res, indent=1) + "\n")
    write_md(res, args.out / "alarm_path.md")
    print((args.out / "alarm_path.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
