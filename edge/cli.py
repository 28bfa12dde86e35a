"""``ecg-edge``: the command-line entry point (the only place that configures logging)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from edge.errors import EdgeError

__all__ = ["main", "build_parser"]

logger = logging.getLogger("edge.cli")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv debug)")


def _cmd_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.detection import detect_signal
    from edge.records import read_record
    from edge.wfdb_io import write_annotations

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


def _cmd_download(args: argparse.Namespace) -> int:
    from edge.records import download_database

    out = download_database(args.database, args.out)
    print(f"{args.database} downloaded into {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecg-edge", description=__doc__)
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

    p = sub.add_parser("download", help="download a PhysioNet database (needs internet)")
    p.add_argument("database", choices=["mitdb", "nstdb"])
    p.add_argument("--out", required=True, type=Path)
    _add_common(p)
    p.set_defaults(func=_cmd_download)
    return parser


def main(argv: list[str] | None = None) -> int:
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
