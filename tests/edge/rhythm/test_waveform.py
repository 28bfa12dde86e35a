"""Waveform features of a strip (median beat, QRST-cancelled residual, signal quality) and the
extra strip RR features: synthetic sinus vs fibrillation strips, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import SignalError
from edge.rhythm.strip import RR_EXTRA_NAMES, STRIP_FEATURE_NAMES, rr_extra_features
from edge.rhythm.waveform import (
    MORPH_NAMES,
    QUALITY_NAMES,
    RESIDUAL_NAMES,
    WAVEFORM_FEATURE_NAMES,
    waveform_features,
)

FS = 300.0


def _gauss(t: np.ndarray, centre_s: float, width_s: float, amp_mv: float) -> np.ndarray:
    return amp_mv * np.exp(-0.5 * ((t - centre_s) / width_s) ** 2)


def synthetic_strip(rng, *, af: bool, duration_s: float = 30.0, fs_hz: float = FS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A strip (mV) and its R-peak sample indices: sinus rhythm (regular RR, P waves) or
    fibrillation (random RR, no P wave, 6 Hz f-waves)."""
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    if af:
        rr = rng.uniform(0.45, 1.1, size=200)
    else:
        rr = 0.8 + 0.02 * np.sin(np.arange(200) / 3.0)
    r_s = 0.5 + np.cumsum(np.r_[0.0, rr])
    r_s = r_s[r_s < duration_s - 0.6]
    x = np.zeros_like(t)
    for r in r_s:
        x += _gauss(t, r, 0.012, 1.2) - _gauss(t, r + 0.03, 0.01, 0.3)  # QRS
        x += _gauss(t, r + 0.28, 0.05, 0.25)  # T
        if not af:
            x += _gauss(t, r - 0.17, 0.025, 0.15)  # P
    if af:
        x += 0.06 * np.sin(2 * np.pi * 6.0 * t + rng.uniform(0, 0.3) * np.cumsum(
            rng.standard_normal(t.size)) / np.sqrt(fs_hz))
    x += 0.005 * rng.standard_normal(t.size)
    return x, np.round(r_s * fs_hz).astype(np.int64)


def _f(vec: np.ndarray, name: str) -> float:
    return float(vec[WAVEFORM_FEATURE_NAMES.index(name)])


def test_names_are_unique_and_in_the_strip_vector():
    assert len(set(WAVEFORM_FEATURE_NAMES)) == len(WAVEFORM_FEATURE_NAMES)
    assert WAVEFORM_FEATURE_NAMES == MORPH_NAMES + RESIDUAL_NAMES + QUALITY_NAMES
    assert len(set(STRIP_FEATURE_NAMES)) == len(STRIP_FEATURE_NAMES)
    assert STRIP_FEATURE_NAMES[-len(WAVEFORM_FEATURE_NAMES):] == WAVEFORM_FEATURE_NAMES


def test_sinus_vs_fibrillation_residual_and_morphology(rng):
    xs, bs = synthetic_strip(rng, af=False)
    xa, ba = synthetic_strip(rng, af=True)
    fs_, fa = waveform_features(xs, FS, bs), waveform_features(xa, FS, ba)
    assert fs_.shape == fa.shape == (len(WAVEFORM_FEATURE_NAMES),)
    assert np.all(np.isfinite(fs_)) and np.all(np.isfinite(fa))
    # f-waves: more residual after QRST cancellation, concentrated in 4-10 Hz, peak near 6 Hz
    assert _f(fa, "resid_rms_to_qrs") > 2 * _f(fs_, "resid_rms_to_qrs")
    assert _f(fa, "resid_peak_conc") > _f(fs_, "resid_peak_conc")
    assert _f(fa, "resid_band_4_10") > _f(fs_, "resid_band_4_10")
    assert abs(_f(fa, "resid_peak_hz") - 6.0) <= 1.0
    # both strips have one repeatable, upright, narrow QRS
    for f in (fs_, fa):
        assert _f(f, "beat_corr_median") > 0.95 and _f(f, "qrs_polarity") == 1.0
        assert 0.01 < _f(f, "qrs_width2_s") < 0.06
        assert _f(f, "t_amp") > 0.05  # upright T wave
    # the sinus template has a P wave before the R peak, the AF one does not
    p_col = MORPH_NAMES.index("tmpl_03")  # -0.175 s
    assert fs_[p_col] > 0.03 and abs(fa[p_col]) < fs_[p_col] / 2


def test_inverted_strip_has_the_same_normalised_template(rng):
    x, b = synthetic_strip(rng, af=False)
    up, down = waveform_features(x, FS, b), waveform_features(-x, FS, b)
    n = len(MORPH_NAMES)
    assert _f(up, "qrs_polarity") == 1.0 and _f(down, "qrs_polarity") == -1.0
    tm = [MORPH_NAMES.index(k) for k in MORPH_NAMES if k.startswith("tmpl_")]
    np.testing.assert_allclose(up[:n][tm], down[:n][tm], atol=0.05)


def test_noise_quality_features(rng):
    x, b = synthetic_strip(rng, af=False)
    noisy = x + 0.5 * rng.standard_normal(x.size)
    clean, loud = waveform_features(x, FS, b), waveform_features(noisy, FS, b)
    assert _f(loud, "sq_hf_share") > _f(clean, "sq_hf_share")
    assert _f(clean, "sq_kurtosis") > _f(loud, "sq_kurtosis")
    assert _f(loud, "beat_corr_median") < _f(clean, "beat_corr_median")


@pytest.mark.parametrize("make", [
    lambda rng: (np.zeros(9000), np.arange(200, 9000, 240)),  # flat line
    lambda rng: (np.full(9000, np.nan), np.arange(200, 9000, 240)),  # all NaN
    lambda rng: (rng.standard_normal(9000), np.arange(200, 9000, 240)),  # pure noise
    lambda rng: (rng.standard_normal(600), np.array([100, 300])),  # too short, two beats
    lambda rng: (np.zeros(0), np.zeros(0, dtype=np.int64)),  # empty
])
def test_bad_input_gives_finite_features(rng, make):
    x, b = make(rng)
    f = waveform_features(x, FS, b)
    assert f.shape == (len(WAVEFORM_FEATURE_NAMES),) and np.all(np.isfinite(f))


def test_too_few_beats_zero_the_beat_features(rng):
    x, b = synthetic_strip(rng, af=False)
    f = waveform_features(x, FS, b[:3])
    assert np.all(f[:len(MORPH_NAMES) + len(RESIDUAL_NAMES)] == 0)
    assert _f(f, "sq_amp_mv") > 0.5  # quality still read from the signal


def test_other_sample_rates_and_a_wrong_one(rng):
    x, b = synthetic_strip(rng, af=False, fs_hz=500.0)
    f500 = waveform_features(x, 500.0, b)
    x3, b3 = synthetic_strip(rng, af=False, fs_hz=FS)
    f300 = waveform_features(x3, FS, b3)
    for name in ("qrs_width2_s", "beat_corr_median", "t_amp"):
        assert _f(f500, name) == pytest.approx(_f(f300, name), abs=0.05)
    wrong = waveform_features(x3, 1000.0, b3)  # a 300 Hz strip declared as 1 kHz
    assert np.all(np.isfinite(wrong))


def test_rr_extra_regular_vs_irregular(rng):
    regular = 0.8 + 0.01 * rng.standard_normal(40)
    irregular = rng.uniform(0.4, 1.2, size=40)
    fr, fi = rr_extra_features(regular), rr_extra_features(irregular)
    assert fr.shape == fi.shape == (len(RR_EXTRA_NAMES),)

    def g(v, n):
        return float(v[RR_EXTRA_NAMES.index(n)])

    assert g(fi, "lorenz_occupied_share") > 2 * g(fr, "lorenz_occupied_share")
    assert g(fr, "lorenz_origin_share") > g(fi, "lorenz_origin_share")
    assert g(fi, "sub_min_nrmssd") > 5 * g(fr, "sub_max_nrmssd")
    assert g(fr, "median_hr_bpm") == pytest.approx(75.0, abs=2.0)


def test_rr_extra_single_ectopic_beat_leaves_sub_window_regular():
    rr = np.full(40, 0.8)
    rr[20], rr[21] = 0.5, 1.1  # one premature beat and its pause
    f = rr_extra_features(rr)
    assert f[RR_EXTRA_NAMES.index("sub_min_nrmssd")] < 1e-9  # a clean 12-interval stretch
    assert f[RR_EXTRA_NAMES.index("premature_rr_share")] == pytest.approx(1 / 40)


@pytest.mark.parametrize("rr, words", [(np.full(5, 0.8), ">= 8"),
                                       (np.r_[np.full(10, 0.8), np.nan], "finite"),
                                       (np.r_[np.full(10, 0.8), 0.0], "finite")])
def test_rr_extra_bad_input_is_refused(rr, words):
    with pytest.raises(SignalError, match=words):
        rr_extra_features(rr)


def test_strip_features_ignore_beats_in_the_settling_second(rng):
    from edge.rhythm.strip import STRIP_SETTLE_S, strip_features

    x, b = synthetic_strip(rng, af=False)
    b = b[b >= STRIP_SETTLE_S * FS]
    with_false_first = np.r_[int(0.1 * FS), b]  # the start-up transient's false beat
    np.testing.assert_array_equal(strip_features(x, FS, b), strip_features(x, FS, with_false_first))
