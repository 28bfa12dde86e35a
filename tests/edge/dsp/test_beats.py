import numpy as np
import pytest

from edge.dsp.beats import BeatWindower, WindowConfig, extract_windows, rr_features
from edge.errors import ConfigError, SignalError


def _stream(x, beats, cfg, sizes, rng):
    """Beats are reported late, as the detector does: up to 3 s after their R peak."""
    w = BeatWindower(cfg)
    known = beats + rng.integers(0, int(3 * cfg.fs_hz), size=beats.size)
    known = np.maximum.accumulate(known)
    out, i = [], 0
    while i < x.size:
        n = int(rng.integers(1, 900)) if sizes == "random" else sizes
        out.append(w.process(x[i:i + n], beats[(known >= i) & (known < i + n)]))
        i += n
    out.append(w.process(np.zeros(0), beats[known >= i]))
    out.append(w.flush())
    return (np.concatenate([o.sample_index for o in out]),
            np.concatenate([o.windows for o in out]), np.concatenate([o.rr_s for o in out]))


@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_streaming_equals_offline(sizes, rng):
    cfg = WindowConfig(long_beats=20)
    x = rng.standard_normal(360 * 40)
    beats = np.cumsum(rng.integers(120, 600, size=80))
    beats = beats[beats < x.size - 5]
    idx, win, rr = _stream(x, beats, cfg, sizes, rng)
    np.testing.assert_array_equal(idx, beats)
    np.testing.assert_array_equal(win, extract_windows(x, beats, cfg))
    np.testing.assert_array_equal(rr, rr_features(beats, cfg))


def test_window_is_centred_on_the_aligned_r_peak():
    cfg = WindowConfig()
    x = np.zeros(2000)
    x[1000 + cfg.align_samples] = 1.0
    win = extract_windows(x, np.array([1000]), cfg)
    assert win.shape == (1, cfg.length) == (1, 252)
    assert np.argmax(win[0]) == cfg.before_samples


def test_windows_at_the_edges_repeat_the_edge_sample():
    cfg = WindowConfig()
    x = np.arange(100.0)
    win = extract_windows(x, np.array([0, 99]), cfg)
    assert win[0, 0] == 0.0 and win[1, -1] == 99.0


def test_rr_feature_definitions():
    cfg = WindowConfig(local_beats=2, long_beats=3)
    beats = np.array([0, 360, 720, 1260, 1440])  # RR 1.0, 1.0, 1.5, 0.5 s
    f = rr_features(beats, cfg)
    np.testing.assert_allclose(f[:, 0], [1.0, 1.0, 1.0, 1.5, 0.5])  # pre (first: its post)
    np.testing.assert_allclose(f[:, 1], [1.0, 1.0, 1.5, 0.5, 1.0])  # post (last: local mean)
    np.testing.assert_allclose(f[:, 2], [1.0, 1.0, 1.0, 1.25, 1.0])  # mean of last 2 RR
    np.testing.assert_allclose(f[:, 3], [1.0, 1.0, 1.0, 3.5 / 3, 1.0])  # mean of last 3 RR


def test_rr_is_clipped():
    cfg = WindowConfig()
    f = rr_features(np.array([0, 10, 5000]), cfg)
    assert f[:, :2].min() >= cfg.min_rr_s and f[:, :2].max() <= cfg.max_rr_s


def test_errors():
    with pytest.raises(ConfigError):
        WindowConfig(after_ms=0)
    with pytest.raises(ConfigError):
        WindowConfig(local_beats=10, long_beats=5)
    w = BeatWindower()
    w.process(np.zeros(10), np.array([5]))
    with pytest.raises(SignalError):
        w.process(np.zeros(10), np.array([3]))
    with pytest.raises(SignalError):
        extract_windows(np.zeros((2, 2)), np.array([1]), WindowConfig())
    assert len(BeatWindower().flush()) == 0
