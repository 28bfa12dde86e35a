import numpy as np
import pytest

from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.errors import ConfigError, SignalError
from tests.conftest import feed_in_chunks


@pytest.mark.parametrize("fs_in", [250.0, 360.0])
@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_chunk_invariance(fs_in, sizes, rng):
    x = rng.standard_normal(int(fs_in * 4))
    x[300:400] = 1.5  # a flat stretch
    x[50] = np.nan
    whole = Preprocessor(PreprocessConfig(fs_in_hz=fs_in)).process(x)
    p = Preprocessor(PreprocessConfig(fs_in_hz=fs_in))
    parts = feed_in_chunks(p.process, x, sizes, rng)
    np.testing.assert_allclose(np.concatenate([c.filtered_mv for c in parts]), whole.filtered_mv,
                               atol=1e-12, rtol=0)
    np.testing.assert_array_equal(np.concatenate([c.valid for c in parts]), whole.valid)
    starts = [c.sample_index for c in parts]
    assert starts == list(np.cumsum([0] + [len(c) for c in parts[:-1]]))


def test_nonfinite_samples_are_held_counted_and_invalid():
    x = np.sin(np.arange(720) / 20.0)
    x[100:110] = np.nan
    x[500] = np.inf
    p = Preprocessor()
    c = p.process(x)
    assert np.isfinite(c.filtered_mv).all()
    assert p.n_nonfinite == 11
    assert not c.valid[100:110].any() and not c.valid[500]
    assert c.valid[:100].all()


def test_flat_line_and_rails_are_invalid():
    x = np.sin(np.arange(3600) / 20.0)
    x[1000:1500] = 0.0  # lead-off: flat for 1.4 s
    p = Preprocessor(PreprocessConfig(rail_high_mv=0.99))
    c = p.process(x)
    n_flat = int(0.1 * 360)
    assert not c.valid[1000 + n_flat:1500].any()
    assert c.valid[:900][np.sin(np.arange(900) / 20.0) < 0.99].all()
    assert not c.valid[np.flatnonzero(x >= 0.99)].any()


def test_errors():
    with pytest.raises(ConfigError):
        PreprocessConfig(fs_in_hz=-1)
    with pytest.raises(ConfigError):
        PreprocessConfig(rail_low_mv=1.0, rail_high_mv=0.0)
    with pytest.raises(SignalError):
        Preprocessor().process(np.zeros((4, 2)))
    assert len(Preprocessor().process(np.zeros(0))) == 0
