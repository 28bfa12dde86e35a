"""``ecg-edge detect``: R peaks of a WFDB record, written as a WFDB annotation file (like
PhysioNet's gqrs)."""
from __future__ import annotations

import argparse
import time

from edge.cli.common import (
    MAX_CHUNK_S,
    add_common,
    bounded_float,
    check_annotation_output,
    non_negative_int,
    output_annotator,
    output_dir,
    read_channel,
    warn_if_no_beats,
)

__all__ = ["add_parser", "cmd_detect"]


def cmd_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.dsp.detection import detect_signal
    from edge.io.wfdb_io import write_annotations

    check_annotation_output(args.record, args.ext, args.out_dir, data_dir=args.data_dir)
    rec, channel = read_channel(args.record, args.channel, args.data_dir)
    t0 = time.process_time()
    peaks = detect_signal(rec.signal_mv[:, 0], rec.fs_hz, chunk_s=args.chunk_s,
                          flutter_beats=True)  # every beat the device's beat stream takes
    cpu_s = time.process_time() - t0
    warn_if_no_beats(peaks.size, rec.signal_mv[:, 0], rec.fs_hz, rec.name)
    path = write_annotations(rec.name, args.ext, peaks, np.full(peaks.size, "N"), rec.fs_hz,
                             args.out_dir)
    hours = rec.n_samples / rec.fs_hz / 3600.0
    print(f"{rec.name}: {peaks.size} beats on channel {channel} "
          f"({rec.sig_names[0]}, {rec.fs_hz:g} Hz) -> {path} "
          f"[{cpu_s:.2f} CPU s, {cpu_s / hours:.2f} CPU s per hour of ECG]")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``detect`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("detect", help="detect R peaks in a WFDB record and write a WFDB "
                              "annotation file (like PhysioNet's gqrs/sqrs)")
    p.add_argument("record", help="MIT-BIH record name (looked up in --data-dir / $MITDB_DIR) "
                   "or a WFDB record path")
    p.add_argument("--channel", type=non_negative_int, default=None,
                   help="signal channel (default: the one named MLII, or a lead II; else the first "
                        "in a voltage unit; else 0)")
    p.add_argument("--ext", type=output_annotator, default="qrs",
                   help="annotation file extension (default qrs)")
    p.add_argument("--out-dir", default=".", type=output_dir, help="where to write the annotations")
    p.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    p.add_argument("--chunk-s", type=bounded_float(MAX_CHUNK_S, "s"), default=10.0,
                   help="feed the streaming detector this many seconds at a time (> 0, <= "
                   f"{MAX_CHUNK_S:g}; "
                   "default 10, cheaper per hour than short chunks; the result does not "
                   "depend on it)")
    add_common(p)
    p.set_defaults(func=cmd_detect)
    return p
