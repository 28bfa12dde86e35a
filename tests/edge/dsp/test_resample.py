import numpy as np
import pytest

from edge.dsp.resample import StreamingResampler, rate_ratio
from edge.errors import ConfigError, SignalError
from tests.conftest import feed_in_chunks

RATES = [125, 128, 130, 250, 256, 360, 500, 1000]


def _tones(t):
    return np.sin(2 * np.pi * 5 * t) + 0.5 * np.sin(2 * np.pi * 17 * t)


@pytest.mark.parametrize("fs_in", RATES)
def test_resampled_sines_match_the_continuous_signal(fs_in):
    x = _tones(np.arange(int(fs_in * 10)) / fs_in)
    r = StreamingResampler(fs_in, 360.0)
    y = np.concatenate([r.process(x), r.flush()])
    assert y.size == 3600
    t = np.arange(y.size) / 360.0
    mid = slice(360, -360)
    assert np.max(np.abs(y[mid] - _tones(t)[mid])) < 5e-3


@pytest.mark.parametrize("fs_in", [130, 250, 1000])
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


def test_errors():
    with pytest.raises(ConfigError):
        StreamingResampler(0, 360)
    with pytest.raises(ConfigError):
        StreamingResampler(float("nan"), 360)
    with pytest.raises(SignalError):
        StreamingResampler(250, 360).process(np.zeros((2, 2)))
    assert StreamingResampler(250, 360).process(np.zeros(0)).size == 0
