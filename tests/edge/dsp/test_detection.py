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
