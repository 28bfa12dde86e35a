"""RR-rhythm features: regular vs irregular (synthetic), ectopy, limits, batch = streaming."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import SignalError
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    SAMPEN_R_S,
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


def _reference_features(rr: np.ndarray) -> np.ndarray:
    """The per-window code the batched one replaced (numpy's own percentile, median, std,
    dot), kept here to hold the batched features to the same bits."""
    from edge.rhythm.features import _ECTOPIC_FRACTION, _HIST_BIN_S, SAMPEN_R_S

    mean = float(rr.mean())
    med = float(np.median(rr))
    d = np.diff(rr)
    ad = np.abs(d)
    sd = float(rr.std())
    rmssd = float(np.sqrt(np.mean(d * d)))
    q25, q75 = np.percentile(d, [25, 75])
    p10, p90 = np.percentile(rr, [10, 90])
    tp = float(np.count_nonzero(d[:-1] * d[1:] < 0)) / max(1, d.size - 1)
    c = rr - mean
    denom = float(np.dot(c, c))
    ac1 = float(np.dot(c[:-1], c[1:]) / denom) if denom > 1e-12 else 1.0
    se = sample_entropy(rr, SAMPEN_R_S)
    cosen = se + np.log(2 * SAMPEN_R_S) - np.log(mean)
    counts = np.bincount(np.floor((rr - rr.min()) / _HIST_BIN_S).astype(np.int64))
    prob = counts[counts > 0] / rr.size
    hist_h = float(-(prob * np.log2(prob)).sum())
    sd1 = float(np.std(d) / np.sqrt(2.0))
    sd2 = float(np.sqrt(max(2 * sd * sd - sd1 * sd1, 0.0)))
    sd1_sd2 = sd1 / sd2 if sd2 > 1e-6 else 0.0
    thr = _ECTOPIC_FRACTION * med
    pair = (d[:-1] < -thr) & (d[1:] > thr)
    keep = np.ones(rr.size, dtype=bool)
    idx = np.flatnonzero(pair)
    keep[idx + 1] = False
    keep[idx + 2] = False
    clean = rr[keep]
    if clean.size >= 3:
        dc = np.diff(clean)
        nrmssd_clean = float(np.sqrt(np.mean(dc * dc))) / float(clean.mean())
    else:
        nrmssd_clean = 0.0
    return np.array([
        mean, sd / mean, rmssd / mean, float(np.median(ad)) / med, float(q75 - q25) / med,
        float(p90 - p10) / med, float(np.mean(ad > 0.05)), float(np.mean(ad > 0.12 * mean)),
        tp, ac1, se, cosen, hist_h, sd1_sd2, sd1 / mean,
        float(pair.sum()) / max(1, d.size - 1), nrmssd_clean])


@pytest.mark.parametrize("n", [MIN_INTERVALS, 12, 39, 40])
def test_batched_features_are_the_per_window_numbers_bit_for_bit(rng, n):
    from edge.rhythm.features import rr_windows_features

    rows = [_sinus(rng, n), _af(rng, n), np.full(n, 0.75), _af(rng, n) * 0.5 + 0.3]
    ectopic = _sinus(rng, n)
    ectopic[2::7] *= 0.6  # premature beats ...
    ectopic[3::7] *= 1.4  # ... and their compensatory pauses
    rows.append(ectopic)
    rows += [np.round(_af(rng, n) * 360) / 360 for _ in range(20)]  # sample-grid RR
    batch = np.array(rows)
    got = rr_windows_features(batch)
    want = np.array([_reference_features(r) for r in batch])
    np.testing.assert_array_equal(got, want)
    assert got[4, FEATURE_NAMES.index("short_long_share")] > 0  # the pairs path ran
    np.testing.assert_array_equal(rr_window_features(batch[1]), want[1])


def test_pattern_ratio_tells_a_repeating_pattern_from_independent_intervals():
    """Bigeminy / trigeminy (short-long repeating every 2 / 3 beats, with jitter) are
    irregular beat to beat but repeat: ratio well below 1; independent intervals (AF-like):
    about 1; no beat-to-beat change: 1."""
    from edge.rhythm.features import rr_windows_pattern_ratio

    rng = np.random.default_rng(3)
    big = np.tile([0.55, 1.05], 20) + 0.03 * rng.standard_normal(40)
    tri = np.tile([0.8, 0.5, 1.1], 14)[:40] + 0.03 * rng.standard_normal(40)
    af = rng.uniform(0.4, 1.1, (50, 40))
    assert rr_windows_pattern_ratio(np.vstack([big, tri])).max() < 0.3
    ratio_af = rr_windows_pattern_ratio(af)
    assert np.median(ratio_af) > 0.9 and np.mean(ratio_af < 0.8) < 0.1
    assert rr_windows_pattern_ratio(np.full((1, 12), 0.8)).tolist() == [1.0]
    with pytest.raises(SignalError):
        rr_windows_pattern_ratio(np.ones(12))


def _windows(rng, n):
    """Windows of ``n`` intervals of every kind the features meet: sinus, AF, constant,
    ectopic pairs, and on a 360-Hz sample grid (ties in sorts, histogram and entropy)."""
    ectopic = _sinus(rng, n)
    ectopic[2::7] *= 0.6
    ectopic[3::7] *= 1.4
    rows = [_sinus(rng, n), _af(rng, n), np.full(n, 0.75), ectopic,
            np.round(ectopic * 360) / 360, np.r_[np.full(n - 2, 0.8), 0.48, 1.12]]
    rows += [np.round(_af(rng, n) * 360) / 360 for _ in range(10)]
    rows += [np.round(_sinus(rng, n) * 250) / 250 for _ in range(10)]
    return rows


@pytest.mark.parametrize("n", [MIN_INTERVALS, 9, 12, 39, 40, 41, 130])
def test_one_window_in_python_is_the_batch_row_bit_for_bit(rng, n):
    """A streaming call's window is computed in plain Python: the same bits as numpy's."""
    from edge.rhythm.features import (
        SampenCounts,
        rr_window_row,
        rr_windows_features,
        rr_windows_pattern_ratio,
    )

    rows = _windows(rng, n)
    batch = np.array(rows)
    want = rr_windows_features(batch)
    want_pattern = rr_windows_pattern_ratio(batch)
    counts = SampenCounts()
    for k, row in enumerate(rows):
        got, pattern = rr_window_row(row, counts if k % 2 else None)
        got = np.array(got)
        assert got.view(np.int64).tolist() == want[k].view(np.int64).tolist(), k
        pattern = np.float64(pattern)
        assert pattern.view(np.int64) == want_pattern[k].view(np.int64), k
    assert want[3, FEATURE_NAMES.index("short_long_share")] > 0  # the pairs path ran


def test_sampen_counts_follow_sliding_growing_and_new_windows(rng):
    """Counts kept across successive windows (slide, growth, restart, repeat) are the counts
    of a full recount, and give :func:`sample_entropy`."""
    from edge.rhythm.features import SampenCounts, _sampen_counts

    stream = np.round(np.r_[_sinus(rng, 150), _af(rng, 150), _sinus(rng, 100)] * 360) / 360
    counts = SampenCounts()
    n_incremental = 0
    start = 0
    for end in range(MIN_INTERVALS, stream.size):
        if end % 97 == 0:
            start = end - MIN_INTERVALS  # a restart: a window unrelated to the last
        start = max(start, end - 40)
        v = stream[start:end].tolist()
        last = counts._last
        got = counts.counts(v)
        if last and (v[:-1] == last[1:] or v[:-1] == last):
            n_incremental += 1
        assert got == _sampen_counts(v, SAMPEN_R_S), end
        b, a = got
        assert np.log((b + 1.0) / (a + 1.0)) == sample_entropy(np.array(v), SAMPEN_R_S)
        assert counts.counts(v) == got  # the same window again: counted anew, same counts
    assert n_incremental > 300
