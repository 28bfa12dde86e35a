import numpy as np
import pytest

from edge.errors import SignalError
from edge.rhythm.vfeatures import VF_FEATURE_NAMES, vf_window_features

FS = 360.0


def feats(x):
    return dict(zip(VF_FEATURE_NAMES, vf_window_features(x, FS)))


def organised(rate_bpm=75.0, seconds=4.0, fs=FS):
    """Narrow QRS spikes on a flat baseline (plus a small T wave)."""
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros(t.size)
    for c in np.arange(0.3, seconds, 60.0 / rate_bpm):
        x += 1.2 * np.exp(-0.5 * ((t - c) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - c - 0.28) / 0.05) ** 2)
    return x


def test_a_sine_at_5_hz_looks_like_flutter_and_spikes_do_not():
    t = np.arange(int(4 * FS)) / FS
    sine = feats(0.8 * np.sin(2 * np.pi * 5.0 * t))
    qrs = feats(organised())
    assert sine["dom_freq_hz"] == pytest.approx(5.0, abs=0.1)
    assert sine["kurtosis"] == pytest.approx(1.5, abs=0.05)
    assert sine["tcsc"] > 0.7 > 0.3 > qrs["tcsc"]
    assert sine["vf_leakage"] < 0.3 < 0.7 < qrs["vf_leakage"]
    assert sine["peak_share"] > 0.9 > 0.3 > qrs["peak_share"]
    assert qrs["baseline_share"] > 0.7 > 0.3 > sine["baseline_share"]
    assert qrs["kurtosis"] > 5


def test_flat_window_has_no_rhythm_and_bad_windows_are_refused():
    f = feats(np.full(int(4 * FS), 0.3))
    assert f["std_mv"] == 0 and f["baseline_share"] == 1
    with pytest.raises(SignalError, match=">= 2.0 s"):
        vf_window_features(np.zeros(100), FS)
    x = organised()
    x[10] = np.nan
    with pytest.raises(SignalError, match="finite"):
        vf_window_features(x, FS)
