"""Strip classification (CinC classes): too short / too few beats is '~' with a reason, real
CinC recordings of each class through the device path, bad input refused."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import SignalError
from edge.rhythm.atrial import ATRIAL_FEATURE_NAMES, atrial_features
from edge.rhythm.strip import STRIP_FEATURE_NAMES, classify_strip, strip_features
from tests.edge.rhythm.support import cinc_strip


def test_too_short_strip_is_noise_with_reason():
    res = classify_strip(np.zeros(300 * 3), 300.0)
    assert res.label == "~" and "beats" in res.reason and res.probabilities == {}
    assert classify_strip(np.zeros(0), 300.0).label == "~"


def test_few_beats_given_is_noise():
    res = classify_strip(np.zeros(3000), 300.0, sample_index=np.array([1000, 1300, 1600]))
    assert res.label == "~" and "3 beats" in res.reason
    # beats in the settling first second do not count
    res = classify_strip(np.zeros(3000), 300.0, sample_index=np.array([100, 250, 1000, 1300]))
    assert res.label == "~" and "2 beats" in res.reason


@pytest.mark.parametrize("x, fs, words", [(np.zeros((2, 100)), 300.0, "1-D"),
                                          (np.zeros(100), 0.0, "fs_hz")])
def test_bad_input_is_refused(x, fs, words):
    with pytest.raises(SignalError, match=words):
        classify_strip(x, fs)


@pytest.mark.parametrize("name, label", [("A00001", "N"), ("A00004", "A"), ("A00009", "A"),
                                         ("A00020", "O"), ("A00034", "~")])
def test_real_cinc_recordings(name, label):
    x, fs = cinc_strip(name)
    res = classify_strip(x, fs)
    assert res.label == label
    assert abs(sum(res.probabilities.values()) - 1) < 1e-9


def test_features_shape_and_atrial_sinus_vs_af():
    xn, fs = cinc_strip("A00001")  # N
    xa, _ = cinc_strip("A00004")  # A
    from edge.dsp.detection import detect_signal

    fn = atrial_features(xn, fs, detect_signal(xn, fs))
    fa = atrial_features(xa, fs, detect_signal(xa, fs))
    i = ATRIAL_FEATURE_NAMES.index("p_corr")
    assert fn[i] > fa[i]  # a repeatable P wave in sinus rhythm, none in AF
    f = strip_features(xn, fs, detect_signal(xn, fs))
    assert f.shape == (len(STRIP_FEATURE_NAMES),) and np.all(np.isfinite(f))


@pytest.mark.parametrize("make", [lambda rng: np.full(9000, np.nan),
                                  lambda rng: rng.standard_normal(9000),
                                  lambda rng: np.zeros(9000)])
def test_unreadable_strips_are_noise_not_a_crash(rng, make):
    res = classify_strip(make(rng), 300.0)
    assert res.label == "~" and res.reason
