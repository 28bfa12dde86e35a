import numpy as np
import pytest

from edge.dsp.medians import median, median_1d, median_of, sorted_percentiles


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (8,), (16, 252), (15, 9), (3, 4, 5),
                                   (1, 252), (12, 252), (1, 1), (4, 1), (2, 3)])
def test_median_is_np_median_bit_for_bit(shape, rng):
    x = rng.standard_normal(shape) * rng.uniform(0.1, 10)
    for axis in range(len(shape)):
        got, want = median(x, axis), np.median(x, axis=axis)
        assert np.array_equal(got, want)
        assert got.shape == want.shape and got.dtype == want.dtype
        ties = np.round(x)  # many equal values: the middle ones are still the same
        assert np.array_equal(median(ties, axis), np.median(ties, axis=axis))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 107, 108])
def test_median_1d_is_median_bit_for_bit_and_leaves_its_input(n, rng):
    x = rng.standard_normal(n) * rng.uniform(0.1, 10)
    for v in (x, np.round(x), x[::-1]):  # ties; a strided view
        before = v.copy()
        got = median_1d(v)
        assert type(got) is float and got == float(median(v, 0)) == float(np.median(v))
        assert np.array_equal(v, before)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9])
def test_median_of_floats_is_np_median(n, rng):
    v = rng.uniform(0.2, 2.0, n).tolist()
    assert median_of(v) == float(np.median(v))
    assert median_of(iter(v)) == float(np.median(v))  # any iterable


def test_median_of_nothing_is_zero():
    assert median_of([]) == 0.0


@pytest.mark.parametrize("n", [1, 2, 7, 40, 1440])
def test_sorted_percentiles_equal_numpy(n):
    rows = np.sort(np.random.default_rng(n).standard_normal((5, n)), axis=1)
    qs = (1.0, 10, 25, 50.0, 75, 90, 99.0)
    for got, q in zip(sorted_percentiles(rows, qs), qs):
        np.testing.assert_array_equal(got, np.percentile(rows, q, axis=1))


def test_numpy_sum_is_numpys_pairwise_order():
    from edge.dsp.medians import numpy_sum

    rng = np.random.default_rng(5)
    for n in list(range(0, 140)) + [255, 256, 257, 300, 1000]:
        x = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)
        assert np.float64(numpy_sum(x.tolist())).view(np.int64) == np.sum(x).view(np.int64), n
