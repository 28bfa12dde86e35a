import numpy as np
import pytest

from edge.dsp.medians import median, median_of


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (8,), (16, 252), (15, 9), (3, 4, 5)])
def test_median_is_np_median_bit_for_bit(shape, rng):
    x = rng.standard_normal(shape) * rng.uniform(0.1, 10)
    for axis in range(len(shape)):
        got, want = median(x, axis), np.median(x, axis=axis)
        assert np.array_equal(got, want)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9])
def test_median_of_floats_is_np_median(n, rng):
    v = rng.uniform(0.2, 2.0, n).tolist()
    assert median_of(v) == float(np.median(v))
    assert median_of(iter(v)) == float(np.median(v))  # any iterable


def test_median_of_nothing_is_zero():
    assert median_of([]) == 0.0
