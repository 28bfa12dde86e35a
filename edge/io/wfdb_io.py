"""Write beats, and rhythm changes, as WFDB annotation files, so results open in PhysioNet
tools (``rdann``, ``bxb``, ``epicmp``, ``wfdb.rdann``).

Rhythm changes are written as MIT-BIH writes them: an annotation of type ``+`` (rhythm change)
whose ``aux_note`` is ``"("`` followed by the rhythm's name (``(N``, ``(AFIB``, ``(AFL``,
``(SVTA``, ...), in the same file as the beats, everything in time order. WFDB's canonical
order (time, then channel) has no room for two annotations of one channel at one sample, so a
rhythm change that falls on a beat's sample is written one sample earlier, before the beat
whose rhythm it starts (MIT-BIH's reference annotators also put it just before the beat). The
one exception: the first change, on a beat with no free sample before it (a beat on the
record's first sample), goes on the first free sample after that beat.
Without rhythm changes the file is byte for byte what the beat-only writer wrote.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edge.errors import DataError
from edge.io.files import write_atomically

__all__ = ["write_annotations", "RHYTHM_SYMBOL", "rhythm_aux_note", "annotation_tail_damage"]

logger = logging.getLogger(__name__)

#: WFDB annotation symbol of a rhythm change.
RHYTHM_SYMBOL = "+"

_RHYTHM_NAME = re.compile(r"[A-Z][A-Z0-9]*")


def rhythm_aux_note(rhythm: str) -> str:
    """The ``aux_note`` of a rhythm change to ``rhythm`` (``"AFIB"`` -> ``"(AFIB"``).

    Raises
    ------
    DataError
        ``rhythm`` is not a WFDB rhythm name (capital letters and digits, a letter first,
        without the ``(``: ``N``, ``AFIB``, ``AFL``, ``SVTA``, ``VT``, ...).
    """
    if not isinstance(rhythm, str) or not _RHYTHM_NAME.fullmatch(rhythm):
        raise DataError(f"rhythm name must be capital letters and digits without '(' "
                        f"(N, AFIB, AFL, SVTA, ...), got {rhythm!r}")
    return "(" + rhythm


def _rhythm_positions(rhythm_changes: Iterable[tuple[int, str]],
                      beat_index: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Positions (a change on a beat moved one sample earlier; the first change on a beat at
    sample 0 after it, see the module docstring) and aux notes of the rhythm changes,
    checked."""
    pairs = list(rhythm_changes)
    pos = np.empty(len(pairs), dtype=np.int64)
    notes: list[str] = []
    for i, pair in enumerate(pairs):
        try:
            at, rhythm = pair
        except (TypeError, ValueError):
            raise DataError(f"rhythm change {i} must be a (sample_index, rhythm) pair, "
                            f"got {pair!r}") from None
        if isinstance(at, (bool, np.bool_)) or not isinstance(at, (int, np.integer)):
            raise DataError(f"rhythm change {i}: sample_index must be an integer, got {at!r}")
        if at < 0:
            raise DataError(f"rhythm change {i}: sample_index must be >= 0, got {at}")
        pos[i] = at
        notes.append(rhythm_aux_note(rhythm))
    if pos.size > 1 and np.any(np.diff(pos) <= 0):
        i = int(np.flatnonzero(np.diff(pos) <= 0)[0]) + 1
        raise DataError(f"rhythm changes must be at increasing sample indices: change {i} at "
                        f"{pos[i]} follows one at {pos[i - 1]}")
    on_beat = np.isin(pos, beat_index)
    moved = pos - on_beat
    if on_beat.size and on_beat[0] and (moved[0] < 0 or np.isin(moved[0], beat_index)):
        # The first change is on a beat with no free sample before it (the record's first
        # sample is a beat): it goes on the first free sample after the beat(s) instead.
        moved[0] = pos[0] + 1
        while np.isin(moved[0], beat_index):
            moved[0] += 1
        on_beat[0] = False  # placed: not checked as a move to the sample before
    bad = (moved < 0) | (on_beat & np.isin(moved, beat_index))
    if moved.size > 1:
        bad[1:] |= np.diff(moved) <= 0
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"rhythm change {i} at sample {pos[i]} falls on a beat and the sample "
                        f"before it is not free for the '+' annotation")
    return moved, notes


def write_annotations(record_name: str, extension: str, sample_index: np.ndarray,
                      symbols, fs_hz: float, out_dir: str | os.PathLike = ".", *,
                      rhythm_changes: Iterable[tuple[int, str]] | None = None) -> Path:
    """Write ``<out_dir>/<record_name>.<extension>``; returns its path.

    Parameters
    ----------
    record_name, extension : the annotation file's record name and annotator (alphanumeric).
    sample_index : beat positions, sample numbers at the record's own rate, increasing.
    symbols : WFDB beat codes (``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"``), one per beat.
    fs_hz : the record's sample rate (Hz), stored in the file.
    out_dir : directory (created if missing).
    rhythm_changes : ``(sample_index, rhythm)`` pairs at strictly increasing sample indices
        (record rate): from there on the rhythm is ``rhythm`` (``"N"``, ``"AFIB"``, ``"AFL"``,
        ``"SVTA"``, ...). Written as ``+`` annotations with ``aux_note`` ``"(" + rhythm``,
        merged with the beats by sample; one on a beat's sample goes one sample earlier (see
        the module docstring). ``None`` or empty: a beat-only file, as before.

    Raises
    ------
    DataError
        Positions and symbols of different lengths, positions out of order, a bad extension
        or rhythm change (the message names it and the rule).
    """
    try:
        import wfdb  # noqa: PLC0415 (lazy: optional on the device)
    except ImportError as exc:  # pragma: no cover
        raise DataError("writing WFDB annotations needs the 'wfdb' package") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    idx = np.asarray(sample_index, dtype=np.int64)
    sym = [str(s) for s in symbols]
    if idx.size != len(sym):
        raise DataError(f"{idx.size} positions but {len(sym)} symbols")
    if idx.size and np.any(np.diff(idx) < 0):
        raise DataError("annotation positions must be increasing")
    if not extension.isalnum():
        raise DataError(f"annotation extension must be alphanumeric, got {extension!r}")
    rpos, rnotes = _rhythm_positions(rhythm_changes or (), idx)
    path = out / f"{record_name}.{extension}"
    if idx.size == 0 and rpos.size == 0:
        # wrann refuses an empty file; write a single-note-free file with no annotations.
        write_atomically(path, lambda tmp: tmp.write_bytes(b"\x00\x00"))
        return path
    with tempfile.TemporaryDirectory(prefix="ecg-edge-ann-") as tmp:
        if rpos.size == 0:
            wfdb.wrann(record_name, extension, idx, symbol=sym, write_dir=tmp, fs=fs_hz)
        else:
            all_idx = np.concatenate([idx, rpos])
            order = np.argsort(all_idx, kind="stable")
            all_sym = sym + [RHYTHM_SYMBOL] * rpos.size
            all_aux = [""] * idx.size + rnotes  # wrann writes no aux_note for an empty one
            wfdb.wrann(record_name, extension, all_idx[order],
                       symbol=[all_sym[i] for i in order],
                       aux_note=[all_aux[i] for i in order], write_dir=tmp, fs=fs_hz)
        data = (Path(tmp) / path.name).read_bytes()
    # wrann's numpy writes lose a short tail without a word
    if not data or annotation_tail_damage(len(data), data[-2:]):
        raise DataError(f"cannot write {path}: the annotations were cut short while being "
                        f"written ({len(data)} bytes; is the temporary folder full?)")
    # whole or not at all: a full disk is an OSError here, and the previous file stays intact
    write_atomically(path, lambda tmp: tmp.write_bytes(data))
    return path


def annotation_tail_damage(size: int, tail: bytes) -> str:
    """Why an annotation file of ``size`` bytes ending in ``tail`` (its last two bytes) is
    cut short, or ``""``: a WFDB (MIT-format) annotation file is 16-bit words and, when not
    empty, ends with a zero code (two zero bytes). The reader's check of a file and the
    writer's of what ``wfdb.wrann`` wrote."""
    if size % 2:
        return "an odd number of bytes: truncated"
    if size and tail != b"\x00\x00":
        return "no end-of-file marker: truncated or overwritten"
    return ""
