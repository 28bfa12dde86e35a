"""``ecg-edge run``: the edge daemon."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.common import add_common, replay_speed
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.runtime.settings import DaemonConfig

__all__ = ["add_parser", "cmd_run", "run_options", "load_run_config", "check_replay_outputs"]

logger = logging.getLogger(__name__)

#: ``--speed`` not given (``None`` is a value: ``--speed max``).
_UNSET = object()


def _mqtt_address(text: str) -> dict[str, Any]:
    host, sep, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host or (sep and not port.isdigit()):
        raise ConfigError("--mqtt", f"expected HOST or HOST:PORT, got {text!r}")
    out: dict[str, Any] = {"sinks.mqtt.enabled": True, "sinks.mqtt.host": host}
    if port:
        out["sinks.mqtt.port"] = int(port)
    return out


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line options of ``run`` as typed values at configuration keys (applied
    after the file and ``--set``).

    Raises
    ------
    ConfigError
        For a malformed ``--mqtt`` address.
    """
    o: dict[str, Any] = {}
    if args.port:
        o.update({"source.kind": "serial", "source.serial.port": args.port})
    if args.ble is not None:  # '' too: its own error, not the serial port's
        o.update({"source.kind": "ble", "source.ble.address": args.ble})
    if args.replay:
        o.update({"source.kind": "replay", "source.replay.record": args.replay})
    if args.speed is not _UNSET:  # also for a replay source named in the file
        o["source.replay.speed"] = args.speed
    if args.data_dir is not None:
        o["source.replay.data_dir"] = args.data_dir
    if args.channel is not None:
        o["source.channel"] = args.channel
    if args.model:
        o["pipeline.model"] = args.model
    if args.jsonl == "-":  # stdout, as --json (not a file named '-')
        o.update({"sinks.stdout.enabled": True, "sinks.terminal.enabled": False})
    elif args.jsonl:
        o.update({"sinks.jsonl.enabled": True, "sinks.jsonl.path": args.jsonl})
    if args.json:
        o.update({"sinks.stdout.enabled": True, "sinks.terminal.enabled": False})
    if args.quiet:
        o["sinks.terminal.enabled"] = False
    if args.wfdb_dir:
        o.update({"sinks.wfdb.enabled": True, "sinks.wfdb.out_dir": args.wfdb_dir})
    if args.record_name:
        o["sinks.wfdb.record_name"] = args.record_name
    if args.mqtt:
        o.update(_mqtt_address(args.mqtt))
    if args.idle_exit_s is not None:
        o["daemon.idle_exit_s"] = args.idle_exit_s
    return o


def load_run_config(args: argparse.Namespace) -> DaemonConfig:
    """The :class:`~edge.runtime.settings.DaemonConfig` of ``run``: ``--config``, ``--set``,
    then the command-line options.

    Raises
    ------
    ConfigError
        A key breaks its rule, or ``--speed`` is given for a source that is not a replay.
    """
    from edge.runtime.settings import load_config  # noqa: PLC0415

    config = load_config(args.config, args.set or [], run_options(args))
    for option, given in (("--speed", args.speed is not _UNSET),
                          ("--data-dir", args.data_dir is not None)):
        if given and config.source.kind != "replay":
            raise ConfigError(option, f"applies to a replay source; source.kind is "
                                      f"{config.source.kind!r}")
    return config


def _ours(path: Path) -> bool:
    """``path`` is empty or a file a run writes (JSON lines, an SQLite outbox): a run may
    append to it, unlike an annotation file (binary WFDB) of the replayed record."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return True  # not a file to read: nothing of the record's is at stake
    return not head or head.startswith((b"{", b"SQLite format 3"))


def check_replay_outputs(config: DaemonConfig) -> None:
    """With a replay source, refuse (:class:`ConfigError` naming the key) an output file of
    an enabled sink -- ``sinks.jsonl.path`` (``--jsonl``), ``sinks.mqtt.outbox_path`` -- that
    is one of the replayed record's files (its header, a signal file, an annotation file
    beside it), before anything is opened. The WFDB sink needs no check: it never writes over
    a file that exists (it picks ``<name>_run<k>``)."""
    from edge.cli.common import annotation_files, input_file_at, record_files  # noqa: PLC0415
    from edge.errors import DataError  # noqa: PLC0415
    from edge.io.records import resolve_record  # noqa: PLC0415

    if config.source.kind != "replay":
        return
    replay = config.source.transport
    try:
        record = resolve_record(replay.record, replay.database, replay.data_dir)
    except DataError:
        return  # the source says what is missing when it opens
    inputs = record_files(record) + annotation_files(record, _ours)
    s = config.sinks
    outputs = [("sinks.jsonl.path", s.jsonl.enabled and s.jsonl.path, "--jsonl "),
               ("sinks.mqtt.outbox_path", s.mqtt.enabled and s.mqtt.outbox_path, "")]
    for key, path, option in outputs:
        hit = input_file_at(path, inputs) if path else None
        if hit is not None:
            raise ConfigError(key, f"{option}{path} is {hit[0]}, {hit[1]} (the replayed "
                                   f"record {record.name}): not written into; choose another "
                                   f"file")


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    from edge.model.classifier import BeatClassifier
    from edge.runtime.daemon import Daemon
    from edge.runtime.loader import build_sinks, build_source

    config = load_run_config(args)
    check_replay_outputs(config)
    if args.adapted_device is not None:
        from edge.errors import ConfigError  # noqa: PLC0415

        if args.adapted is None:
            raise ConfigError("--adapted-device", "names the device of an --adapted head; "
                                                  "give --adapted too")
        if not 0 <= args.adapted_device <= 65535:
            raise ConfigError("--adapted-device", f"a device id is 0..65535, got "
                                                  f"{args.adapted_device}")
    config.alarm_fallback.check_commands()  # a missing hook program: refused now, not in an outage
    if args.adapted:
        from edge.model.adapt import AdaptedClassifier
        clf = AdaptedClassifier.load(args.adapted, args.model,
                                     num_threads=config.pipeline.num_threads)
    else:
        clf = BeatClassifier(config.pipeline.model_path(),
                             num_threads=config.pipeline.num_threads)
    if config.rhythm.enabled:  # a bad rhythm model fails here, not on the first device
        from edge.rhythm import RhythmAnalyser
        RhythmAnalyser(config.rhythm.analyser)
    if config.rhythm.ventricular:  # likewise the VF window model and network
        from edge.rhythm.ventricular import load_vf_model
        from edge.rhythm.vf_net import load_vf_net
        load_vf_model(config.rhythm.vf.model_file)
        if config.rhythm.vf.net:
            load_vf_net(config.rhythm.vf.net_file)
    source = build_source(config)
    sinks = build_sinks(config)
    if not sinks:
        logger.warning("no sink is enabled: events are computed and dropped")
    daemon = Daemon(config, source=source, classifier=clf, sinks=sinks,
                    adapted_device=args.adapted_device)
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: daemon.request_reopen())
    logger.info("ecg-edge run: %s source, model %s (%s)", config.source.kind, clf.path.name,
                clf.model_version)
    if args.adapted:  # a per-wearer model is said even without -v: it changes the calls
        who = ("the first device heard" if args.adapted_device is None
               else f"device {args.adapted_device}")
        print(f"ecg-edge run: per-wearer head {args.adapted} ({clf.model_version}) for {who}; "
              f"other devices: the base model", file=sys.stderr)
    result = daemon.run()
    if result.reason == "output closed":  # `| head`: the reader has what it wanted
        raise BrokenPipeError  # main() ends it quietly, exit 141, as for any command
    c = result.counters
    speed = (f"processing {c.get('x_real_time')} x faster than real time"
             if c.get("stream_s") else "no ECG received")
    print(f"ecg-edge run: stopped ({result.reason}): {c.get('beats', 0)} beats, "
          f"{c.get('stream_s', 0):.1f} s of ECG, {c.get('gaps', 0)} gaps, {speed}",
          file=sys.stderr)
    failed = {name: n for name, n in (c.get("sink_errors") or {}).items() if n}
    if failed:  # events that did not reach a sink: not a clean run (a full disk...)
        lost = c.get("sink_events_lost") or {}
        print("ecg-edge run: error: sink failures (writes that failed; see the log): "
              + ", ".join(f"{name} {n}" + (f" ({lost[name]} events lost)" if name in lost
                                           else "") for name, n in failed.items()),
              file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:  # noqa: ANN001 - argparse's private type
    """Add ``run`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("run", help="the edge daemon: read a wearable (serial, BLE or "
                              "replay), classify beats, raise alerts, publish events to the sinks")
    p.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    p.add_argument("--adapted", default=None, type=Path,
                   help="per-wearer head from `ecg-edge adapt` (its base model: --model, else "
                   "the bundled default_embed.tflite); it classifies one device only")
    p.add_argument("--adapted-device", default=None, type=int, metavar="ID",
                   help="the device id the --adapted head belongs to (default: the first "
                   "device heard); other devices get the base model")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--port", help="serial device or pyserial URL (source.kind=serial)")
    src.add_argument("--ble", metavar="ADDRESS", help="BLE device address (source.kind=ble)")
    src.add_argument("--replay", metavar="RECORD",
                     help="replay a WFDB record in-process (source.kind=replay)")
    p.add_argument("--speed", type=replay_speed, default=_UNSET, metavar="X|max",
                   help="replay speed (1 = real time, 'max' = as fast as possible); for --replay "
                   "or a replay source in --config")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="with --replay: the folder holding the record (default: "
                        "source.replay.data_dir, else $MITDB_DIR)")
    p.add_argument("--channel", type=int, default=None,
                   help="channel to classify (default: source.channel; unset, a replayed "
                        "record's channel named as the model's lead, MLII, else 0)")
    p.add_argument("--model", default=None, help="int8 .tflite model (default: bundled)")
    p.add_argument("--jsonl", default=None, metavar="PATH",
                   help="append JSON-lines events ('-': stdout, as --json)")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout (no terminal)")
    p.add_argument("--quiet", action="store_true", help="no terminal output")
    p.add_argument("--wfdb-dir", default=None, help="write beats as a WFDB annotation file")
    p.add_argument("--record-name", default=None, help="WFDB record name of that file")
    p.add_argument("--mqtt", default=None, metavar="HOST[:PORT]", help="publish to MQTT")
    p.add_argument("--idle-exit-s", type=float, default=None,
                   help="exit after this long without samples once data flowed")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any config key (VALUE is a TOML value), "
                   "e.g. --set alerts.pause_s=3")
    add_common(p)
    p.set_defaults(func=cmd_run)
    return p
