"""``ecg-edge run``: the edge daemon."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.cli.common import add_common

__all__ = ["add_parser", "cmd_run", "run_overrides"]

logger = logging.getLogger(__name__)


def run_overrides(args: argparse.Namespace) -> list[str]:
    """Command-line options of ``run`` as config overrides (applied after --set)."""
    o: list[str] = list(args.set or [])

    def q(text: str) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    if args.port:
        o += ['source.kind="serial"', f"source.serial.port={q(args.port)}"]
    if args.ble:
        o += ['source.kind="ble"', f"source.ble.address={q(args.ble)}"]
    if args.replay:
        o += ['source.kind="replay"', f"source.replay.record={q(args.replay)}"]
        if args.speed is not None:
            o.append(f"source.replay.speed={q(args.speed) if args.speed == 'max' else args.speed}")
    if args.channel is not None:
        o.append(f"source.channel={args.channel}")
    if args.model:
        o.append(f"pipeline.model={q(args.model)}")
    if args.jsonl:
        o += ["sinks.jsonl.enabled=true", f"sinks.jsonl.path={q(args.jsonl)}"]
    if args.json:
        o += ["sinks.stdout.enabled=true", "sinks.terminal.enabled=false"]
    if args.quiet:
        o.append("sinks.terminal.enabled=false")
    if args.wfdb_dir:
        o += ["sinks.wfdb.enabled=true", f"sinks.wfdb.out_dir={q(args.wfdb_dir)}"]
    if args.record_name:
        o.append(f"sinks.wfdb.record_name={q(args.record_name)}")
    if args.mqtt:
        host, _, port = args.mqtt.partition(":")
        o += ["sinks.mqtt.enabled=true", f"sinks.mqtt.host={q(host)}"]
        if port:
            o.append(f"sinks.mqtt.port={int(port)}")
    if args.idle_exit_s is not None:
        o.append(f"daemon.idle_exit_s={args.idle_exit_s}")
    return o


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    from edge.model.classifier import BeatClassifier
    from edge.runtime.daemon import Daemon
    from edge.runtime.loader import build_sinks, build_source
    from edge.runtime.settings import load_config

    config = load_config(args.config, run_overrides(args))
    if args.adapted:
        from edge.model.adapt import AdaptedClassifier
        clf = AdaptedClassifier.load(args.adapted, args.model,
                                     num_threads=config.pipeline.num_threads)
    else:
        clf = BeatClassifier(config.pipeline.model_path(),
                             num_threads=config.pipeline.num_threads)
    source = build_source(config)
    sinks = build_sinks(config)
    if not sinks:
        logger.warning("no sink is enabled: events are computed and dropped")
    daemon = Daemon(config, source=source, classifier=clf, sinks=sinks)
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: daemon.request_reopen())
    logger.info("ecg-edge run: %s source, model %s (%s)", config.source.kind, clf.path.name,
                clf.model_version)
    result = daemon.run()
    c = result.counters
    print(f"ecg-edge run: stopped ({result.reason}): {c.get('beats', 0)} beats, "
          f"{c.get('stream_s', 0):.1f} s of ECG, {c.get('gaps', 0)} gaps, "
          f"{c.get('x_real_time')} x real time", file=sys.stderr)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``run`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("run", help="the edge daemon: read a wearable (serial, BLE or "
                              "replay), classify beats, raise alerts, publish events to the sinks")
    p.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    p.add_argument("--adapted", default=None, type=Path,
                   help="per-wearer head from `ecg-edge adapt` (its base model: --model, else "
                   "the bundled default_embed.tflite)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--port", help="serial device or pyserial URL (source.kind=serial)")
    src.add_argument("--ble", metavar="ADDRESS", help="BLE device address (source.kind=ble)")
    src.add_argument("--replay", metavar="RECORD",
                     help="replay a WFDB record in-process (source.kind=replay)")
    p.add_argument("--speed", default=None, help="replay speed (1 = real time, 'max')")
    p.add_argument("--channel", type=int, default=None, help="channel to classify")
    p.add_argument("--model", default=None, help="int8 .tflite model (default: bundled)")
    p.add_argument("--jsonl", default=None, metavar="PATH", help="append JSON-lines events")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout (no terminal)")
    p.add_argument("--quiet", action="store_true", help="no terminal output")
    p.add_argument("--wfdb-dir", default=None, help="write beats as a WFDB annotation file")
    p.add_argument("--record-name", default=None, help="WFDB record name of that file")
    p.add_argument("--mqtt", default=None, metavar="HOST[:PORT]", help="publish to MQTT")
    p.add_argument("--idle-exit-s", type=float, default=None,
                   help="exit after this long without samples once data flowed")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any config key, e.g. --set alerts.pause_s=3")
    add_common(p)
    p.set_defaults(func=cmd_run)
    return p
