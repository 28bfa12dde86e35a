"""Medians for per-beat hot paths: ``np.median``'s values without its generic overhead.

``median_of(values)``   a short sequence of Python floats (e.g. the last 8 QRS levels), in plain
                        Python: the middle value, or the mean of the middle two
``median(x, axis)``     an array along one axis (``np.partition`` + the same arithmetic as
                        ``np.median``: bit-identical)

Neither handles NaN as ``np.median`` does (it returns NaN); callers pass finite values.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["median_of", "median"]


def median_of(values: Iterable[float]) -> float:
    """Median of a short sequence of floats (0.0 when empty)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return 0.0
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def median(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.median(x, axis)`` (bit-identical for finite ``x``)."""
    n = x.shape[axis]
    k = n // 2
    if n % 2:
        return np.take(np.partition(x, k, axis=axis), k, axis=axis)
    part = np.partition(x, [k - 1, k], axis=axis)
    return (np.take(part, k - 1, axis=axis) + np.take(part, k, axis=axis)) / 2
