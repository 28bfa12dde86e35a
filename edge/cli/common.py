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
           "output_annotator"]

logger = logging.getLogger(__name__)


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
    it would be created, so the one to check for being a writable folder."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def output_dir(text: str) -> Path:
    """A directory the command can write into (created when missing, on writing): refused at
    once, before any work, when it is a file or its nearest existing parent is not a writable
    directory."""
    path = Path(text)
    probe = nearest_existing(path)
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


def read_channel(record: str | os.PathLike, channel: int | None,
                 data_dir: str | os.PathLike | None = None, *, lead: str = "MLII"
                 ):  # noqa: ANN201 (a Record and its channel)
    """Channel ``channel`` of a WFDB record, read alone (the header checked first), and that
    channel: a :class:`~edge.io.records.Record` whose one column is it. ``channel=None``
    chooses the channel named ``lead`` (the model's lead) or an equivalent
    (:func:`~edge.io.records.lead_channel`: MIT-BIH's MLII, a standard lead II), else channel
    0, and logs the choice. A channel the record does not have is one
    :class:`~edge.errors.EdgeError` naming ``--channel``."""
    from edge.errors import EdgeError  # noqa: PLC0415
    from edge.io.records import choose_lead_channel, read_record, record_layout  # noqa: PLC0415

    layout = record_layout(record, data_dir=data_dir)
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


def check_annotation_output(record: str | os.PathLike, record_name: str, extension: str,
                            out_dir: str | os.PathLike, *, reads: str | None = None,
                            data_dir: str | os.PathLike | None = None) -> None:
    """Refuse (one :class:`~edge.errors.EdgeError`) to write ``<out_dir>/<record_name>.
    <extension>`` over the annotation file the command reads (``reads``: its extension, next
    to ``record``), or over an existing ``.atr`` file -- a database's expert reference, which
    a model's output must never replace."""
    from edge.errors import EdgeError  # noqa: PLC0415
    from edge.io.records import resolve_record  # noqa: PLC0415

    out = Path(out_dir) / f"{record_name}.{extension}"
    if reads is not None:
        src = Path(f"{resolve_record(record, data_dir=data_dir)}.{reads}")
        if extension == reads and out.resolve() == src.resolve():
            raise EdgeError(f"--ext {extension} with --out-dir {out_dir} would overwrite "
                            f"{src}, the annotation file being read; choose another --ext "
                            f"or --out-dir")
    if extension == REFERENCE_ANNOTATOR and out.exists():
        raise EdgeError(f"{out} exists and .{REFERENCE_ANNOTATOR} is a database's reference "
                        f"annotation file: not overwritten; choose another --ext or --out-dir")
