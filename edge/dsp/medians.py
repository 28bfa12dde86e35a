"""Medians for per-beat hot paths: ``np.median``'s values without its generic overhead.

``median_of(values)``   a short sequence of Python floats (e.g. the last 8 QRS levels), in plain
                        Python: the middle value, or the mean of the middle two
``median(x, axis)``     an array along one axis (``np.partition``, or ``np.sort`` for 2-D, + the
                        same arithmetic as ``np.median``: bit-identical)
``median_1d(x)``        ``median(x, 0)`` of a 1-D array as a float, without the axis handling (one
                        per R-peak candidate)
``sorted_percentiles(rows, qs)``  percentiles of each row of an already row-sorted array, with
                        ``np.percentile``'s arithmetic (method 'linear': bit-identical)
``sorted_percentile(values, q)``  the same for one sorted list of Python floats
``numpy_sum(values)``   ``np.sum`` of a list of Python floats in numpy's pairwise order (the same
                        bits, without numpy's per-call cost)

Neither handles NaN as ``np.median`` does (it returns NaN); callers pass finite values.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["median_of", "median", "median_1d", "sorted_percentiles", "sorted_percentile",
           "numpy_sum"]


def median_of(values: Iterable[float]) -> float:
    """Median of a short sequence of floats (0.0 when empty)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return 0.0
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def median(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.median(x, axis)`` (bit-identical for finite ``x``).

    A 2-D array is sorted along ``axis`` rather than partitioned: the same middle values
    (order statistics do not depend on the algorithm that finds them), found 2-3x faster for
    beat windows (n, 252) along axis 1 and ~3x for a template's 16 beats along axis 0."""
    n = x.shape[axis]
    k = n // 2
    if x.ndim == 2 and n > 0 and axis in (0, 1):
        s = np.sort(x, axis=axis)
        if axis == 0:
            return s[k].copy() if n % 2 else (s[k - 1] + s[k]) / 2
        return s[:, k].copy() if n % 2 else (s[:, k - 1] + s[:, k]) / 2
    if n % 2:
        return np.take(np.partition(x, k, axis=axis), k, axis=axis)
    part = np.partition(x, [k - 1, k], axis=axis)
    return (np.take(part, k - 1, axis=axis) + np.take(part, k, axis=axis)) / 2


def median_1d(x: np.ndarray) -> float:
    """``float(median(x, 0))`` of a non-empty 1-D array: the same partition and arithmetic,
    without the generic calls."""
    n = x.size
    k = n // 2
    part = x.copy()
    if n % 2:
        part.partition(k)
        return float(part[k])
    part.partition((k - 1, k))
    return float((part[k - 1] + part[k]) / 2)


def sorted_percentiles(sorted_rows: np.ndarray, qs) -> list[np.ndarray]:  # noqa: ANN001
    """``np.percentile(rows, qs, axis=1)`` (method 'linear') of row-sorted ``sorted_rows``,
    one array per ``q`` (percent), with numpy's arithmetic (virtual index (n-1) q/100, its
    ``_lerp``): bit-identical."""
    n = sorted_rows.shape[1]
    out = []
    for q in qs:
        lo, hi, t = _rank(n, q)
        out.append(_lerp(sorted_rows[:, lo], sorted_rows[:, hi], t))
    return out


def sorted_percentile(sorted_values: list[float], q: float) -> float:
    """One percentile of an already sorted list of Python floats: :func:`sorted_percentiles`'
    arithmetic on one row (bit-identical)."""
    lo, hi, t = _rank(len(sorted_values), q)
    return _lerp(sorted_values[lo], sorted_values[hi], t)


def _lerp(a, b, t: float):  # noqa: ANN001, ANN202 (floats or arrays)
    """numpy's ``_lerp`` of the two ranks around a percentile."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


_RANKS: dict[tuple[int, float], tuple[int, int, float]] = {}


def _rank(n: int, q: float) -> tuple[int, int, float]:
    """The ranks around percentile ``q`` of ``n`` sorted values and the weight of the upper
    one, as np.percentile computes them."""
    key = (n, q)
    if key not in _RANKS:
        vi = (n - 1) * (np.float64(q) / 100)
        lo = int(np.floor(vi))
        _RANKS[key] = (lo, min(lo + 1, n - 1), float(vi - lo))
    return _RANKS[key]


def numpy_sum(a: list[float]) -> float:
    """``np.sum`` of a float64 vector given as a list of Python floats, in numpy's order:
    pairwise blocks of <= 128 values, each summed in 8 interleaved partial sums
    (``pairwise_sum`` of numpy's ``loops_utils``), added to the reduction's identity 0.0 --
    numpy's bits without numpy's per-call cost, for the few values of one beat or window
    (``edge.rhythm.features.python_rows_exact`` probes that this numpy sums so)."""
    return 0.0 + _pairwise(a, 0, len(a))


def _pairwise(a: list[float], lo: int, n: int) -> float:
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[lo:lo + 8]
        end = lo + n - n % 8
        for i in range(lo + 8, end, 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(end, lo + n):
            res += a[i]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)
