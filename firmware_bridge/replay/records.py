"""Find and read the WFDB record a simulated device replays (``wfdb``, imported when used).

The lookup is the one ``ecg-edge`` uses: a record given as a path (``/data/mitdb/100``,
``/data/mitdb/100.hea``) is read from there; a bare name (``"100"``) is looked up in the data
directory, found from the explicit ``data_dir``, else the environment variable
(``MITDB_DIR`` for "mitdb", ``NSTDB_DIR`` for "nstdb", ``<DATABASE>_DIR`` otherwise), else
``./data/<database>``. Samples are the raw ADC values as stored, with the per-channel gain
in counts per mV (a gain of 0 in the header is read as 200 counts/mV, as ``ecg-edge`` does; a
header in µV or V is converted, :func:`counts_per_mv`) and baseline;
:attr:`RecordSamples.signal_mv` gives them in physical units, NaN where the record marks a
sample invalid (WFDB's invalid value of the storage format, :data:`INVALID_ADC`). The wire
carries the raw counts, invalid values included.

Every failure is a one-line :class:`~firmware_bridge.errors.ReplayError` naming the
directory, record or file and what to set.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from firmware_bridge.errors import RecordNotFoundError, ReplayError

__all__ = [
    "INVALID_ADC",
    "MV_PER_UNIT",
    "counts_per_mv",
    "RecordHeader",
    "RecordSamples",
    "data_dir_env",
    "find_data_dir",
    "resolve_record",
    "damage_reason",
    "header_rate_problem",
    "read_header",
    "read_samples",
]

_ENV = {"mitdb": "MITDB_DIR", "nstdb": "NSTDB_DIR"}
#: the file endings a record path may be given with (stripped to the record's name)
RECORD_SUFFIXES = (".hea", ".dat", ".mat", ".atr")

#: The "invalid sample" value of each WFDB storage format (the most negative value the format
#: holds; the difference format 8 has none): WFDB writes it where a sample is missing, and
#: ``wfdb.rdrecord(physical=True)`` reads it as NaN. ``edge.io.records.read_record`` reads it
#: as NaN too, from this table.
INVALID_ADC: dict[str, int] = {"80": -128, "508": -128, "310": -512, "311": -512,
                               "212": -2048, "16": -32768, "61": -32768, "160": -32768,
                               "516": -32768, "24": -8388608, "524": -8388608,
                               "32": -2147483648}


#: Millivolts per unit of a header's units (compared in lower case; empty: WFDB's default, mV).
MV_PER_UNIT: dict[str, float] = {"mv": 1.0, "": 1.0, "millivolt": 1.0, "millivolts": 1.0,
                                 "uv": 1e-3, "\u00b5v": 1e-3, "\u03bcv": 1e-3,
                                 "microvolt": 1e-3, "microvolts": 1e-3,
                                 "v": 1e3, "volt": 1e3, "volts": 1e3, "nv": 1e-6}

logger = logging.getLogger(__name__)


def counts_per_mv(gains, units, record: str = "") -> tuple[float, ...]:  # noqa: ANN001
    """Per channel ADC counts per mV from a header's gains (counts per unit; 0 reads as 200)
    and units: a record stored in µV or V is read in mV. Units that are not a voltage
    (``mmHg``, ``NU``, ...) are logged and read as mV."""
    out = []
    for ch, g in enumerate(gains):
        gain = float(g) if g else 200.0
        unit = (units[ch] if units is not None and ch < len(units) else None) or ""
        mv = MV_PER_UNIT.get(str(unit).strip().lower())
        if mv is None:
            logger.warning("record %s channel %d: units %r are not a voltage; read as mV",
                           record, ch, unit)
            mv = 1.0
        out.append(gain / mv)
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class RecordHeader:
    """What the header of a record says.

    Attributes
    ----------
    fs_hz : sample rate (Hz).
    n_samples : samples per channel in the whole record (``None`` when the header does not
        say).
    n_channels : channels in the record.
    """

    fs_hz: float
    n_samples: int | None
    n_channels: int


@dataclass(frozen=True, kw_only=True)
class RecordSamples:
    """A stretch of a record as stored.

    Attributes
    ----------
    name : record name (``"100"``).
    adc : int32 array (n_samples, n_channels), the raw ADC values.
    fs_hz : sample rate (Hz).
    adc_gain : ADC counts per mV, per channel (a header gain of 0 reads as 200).
    baseline : ADC value of 0 mV, per channel.
    invalid_adc : per channel, the ADC value that marks an invalid sample in the channel's
        storage format (``None`` when the format has none).
    channel_names : per channel, its name in the header (``"MLII"``; ``""`` when unnamed).
    """

    name: str
    adc: np.ndarray
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    invalid_adc: tuple[int | None, ...] = ()
    channel_names: tuple[str, ...] = ()

    @property
    def invalid(self) -> np.ndarray:
        """bool array (n_samples, n_channels): the samples the record marks invalid (the
        storage format's invalid value, :data:`INVALID_ADC`)."""
        out = np.zeros(self.adc.shape, dtype=bool)
        for ch, value in enumerate(self.invalid_adc):
            if value is not None:
                out[:, ch] = self.adc[:, ch] == value
        return out

    @property
    def signal_mv(self) -> np.ndarray:
        """float64 array (n_samples, n_channels): ``(adc - baseline) / adc_gain`` (mV), NaN
        at :attr:`invalid` samples."""
        out = (self.adc - np.array(self.baseline, dtype=np.float64)) \
            / np.array(self.adc_gain, dtype=np.float64)
        out[self.invalid] = np.nan
        return out


def data_dir_env(database: str) -> str:
    """Name of the environment variable that points at ``database`` (``"MITDB_DIR"``)."""
    return _ENV.get(database, database.upper() + "_DIR")


def find_data_dir(database: str = "mitdb", data_dir: str | os.PathLike | None = None) -> Path:
    """Return the directory holding ``database``: ``data_dir`` if given, else the one its
    environment variable (:func:`data_dir_env`) names, else ``./data/<database>``.

    Raises
    ------
    RecordNotFoundError
        When the directory does not exist or holds no WFDB header; the message says what to
        set.
    """
    env = data_dir_env(database)
    if data_dir is not None:
        origin, raw = "data_dir / --data-dir", data_dir
    elif os.environ.get(env):
        origin, raw = f"${env}", os.environ[env]
    else:
        origin, raw = "default", Path("data") / database
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise RecordNotFoundError(
            f"{database} data directory not found: {str(path)!r} (from {origin}); set "
            f"{env}=/path/to/{database}, pass --data-dir, or give the record as a path",
            path=str(path), database=database, missing="data_dir")
    if not any(path.glob("*.hea")):
        raise RecordNotFoundError(
            f"{str(path)!r} (from {origin}) holds no WFDB header (*.hea) files; point {env} or "
            f"--data-dir at the folder with the .hea/.dat files",
            path=str(path), database=database, missing="data_dir")
    return path


def resolve_record(record: str | os.PathLike, database: str = "mitdb",
                   data_dir: str | os.PathLike | None = None) -> Path:
    """Turn a record name (``"100"``) or a path (``"/x/100"``, ``"/x/100.hea"``,
    ``"/x/A00001.mat"``) into a WFDB record path (without extension).

    Raises
    ------
    RecordNotFoundError
        When no such record exists (or the data directory is missing).
    """
    text = str(record)
    if text.endswith(RECORD_SUFFIXES):
        text = text.rsplit(".", 1)[0]
    as_path = Path(text)
    if not as_path.name:  # "", ".", "/": a directory, never a record
        raise RecordNotFoundError(f"no WFDB record at {text!r} (a record is a path such as "
                                  f"data/100, for data/100.hea)", path=text, database=database,
                                  missing="record")
    if as_path.with_suffix(".hea").is_file() or Path(text + ".hea").is_file():
        return Path(text)
    if os.sep not in text and "/" not in text:
        base = find_data_dir(database, data_dir)
        candidate = base / text
        if Path(str(candidate) + ".hea").is_file():
            return candidate
        raise RecordNotFoundError(
            f"record {text!r} not found in {str(base)!r} (no {text}.hea there); check the "
            f"name, --data-dir or ${data_dir_env(database)}",
            path=str(candidate), database=database, missing="record")
    raise RecordNotFoundError(f"no WFDB record at {text!r} (expected {text}.hea)", path=text,
                              database=database, missing="record")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _wfdb() -> ModuleType:
    try:
        import wfdb  # noqa: PLC0415 - only the simulator reads records
    except ImportError as exc:  # pragma: no cover - depends on the install profile
        raise ReplayError("reading WFDB records needs the 'wfdb' package: pip install wfdb") \
            from exc
    return wfdb


def damage_reason(path: str | os.PathLike, exc: BaseException) -> str:
    """What is wrong with a record wfdb could not read, in words: an empty header file, else
    wfdb's own message and what to do."""
    head = Path(f"{path}.hea")
    try:
        if head.stat().st_size == 0:
            return f"its header file {head.name} is empty"
    except OSError:
        pass
    return (f"{_one_line(exc)}; the files may be truncated or damaged (a copy of a PhysioNet "
            f"database: download it again)")


def header_rate_problem(path: str | os.PathLike, fs_hz: object) -> str | None:
    """Why the sample rate ``fs_hz`` wfdb read for the record at ``path`` is not the one its
    header declares (a damaged rate field, which wfdb reads as its 250-Hz default or as the
    digits it could parse), or is no rate at all; None when it is."""
    field = None
    try:
        with open(f"{path}.hea", encoding="latin-1") as fh:
            for line in fh:
                if line.strip() and not line.lstrip().startswith("#"):
                    tokens = line.split()  # name nsig [fs[/counter][(base)]] [length] ...
                    field = tokens[2] if len(tokens) > 2 else None
                    break
    except OSError:
        pass
    if field is not None:
        try:
            declared = float(field.split("/")[0].split("(")[0])
        except ValueError:
            declared = math.nan
        if not (math.isfinite(declared) and declared > 0):
            return f"the header's sample rate {field!r} is not a rate in Hz"
        if fs_hz is None or not math.isclose(declared, float(fs_hz), rel_tol=1e-9):
            return (f"the header's sample rate {field!r} cannot be read as WFDB writes it "
                    f"(it reads {fs_hz} Hz)")
    try:
        fs = float(fs_hz)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fs = math.nan
    if not (math.isfinite(fs) and fs > 0):
        return f"sample rate {fs_hz!r} is not a rate in Hz"
    return None


def read_header(path: str | os.PathLike) -> RecordHeader:
    """Read the header of the record at ``path`` (from :func:`resolve_record`).

    Raises
    ------
    ReplayError
        When the header cannot be parsed.
    """
    wfdb = _wfdb()
    try:
        header = wfdb.rdheader(str(path))
    except Exception as exc:  # noqa: BLE001 - wfdb raises bare ValueError/OSError
        raise ReplayError(f"cannot read the WFDB header {str(path)!r}.hea: "
                          f"{damage_reason(path, exc)}") from exc
    problem = header_rate_problem(path, header.fs)
    if problem:
        raise ReplayError(f"WFDB record {str(path)!r}: {problem}")
    n_samples = None if header.sig_len is None else int(header.sig_len)
    return RecordHeader(fs_hz=float(header.fs), n_samples=n_samples,
                        n_channels=int(header.n_sig))


def read_samples(path: str | os.PathLike, *, channels: list[int] | None = None,
                 sampfrom: int = 0, sampto: int | None = None) -> RecordSamples:
    """Read samples ``sampfrom:sampto`` of ``channels`` (``None`` = all) as stored.

    Raises
    ------
    ReplayError
        When the signal file is missing, truncated or damaged, or holds no samples.
    """
    wfdb = _wfdb()
    try:
        rec = wfdb.rdrecord(str(path), channels=channels, sampfrom=sampfrom, sampto=sampto,
                            physical=False)
    except Exception as exc:  # noqa: BLE001 - wfdb raises bare ValueError/OSError
        raise ReplayError(f"cannot read WFDB record {str(path)!r}: "
                          f"{damage_reason(path, exc)}") from exc
    problem = header_rate_problem(path, rec.fs)
    if problem:
        raise ReplayError(f"WFDB record {str(path)!r}: {problem}")
    if rec.d_signal is None:
        raise ReplayError(f"WFDB record {str(path)!r} has no signals")
    adc = np.asarray(rec.d_signal, dtype=np.int32)
    if adc.ndim != 2 or adc.shape[0] == 0:
        raise ReplayError(f"WFDB record {str(path)!r} holds no samples")
    fmts = rec.fmt if isinstance(rec.fmt, list) else [rec.fmt] * adc.shape[1]
    return RecordSamples(name=Path(path).name, adc=adc, fs_hz=float(rec.fs),
                         adc_gain=counts_per_mv(rec.adc_gain, rec.units, Path(path).name),
                         baseline=tuple(int(b) for b in rec.baseline),
                         invalid_adc=tuple(INVALID_ADC.get(str(f)) for f in fmts),
                         channel_names=tuple(str(n or "") for n in (rec.sig_name or ())))
