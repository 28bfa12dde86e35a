"""Write beats as WFDB annotation files, so results open in PhysioNet tools (``rdann``,
``bxb``, ``wfdb.rdann``)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge.errors import DataError

__all__ = ["write_annotations"]


def write_annotations(record_name: str, extension: str, sample_index: np.ndarray,
                      symbols, fs_hz: float, out_dir: str | os.PathLike = ".") -> Path:
    """Write ``<out_dir>/<record_name>.<extension>``; returns its path.

    ``sample_index`` are sample numbers at the record's own rate, increasing; ``symbols`` are
    WFDB beat codes (``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"``).
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
    if idx.size == 0:
        # wrann refuses an empty file; write a single-note-free file with no annotations.
        path = out / f"{record_name}.{extension}"
        path.write_bytes(b"\x00\x00")
        return path
    wfdb.wrann(record_name, extension, idx, symbol=sym, write_dir=str(out), fs=fs_hz)
    return out / f"{record_name}.{extension}"
