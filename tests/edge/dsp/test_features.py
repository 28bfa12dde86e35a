"""edge.dsp.features: causal beat-relative features (owned with the classifiers)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.dsp.features import (
    FEATURE_NAMES,
    BeatFeaturizer,
    FeatureConfig,
    RhythmTracker,
    TemplateTracker,
    apply_standardization,
    beat_inputs,
    rr_ratio_features,
)
from edge.errors import ConfigError, SignalError


def _beats(rng, n=60, length=252):
    t = np.linspace(-1, 1, length)
    base = np.exp(-(t / 0.05) ** 2)
    w = base[None, :] * rng.uniform(0.9, 1.1, (n, 1)) + 0.01 * rng.standard_normal((n, length))
    rr = np.full((n, 4), 0.8)
    return w, rr


def test_rr_ratios_are_log_ratios():
    rr = np.array([[0.5, 1.0, 0.8, 1.0]])
    out = rr_ratio_features(rr)
    assert out.shape == (1, 10)
    np.testing.assert_allclose(out[0, :4], rr[0])
    np.testing.assert_allclose(out[0, 4], np.log(0.5 / 0.8), rtol=1e-6)
    np.testing.assert_allclose(out[0, 6], np.log(1.0 / 0.5), rtol=1e-6)
    with pytest.raises(SignalError):
        rr_ratio_features(np.zeros((3, 3)))


def test_template_excludes_the_current_and_premature_beats(rng):
    w, rr = _beats(rng)
    odd = np.zeros(w.shape[1])
    w[30] = odd + 5.0  # an ectopic-looking beat, premature
    rr[30, 0] = 0.4
    t = TemplateTracker(FeatureConfig(n_template_beats=8)).process(w, rr)
    np.testing.assert_array_equal(t[0], w[0])  # first beat: its own template
    assert np.abs(t[31] - w[29]).max() < 0.2  # the premature beat never entered the template
    np.testing.assert_allclose(t[5], np.median(w[:5], axis=0))


def test_template_is_the_exact_median_of_the_last_beats(rng):
    """Odd and even counts, before and after the ring wraps: np.median's values bit for bit."""
    w, rr = _beats(rng, n=40)
    rr[:, 0] = rr[:, 2]  # every beat joins the template
    t = TemplateTracker(FeatureConfig(n_template_beats=8)).process(w, rr)
    for i in range(1, 40):
        np.testing.assert_array_equal(t[i], np.median(w[max(0, i - 8):i], axis=0))


def test_streaming_featurizer_equals_batch_for_any_split(rng):
    w, rr = _beats(rng, n=50)
    rr[:, 0] = rng.uniform(0.5, 1.0, 50)
    whole = beat_inputs(w, rr)
    for split in (1, 7, 49):
        fz = BeatFeaturizer()
        parts = [fz.process(w[i:i + split], rr[i:i + split]) for i in range(0, 50, split)]
        np.testing.assert_allclose(np.concatenate([p[0] for p in parts]), whole[0], atol=1e-6)
        np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), whole[1], atol=1e-6)
    assert whole[0].shape == (50, 252, 2)
    assert whole[1].shape == (50, len(FEATURE_NAMES))
    assert np.abs(whole[0]).max() <= FeatureConfig().clip


def test_rhythm_irregularity_separates_af_like_from_regular(rng):
    regular = np.full((40, 4), 0.8)
    af = regular.copy()
    af[:, 0] = rng.uniform(0.4, 1.2, 40)
    r = RhythmTracker().process(regular)
    a = RhythmTracker().process(af)
    assert r[-1, 0] == 0 and a[-1, 0] > 0.1


def test_feature_config_validates_and_standardization_checks_width():
    with pytest.raises(ConfigError, match="n_template_beats"):
        FeatureConfig(n_template_beats=0)
    with pytest.raises(SignalError):
        apply_standardization(np.zeros((2, 3)), [0, 0], [1, 1])


def test_excluded_beats_never_join_the_template(rng):
    """Windows touching invalid samples (a gap held flat) must not become the template the
    next beats are compared with."""
    w, rr = _beats(rng, n=40)
    w[10:25] = 0.0  # 15 flat windows (inside a gap)
    exclude = np.zeros(40, dtype=bool)
    exclude[10:25] = True
    t = TemplateTracker(FeatureConfig(n_template_beats=8)).process(w, rr, exclude)
    np.testing.assert_allclose(t[25], np.median(w[2:10], axis=0))  # as before the gap
    polluted = TemplateTracker(FeatureConfig(n_template_beats=8)).process(w, rr)
    assert np.abs(polluted[25]).max() < 0.1  # (without exclusion the template went flat)
    whole = beat_inputs(w, rr, exclude=exclude)
    fz = BeatFeaturizer()
    parts = [fz.process(w[i:i + 7], rr[i:i + 7], exclude[i:i + 7]) for i in range(0, 40, 7)]
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), whole[1], atol=1e-6)


def _reference_inputs(w, templates, rr_s, rhythm, config):
    """The model inputs written the plain way (numpy's ptp, clip, stack, mean, sum and
    concatenate): the featurizer must give these numbers bit for bit."""
    amp = np.maximum(np.ptp(templates, axis=1), config.min_amplitude_mv)[:, None]
    ch0 = np.clip(w / amp, -config.clip, config.clip)
    ch1 = np.clip((w - templates) / amp, -config.clip, config.clip)
    beat = np.stack([ch0, ch1], axis=-1).astype(np.float32)
    wc = w - w.mean(axis=1, keepdims=True)
    tc = templates - templates.mean(axis=1, keepdims=True)
    denom = np.sqrt((wc ** 2).sum(1) * (tc ** 2).sum(1))
    corr = np.where(denom > 0, (wc * tc).sum(1) / np.maximum(denom, 1e-12), 1.0)
    diff_rel = np.sqrt(((w - templates) ** 2).sum(1) / np.maximum((templates ** 2).sum(1), 1e-6))
    morph = np.stack([corr, np.log(diff_rel + 1e-3)], axis=1)
    lg = np.log(np.maximum(rr_s, 1e-3))
    pre, post, loc, lng = lg.T
    ratios = np.stack([pre - loc, pre - lng, post - pre, post - loc, loc - lng, post - lng], 1)
    rr_part = np.concatenate([rr_s, ratios], axis=1).astype(np.float32)
    return beat, np.concatenate([rr_part, morph, rhythm], axis=1).astype(np.float32)


@pytest.mark.parametrize("n", [1, 2, 13])
def test_model_inputs_are_bit_identical_to_the_plain_formulas(n, rng):
    from edge.dsp.features import _inputs_from

    config = FeatureConfig()
    w = rng.standard_normal((n, 252)) * rng.uniform(0.01, 8.0, (n, 1))  # some beyond the clip
    templates = rng.standard_normal((n, 252)) * 0.5
    templates[0] = 0.0  # a flat template: amplitude floor, zero correlation denominator
    w[-1, :10] = np.nan  # NaN stays NaN, as in numpy's own functions
    rr = rng.uniform(0.0, 2.5, (n, 4))  # 0 s intervals hit the log floor
    rhythm = rng.standard_normal((n, 2))
    beat, feats = _inputs_from(w, templates, rr, rhythm, config)
    beat_ref, feats_ref = _reference_inputs(w, templates, rr, rhythm, config)
    assert beat.dtype == np.float32 and feats.dtype == np.float32
    assert beat.shape == (n, 252, 2) and feats.shape == (n, len(FEATURE_NAMES))
    np.testing.assert_array_equal(beat.view(np.uint32), beat_ref.view(np.uint32))
    np.testing.assert_array_equal(feats.view(np.uint32), feats_ref.view(np.uint32))
    np.testing.assert_array_equal(rr_ratio_features(rr).view(np.uint32),
                                  feats_ref[:, :10].view(np.uint32))


def _rhythm_one_by_one(pres, locs, m):
    """RhythmTracker's definition, beat by beat on Python floats."""
    hist, out = [], []
    for pre, loc in zip(pres, locs):
        prev = hist[-1] if hist else pre
        hist = (hist + [pre])[-m:]
        irr = 0.0
        if len(hist) > 1:
            d = sorted(abs(b - a) for a, b in zip(hist, hist[1:]))
            k = len(d) // 2
            irr = (d[k] if len(d) % 2 else 0.5 * (d[k - 1] + d[k])) / max(loc, 1e-3)
        out.append((irr, float(np.log(max(pre, 1e-3) / max(prev, 1e-3)))))
    return np.array(out)


@pytest.mark.parametrize("m", [2, 3, 10])
@pytest.mark.parametrize("split", [1, 3, 8, 9, 41, 200])
def test_rhythm_descriptors_are_exact_for_any_split(rng, m, split):
    """Calls of many beats sort their windows together: the one-by-one values bit for bit."""
    rr = np.full((200, 4), 0.8)
    rr[:, 0] = rng.uniform(0.3, 1.4, 200)
    rr[:, 2] = rng.uniform(0.5, 1.1, 200)
    rr[50, 0] = 0.0  # a floor-clipped interval
    want = _rhythm_one_by_one(rr[:, 0].tolist(), rr[:, 2].tolist(), m)
    tracker = RhythmTracker(FeatureConfig(rhythm_beats=m))
    got = np.concatenate([tracker.process(rr[i:i + split]) for i in range(0, 200, split)])
    np.testing.assert_array_equal(got, want)
    assert tracker.process(np.zeros((0, 4))).shape == (0, 2)
