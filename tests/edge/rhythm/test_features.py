"""RR-rhythm features: regular vs irregular (synthetic), ectopy, limits, batch = streaming."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import SignalError
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    beat_window_features,
    rr_window_features,
    sample_entropy,
    usable_intervals,
)


def _f(rr: np.ndarray, name: str) -> float:
    return float(rr_window_features(rr)[FEATURE_NAMES.index(name)])


def _sinus(rng, n=40, mean=0.8):
    return mean + 0.01 * rng.standard_normal(n) + 0.02 * np.sin(np.arange(n) / 3)


def _af(rng, n=40):
    return rng.uniform(0.4, 1.1, n)


def test_irregular_rr_scores_higher_than_regular(rng):
    reg, irr = _sinus(rng), _af(rng)
    for name in ("cv_rr", "nrmssd", "pnn50", "cosen", "sampen", "sd1_sd2", "nrmssd_no_ectopy"):
        assert _f(irr, name) > _f(reg, name), name
    # random series: turning-point ratio near 2/3; a slow sinus oscillation has few turns
    assert abs(_f(irr, "turning_point_ratio") - 2 / 3) < 0.2
    assert _f(reg, "ac1_rr") > _f(irr, "ac1_rr")


def test_ectopic_short_long_pairs_are_explained(rng):
    rr = np.full(40, 0.8)
    rr[5::6] = 0.5  # premature beat
    rr[6::6] = 1.1  # compensatory pause
    assert _f(rr, "short_long_share") > 0.1
    assert _f(rr, "nrmssd") > 0.2
    assert _f(rr, "nrmssd_no_ectopy") < 0.01  # what is left is regular
    assert _f(_af(rng), "nrmssd_no_ectopy") > 0.1


def test_all_features_finite_even_for_constant_rr():
    f = rr_window_features(np.full(MIN_INTERVALS, 1.0))
    assert f.shape == (len(FEATURE_NAMES),) and np.all(np.isfinite(f))


@pytest.mark.parametrize("rr", [np.full(MIN_INTERVALS - 1, 0.8), np.full((3, 10), 0.8),
                                np.r_[np.full(9, 0.8), 0.0], np.r_[np.full(9, 0.8), np.nan]])
def test_bad_windows_are_refused(rr):
    with pytest.raises(SignalError, match="rr_s"):
        rr_window_features(rr)


def test_sample_entropy_regular_is_zero_random_is_high(rng):
    assert sample_entropy(np.full(30, 0.8), 0.03) == pytest.approx(0.0)
    assert sample_entropy(rng.uniform(0.4, 1.2, 40), 0.03) > 1.0


def test_batch_windows_restart_at_implausible_interval(rng):
    fs = 250.0
    rr = np.r_[_sinus(rng, 30), 4.0, _af(rng, 30)]
    idx = np.r_[0, np.cumsum(np.round(rr * fs))].astype(np.int64)
    f, v = beat_window_features(idx, fs, window_beats=20, min_window_beats=10, min_rr_s=0.2,
                                max_rr_s=3.0)
    gap_beat = 31  # the beat after the 4-s interval
    assert not v[:10].any() and v[10] and v[30]
    assert not v[gap_beat:gap_beat + 10].any() and v[gap_beat + 10]
    want = rr_window_features(np.diff(idx[gap_beat:gap_beat + 11]) / fs)
    np.testing.assert_allclose(f[gap_beat + 10], want)


def test_intervals_at_ventricular_beats_are_left_out(rng):
    fs = 250.0
    rr = _sinus(rng, 40)
    idx = np.r_[0, np.cumsum(np.round(rr * fs))].astype(np.int64)
    labels = np.full(idx.size, "N")
    labels[[5, 17]] = "V"
    labels[30] = "F"
    use = usable_intervals(labels, idx.size)
    assert use.size == idx.size - 1
    assert sorted(np.flatnonzero(~use).tolist()) == [4, 5, 16, 17, 29, 30]
    assert usable_intervals(None, idx.size).all()
    f, v = beat_window_features(idx, fs, window_beats=20, min_window_beats=10, min_rr_s=0.2,
                                max_rr_s=3.0, labels=labels)
    kept = (np.diff(idx) / fs)[use]
    np.testing.assert_allclose(f[-1], rr_window_features(kept[-20:]))
    assert v[-1]
