import numpy as np
import pytest

from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.errors import ConfigError, SignalError
from tests.conftest import feed_in_chunks


@pytest.mark.parametrize("fs_in", [250.0, 360.0, 359.7])
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


def test_a_bridge_gives_lost_samples_their_values_and_leaves_them_invalid():
    """A link gap bridged by a line (edge.runtime.device): the filters see the line, not the
    last value held and a step, and the samples stay invalid and counted."""
    x = np.sin(np.arange(720) / 20.0)
    lost = x.copy()
    lost[300:336] = np.nan
    bridge = np.full(720, np.nan)
    bridge[300:336] = np.linspace(x[299], x[336], 38)[1:-1]
    held, bridged = Preprocessor().process(lost), Preprocessor().process(lost, bridge_mv=bridge)
    np.testing.assert_array_equal(held.valid, bridged.valid)
    assert not bridged.valid[300:336].any() and bridged.valid[:300].all()
    ref = Preprocessor().process(x).filtered_mv
    after = slice(336, 500)
    assert np.abs(bridged.filtered_mv[after] - ref[after]).max() < 0.2 * np.abs(
        held.filtered_mv[after] - ref[after]).max()
    p = Preprocessor()
    p.process(lost, bridge_mv=bridge)
    assert p.n_nonfinite == 36
    with pytest.raises(SignalError, match="bridge_mv"):
        Preprocessor().process(lost, bridge_mv=bridge[:10])


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
