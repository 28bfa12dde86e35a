"""edge.dsp.inputs: the one whole-signal path to model inputs equals the streaming stages,
also next to invalid samples."""
import numpy as np
import pytest

from edge.dsp.beats import BeatWindower, WindowConfig, rr_features
from edge.dsp.detection import to_processing_index
from edge.dsp.features import BeatFeaturizer
from edge.dsp.inputs import beat_inputs_at, condition_signal, inputs_at, near_invalid
from edge.dsp.preprocess import PreprocessConfig, Preprocessor

FS = 360.0


def _signal(rng, n_s=90):
    """Spiky 'beats' every 0.7-0.9 s with a 6 s NaN gap and a 0.2 s flat run, each starting
    0.2 s after a beat (inside its window)."""
    n = int(n_s * FS)
    x = 0.02 * rng.standard_normal(n)
    beats = np.cumsum(rng.integers(int(0.7 * FS), int(0.9 * FS), size=200))
    beats = beats[beats < n - 400]
    for b in beats:
        x[b - 5:b + 5] += np.hanning(10) * 1.5
    g = beats[beats > 30 * FS][0] + int(0.2 * FS)
    f = beats[beats > 60 * FS][0] + int(0.2 * FS)
    x[g:g + int(6 * FS)] = np.nan
    x[f:f + int(0.2 * FS)] = 0.1
    valid = np.isfinite(x)
    valid[f:f + int(0.2 * FS)] = False
    return x, beats[valid[beats]]  # the detector finds none in invalid signal


@pytest.mark.parametrize("chunk", [1, 37, 360])
def test_streaming_inputs_equal_whole_signal_inputs_next_to_invalid_samples(rng, chunk):
    x, beats = _signal(rng)
    cfg = WindowConfig()
    whole = beat_inputs_at(x, FS, beats, window=cfg)
    assert whole.rr_unknown.any() and whole.window_invalid.any()
    pre, win, fz = (Preprocessor(PreprocessConfig(fs_in_hz=FS)), BeatWindower(cfg),
                    BeatFeaturizer())
    parts, given, fed = [], 0, 0

    def feed(cond, upto):
        nonlocal given
        new = beats[given:][beats[given:] < upto]
        given += new.size
        batch = win.process(cond.filtered_mv, new, cond.valid)
        parts.append((batch.sample_index, batch,
                      fz.process(batch.windows, batch.rr_s, batch.window_invalid)))

    for i in range(0, x.size, chunk):  # beats reported 400 samples late, as a detector does
        cond = pre.process(x[i:i + chunk])
        fed += len(cond)
        feed(cond, fed - 400)
    feed(pre.flush(), x.size)
    batch = win.flush()
    parts.append((batch.sample_index, batch,
                  fz.process(batch.windows, batch.rr_s, batch.window_invalid)))
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), beats)
    np.testing.assert_array_equal(np.concatenate([p[1].rr_s for p in parts]), whole.rr_s)
    np.testing.assert_array_equal(np.concatenate([p[1].window_invalid for p in parts]),
                                  whole.window_invalid)
    np.testing.assert_array_equal(np.concatenate([p[1].rr_unknown for p in parts]),
                                  whole.rr_unknown)
    np.testing.assert_allclose(np.concatenate([p[2][1] for p in parts]), whole.features,
                               atol=1e-6)
    np.testing.assert_allclose(np.concatenate([p[2][0] for p in parts]), whole.beat, atol=1e-6)


def test_flags_and_near_invalid_agree(rng):
    x, beats = _signal(rng)
    cfg = WindowConfig()
    out = beat_inputs_at(x, FS, beats, window=cfg)
    cond = condition_signal(x, FS)
    np.testing.assert_array_equal(out.near_invalid, near_invalid(cond.valid, beats, cfg))
    np.testing.assert_array_equal(out.near_invalid,
                                  out.window_invalid | out.rr_unknown.any(axis=1))
    k = int(np.flatnonzero(out.rr_unknown[:, 1])[0])  # the last beat before the NaN gap
    assert beats[k] < 30.5 * FS and beats[k + 1] > 36 * FS
    assert out.rr_s[k, 1] < 1.0 and out.rr_s[k + 1, 0] < 1.0  # not a 3 s pause
    assert rr_features(beats, cfg)[k, 1] == cfg.max_rr_s  # (the gap read as a pause before)
    # inputs_at on the conditioned signal is the same path
    again = inputs_at(cond, to_processing_index(beats, FS), cfg)
    np.testing.assert_array_equal(again.rr_s, out.rr_s)
    np.testing.assert_array_equal(again.features, out.features)


@pytest.mark.parametrize("fs_hz", [359.7, 359.9])
def test_reference_beat_windows_stay_centred_at_an_odd_rate(fs_hz):
    """``annotate --reference-beats`` at 359.7 Hz (audit, session 50): the windows were cut
    at the exact ratio from a signal resampled at a rounded one, so they slid off the beats
    (the R peak 109 samples away after 30 min; 299 beats read S instead of 32). Now each
    window's R peak is where it is at 360 Hz, within a sample, to the end."""
    from tests.edge.dsp.ecg_support import synthetic_ecg

    cfg = WindowConfig()
    peak = {}
    for fs in (360.0, fs_hz):
        x, r_s = synthetic_ecg(fs, 1800.0)
        inp = beat_inputs_at(x, fs, np.round(r_s * fs).astype(np.int64), window=cfg)
        peak[fs] = inp.beat[:, :, 0].argmax(axis=1)
    assert np.abs(peak[fs_hz] - peak[360.0]).max() <= 1
