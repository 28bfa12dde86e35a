"""edge.dsp.detection: the whole-signal driver of the streaming detector."""
import numpy as np
import pytest

from edge.dsp import rpeak
from edge.dsp.detection import detect_signal
from edge.errors import ConfigError


@pytest.mark.parametrize("chunk_s", [-1.0, 0.0, float("nan"), float("inf")])
def test_a_bad_chunk_is_refused(chunk_s):
    """Issue 14, bad input 7: chunk_s=-1 silently ran 1-sample chunks."""
    with pytest.raises(ConfigError, match="chunk_s"):
        detect_signal(np.zeros(720), 360.0, chunk_s=chunk_s)


def test_whole_signal_and_empty_signal():
    assert detect_signal(np.zeros(720), 360.0, chunk_s=None).size == 0
    assert detect_signal(np.zeros(0), 360.0, chunk_s=None).size == 0


def test_one_detector_path():
    """detect_rpeaks (exported, never called) is gone: detect_signal is the one driver."""
    assert not hasattr(rpeak, "detect_rpeaks") and "detect_rpeaks" not in rpeak.__all__


def test_to_input_sample_is_to_input_index_of_one_index():
    """The scalar conversion rounds exactly as the array one (half to even), at any rate."""
    from edge.dsp.detection import to_input_index, to_input_sample

    idx = np.r_[np.arange(-400, 40_000), np.random.default_rng(5).integers(0, 2**40, 2000)]
    for fs_in in (360.0, 250.0, 128.0, 500.0, 1000.0, 257.3):
        want = to_input_index(idx, fs_in)
        got = [to_input_sample(int(i), fs_in) for i in idx]
        assert all(type(g) is int for g in got[:5])
        np.testing.assert_array_equal(got, want)
