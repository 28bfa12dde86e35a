"""``ecg-edge``: the argument parser and the commands it dispatches to (the only place that
configures logging)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from edge.errors import EdgeError
from edge.model.bundled import default_model_path

__all__ = ["main", "build_parser"]

logger = logging.getLogger("edge.cli.main")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv debug)")


def _cmd_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.dsp.detection import detect_signal
    from edge.io.records import read_record
    from edge.io.wfdb_io import write_annotations

    rec = read_record(args.record, data_dir=args.data_dir)
    if not 0 <= args.channel < rec.signal_mv.shape[1]:
        raise EdgeError(f"--channel {args.channel}: record {rec.name} has "
                        f"{rec.signal_mv.shape[1]} channels (0..{rec.signal_mv.shape[1] - 1})")
    t0 = time.process_time()
    peaks = detect_signal(rec.signal_mv[:, args.channel], rec.fs_hz, chunk_s=args.chunk_s)
    cpu_s = time.process_time() - t0
    path = write_annotations(rec.name, args.ext, peaks, np.full(peaks.size, "N"), rec.fs_hz,
                             args.out_dir)
    hours = rec.n_samples / rec.fs_hz / 3600.0
    print(f"{rec.name}: {peaks.size} beats on channel {args.channel} "
          f"({rec.sig_names[args.channel]}, {rec.fs_hz:g} Hz) -> {path} "
          f"[{cpu_s:.2f} CPU s, {cpu_s / hours:.2f} CPU s per hour of ECG]")
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.model.classifier import BeatClassifier
    from edge.pipeline import BeatPipeline, classify_at
    from edge.io.records import read_annotations, read_record
    from edge.io.wfdb_io import write_annotations

    if args.adapted:
        from edge.model.adapt import AdaptedClassifier
        clf = AdaptedClassifier.load(args.adapted, args.model)
    else:
        clf = BeatClassifier(args.model or default_model_path())
    rec = read_record(args.record, data_dir=args.data_dir)
    if not 0 <= args.channel < rec.signal_mv.shape[1]:
        raise EdgeError(f"--channel {args.channel}: record {rec.name} has "
                        f"{rec.signal_mv.shape[1]} channels")
    x = rec.signal_mv[:, args.channel]
    t0 = time.process_time()
    if args.reference_beats:
        from edge.eval.scoring import AAMI_MAP
        ann = read_annotations(args.record, args.reference_beats, data_dir=args.data_dir)
        positions = ann.sample_index[np.isin(ann.symbol, list(AAMI_MAP))]
        beats = classify_at(clf, x, rec.fs_hz, positions)
        mode = f"at the {beats.sample_index.size} beats of '{args.reference_beats}'"
    else:
        beats = BeatPipeline(clf, rec.fs_hz).run(x, int(max(1, args.chunk_s * rec.fs_hz)))
        mode = "at detected beats"
    cpu_s = time.process_time() - t0
    path = write_annotations(rec.name, args.ext, beats.sample_index, beats.label, rec.fs_hz,
                             args.out_dir)
    counts = {c: int(np.sum(beats.label == c)) for c in clf.classes}
    print(f"{rec.name}: {len(beats)} beats classified {mode} with {clf.path.name} "
          f"({clf.model_version}) -> {path}  {counts}  [{cpu_s:.1f} CPU s]")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    try:
        from convert.quantize import main as quantize_main
    except ImportError as exc:
        raise EdgeError(f"quantize needs the training extras (pip install 'ecg-edge[train]'): "
                        f"{exc}") from exc
    return quantize_main(args.rest)


def _cmd_download(args: argparse.Namespace) -> int:
    from edge.io.records import download_database

    out = download_database(args.database, args.out)
    print(f"{args.database} downloaded into {out}")
    return 0


def _run_overrides(args: argparse.Namespace) -> list[str]:
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


def _cmd_run(args: argparse.Namespace) -> int:
    import signal

    from edge.model.classifier import BeatClassifier
    from edge.runtime.settings import load_config
    from edge.runtime.daemon import Daemon, build_sinks, build_source

    config = load_config(args.config, _run_overrides(args))
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


def _cmd_check(args: argparse.Namespace) -> int:
    from edge.model.classifier import BeatClassifier
    from edge.runtime.settings import load_config

    config = load_config(args.config, list(args.set or []))
    path = config.pipeline.model_path()
    clf = BeatClassifier(path, num_threads=config.pipeline.num_threads)
    sinks = [name for name in ("terminal", "stdout", "jsonl", "wfdb", "mqtt")
             if getattr(config.sinks, name).enabled]
    print(f"{args.config}: OK\n  source: {config.source.kind} "
          f"{config.source.transport_config()}\n  channel: {config.source.channel}\n"
          f"  model: {path} ({clf.model_version}, {'int8' if clf.quantized else 'float'}, "
          f"{clf.size_bytes} bytes, classes {''.join(clf.classes)})\n"
          f"  sinks: {', '.join(sinks) or 'none'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from edge.runtime.demo import run_demo

    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and not speed > 0:
        raise EdgeError(f"--speed must be > 0 or 'max', got {args.speed}")
    run_demo(speed=speed, model=args.model, duration_s=args.duration_s,
             show_beats=not args.no_beats, color=args.color, install_signals=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecg-edge", description="Open edge arrhythmia detection: streaming ECG, R-peak "
        "detection and int8 AAMI beat classification.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("detect", help="detect R peaks in a WFDB record and write a WFDB "
                       "annotation file (like PhysioNet's gqrs/sqrs)")
    p.add_argument("record", help="MIT-BIH record name (looked up in --data-dir / $MITDB_DIR) "
                   "or a WFDB record path")
    p.add_argument("--channel", type=int, default=0, help="signal channel (default 0)")
    p.add_argument("--ext", default="qrs", help="annotation file extension (default qrs)")
    p.add_argument("--out-dir", default=".", type=Path, help="where to write the annotations")
    p.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    p.add_argument("--chunk-s", type=float, default=1.0,
                   help="feed the streaming detector this many seconds at a time")
    _add_common(p)
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("annotate", help="classify the beats of a WFDB record with the int8 "
                       "model and write them as a WFDB annotation file (N/S/V/F/Q)")
    p.add_argument("record", help="MIT-BIH record name or WFDB record path (any sample rate)")
    p.add_argument("--model", default=None, type=Path,
                   help="int8 .tflite model (default: the bundled model)")
    p.add_argument("--adapted", default=None, type=Path,
                   help="per-wearer head from `ecg-edge adapt` (its base model: --model, else "
                   "the bundled default_embed.tflite)")
    p.add_argument("--channel", type=int, default=0)
    p.add_argument("--ext", default="cls", help="annotation file extension (default cls)")
    p.add_argument("--out-dir", default=".", type=Path)
    p.add_argument("--reference-beats", default=None, metavar="EXT",
                   help="classify at the beats of this annotation file (e.g. atr) instead of "
                   "detected beats")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--chunk-s", type=float, default=1.0)
    _add_common(p)
    p.set_defaults(func=_cmd_annotate)

    p = sub.add_parser("quantize", help="convert a trained model to a full-int8 .tflite "
                       "(same as `python convert/quantize.py`; needs the train extras)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_quantize)

    p = sub.add_parser("run", help="the edge daemon: read a wearable (serial, BLE or replay), "
                       "classify beats, raise alerts, publish events to the sinks")
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
    _add_common(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("check", help="validate a daemon configuration and load its model")
    p.add_argument("config", type=Path, help="TOML configuration file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key")
    _add_common(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("demo", help="replay a bundled MIT-BIH excerpt through a simulated "
                       "wearable on a pty into the daemon; no hardware or data needed")
    p.add_argument("--speed", default="1", help="replay speed (1 = real time, 'max')")
    p.add_argument("--model", default=None, type=Path, help="int8 model (default: bundled)")
    p.add_argument("--duration-s", type=float, default=None, help="replay only this long")
    p.add_argument("--no-beats", action="store_true", help="do not print every beat")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    _add_common(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("download", help="download a PhysioNet database (needs internet)")
    p.add_argument("database", choices=["mitdb", "nstdb"])
    p.add_argument("--out", required=True, type=Path)
    _add_common(p)
    p.set_defaults(func=_cmd_download)
    from edge.dashboard.cli import add_parser as add_dashboard_parser
    add_dashboard_parser(sub)
    from edge.cli.adapt import add_parser as add_adapt_parser
    add_adapt_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["quantize"]:  # every option belongs to convert/quantize.py
        try:
            return _cmd_quantize(argparse.Namespace(rest=argv[1:]))
        except EdgeError as exc:
            print(f"ecg-edge quantize: error: {exc}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(getattr(args, "verbose", 0), 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except EdgeError as exc:
        print(f"ecg-edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
