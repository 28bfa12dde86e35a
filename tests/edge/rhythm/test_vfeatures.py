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


def test_organised_rhythm_shows_regular_spikes_and_a_small_phase_space():
    rng = np.random.default_rng(3)
    n = int(4 * FS)
    phase = np.cumsum(2 * np.pi * rng.uniform(3, 7, n) / FS)
    vf = feats(np.sin(phase) * (0.6 + 0.4 * np.sin(np.arange(n) / FS))
               + 0.05 * rng.standard_normal(n))
    for rate in (60.0, 120.0):
        qrs = feats(organised(rate))
        assert qrs["spike_rate_bpm"] == pytest.approx(rate, rel=0.02)
        assert qrs["spike_rr_cv"] < 0.02
        assert qrs["count2"] < 0.3 < vf["count2"]
        assert qrs["psr"] < vf["psr"] and qrs["hilb"] < vf["hilb"]
    assert feats(np.zeros(n))["spike_rr_cv"] == 1.0


def test_flat_window_has_no_rhythm_and_bad_windows_are_refused():
    f = feats(np.full(int(4 * FS), 0.3))
    assert f["std_mv"] == 0 and f["baseline_share"] == 1
    with pytest.raises(SignalError, match=">= 2.0 s"):
        vf_window_features(np.zeros(100), FS)
    x = organised()
    x[10] = np.nan
    with pytest.raises(SignalError, match="finite"):
        vf_window_features(x, FS)


def _reference_lempel_ziv(bits: np.ndarray) -> float:
    """The phrase-by-phrase Lempel-Ziv the faster search replaced (k grows one at a time)."""
    s = bits.astype(np.uint8).tobytes()
    n = len(s)
    if n < 2:
        return 0.0
    c, i = 1, 1
    while i < n:
        k = 1
        while i + k <= n and s.find(s[i:i + k], 0, i + k - 1) >= 0:
            k += 1
        c += 1
        i += k
    return float(c * np.log2(n) / n)


def _reference_features(x: np.ndarray, fs: float) -> np.ndarray:
    """The per-window code the batched one replaced (np.percentile, x ** 4, |FFT| ** 2, a
    convolution, an 8192-point autocorrelation)."""
    x = x - x.mean()
    n = x.size
    sd = float(x.std())
    out = np.zeros(len(VF_FEATURE_NAMES))
    out[0] = sd
    if sd < 1e-6:
        out[1], out[4], out[5], out[19] = 3.0, 1.0, 1.0, 1.0
        return out
    out[1] = float(np.mean(x ** 4) / sd ** 4)
    blk = int(round(fs))
    n_blk = max(1, n // blk)
    tc, cross = 0.0, 0
    for b in range(n_blk):
        seg = x[b * blk:(b + 1) * blk] if b < n_blk - 1 else x[b * blk:]
        seg = seg - seg.mean()
        m = np.abs(seg).max()
        if m <= 0:
            continue
        tc += (np.abs(seg) > 0.2 * m).mean()
        up = seg > 0.2 * m
        cross += int(np.count_nonzero(up[1:] & ~up[:-1]))
    out[2] = tc / n_blk
    out[3] = cross / (n / fs)
    lo, med, hi = np.percentile(x, [1.0, 50.0, 99.0])
    out[4] = float(np.mean(np.abs(x - med) < 0.1 * max(hi - lo, 1e-12)))
    dx = np.diff(x)
    half = int(np.floor(np.pi * np.abs(x).sum() / max(np.abs(dx).sum(), 1e-12) + 0.5))
    half = min(max(half, 1), n // 2)
    a, b = x[half:], x[:-half]
    out[5] = float(np.abs(a + b).sum() / max((np.abs(a) + np.abs(b)).sum(), 1e-12))
    k = max(1, int(round(0.075 * fs)))
    env = np.convolve(np.abs(dx), np.full(k, 1.0 / k), mode="valid")
    if env.size and env.max() > 0:
        out[6] = float(np.partition(env, env.size // 10)[env.size // 10] / env.max())
    nfft = max(4096, 1 << int(np.ceil(np.log2(n))))
    p = np.abs(np.fft.rfft(x * np.hanning(n), nfft)) ** 2
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    band = (f >= 0.5) & (f <= 40.0)
    total = max(float(p[band].sum()), 1e-12)
    low = (f >= 0.5) & (f <= 12.0)
    fd = float(f[low][np.argmax(p[low])])
    out[7] = fd
    out[8] = float((f[band] * p[band]).sum() / total)
    out[9] = float(p[(f >= 2.5) & (f <= 7.5)].sum() / total)
    out[10] = float(p[(f > 12.0) & (f <= 40.0)].sum() / total)
    out[11] = float(p[(f >= fd - 0.5) & (f <= fd + 0.5)].sum() / total)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * nfft)) ** 2)[:n]
    ac = ac / max(ac[0], 1e-12)
    l0, l1 = int(0.15 * fs), min(int(2.0 * fs), n - 1)
    out[12] = float(ac[l0:l1].max()) if l1 > l0 else 0.0
    out[13] = _reference_lempel_ziv(x[::max(1, int(fs // 90))] > med)
    # spikes: envelope peaks above half the maximum, largest first, >= 250 ms apart (on the
    # running-sum envelope the batched code uses: ties between equal neighbours are decided
    # by float rounding, so the convolution's envelope could pick another sample of a flat top)
    run = np.concatenate([[0.0], np.cumsum(np.abs(dx))])
    env = (run[k:] - run[:-k]) * (1.0 / k)
    if env.size > 2 and env.max() > 0:
        cand = [i for i in range(1, env.size - 1) if env[i] >= env[i - 1]
                and env[i] > env[i + 1] and env[i] >= 0.5 * env.max()]
        kept = []
        for i in sorted(cand, key=lambda i: -env[i]):
            if all(abs(i - j) >= round(0.25 * fs) for j in kept):
                kept.append(i)
        rr = np.diff(sorted(kept)) / fs
        out[18] = 60.0 / rr.mean() if rr.size else 0.0
        out[19] = rr.std() / rr.mean() if rr.size >= 2 else 1.0
    else:
        out[19] = 1.0
    ax = np.abs(x)
    out[14] = np.mean(ax > ax.mean())
    out[15] = np.mean(np.abs(ax - ax.mean()) < np.mean(np.abs(ax - ax.mean())))
    xs = x[::max(1, int(round(fs / 50)))]
    lag = int(round(0.5 * fs / max(1, int(round(fs / 50)))))

    def share(a, b):
        def cell(v):
            return np.minimum(((v - v.min()) / max(v.max() - v.min(), 1e-12) * 40).astype(int), 39)
        return len(set(zip(cell(a).tolist(), cell(b).tolist()))) / 1600

    from scipy.signal import hilbert
    out[16] = share(xs[lag:], xs[:-lag])
    out[17] = share(xs, np.imag(hilbert(xs)))
    return out


def _windows(rng: np.random.Generator, fs: float) -> np.ndarray:
    n = int(4 * fs)
    t = np.arange(n) / fs
    rows = [organised(fs=fs), organised(150.0, fs=fs), np.sin(2 * np.pi * 5 * t),
            np.zeros(n), rng.standard_normal(n)]
    for _ in range(12):  # VF-like: a wandering 3-7 Hz oscillation with noise
        phase = np.cumsum(2 * np.pi * rng.uniform(3, 7, n) / fs)
        rows.append(rng.uniform(0.1, 1.0) * np.sin(phase) + 0.05 * rng.standard_normal(n))
    return np.array(rows)


@pytest.mark.parametrize("fs", [FS, 250.0])
def test_batched_features_are_the_per_window_numbers(rng, fs):
    """Rows of a batch are the numbers of each window alone, and the reference code's to
    float rounding (<= 1e-9 relative; most features bit for bit)."""
    from edge.rhythm.vfeatures import vf_windows_features

    x = _windows(rng, fs)
    got = vf_windows_features(x, fs)
    for r, row in enumerate(x):
        np.testing.assert_array_equal(vf_window_features(row, fs), got[r])
    want = np.array([_reference_features(row, fs) for row in x])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    exact = [VF_FEATURE_NAMES.index(k) for k in ("std_mv", "tcsc", "crossings_per_s",
                                                  "baseline_share", "vf_leakage", "dom_freq_hz",
                                                  "lz_complexity")]
    np.testing.assert_array_equal(got[:, exact], want[:, exact])


def test_lempel_ziv_phrases_are_the_one_at_a_time_ones(rng):
    from edge.rhythm.vfeatures import _lempel_ziv

    seqs = [rng.random(n) < p for n in (0, 1, 2, 3, 5, 17, 100, 360, 361) for p in (0, .1, .5, 1)]
    for _ in range(100):
        w = np.cumsum(rng.standard_normal(360))
        seqs.append(w > np.median(w))
        w = np.sin(np.arange(360) * rng.uniform(0.01, 0.5)) + rng.uniform(0, 1) * rng.random(360)
        seqs.append(w > np.median(w))
    for s in seqs:
        assert _lempel_ziv(s) == _reference_lempel_ziv(s)


@pytest.mark.parametrize("fs", [FS, 250.0])
def test_screen_and_rest_parts_are_the_whole_rows(rng, fs):
    """The two passes of a screened computation give each window's numbers bit for bit,
    whichever rows are computed together (a flat row included)."""
    from edge.rhythm.vfeatures import SCREEN_FEATURES, vf_windows_features

    x = _windows(rng, fs)
    whole = vf_windows_features(x, fs)
    screen = vf_windows_features(x, fs, part="screen")
    cols = np.array([n in SCREEN_FEATURES for n in VF_FEATURE_NAMES])
    assert np.all(np.isnan(screen[:, ~cols])) and not np.isnan(screen[:, cols]).any()
    np.testing.assert_array_equal(screen[:, cols], whole[:, cols])
    for rows in (np.arange(len(x)), np.array([1, 3]), np.array([len(x) - 1])):
        rest = vf_windows_features(x[rows], fs, part="rest")
        assert np.all(np.isnan(rest[:, cols]))
        np.testing.assert_array_equal(rest[:, ~cols], whole[rows][:, ~cols])
    with pytest.raises(ValueError, match="part"):
        vf_windows_features(x, fs, part="cheap")


@pytest.mark.parametrize("fs", [FS, 250.0])
@pytest.mark.parametrize("seconds", [4.0, 2.5])
def test_one_window_screen_is_its_row_of_a_batch(rng, fs, seconds):
    """A single window's screen pass (the streaming case, no batch machinery) gives the bits
    of its row in a batch, whole-second windows (blocks at once) or not (block by block), a
    flat window included."""
    from edge.rhythm.vfeatures import vf_windows_features

    n = int(seconds * fs)
    x = np.vstack([_windows(rng, fs)[:, :n], np.full((1, n), 0.7),
                   np.r_[np.zeros(n // 2), np.ones(n - n // 2)][None, :]])
    flat = np.ptp(x, axis=1) == 0
    batch = vf_windows_features(x, fs, part="screen")
    for r, row in enumerate(x):
        one = vf_windows_features(row[None, :], fs, part="screen")[0]
        if not flat[r]:
            np.testing.assert_array_equal(one, batch[r])
        else:  # every feature at its constant value, as a lone flat row got them
            np.testing.assert_array_equal(one, vf_windows_features(np.vstack([row, row]), fs)[0])
    assert flat.sum() == 2
