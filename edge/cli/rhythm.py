"""``ecg-edge rhythm PATH... [--out FILE]``: the rhythm class of short recordings.

Each PATH is a WFDB record (any sample rate; CinC 2017's ``.mat`` + ``.hea`` form included) or a
directory with a ``RECORDS`` file. Every recording goes through the device's own path --
conditioning and the streaming R-peak detector, then the strip model over its RR intervals and
atrial activity averaged with the strip network over its waveform
(:func:`edge.rhythm.classify_strip`) -- and one line ``name,label`` is written
per recording (the CinC 2017 answer format: ``N`` normal, ``A`` atrial fibrillation, ``O`` other
rhythm, ``~`` too noisy to classify). A recording that is too short, unreadable or has no usable
beats gets ``~`` with the reason logged, never a crash; the summary on stderr counts them. One
channel and at most the first ``--max-s`` (600) seconds of a recording are read: a longer one
is classified on them, with a warning (``annotate --rhythm`` is for long recordings).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import IO

from edge.cli.common import add_common, non_negative_int, positive_float

__all__ = ["add_parser", "cmd_rhythm", "classify_record"]

logger = logging.getLogger(__name__)


#: Longest stretch (s) of one recording ``rhythm`` reads: a strip classifier for recordings
#: of 9-61 s (CinC 2017); a longer one is classified on its first ``MAX_S`` seconds.
MAX_S = 600.0


#: How :func:`classify_record`'s reasons start when the recording could not be read at all
#: (as opposed to read and found too short, flat or noisy).
NOT_READ = ("unreadable:", "no channel")


def classify_record(path: Path, *, channel: int | None = None, model=None,  # noqa: ANN001
                    net=None, max_s: float = MAX_S) -> tuple[str, str]:  # noqa: ANN001
    """``(label, reason)`` of one recording: ``reason`` is empty unless the recording is ``~``
    for a reason other than the model's answer (unreadable, too short, no such channel).
    ``channel=None`` reads the channel named MLII or an equivalent lead II
    (:func:`~edge.io.records.choose_lead_channel`, as ``annotate`` and ``run`` do), else 0.
    Only that channel and at most the first ``max_s`` seconds are read (a longer recording is
    classified on them, logged), so a day-long Holter record costs no more memory than that."""
    import numpy as np

    from edge.cli.common import header_cause
    from edge.errors import DataError, SignalError
    from edge.io.records import choose_lead_channel, read_record, record_layout
    from edge.rhythm import classify_strip

    try:
        layout = record_layout(str(path))
    except DataError as exc:
        return "~", f"unreadable: {header_cause(path) or exc}"
    names, n_samples, fs_hz = layout.sig_names, layout.n_samples, layout.fs_hz
    if channel is None:
        channel, why = choose_lead_channel(names, "MLII", layout.units)
        if len(names) > 1:
            logger.info("%s: channel %d (%s)", path.name, channel, why)
    if channel >= len(names):
        return "~", f"no channel {channel} (the record has {len(names)})"
    sampto = None
    if n_samples is not None and fs_hz > 0 and n_samples > max_s * fs_hz:
        sampto = max(1, int(max_s * fs_hz))  # at least one sample: too short is said below
    try:
        rec = read_record(str(path), channels=[channel], sampto=sampto)
    except DataError as exc:
        return "~", f"unreadable: {header_cause(path) or exc}"
    if sampto is not None:  # said once the samples were read (a missing .dat is unreadable)
        logger.warning("%s: %.0f s long; classified on its first %g s (`ecg-edge annotate "
                       "--rhythm` gives a long recording's rhythm over time)", path.name,
                       n_samples / fs_hz, max_s)
    x = rec.signal_mv[:, 0].astype(np.float64)
    if x.size == 0 or not np.isfinite(x).any():
        return "~", "no valid samples"
    try:
        result = classify_strip(x, rec.fs_hz, model=model, net=net)
    except SignalError as exc:
        return "~", f"unreadable signal: {exc}"
    return result.label, result.reason


def _write_line(out: IO[str], name: str, label: str) -> None:
    out.write(f"{name},{label}\n")
    out.flush()


class _Terminated(Exception):
    """SIGTERM while the recordings are classified (raised by the handler, so the temporary
    answer file is removed on the way out)."""


def _check_out(out: Path, records: list[Path], paths: list[str]) -> None:
    """Refuse (:class:`~edge.errors.EdgeError`) an ``--out`` that is one of the inputs -- a
    record's header or signal file, the ``RECORDS`` list of a folder given -- or a folder,
    before anything is read or written."""
    from edge.cli.common import input_file_at, record_files  # noqa: PLC0415
    from edge.errors import EdgeError  # noqa: PLC0415

    if out.is_dir():
        raise EdgeError(f"{out}: a directory, not a file (give a file path)")
    if not os.path.lexists(out):
        return  # a new file: no input can be there
    inputs = [(Path(p) / "RECORDS", f"the list of records of {p}") for p in paths
              if Path(p).expanduser().is_dir()]
    hit = input_file_at(out, inputs)
    for record in records:
        if hit is not None:
            break
        hit = input_file_at(out, [(f, f"{what} (record {record.name})")
                                  for f, what in record_files(record)])
    if hit is not None:
        raise EdgeError(f"--out {out} is {hit[0]}, {hit[1]}: an input, not overwritten; "
                        f"choose another --out")


def _identity(record: Path) -> frozenset[tuple[int, int]] | Path:
    """What makes two record paths one recording: the same files (device and inode of its
    header and signal files, so a folder of symbolic links to another's files is the same
    recording); the resolved path when none of them can be found."""
    from edge.cli.common import record_files  # noqa: PLC0415

    ids = set()
    for path, _ in record_files(record):
        try:
            st = os.stat(path)
        except OSError:
            continue
        ids.add((st.st_dev, st.st_ino))
    return frozenset(ids) if ids else record.resolve()


def _distinct(records: list[Path]) -> list[Path]:
    """``records`` with a recording reached twice (the same files: :func:`_identity`) kept
    once, the first time; two different recordings with one name are warned about once per
    name, naming both paths (the answer format, ``name,label``, has only the name)."""
    out: list[Path] = []
    seen: set = set()
    first: dict[str, Path] = {}
    for record in records:
        key = _identity(record)
        if key in seen:
            logger.info("record %s given twice; classified once", record)
            continue
        seen.add(key)
        out.append(record)
        other = first.setdefault(record.name, record)
        if other is not record:
            logger.warning("two different recordings are named %s: %s and %s; their answer "
                           "lines carry the same name (the CinC format has only the name)",
                           record.name, other, record)
    return out


def cmd_rhythm(args: argparse.Namespace) -> int:
    import signal

    from edge.io.files import write_atomically
    from edge.io.records import expand_record_paths
    from edge.rhythm import load_strip_model
    from edge.rhythm.strip_net import load_strip_net

    records = _distinct(expand_record_paths(args.paths))
    to_file = args.out is not None and str(args.out) != "-"
    if to_file:
        _check_out(args.out, records, list(args.paths))
    model = load_strip_model(args.model)
    net = False if args.no_net else load_strip_net(args.net)
    counts: Counter[str] = Counter()
    unreadable = not_read = 0

    def classify_all(out: IO[str]) -> None:
        nonlocal unreadable, not_read
        for path in records:
            label, reason = classify_record(path, channel=args.channel, model=model, net=net,
                                            max_s=args.max_s)
            if reason:
                unreadable += 1
                not_read += reason.startswith(NOT_READ)
                logger.warning("%s: '~' (%s)", path.name, reason)
            counts[label] += 1
            _write_line(out, path.name, label)

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as out:
            classify_all(out)

    def terminated(signum, frame) -> None:  # noqa: ANN001
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        if to_file:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            # whole or not at all: a temporary file beside --out, renamed over it once every
            # recording has its answer (two runs never mix lines; Ctrl-C leaves the old file)
            write_atomically(args.out, write)
        else:
            classify_all(sys.stdout)  # streamed, line by line
    except (KeyboardInterrupt, _Terminated) as exc:
        done = sum(counts.values())
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        where = (f"; {args.out} not written (left as it was)" if to_file else "")
        print(f"ecg-edge rhythm: {why} after {done} of {len(records)} recordings{where}",
              file=sys.stderr)
        if isinstance(exc, _Terminated):
            return 128 + signal.SIGTERM
        raise
    except BaseException:
        if to_file:
            print(f"ecg-edge rhythm: {args.out} not written (left as it was)", file=sys.stderr)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    summary = ", ".join(f"{c} {counts[c]}" for c in ("N", "A", "O", "~") if counts[c])
    where = f" -> {args.out}" if to_file else ""
    noun = "recording" if len(records) == 1 else "recordings"
    print(f"ecg-edge rhythm: {len(records)} {noun}{where}: {summary}"
          + (f" ({unreadable} '~' without the model's answer, see the log)" if unreadable
             else ""), file=sys.stderr)
    # every line written; exit 1 when no recording could be read at all (a wrong --channel,
    # a folder of damaged files), so a script does not take that for noise
    return 1 if records and not_read == len(records) else 0


def add_parser(subparsers) -> argparse.ArgumentParser:  # noqa: ANN001
    """Add ``rhythm`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser(
        "rhythm", help="rhythm class of short recordings (CinC 2017 format: name,N|A|O|~)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="WFDB record (any rate; .hea/.mat/.dat accepted) or a directory with "
                   "a RECORDS file")
    p.add_argument("--out", type=Path, default=None,
                   help="write the name,label lines to this file, replaced only once every "
                   "recording is classified (default, or '-': stdout, line by line)")
    p.add_argument("--channel", type=non_negative_int, default=None,
                   help="signal channel (default: the one named MLII, or a lead II; else the first "
                        "in a voltage unit; else 0)")
    p.add_argument("--max-s", type=positive_float, default=MAX_S,
                   help=f"read at most this many seconds of a recording; a longer one is "
                   f"classified on its start (default {MAX_S:g})")
    p.add_argument("--model", type=Path, default=None,
                   help="strip model file (default: the bundled one)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--net", type=Path, default=None,
                   help="strip network file, .tflite (default: the bundled one)")
    g.add_argument("--no-net", action="store_true",
                   help="the strip model alone, without the strip network's waveform opinion")
    add_common(p)
    p.set_defaults(func=cmd_rhythm)
    return p
