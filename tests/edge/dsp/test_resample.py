import numpy as np
import pytest

from edge.dsp.resample import StreamingResampler, exact_ratio, rate_ratio
from edge.errors import ConfigError, SignalError
from tests.conftest import feed_in_chunks

RATES = [125, 128, 130, 250, 256, 360, 500, 1000]
#: Rates with no ratio to 360 Hz of denominator <= 1000 (calibrated clocks): interpolated.
ODD_RATES = [359.7, 359.9, 128.01, 499.9, 1000.1, 9999.9]


def _tones(t):
    return np.sin(2 * np.pi * 5 * t) + 0.5 * np.sin(2 * np.pi * 17 * t)


@pytest.mark.parametrize("fs_in", RATES + ODD_RATES)
def test_resampled_sines_match_the_continuous_signal(fs_in):
    x = _tones(np.arange(int(fs_in * 10)) / fs_in)
    r = StreamingResampler(fs_in, 360.0)
    y = np.concatenate([r.process(x), r.flush()])
    assert y.size == 3600 or (fs_in in ODD_RATES and abs(y.size - 3600) <= 1)
    t = np.arange(y.size) / 360.0
    mid = slice(360, -360)
    assert np.max(np.abs(y[mid] - _tones(t)[mid])) < 5e-3


@pytest.mark.parametrize("fs_in", [130, 250, 1000, 359.7, 1000.1])
@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_chunk_invariance(fs_in, sizes, rng):
    x = rng.standard_normal(int(fs_in * 3))
    r = StreamingResampler(fs_in, 360.0)
    whole = np.concatenate([r.process(x), r.flush()])
    r.reset()
    parts = feed_in_chunks(r.process, x, sizes, rng) + [r.flush()]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)


def test_identity_and_ratio():
    r = StreamingResampler(360, 360)
    assert r.identity and r.lookahead_samples == 0
    x = np.arange(10.0)
    np.testing.assert_array_equal(r.process(x), x)
    assert rate_ratio(250, 360) == (36, 25)
    assert rate_ratio(130, 360) == (36, 13)
    assert exact_ratio(250, 360) == (36, 25) and exact_ratio(250.5, 360) == (240, 167)
    assert exact_ratio(359.7, 360) is None and exact_ratio(359.9, 360) is None
    assert not StreamingResampler(359.9, 360).identity  # rate_ratio rounds it to 1/1


@pytest.mark.parametrize("fs_in", [128, 250, 256, 300, 360, 500, 1000])
def test_standard_rates_keep_the_polyphase_kernel(fs_in):
    r = StreamingResampler(fs_in, 360.0)
    assert r.exact and r.up * fs_in == r.down * 360


@pytest.mark.parametrize("fs_in", ODD_RATES)
def test_odd_rates_stay_on_time_over_a_long_stream(fs_in):
    """Output k is the input at k / 360 s after 30 min too. The ratio rounded to a denominator
    <= 1000 (359.7 Hz: 1001/1000 for 1200/1199) ran the output 1.7e-4 fast: 0.3 s late after
    30 min (audit, session 50)."""
    n = int(fs_in * 1800)
    x = _tones(np.arange(n) / fs_in)
    r = StreamingResampler(fs_in, 360.0)
    assert not r.exact
    y = np.concatenate([r.process(x[:n // 2]), r.process(x[n // 2:]), r.flush()])
    assert abs(y.size - n * 360.0 / fs_in) <= 1
    t = np.arange(y.size) / 360.0
    for part in (slice(360, 7200), slice(-7200, -360)):  # the first and last 20 s
        assert np.max(np.abs(y[part] - _tones(t)[part])) < 5e-3


def test_errors():
    with pytest.raises(ConfigError):
        StreamingResampler(0, 360)
    with pytest.raises(ConfigError):
        StreamingResampler(float("nan"), 360)
    with pytest.raises(SignalError):
        StreamingResampler(250, 360).process(np.zeros((2, 2)))
    assert StreamingResampler(250, 360).process(np.zeros(0)).size == 0
