import numpy as np
import pytest

from edge.dsp.beats import (
    BeatWindower,
    WindowConfig,
    extract_windows,
    fill_unknown_rr,
    invalid_flags,
    rr_features,
    rr_intervals_s,
)
from edge.errors import ConfigError, SignalError


def _stream(x, beats, cfg, sizes, rng, valid=None, parts=False):
    """Beats are reported late, as the detector does: up to 3 s after their R peak."""
    w = BeatWindower(cfg)
    known = beats + rng.integers(0, int(3 * cfg.fs_hz), size=beats.size)
    known = np.maximum.accumulate(known)
    out, i = [], 0
    while i < x.size:
        n = int(rng.integers(1, 900)) if sizes == "random" else sizes
        out.append(w.process(x[i:i + n], beats[(known >= i) & (known < i + n)],
                             None if valid is None else valid[i:i + n]))
        i += n
    out.append(w.process(np.zeros(0), beats[known >= i]))
    out.append(w.flush())
    if parts:
        return out
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


def _gapped(rng, n_s=60):
    cfg = WindowConfig(long_beats=20)
    x = rng.standard_normal(360 * n_s)
    beats = np.cumsum(rng.integers(250, 330, size=400))
    beats = beats[beats < x.size - 5]
    valid = np.ones(x.size, dtype=bool)
    valid[360 * 10:360 * 18] = False  # an 8 s gap (longer than the windower's 4 s history)
    valid[360 * 30:360 * 30 + 50] = False  # a 0.14 s flat run
    beats = beats[valid[beats]]  # the detector finds no beat in invalid signal
    return cfg, x, beats, valid


def _offline(x, beats, valid, cfg):
    bad = np.concatenate([[0], np.cumsum(~valid)])

    def count(lo, hi):
        lo, hi = np.clip(lo, 0, x.size), np.clip(hi, 0, x.size)
        return bad[np.maximum(hi, lo)] - bad[lo]

    window, unknown = invalid_flags(beats, cfg, count)
    rr = rr_features(beats, cfg,
                     intervals_s=fill_unknown_rr(rr_intervals_s(beats, cfg), unknown, cfg))
    return window, unknown, rr


@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_invalid_samples_streaming_equals_offline(sizes, rng):
    """Intervals across invalid samples are replaced by the local mean and flagged, windows
    touching them flagged -- identically at any chunking, even when the gap is longer than
    the windower's signal history."""
    cfg, x, beats, valid = _gapped(rng)
    window, unknown, rr = _offline(x, beats, valid, cfg)
    out = _stream(x, beats, cfg, sizes, rng, valid=valid, parts=True)
    np.testing.assert_array_equal(np.concatenate([o.sample_index for o in out]), beats)
    np.testing.assert_array_equal(np.concatenate([o.rr_s for o in out]), rr)
    np.testing.assert_array_equal(np.concatenate([o.window_invalid for o in out]), window)
    flags = np.concatenate([o.rr_unknown for o in out])
    np.testing.assert_array_equal(flags[1:, 0], unknown)
    np.testing.assert_array_equal(flags[:-1, 1], unknown)
    assert unknown.sum() == 2 and window.sum() >= 2


def test_an_interval_across_a_gap_is_the_local_mean_not_a_pause(rng):
    cfg, x, beats, valid = _gapped(rng)
    _, unknown, rr = _offline(x, beats, valid, cfg)
    k = int(np.flatnonzero(unknown)[0])  # beats[k] -> beats[k + 1] spans the 8 s gap
    measured = rr_features(beats, cfg)
    assert measured[k, 1] == cfg.max_rr_s  # what the gap looked like: a 3 s pause ...
    assert measured[k + 1, 0] == cfg.max_rr_s
    local = rr_intervals_s(beats, cfg)[k - cfg.local_beats:k].mean()
    np.testing.assert_allclose(rr[k, 1], local, rtol=1e-6)  # ... now the local mean
    np.testing.assert_allclose(rr[k + 1, 0], local, rtol=1e-6)
    assert rr[k + 1:k + 12, 2].max() < 1.0  # and the local mean after it is not inflated


def test_fill_unknown_rr_without_history_is_nominal():
    cfg = WindowConfig()
    out = fill_unknown_rr(np.array([3.0, 0.8, 3.0]), np.array([True, False, True]), cfg)
    np.testing.assert_allclose(out, [1.0, 0.8, 0.9])
    with pytest.raises(SignalError):
        fill_unknown_rr(np.ones(3), np.ones(2, dtype=bool), cfg)


@pytest.mark.parametrize("last_is_final", [True, False])
def test_released_rows_are_the_rr_features_rows(rng, last_is_final):
    """The windower computes only the rows it releases; they are rr_features' rows, bit for
    bit (a lone beat, short and long histories, clipped and replaced intervals)."""
    from edge.dsp.beats import _rr_feature_rows

    cfg = WindowConfig()
    for n in (1, 2, 3, 11, 12, 300, 302, 303):
        beats = np.cumsum(rng.integers(20, 1300, n))
        rr = rng.uniform(0.1, 3.5, n - 1).clip(cfg.min_rr_s, cfg.max_rr_s)
        want = rr_features(beats, cfg, last_is_final=last_is_final, intervals_s=rr)
        for rows in (range(n), range(max(0, n - 2), n), range(max(0, n - 3), max(0, n - 1))):
            got = _rr_feature_rows(rr, rows, cfg, last_is_final=last_is_final)
            np.testing.assert_array_equal(got, want[rows.start:rows.stop])
            assert got.dtype == np.float32


def test_one_window_inside_the_signal_is_the_indexed_one(rng):
    """A lone beat's window is sliced; the same samples as the gathered windows."""
    cfg = WindowConfig()
    x = rng.standard_normal(2000)
    many = extract_windows(x, np.array([300, 900, 1500]), cfg)
    for k, b in enumerate((300, 900, 1500)):
        np.testing.assert_array_equal(extract_windows(x, np.array([b]), cfg)[0], many[k])
    edge = extract_windows(x, np.array([10]), cfg)  # edge-padded, as before
    assert edge[0, 0] == np.float32(x[0])


@pytest.mark.parametrize("sizes", [1, 36, 900])
def test_bridged_samples_flag_a_window_only_in_its_qrs_and_an_interval_only_if_a_beat_fits(
        sizes):
    """A link gap bridged by a line (BeatWindower.bridge): a window holding its samples only
    outside the QRS core (BRIDGE_CORE_MS around the R peak) is classified; an RR interval
    across it is unknown only when a beat could hide in it (MIN_BEAT_SPACING_MS from both
    beats). The same gaps unannounced flag every window and interval they touch."""
    from edge.dsp.beats import BRIDGE_CORE_MS, MIN_BEAT_SPACING_MS

    cfg = WindowConfig()
    fs = cfg.fs_hz
    x = np.random.default_rng(0).standard_normal(int(12 * fs))
    beats = np.arange(int(0.5 * fs), x.size - int(fs), int(0.8 * fs))  # RR 0.8 s
    core, spacing = BRIDGE_CORE_MS * fs / 1000, MIN_BEAT_SPACING_MS * fs / 1000
    gaps = [(beats[2] + int(0.09 * fs), 36),   # after beat 2's core, near it: interval known
            (beats[5] + int(0.35 * fs), 36),   # mid-interval: a beat could hide in it
            (beats[8] - int(0.05 * fs), 36)]   # over beat 8's R peak: its core
    valid = np.ones(x.size, dtype=bool)
    for a, n in gaps:
        valid[a:a + n] = False

    def run(announce):
        w = BeatWindower(cfg)
        if announce:
            for a, n in gaps:
                w.bridge(a, a + n)
        out, i = [], 0
        while i < x.size:
            out.append(w.process(x[i:i + sizes], beats[(beats >= i) & (beats < i + sizes)],
                                 valid[i:i + sizes]))
            i += sizes
        out.append(w.flush())
        return (np.concatenate([o.window_invalid for o in out]),
                np.concatenate([o.rr_unknown for o in out]))

    window, unknown = run(True)
    expect_window = np.zeros(beats.size, dtype=bool)
    for a, n in gaps:
        expect_window |= (beats + core >= a) & (beats - core <= a + n - 1)
    np.testing.assert_array_equal(window, expect_window)
    assert window.tolist().count(True) == 1 and window[8]
    post = unknown[:, 1]
    expect_post = np.zeros(beats.size, dtype=bool)
    for a, n in gaps:
        k = np.searchsorted(beats, a) - 1
        expect_post[k] = a + n - 1 >= beats[k] + spacing and a <= beats[k + 1] - spacing
    np.testing.assert_array_equal(post, expect_post)
    assert post[5] and not post[2]
    blind_window, blind_unknown = run(False)
    assert blind_window.sum() == 3 and blind_unknown[:, 1].sum() == 4  # 7-8 and 8-9


def test_a_short_interval_over_a_bridge_keeps_its_measured_value():
    """A beat could only have been lost in a bridged interval, which would make the real
    interval shorter still: an interval shorter than the local mean keeps its measured value
    and is known (a premature beat after a lost frame stays premature); a longer one is
    filled with the mean and unknown, as before."""
    cfg = WindowConfig()
    fs = cfg.fs_hz
    x = np.random.default_rng(1).standard_normal(int(12 * fs))
    at = [0.5, 1.3, 2.1, 2.9, 3.7, 4.5, 5.0, 5.8, 6.6, 7.4, 9.0, 9.8, 10.6]  # 5.0 premature
    beats = np.round(np.array(at) * fs).astype(np.int64)
    gaps = [(int(4.72 * fs), 36), (int(8.15 * fs), 36)]  # mid 4.5-5.0; mid 7.4-9.0
    valid = np.ones(x.size, dtype=bool)
    w = BeatWindower(cfg)
    for a, n in gaps:
        valid[a:a + n] = False
        w.bridge(a, a + n)
    out = [w.process(x, beats, valid), w.flush()]
    rr = np.concatenate([o.rr_s for o in out])
    unknown = np.concatenate([o.rr_unknown for o in out])
    k = 6  # the premature beat: pre interval 0.5 s, measured and known
    assert rr[k, 0] == pytest.approx(0.5, abs=1e-3) and not unknown[k, 0]
    j = 10  # after the 1.6-s interval: filled with the mean, unknown
    assert rr[j, 0] == pytest.approx(rr[j - 1, 0], abs=0.1) and unknown[j, 0]
