"""A growable 1-D sample buffer addressed by absolute sample index, for streaming stages that
keep a bounded look-back (the beat windower's signal, the VF detector's windows), and its
several-row form for streams that advance together (the R-peak detector's signal and
features)."""
from __future__ import annotations

import numpy as np

__all__ = ["SampleBuffer", "SampleRows"]


class SampleRows:
    """Equally long 1-D streams addressed by absolute sample index, held as the rows of one
    buffer: :class:`SampleBuffer`'s storage policy, with one append (a sample of every row)
    and one trim for them all. :meth:`get` returns a contiguous view of one row.
    """

    def __init__(self, n_rows: int, dtype=np.float64, start: int = 0) -> None:
        self.dtype = dtype
        self._store = np.zeros((n_rows, 1024), dtype=dtype)
        self._lo = 0  # column of sample ``start`` in the storage
        self._hi = 0  # one past the last sample
        self.start = int(start)  # absolute index of the first sample held

    @property
    def end(self) -> int:
        return self.start + self._hi - self._lo

    def append(self, rows) -> None:  # noqa: ANN001 (a sequence of equally long arrays)
        n = rows[0].size
        store = self._store
        if self._hi + n > store.shape[1]:
            kept = self._hi - self._lo
            if kept + n > store.shape[1] // 2:
                store = np.zeros((store.shape[0], max(2 * store.shape[1], 2 * (kept + n))),
                                 dtype=self.dtype)
            store[:, :kept] = self._store[:, self._lo:self._hi]
            self._store, self._lo, self._hi = store, 0, kept
        hi = self._hi
        for k, x in enumerate(rows):
            store[k, hi:hi + n] = x
        self._hi = hi + n

    def get(self, row: int, a: int, b: int) -> np.ndarray:
        """Row ``row``'s samples ``a`` to ``b`` (exclusive), clipped to those held."""
        start = self.start
        if a < start:
            a = start
        end = start + self._hi - self._lo
        if b > end:
            b = end
        if b <= a:
            return np.zeros(0, dtype=self.dtype)
        return self._store[row, self._lo + a - start:self._lo + b - start]

    def trim_before(self, index: int) -> None:
        drop = min(index - self.start, self._hi - self._lo)
        if drop > 0:
            self._lo += drop
            self.start += drop


class SampleBuffer(SampleRows):
    """A growable 1-D buffer addressed by absolute sample index: a :class:`SampleRows` of one
    row, appended and read as 1-D arrays.

    Appends write into spare capacity (the storage doubles when full, and trimmed samples are
    reclaimed by moving the kept ones to the front), so a call costs what it appends, not
    what the buffer holds.
    """

    def __init__(self, dtype=np.float64, start: int = 0) -> None:
        super().__init__(1, dtype, start)

    @property
    def data(self) -> np.ndarray:
        return self._store[0, self._lo:self._hi]

    def append(self, x: np.ndarray) -> None:  # type: ignore[override]
        SampleRows.append(self, (x,))

    def get(self, a: int, b: int) -> np.ndarray:  # type: ignore[override]
        return SampleRows.get(self, 0, a, b)
