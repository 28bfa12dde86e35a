"""What every ``ecg-edge`` sub-command shares: the common options and the argument types that
refuse a bad value with a one-line error naming the option and the rule (argparse exits 2)."""
from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path

__all__ = ["add_common", "positive_float", "non_negative_int", "replay_speed",
           "output_dir", "read_channel", "check_annotation_output", "description",
           "annotator", "positive_int", "warn_if_no_beats", "nearest_existing", "device_id",
           "output_annotator", "record_files", "annotation_files", "same_file", "input_file_at",
           "bounded_float", "MAX_CHUNK_S"]

logger = logging.getLogger(__name__)

#: Longest ``--chunk-s`` (s) of ``detect`` / ``annotate``: an hour at a time already costs
#: hundreds of MB; a larger value would only overflow the sample count.
MAX_CHUNK_S = 3600.0


def description(doc: str | None) -> str:
    """A module docstring's first paragraph as a ``--help`` description: one line, without
    the reStructuredText markup (double backquotes) meant for the API docs."""
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


def add_common(p: argparse.ArgumentParser) -> None:
    """Options every sub-command takes."""
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv debug)")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds, ...)."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def bounded_float(most: float, unit: str = ""):  # noqa: ANN201 (an argparse type)
    """An argparse type: a finite number > 0 and <= ``most`` (``unit`` names it in the
    message), so a huge value is one line here and not an overflow in the command."""
    def check(text: str) -> float:
        value = positive_float(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected a number <= {most:.10g}"
                                             f"{' ' + unit if unit else ''}, got {text!r}")
        return value

    return check


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a channel index, ...)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def device_id(text: str) -> int:
    """An argparse type: a device id, an integer 0 .. 2**63 - 1 (the events' 64-bit id)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"expected a device id, an integer 0 .. 2**63 - 1; "
                                         f"got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def annotator(text: str) -> str:
    """An argparse type: a WFDB annotator name to read (an annotation file's extension):
    letters and digits (PhysioNet has ``pu0``, ``q1c``), not empty."""
    if not (text and text.isascii() and text.isalnum()):
        raise argparse.ArgumentTypeError(f"an annotation file extension is letters and digits "
                                         f"(e.g. atr, qrs), got {text!r}")
    return text


def output_annotator(text: str) -> str:
    """An argparse type: a WFDB annotator name to write: letters only (``wfdb.wrann`` refuses
    digits), not empty."""
    if not (text and text.isascii() and text.isalpha()):
        raise argparse.ArgumentTypeError(f"an annotation file to write has an extension of "
                                         f"letters only (e.g. cls, qrs), got {text!r}")
    return text


def warn_if_no_beats(n_beats: int, signal_mv, fs_hz: float, name: str) -> None:  # noqa: ANN001
    """Log a warning when a record gave no beat at all, saying what the signal is like (a
    flat line, missing samples, or just too short), so an empty file is not taken for a
    heart without beats."""
    import numpy as np  # noqa: PLC0415

    if n_beats:
        return
    x = np.asarray(signal_mv, dtype=np.float64)
    finite = x[np.isfinite(x)]
    seconds = x.size / fs_hz
    if finite.size == 0:
        why = "every sample is missing"
    elif float(np.ptp(finite)) < 0.01:
        why = "the signal is flat (lead off?)"
    elif seconds < 3.0:
        why = f"the record is {seconds:.1f} s long"
    else:
        why = "no QRS complex was found"
    logger.warning("%s: no beat found: %s", name, why)


def nearest_existing(path: Path) -> Path:
    """``path`` if it exists, else its nearest existing ancestor: where the folders to write
    it would be created, so the one to check for being a writable folder. A dangling symbolic
    link on the way is returned as it is (it exists as a link): it cannot be a folder."""
    probe = path
    while not (probe.exists() or probe.is_symlink()) and probe != probe.parent:
        probe = probe.parent
    return probe


def output_dir(text: str) -> Path:
    """A directory the command can write into (created when missing, on writing): refused at
    once, before any work, when it is a file, a dangling symbolic link, or its nearest
    existing parent is not a writable directory."""
    path = Path(text)
    probe = nearest_existing(path)
    if probe.is_symlink() and not probe.exists():
        where = "" if probe == path else f"{str(probe)!r} "
        raise argparse.ArgumentTypeError(
            f"{text!r}: {where}is a dangling symbolic link (to {os.readlink(probe)!r}, which "
            f"does not exist)")
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r}: {'is not a directory' if probe == path else f'{str(probe)!r} is a file'}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: {str(probe)!r} is not writable")
    return path


def replay_speed(text: str) -> float | None:
    """A replay speed: a finite number > 0 (1 = real time) or ``max`` (as fast as possible,
    returned as None). ``0`` is refused: it means neither. The rule is the simulator's own
    (:func:`firmware_bridge.replay.parse_speed`), so ``ecg-sim``, ``demo`` and ``run`` agree."""
    from firmware_bridge.errors import ConfigError as BridgeConfigError
    from firmware_bridge.replay.cli import parse_speed

    try:
        return parse_speed(text)
    except BridgeConfigError as exc:
        raise argparse.ArgumentTypeError(exc.rule) from None


def header_cause(record: str | os.PathLike,
                 data_dir: str | os.PathLike | None = None) -> str | None:
    """Why a record whose header ``wfdb`` could not read (or read wrong) cannot be read, when
    the cause is one of the record path or header rather than damage; None otherwise.
    Called after a failed read, so a good record costs nothing. The causes: a path with an
    extension that is not a record's (``100.qrs``: an annotation file), a header with
    characters that are not ASCII (``wfdb`` reads a header as ASCII and drops them, so the
    fields shift), a signal file named with a folder (WFDB looks for signal files beside the
    header only), a multi-segment record's layout header (no samples of its own)."""
    from edge.errors import DataError  # noqa: PLC0415
    from edge.io.records import resolve_record  # noqa: PLC0415

    try:
        path = resolve_record(record, data_dir=data_dir)
    except DataError:
        return None
    head = Path(f"{path}.hea")
    if not head.is_file():
        stem = path.with_suffix("")
        if path.suffix and Path(f"{stem}.hea").is_file():
            return (f"{str(record)!r} is a file of WFDB record {stem} ({path.suffix}), not a "
                    f"record: give {stem} or {stem}.hea")
        return None
    try:
        lines = [line for line in head.read_bytes().splitlines()
                 if line.strip() and not line.lstrip().startswith(b"#")]
    except OSError:
        return None
    for line in lines:
        if not line.isascii():
            return (f"the header {head} holds characters that are not ASCII "
                    f"({line.decode('utf-8', 'replace').strip()!r}): WFDB record and file "
                    f"names are ASCII (wfdb cannot read this header); rename the record")
    signals = [line.split()[0].decode("ascii") for line in lines[1:]]
    first = lines[0].split()
    if signals and all(name == "~" for name in signals) and not (
            len(first) > 1 and b"/" in first[0]):
        return (f"the header {head} is the layout header of a multi-segment record (its "
                f"signals are '~'): it holds no samples of its own; give the record that "
                f"names it as a segment")
    for name in signals:
        if "/" in name or "\\" in name:
            return (f"the header {head} names the signal file {name!r} in another folder: "
                    f"WFDB reads a record's signal files beside its header only; copy it "
                    f"there and name it without a folder")
    return None


def read_channel(record: str | os.PathLike, channel: int | None,
                 data_dir: str | os.PathLike | None = None, *, lead: str = "MLII"
                 ):  # noqa: ANN201 (a Record and its channel)
    """Channel ``channel`` of a WFDB record, read alone (the header checked first), and that
    channel: a :class:`~edge.io.records.Record` whose one column is it. ``channel=None``
    chooses the channel named ``lead`` (the model's lead) or an equivalent
    (:func:`~edge.io.records.lead_channel`: MIT-BIH's MLII, a standard lead II), else channel
    0, and logs the choice. A channel the record does not have is one
    :class:`~edge.errors.EdgeError` naming ``--channel``."""
    from edge.errors import DataError, EdgeError  # noqa: PLC0415
    from edge.io.records import choose_lead_channel, read_record, record_layout  # noqa: PLC0415

    try:
        layout = record_layout(record, data_dir=data_dir)
    except DataError as exc:
        cause = header_cause(record, data_dir)
        if cause:
            raise DataError(cause) from exc
        raise
    names = layout.sig_names
    n = len(names)
    name = Path(str(record)).name
    if n == 0:
        raise EdgeError(f"record {name} has no signals (its header lists none)")
    if channel is None:
        channel, why = choose_lead_channel(names, lead, layout.units)
        if n > 1:
            logger.info("record %s: channel %d (%s)", name, channel, why)
    if not 0 <= channel < n:
        raise EdgeError(f"--channel {channel}: record {name} has {n} channels (0..{n - 1})")
    return read_record(record, channels=[channel], data_dir=data_dir), channel


#: The annotator name of a PhysioNet database's reference (expert) annotations.
REFERENCE_ANNOTATOR = "atr"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """``a`` and ``b`` are one file: :func:`os.path.samefile` when both exist (a symbolic
    link, a hard link, a folder reached twice), else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def record_files(record: str | os.PathLike) -> list[tuple[Path, str]]:
    """The files of the WFDB record at ``record`` (a path without extension) a command must
    never write over, each with what it is: its header, every signal file the header names
    (a multi-segment record: its segments' headers and signal files too), and the
    ``<record>.mat`` / ``<record>.dat`` a record path may be given with. A header that cannot
    be read gives those alone (reading the record says what is wrong with it)."""
    import wfdb  # noqa: PLC0415

    base = Path(record)
    folder = base.parent
    out = [(Path(f"{base}.hea"), "its header"), (Path(f"{base}.mat"), "its signal file"),
           (Path(f"{base}.dat"), "its signal file")]
    try:
        head = wfdb.rdheader(str(base))
    except Exception:  # noqa: BLE001 - a damaged header: the read says why
        return out
    headers = [head]
    if getattr(head, "seg_name", None):
        try:
            headers = [wfdb.rdheader(str(base), rd_segments=True)]
            headers += [seg for seg in headers[0].segments or () if seg is not None]
        except Exception:  # noqa: BLE001 - a missing segment: the read says so
            pass
        out += [(folder / f"{name}.hea", f"the header of its segment {name}")
                for name in head.seg_name if name and name != "~"]
    for h in headers:
        for name in getattr(h, "file_name", None) or ():
            if name and name != "~":
                out.append((folder / name, "its signal file"))
    return out


def annotation_files(record: Path, ours) -> list[tuple[Path, str]]:  # noqa: ANN001
    """The files ``<record>.<letters and digits>`` beside the record at ``record`` (a path
    without extension) that are not ``ours(path)`` -- a file of the command's own kind, which
    it may replace -- each as an annotation file of the record: what an output must not be
    written into, with :func:`record_files`."""
    prefix = f"{record.name}."
    out = []
    for other in sorted(p for p in record.parent.iterdir() if p.name.startswith(prefix)):
        suffix = other.name[len(prefix):]
        if suffix.isascii() and suffix.isalnum() and not ours(other):
            out.append((other, "an annotation file of the record"))
    return out


def input_file_at(out: str | os.PathLike,
                  inputs: list[tuple[Path, str]]) -> tuple[Path, str] | None:
    """The first of ``inputs`` (``(path, what)``) that ``out`` is (:func:`same_file`), else
    None. Nothing is when ``out`` does not exist (an existing input cannot be there)."""
    if not os.path.lexists(out):
        return None
    for path, what in inputs:
        if os.path.lexists(path) and same_file(out, path):
            return path, what
    return None


#: The annotator name of a PhysioNet database's reference (expert) annotations.
REFERENCE_ANNOTATOR = "atr"


def check_annotation_output(record: str | os.PathLike, extension: str,
                            out_dir: str | os.PathLike, *, reads: str | None = None,
                            data_dir: str | os.PathLike | None = None) -> Path:
    """Refuse (one :class:`~edge.errors.EdgeError`), before any work, to write
    ``<out_dir>/<record name>.<extension>`` over one of the record's own files (its header,
    a signal file its header names, ``.mat``), over the annotation file the command reads
    (``reads``: its extension, next to ``record``), over an existing ``.atr`` file -- a
    database's expert reference, which a model's output must never replace -- or where a
    folder is. Returns the path to write."""
    from edge.errors import EdgeError  # noqa: PLC0415
    from edge.io.records import resolve_record  # noqa: PLC0415

    src = resolve_record(record, data_dir=data_dir)
    out = Path(out_dir) / f"{src.name}.{extension}"
    inputs = record_files(src)
    if reads is not None:
        inputs.append((Path(f"{src}.{reads}"), "the annotation file being read"))
    hit = input_file_at(out, inputs)
    if hit is not None:
        raise EdgeError(f"--ext {extension} with --out-dir {out_dir} would overwrite "
                        f"{hit[0]}, {hit[1]} (record {src.name}); choose another --ext "
                        f"or --out-dir")
    if extension == REFERENCE_ANNOTATOR and out.exists():
        raise EdgeError(f"{out} exists and .{REFERENCE_ANNOTATOR} is a database's reference "
                        f"annotation file: not overwritten; choose another --ext or --out-dir")
    if out.is_dir():
        raise EdgeError(f"{out} is a folder: the annotation file cannot be written there; "
                        f"choose another --ext or --out-dir")
    return out
