"""Locate and read WFDB records (MIT-BIH and any other PhysioNet-format record, the CinC 2017
``.mat`` + ``.hea`` form included), and expand command-line PATH arguments into records.

The data directory is found, in order, from the explicit argument, the environment variable
(``MITDB_DIR`` for the MIT-BIH Arrhythmia Database, ``NSTDB_DIR`` for the Noise Stress Test
Database), and ``./data/mitdb`` (``./data/nstdb``). ``wfdb`` is imported lazily, so importing this
module costs nothing on a device that never reads records.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dsp.quality import MAX_FS_HZ
from edge.errors import DataError, DataNotFoundError

__all__ = [
    "Record",
    "Annotations",
    "find_data_dir",
    "channel_count",
    "channel_names",
    "lead_channel",
    "choose_lead_channel",
    "LEAD_NAMES",
    "resolve_record",
    "expand_record_paths",
    "RECORD_SUFFIXES",
    "read_record",
    "read_annotations",
    "download_database",
]

logger = logging.getLogger(__name__)

#: the databases ``ecg-edge download`` offers (its choices, :mod:`edge.cli.download`)
DOWNLOADABLE = ("mitdb", "nstdb")

#: File suffixes of a WFDB record's files that a record path may be given with (header, signal
#: files -- ``.mat`` is the CinC / PhysioNet MATLAB form -- and reference annotations); the
#: simulator's lookup (``firmware_bridge.replay.records``) strips the same (a test checks).
RECORD_SUFFIXES = (".hea", ".dat", ".mat", ".atr")


@dataclass(frozen=True)
class Record:
    """One WFDB record in physical units.

    Attributes
    ----------
    name : record name (``"100"``).
    signal_mv : float64 array, shape (n_samples, n_channels), in millivolts whatever the
        header's units (a record stored in µV or V is converted:
        :func:`firmware_bridge.replay.records.counts_per_mv`); NaN where the record marks a
        sample invalid (WFDB's invalid value,
        :data:`firmware_bridge.replay.records.INVALID_ADC`).
    adc : int32 array, same shape, the raw ADC values as stored.
    fs_hz : sampling frequency in Hz.
    adc_gain : ADC counts per mV (per channel).
    baseline : ADC value of 0 mV (per channel).
    sig_names : channel names (``["MLII", "V5"]``).
    units : the header's units per channel (``"mV"`` when it gives none).
    """

    name: str
    signal_mv: np.ndarray
    adc: np.ndarray
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    sig_names: tuple[str, ...]
    units: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        return int(self.signal_mv.shape[0])


@dataclass(frozen=True)
class Annotations:
    """Annotation positions (absolute sample index) with their symbols and aux notes."""

    sample_index: np.ndarray  # int64
    symbol: np.ndarray  # str (object)
    aux_note: tuple[str, ...]
    fs_hz: float


def find_data_dir(database: str = "mitdb", data_dir: str | os.PathLike | None = None) -> Path:
    """Return the directory holding ``database`` (``"mitdb"``, ``"nstdb"``, ...): ``data_dir``
    if given, else the one ``$<DATABASE>_DIR`` names, else ``./data/<database>`` (the lookup
    of :func:`firmware_bridge.replay.records.find_data_dir`, the one copy).

    Raises
    ------
    DataNotFoundError
        When no directory is found; the message says how to point at one or download it.
    """
    from firmware_bridge.errors import RecordNotFoundError  # noqa: PLC0415 (see _wfdb)
    from firmware_bridge.replay.records import find_data_dir as find  # noqa: PLC0415

    try:
        return find(database, data_dir)
    except RecordNotFoundError as exc:
        raise record_not_found(exc) from None


def resolve_record(record: str | os.PathLike, database: str = "mitdb",
                   data_dir: str | os.PathLike | None = None) -> Path:
    """Turn a record name ("100") or a path ("/x/100", "/x/100.hea", "/x/A00001.mat") into a
    WFDB record path (without extension): :func:`firmware_bridge.replay.records.resolve_record`.

    Raises
    ------
    DataNotFoundError
        When the record or its data directory does not exist.
    """
    from firmware_bridge.errors import RecordNotFoundError  # noqa: PLC0415
    from firmware_bridge.replay.records import resolve_record as resolve  # noqa: PLC0415

    try:
        return resolve(record, database, data_dir)
    except RecordNotFoundError as exc:
        raise record_not_found(exc) from None


def record_not_found(exc) -> DataNotFoundError:  # noqa: ANN001 (a RecordNotFoundError)
    """The simulator's lookup error as this package's, with the download hint where
    ``ecg-edge download`` can fetch the missing directory."""
    message = str(exc)
    if exc.missing == "data_dir" and exc.database in DOWNLOADABLE:
        message += (f"; with internet access: `ecg-edge download {exc.database} --out "
                    f"data/{exc.database}`")
    return DataNotFoundError(message, path=exc.path)


def _record_at(text: str) -> Path | None:
    """The record path (without extension) that the file-system path ``text`` names, if any."""
    if text.endswith(RECORD_SUFFIXES):
        text = text.rsplit(".", 1)[0]
    return Path(text) if Path(text + ".hea").is_file() else None


def _records_in(directory: Path) -> list[Path]:
    """The records of a directory: those its ``RECORDS`` file lists (one name per line, blank
    lines and ``#`` comments skipped), else every ``*.hea`` in it, by name."""
    listing = directory / "RECORDS"
    if not listing.is_file():
        found = sorted(directory.glob("*.hea"))
        if not found:
            raise DataNotFoundError(f"directory {str(directory)!r} has no RECORDS file and no "
                                    f"WFDB header (*.hea)", path=str(directory))
        return [h.with_suffix("") for h in found]
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {str(listing)!r}: {exc}") from None
    out = []
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        record = _record_at(str(directory / name))
        if record is None:
            raise DataNotFoundError(f"{str(listing)!r} line {number}: no record {name!r} "
                                    f"(no {name}.hea in {str(directory)!r})",
                                    path=str(directory / name))
        out.append(record)
    if not out:
        raise DataNotFoundError(f"{str(listing)!r} lists no records", path=str(listing))
    return out


#: The databases whose folders the environment may name (``MITDB_DIR`` ...), in the order a
#: bare record name is looked up in them for a hint.
ENV_DATABASES = ("mitdb", "svdb", "cudb", "cinc2017", "nstdb")


def _elsewhere_hint(text: str) -> str:
    """``; did you mean ...?`` when a bare record name is a record of a database folder named
    by the environment (``MITDB_DIR``, ``SVDB_DIR``, ...): these paths are read as given."""
    if os.sep in text or "/" in text:
        return ""
    from firmware_bridge.replay.records import data_dir_env  # noqa: PLC0415

    name = _strip_suffix(text)
    for var in map(data_dir_env, ENV_DATABASES):
        folder = os.environ.get(var)
        if folder and (Path(folder) / f"{name}.hea").is_file():
            return f"; did you mean {Path(folder) / name} (${var})?"
    if re.fullmatch(r"[12]\d\d", name) and not os.environ.get("MITDB_DIR"):  # a MIT-BIH name
        return (f"; for MIT-BIH record {name} give its path ($MITDB_DIR/{name}: set MITDB_DIR, "
                f"or `ecg-edge download mitdb --out data/mitdb`)")
    return ""


def expand_record_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand command-line PATH arguments into WFDB record paths (without extension).

    Each PATH is a record (``x/A00001``, ``x/A00001.hea``, ``x/A00001.mat``, ``x/100.dat``: a
    file-system path, not a name looked up in a data directory) or a directory: the records
    its ``RECORDS`` file lists (PhysioNet's convention; CinC 2017 and MIT-BIH have one), else
    every ``*.hea`` in it by name. All PATHs are checked before anything is returned, so a
    command fails before its first output line. A record reached twice is kept once (the first
    time), and the repeat is logged.

    Raises
    ------
    DataNotFoundError
        A PATH that is neither a record nor a directory, a ``RECORDS`` line without a header,
        a directory with no records (one line naming it; ``path`` is where we looked).
    DataError
        An unreadable ``RECORDS`` file, or no PATH at all.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    given = 0
    for raw in paths:
        given += 1
        text = os.fspath(raw)
        as_dir = Path(text).expanduser()
        if as_dir.is_dir():
            records = _records_in(as_dir)
        else:
            record = _record_at(str(Path(text).expanduser()))
            if record is None:
                raise DataNotFoundError(f"{text!r} is neither a WFDB record (no "
                                        f"{_strip_suffix(text)}.hea) nor a directory"
                                        + _elsewhere_hint(text), path=text)
            records = [record]
        for record in records:
            key = record.resolve()
            if key in seen:
                logger.info("record %s given twice; classified once", record)
                continue
            seen.add(key)
            out.append(record)
    if not given:
        raise DataError("no PATH given (a WFDB record or a directory of records)")
    return out


def _strip_suffix(text: str) -> str:
    return text.rsplit(".", 1)[0] if text.endswith(RECORD_SUFFIXES) else text


def _wfdb():
    try:
        import wfdb  # noqa: PLC0415 (lazy by design: the device may never read records)
    except ImportError as exc:  # pragma: no cover - depends on the install profile
        raise DataError("reading WFDB records needs the 'wfdb' package: pip install wfdb") from exc
    return wfdb


@dataclass(frozen=True)
class RecordLayout:
    """What a WFDB record's header says: its signal names (one per channel), samples per
    channel (``None`` when the header does not give it), sample rate (Hz) and each channel's
    units (``""`` when not given)."""

    sig_names: tuple[str, ...]
    n_samples: int | None
    fs_hz: float
    units: tuple[str, ...] = ()


def _checked_rate(path: Path, fs_hz: object) -> float:
    """The record's sample rate, or a :class:`DataError` when its header's rate field is
    damaged (:func:`firmware_bridge.replay.records.header_rate_problem`) or the rate is one
    no ECG is analysed at."""
    from edge.dsp.quality import MIN_FS_HZ  # noqa: PLC0415
    from firmware_bridge.replay.records import header_rate_problem  # noqa: PLC0415

    problem = header_rate_problem(path, fs_hz)
    if problem:
        raise DataError(f"WFDB record {str(path)!r}: {problem}")
    fs = float(fs_hz)  # type: ignore[arg-type] - checked above
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise DataError(f"WFDB record {str(path)!r}: sample rate {fs:g} Hz is outside "
                        f"{MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz (check the header's rate field)")
    return fs


def record_layout(record: str | os.PathLike, *, database: str = "mitdb",
                  data_dir: str | os.PathLike | None = None) -> RecordLayout:
    """A WFDB record's :class:`RecordLayout`, from its header alone (to check or choose a
    channel, or bound what to read, before reading samples)."""
    path = resolve_record(record, database, data_dir)
    wfdb = _wfdb()
    try:
        head = wfdb.rdheader(str(path))
    except Exception as exc:  # wfdb raises bare ValueError/OSError on damaged files
        from firmware_bridge.replay.records import damage_reason  # noqa: PLC0415

        raise DataError(f"cannot read the header of WFDB record {str(path)!r}: "
                        f"{damage_reason(path, exc)}") from exc
    names, units = list(head.sig_name or []), list(getattr(head, "units", None) or [])
    if getattr(head, "seg_name", None):  # a multi-segment record: its segments say
        names, units = _segment_layout(path, wfdb)
    n = int(head.n_sig or 0)
    return RecordLayout(
        tuple(str(names[k]) if k < len(names) and names[k] is not None else ""
              for k in range(n)),
        int(head.sig_len) if head.sig_len else None, _checked_rate(path, head.fs),
        tuple(str(units[k]) if k < len(units) and units[k] is not None else ""
              for k in range(n)))


def _segment_layout(path: Path, wfdb) -> tuple[list, list]:  # noqa: ANN001 (the module)
    """The signal names and units of a multi-segment record (its own header gives neither):
    from its segments' headers -- the layout segment (variable layout: the first segment, of
    length 0) or, with a fixed layout, the first segment.

    Raises
    ------
    DataError
        A segment header that cannot be read (missing or damaged), naming it.
    """
    try:
        head = wfdb.rdheader(str(path), rd_segments=True)
    except Exception as exc:  # wfdb raises bare ValueError/OSError
        missing = [name for name in wfdb.rdheader(str(path)).seg_name
                   if name != "~" and not (path.parent / f"{name}.hea").is_file()]
        why = (f"the header of its segment {missing[0]} ({path.parent / missing[0]}.hea) is "
               f"missing" if missing else f"a segment header cannot be read: {exc}")
        raise DataError(f"multi-segment WFDB record {str(path)!r}: {why}") from exc
    names = list(head.sig_name or [])
    segments = [seg for seg in head.segments or () if seg is not None]
    first = segments[0] if segments else None
    by_name = dict(zip(first.sig_name or (), first.units or ())) if first is not None else {}
    return names, [str(by_name.get(name) or "") for name in names]


def channel_names(record: str | os.PathLike, *, database: str = "mitdb",
                  data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The signal names of a WFDB record, one per channel (its header alone: to check or
    choose a channel before reading just that one)."""
    return record_layout(record, database=database, data_dir=data_dir).sig_names


def channel_count(record: str | os.PathLike, *, database: str = "mitdb",
                  data_dir: str | os.PathLike | None = None) -> int:
    """How many signals a WFDB record holds (its header alone)."""
    return len(channel_names(record, database=database, data_dir=data_dir))


#: Signal names read as the same lead, best first (compared without case, spaces, ``-``, ``_``):
#: the beat models learn MIT-BIH's modified lead II, whose nearest standard lead is II.
LEAD_NAMES = {"MLII": ("MLII", "II", "ML2", "LEADII", "ECGII")}


def lead_channel(sig_names: Iterable[str], lead: str) -> int | None:
    """The channel whose name is ``lead`` or, failing that, the best of its
    :data:`LEAD_NAMES` equivalents; ``None`` when no channel is named so."""
    def norm(name: str) -> str:
        return "".join(c for c in str(name).upper() if c not in " -_")

    names = [norm(n) for n in sig_names]
    for want in (lead, *LEAD_NAMES.get(norm(lead), ())):
        if norm(want) in names:
            return names.index(norm(want))
    return None


def choose_lead_channel(sig_names: Sequence[str], lead: str,
                        units: Sequence[str] = ()) -> tuple[int, str]:
    """The channel to read when none is configured, and why, for the log: the channel
    :func:`lead_channel` finds for ``lead`` (the model's lead), else the first channel whose
    ``units`` are a voltage (a blood-pressure or respiration channel first in the record is
    not read as ECG), else 0."""
    from firmware_bridge.replay.records import MV_PER_UNIT  # noqa: PLC0415

    names = list(sig_names)
    if not names:
        return 0, "the channels are not named"
    found = lead_channel(names, lead)
    if found is not None:
        return found, f"{names[found]}, the {lead} lead"
    voltage = [k for k, u in enumerate(units) if str(u).strip().lower() in MV_PER_UNIT]
    k = voltage[0] if voltage and len(units) == len(names) else 0
    why = f"{names[k] or f'channel {k}'}: no channel is named {lead} or an equivalent " \
          f"({', '.join(names)})"
    if k:
        why += f"; the first in a voltage unit ({units[k] or 'mV'})"
    return k, why


def _check_channels(path: Path, channels: list[int] | None, exc: Exception) -> None:
    """After a failed read: a channel the record does not have is said so (the header alone is
    read, and only on this path), not blamed on damaged files."""
    if channels is None:
        return
    try:
        n = len(channel_names(path))
    except DataError:  # the header itself is unreadable: the caller's message says so
        return
    bad = [c for c in channels if not (isinstance(c, (int, np.integer)) and 0 <= c < n)]
    if bad:
        raise DataError(f"WFDB record {str(path)!r} has {n} channels (0..{n - 1}); channels "
                        f"{bad} do not exist") from exc


def read_record(record: str | os.PathLike, *, channels: list[int] | None = None,
                sampfrom: int = 0, sampto: int | None = None, database: str = "mitdb",
                data_dir: str | os.PathLike | None = None) -> Record:
    """Read a WFDB record (or a part of it) into physical units and raw ADC values."""
    path = resolve_record(record, database, data_dir)
    if channels is not None and len(set(channels)) != len(channels):
        raise DataError(f"WFDB record {str(path)!r}: channels {list(channels)} name a channel "
                        "twice")
    wfdb = _wfdb()
    try:
        rec = wfdb.rdrecord(str(path), channels=channels, sampfrom=sampfrom, sampto=sampto,
                            physical=False)
    except Exception as exc:  # wfdb raises bare ValueError/OSError on damaged files
        _check_channels(path, channels, exc)
        from firmware_bridge.replay.records import damage_reason  # noqa: PLC0415

        raise DataError(f"cannot read WFDB record {str(path)!r}: "
                        f"{damage_reason(path, exc)}") from exc
    fs_hz = _checked_rate(path, rec.fs)
    if rec.d_signal is None:
        raise DataError(f"WFDB record {str(path)!r} has no signals")
    adc = np.asarray(rec.d_signal, dtype=np.int32)
    if adc.ndim != 2 or adc.shape[0] == 0:
        raise DataError(f"WFDB record {str(path)!r} holds no samples")
    # the one table of units and of invalid values, shared with the simulated wearable
    from firmware_bridge.replay.records import INVALID_ADC, counts_per_mv  # noqa: PLC0415

    gain = np.array(counts_per_mv(rec.adc_gain, rec.units, Path(path).name),
                    dtype=np.float64)
    base = np.array(rec.baseline, dtype=np.float64)
    signal_mv = (adc - base) / gain
    fmts = rec.fmt if isinstance(rec.fmt, list) else [rec.fmt] * adc.shape[1]
    for ch, fmt in enumerate(fmts):
        invalid = INVALID_ADC.get(str(fmt))
        if invalid is not None:
            missing = adc[:, ch] == invalid
            if missing.any():
                signal_mv[missing, ch] = np.nan
                logger.info("record %s channel %d: %d invalid samples (read as NaN)",
                            Path(path).name, ch, int(missing.sum()))
    return Record(
        name=Path(path).name,
        signal_mv=signal_mv,
        adc=adc,
        fs_hz=fs_hz,
        adc_gain=tuple(float(g) for g in gain),
        baseline=tuple(int(b) for b in rec.baseline),
        sig_names=tuple(rec.sig_name),
        units=tuple(u or "mV" for u in rec.units),
    )


def read_annotations(record: str | os.PathLike, extension: str = "atr", *,
                     database: str = "mitdb", data_dir: str | os.PathLike | None = None,
                     sampfrom: int = 0, sampto: int | None = None) -> Annotations:
    """Read a WFDB annotation file (``extension``) of a record."""
    path = resolve_record(record, database, data_dir)
    wfdb = _wfdb()
    if not Path(f"{path}.{extension}").is_file():
        raise DataNotFoundError(f"annotation file {path}.{extension} not found",
                                path=f"{path}.{extension}")
    damage = _annotation_file_damage(Path(f"{path}.{extension}"))
    if not damage:
        try:
            ann = wfdb.rdann(str(path), extension, sampfrom=sampfrom, sampto=sampto)
        except Exception as exc:
            raise DataError(f"cannot read annotations {path}.{extension}: {exc}") from exc
        damage = _annotation_content_damage(ann)
    if damage:
        raise DataError(f"annotation file {path}.{extension} is damaged ({damage}); not used")
    fs = float(ann.fs) if ann.fs else float("nan")
    return Annotations(
        sample_index=np.asarray(ann.sample, dtype=np.int64),
        symbol=np.asarray(ann.symbol, dtype=object),
        aux_note=tuple(ann.aux_note or [""] * len(ann.sample)),
        fs_hz=fs,
    )


def check_annotation_rate(ann: Annotations, fs_hz: float, what: str) -> None:
    """Refuse (:class:`~edge.errors.DataError`) annotations written at another sample rate
    than the record's (``what`` names them): their positions would land elsewhere. A file
    that states no rate passes."""
    if ann.fs_hz == ann.fs_hz and abs(ann.fs_hz - fs_hz) > 1e-6:  # nan-safe
        raise DataError(f"{what}: annotations at {ann.fs_hz:g} Hz, record at {fs_hz:g} Hz")


def _annotation_file_damage(path: Path) -> str:
    """Why the annotation file ``path`` is damaged as a file, or ``""``
    (:func:`edge.io.wfdb_io.annotation_tail_damage`; an empty file holds no annotation,
    which is said downstream). ``wfdb`` reads a file cut at a word without a word of its
    own."""
    from edge.io.wfdb_io import annotation_tail_damage  # noqa: PLC0415

    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            f.seek(max(0, size - 2))
            tail = f.read()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return annotation_tail_damage(size, tail)


def _annotation_content_damage(ann) -> str:  # noqa: ANN001 (a wfdb.Annotation)
    """Why the annotations ``wfdb`` read are damaged, or ``""``: they come in time order and
    every code is a defined one (a garbled file reads as undefined codes, or positions that
    go back)."""
    samples = np.asarray(ann.sample, dtype=np.int64)
    if samples.size > 1 and (np.diff(samples) < 0).any():
        return f"{int((np.diff(samples) < 0).sum())} annotation(s) out of time order"
    unknown = sum(1 for sym in ann.symbol if not isinstance(sym, str))
    if unknown:
        return f"{unknown} undefined annotation code(s)"
    return ""


def download_database(database: str, out_dir: str | os.PathLike) -> Path:
    """Download a PhysioNet database (e.g. ``"mitdb"``, ``"nstdb"``) with ``wfdb.dl_database``."""
    wfdb = _wfdb()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {str(out)!r} is a file, not a folder")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {str(out)!r}: {exc.strerror or exc}") from None
    logger.info("downloading %s into %s", database, out)
    try:
        wfdb.dl_database(database, str(out))
    except BaseException as exc:  # Ctrl-C too: no empty folder left behind
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if not isinstance(exc, Exception):
            raise
        raise DataError(f"download of {database!r} failed: {exc} (is there internet access?)") \
            from exc
    return out
