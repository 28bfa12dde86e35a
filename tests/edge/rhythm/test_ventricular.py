"""The VF detector: synthetic VF-like and organised rhythms, a real CUDB excerpt, chunk
invariance, sample rates."""
from pathlib import Path

import numpy as np
import pytest

from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.errors import ConfigError, ModelError, SignalError
from edge.io.records import read_record
from edge.rhythm.ventricular import (
    QRS_HALF_S,
    VF_MODEL_SETS,
    VentricularConfig,
    VfDetector,
    load_vf_model,
    organised_windows,
    vf_episodes,
)
from edge.rhythm.vf_net import load_vf_net

REPO = Path(__file__).resolve().parents[3]
EXCERPT = REPO / "tests" / "data" / "cudb" / "cudb_cu01_excerpt"
VF_ONSET_S = 8546 / 250  # '[' in the excerpt's atr


def synthetic_ecg(seconds, fs, rate_bpm=72.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.05 * np.sin(2 * np.pi * 0.25 * t)  # baseline wander
    c = 0.4
    while c < seconds:
        x += 1.1 * np.exp(-0.5 * ((t - c) / 0.012) ** 2)
        x += 0.12 * np.exp(-0.5 * ((t - c + 0.16) / 0.025) ** 2)  # P
        x += 0.3 * np.exp(-0.5 * ((t - c - 0.3) / 0.05) ** 2)  # T
        c += 60.0 / rate_bpm * (1 + 0.03 * rng.standard_normal())
    return x + 0.01 * rng.standard_normal(t.size)


def synthetic_vf(seconds, fs, seed=1):
    """Sinusoid-like 4-6 Hz oscillation with wandering frequency and amplitude."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    f = 5.0 + np.cumsum(rng.standard_normal(n)) / np.sqrt(n) * 0.8
    f = np.clip(f, 4.0, 6.0)
    phase = 2 * np.pi * np.cumsum(f) / fs
    amp = 0.6 + 0.2 * np.sin(2 * np.pi * 0.2 * np.arange(n) / fs)
    return amp * np.sin(phase) + 0.01 * rng.standard_normal(n)


def test_model_sets_name_bundled_files_and_paths_override_them(tmp_path):
    mon, hand = VentricularConfig(), VentricularConfig(models="handheld")
    assert mon.model_file == VF_MODEL_SETS["monitor"][0] != hand.model_file
    assert mon.net_file == VF_MODEL_SETS["monitor"][1] != hand.net_file
    for trees, net in VF_MODEL_SETS.values():  # every named set is bundled and loads
        assert load_vf_model(trees).kind == "vf_window" and load_vf_net(net).blend_weight > 0
    own = VentricularConfig(models="handheld", model_path=str(tmp_path / "m.json"),
                            net_path=str(tmp_path / "n.tflite"))
    assert (own.model_file, own.net_file) == (tmp_path / "m.json", tmp_path / "n.tflite")
    with pytest.raises(ConfigError, match="models"):
        VentricularConfig(models="ward")


def test_handheld_models_do_not_call_hand_motion_vf(cinc2017_dir):
    """A00230 (CinC 2017, labelled normal): hand-motion swings the monitor models call VF.
    The handheld models were fitted on CinC, this recording included: a check that the
    bundled pair is the one fitted so, not a measure of accuracy (README: out of fold)."""
    rec = read_record(cinc2017_dir / "A00230")
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    assert vf_episodes(x, fs) != []
    assert vf_episodes(x, fs, config=VentricularConfig(models="handheld")) == []


def test_config_rules():
    with pytest.raises(ConfigError, match="onset_k"):
        VentricularConfig(onset_k=5, onset_n=3)
    with pytest.raises(ConfigError, match="window_s"):
        VentricularConfig(window_s=1.0)
    with pytest.raises(ConfigError, match="p_shockable"):
        VentricularConfig(p_shockable=1.5)
    with pytest.raises(ConfigError, match="offset_windows"):
        VentricularConfig(offset_windows=0)
    with pytest.raises(ConfigError, match="screen"):
        VentricularConfig(screen="yes")
    with pytest.raises(ConfigError, match="organised_veto"):
        VentricularConfig(organised_veto=1)
    with pytest.raises(ConfigError, match="organised_min_beats"):
        VentricularConfig(organised_min_beats=1)
    with pytest.raises(ConfigError, match="organised_min_rr_s"):
        VentricularConfig(organised_min_rr_s=1.5, organised_max_rr_s=0.4)
    with pytest.raises(ConfigError, match="organised_max_rr_cv"):
        VentricularConfig(organised_max_rr_cv=-0.1)
    with pytest.raises(ConfigError, match="organised_min_corr"):
        VentricularConfig(organised_min_corr=1.5)


def test_model_file_is_checked(tmp_path):
    m = load_vf_model()
    assert m.kind == "vf_window" and m.classes == ("other", "shockable")
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "ecg-edge-rhythm-trees", "version": 1, "kind": "af_window"}')
    with pytest.raises(ModelError, match="kind"):
        load_vf_model(bad)
    from edge.rhythm.model import default_model_path, load_tree_model
    with pytest.raises(ModelError, match="other features"):
        VfDetector(model=load_tree_model(default_model_path("af_window")))


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0])
def test_synthetic_vf_after_sinus_is_one_episode_at_any_rate(fs):
    x = np.concatenate([synthetic_ecg(40, fs), synthetic_vf(30, fs), synthetic_ecg(30, fs)])
    eps = vf_episodes(x, fs)
    assert len(eps) == 1
    start, end, _ = eps[0]
    assert 38 <= start / fs <= 44 and 66 <= end / fs <= 74


def test_organised_rhythms_raise_nothing():
    fs = 360.0
    for rate in (50.0, 75.0, 140.0):
        assert vf_episodes(synthetic_ecg(60, fs, rate_bpm=rate), fs) == []


@pytest.mark.parametrize("models", ["monitor", "handheld"])
def test_real_cudb_excerpt_onset_and_latency(models):
    rec = read_record(EXCERPT)
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector(VentricularConfig(models=models))
    changes = []
    for i in range(0, x.size, 250):
        changes += det.process(pre.process(x[i:i + 250])).changes
    onsets = [c for c in changes if c.state == "onset"]
    assert len(onsets) == 1 and det.in_vf
    alarm_s = onsets[0].alarm_index / 360.0
    assert VF_ONSET_S < alarm_s <= VF_ONSET_S + 8  # raised within 8 s of the reference onset
    assert abs(onsets[0].sample_index / 360.0 - VF_ONSET_S) < 4
    assert onsets[0].evidence["dom_freq_hz"] > 2


@pytest.mark.parametrize("chunk", [1, 7, 250, None, "mixed"])
def test_chunk_invariance(chunk):
    rec = read_record(EXCERPT)
    x = rec.signal_mv[:, 0][:250 * 45]  # 45 s: onset inside
    fs = rec.fs_hz

    def run(step):
        pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
        det = VfDetector()
        wins, changes = [], []
        if step == "mixed":  # small, large (past the window buffer), then small again
            sizes = [3, 1, 2000, 7, 4000, 1, 250] * 100
        else:
            sizes = [step or x.size] * x.size
        bounds = np.minimum(np.cumsum([0] + sizes), x.size)
        for a, b in zip(bounds[:-1], bounds[1:]):
            if a == b:
                break
            out = det.process(pre.process(x[a:b]))
            wins += out.windows
            changes += out.changes
        out = det.process(pre.flush())
        return wins + out.windows, changes + out.changes + det.end()

    ref_w, ref_c = run(None)
    w, c = run(chunk)
    assert [a.end_index for a in w] == [a.end_index for a in ref_w]
    np.testing.assert_array_equal([a.p for a in w], [a.p for a in ref_w])
    assert repr(c) == repr(ref_c)  # NaN-safe equality of every field
    assert any(ch.state == "onset" for ch in c)


def test_unanalysed_windows_and_stream_breaks():
    fs = 360.0
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector()
    x = synthetic_vf(20, fs)
    x[: int(10 * fs)] = 0.0  # flat: invalid
    out = det.process(pre.process(x))
    assert np.isnan(out.windows[0].p) and det.windows.n_unanalysed >= 5
    chunk = pre.process(x[:100])
    from edge.dsp.preprocess import Conditioned
    with pytest.raises(SignalError, match="expected"):
        det.process(Conditioned(chunk.sample_index + 5, chunk.filtered_mv, chunk.valid))


def test_decide_replays_scored_windows_into_the_same_episodes():
    """The episode logic alone (what training and the benchmark replay cached windows
    through) gives process()'s changes."""
    rec = read_record(EXCERPT)
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector()
    out = det.process(pre.process(x))
    assert any(c.state == "onset" for c in out.changes)
    again = VfDetector(model=det.model)
    replayed = [c for c in (again.decide(w) for w in out.windows) if c is not None]
    assert repr(replayed) == repr(out.changes)


def test_slow_regular_wide_complex_rhythm_is_not_vf():
    """A regular 120-bpm rhythm of wide (~250 ms) complexes (like CUDB cu03's non-shockable
    stretch, which the 14-feature model took for VF; it raised a VFL episode on this signal)
    raises nothing."""
    fs = 250.0
    t = np.arange(int(60 * fs)) / fs
    x = np.zeros(t.size)
    for c in np.arange(0.3, 60, 0.5):
        x += 1.0 * np.exp(-0.5 * ((t - c) / 0.06) ** 2) - 0.4 * np.exp(
            -0.5 * ((t - c - 0.12) / 0.04) ** 2)
    assert vf_episodes(x + 0.01 * np.random.default_rng(0).standard_normal(t.size), fs) == []


def _windows_and_changes(x, fs, screen, step, **config):
    """Windows, changes (end of stream included) and the detector of ``x`` fed ``step``
    samples at a time (``config``: more :class:`VentricularConfig` fields)."""
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector(VentricularConfig(screen=screen, **config))
    wins, changes = [], []
    for i in range(0, x.size, step):
        out = det.process(pre.process(x[i:i + step]))
        wins += out.windows
        changes += out.changes
    out = det.process(pre.flush())
    return wins + out.windows, changes + out.changes + det.end(), det


@pytest.mark.parametrize("step", [250, 2500])
def test_screening_changes_no_episode_and_no_computed_p(step):
    """Screened windows (the bound over the cheaper features rules P >= p_shockable out) have
    no P; every other window has the unscreened P and features, the episodes are the same
    (the window that ends one is never screened), and organised rhythm is mostly screened."""
    rec = read_record(EXCERPT)
    fs = rec.fs_hz
    x = np.concatenate([synthetic_ecg(40, fs), rec.signal_mv[:, 0], synthetic_ecg(30, fs)])
    w0, c0, d0 = _windows_and_changes(x, fs, False, step)
    w1, c1, d1 = _windows_and_changes(x, fs, True, step)
    assert repr(c1) == repr(c0) and [c.state for c in c1] == ["onset", "end"]
    assert d0.n_screened == 0 and d1.n_screened > 40
    assert [w.end_index for w in w1] == [w.end_index for w in w0]
    screened = 0
    for a, b in zip(w0, w1):
        if np.isnan(b.p) and np.isfinite(b.p_max):
            screened += 1
            assert a.p < d1.config.p_shockable and a.p <= b.p_max + 1e-12
            known = np.isfinite(b.features)
            np.testing.assert_array_equal(b.features[known], a.features[known])
        else:
            assert np.isnan(b.p_max)
            np.testing.assert_array_equal([b.p], [a.p])
            np.testing.assert_array_equal(b.features, a.features)
    assert screened == d1.n_screened
    end = c1[-1]
    closing = next(w for w in w1 if w.end_index == end.alarm_index)
    assert np.isfinite(closing.p) and closing.p == end.p  # reported exactly


@pytest.mark.parametrize("p_shockable", [0.0, 0.3, 0.999999, 1.0])
def test_screening_holds_at_any_threshold(p_shockable):
    """The screen compares the bound in P (the model's own logistic), so extreme thresholds
    (every window shockable, or only a saturated P) give the unscreened episodes too."""
    rec = read_record(EXCERPT)
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    runs = []
    for screen in (False, True):
        pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
        det = VfDetector(VentricularConfig(p_shockable=p_shockable, screen=screen))
        out = det.process(pre.process(x))
        runs.append((repr(out.changes + det.end()), [w.p >= p_shockable for w in out.windows]))
    assert runs[0] == runs[1]


# -- organised-rhythm veto ------------------------------------------------------------------

def _beat_rows(fs, r_s, shapes=None, n_s=4.0):
    """One window of n_s seconds with Gaussian QRS at times r_s (s); its end index is
    10_000 + n samples. Returns (ends, rows, beat indices)."""
    n = int(n_s * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    for k, c in enumerate(r_s):
        w = 0.012 if shapes is None else shapes[k]
        x += np.exp(-0.5 * ((t - c) / w) ** 2)
    end = 10_000 + n
    return np.array([end]), x[None, :], (end - n + np.round(np.asarray(r_s) * fs)).astype(
        np.int64)


@pytest.mark.parametrize("case, expected", [
    ("regular 75 bpm", True), ("two beats", False), ("irregular", False),
    ("170 bpm", False), ("unlike QRS", False), ("decided too late", False)])
def test_organised_windows_rule(case, expected):
    fs, cfg = 360.0, VentricularConfig()
    times = {"regular 75 bpm": [0.3, 1.1, 1.9, 2.7, 3.5], "two beats": [1.0, 1.8],
             "irregular": [0.3, 0.9, 1.9, 2.4, 3.5], "170 bpm": list(np.arange(0.2, 3.8, 0.353)),
             "unlike QRS": [0.3, 1.1, 1.9, 2.7, 3.5],
             "decided too late": [0.3, 1.1, 1.9, 2.7, 3.5]}[case]
    shapes = [0.012, 0.012, 0.04, 0.012, 0.012] if case == "unlike QRS" else None
    ends, rows, r = _beat_rows(fs, times, shapes)
    lag = 100
    decided = r + 50
    if case == "decided too late":  # only the first two were decided by end - lag
        decided = np.where(np.arange(r.size) < 2, r, ends[0])
    got = organised_windows(ends, rows, r, decided, lag, cfg)
    assert got.tolist() == [expected]
    # beats within QRS_HALF_S of an edge are left out (their QRS is cut)
    if case == "regular 75 bpm":
        edge = np.array([ends[0] - rows.shape[1] + int(QRS_HALF_S * fs) - 1])
        assert organised_windows(ends, rows, edge, edge, lag, cfg).tolist() == [False]


def _organised_reference(ends, rows, beat_index, decided_at, lag, cfg):
    """organised_windows in numpy as first written (np.diff, .std(), .mean(), np.median)."""
    n_w, h = rows.shape[1], int(round(QRS_HALF_S * cfg.fs_hz))
    out = []
    for i, e in enumerate(ends.tolist()):
        keep = ((beat_index >= e - n_w + h) & (beat_index < e - h)
                & (decided_at <= e - lag))
        r = beat_index[keep]
        if r.size < cfg.organised_min_beats:
            out.append(False)
            continue
        rr = np.diff(r) / cfg.fs_hz
        if (rr.min() < cfg.organised_min_rr_s or rr.max() > cfg.organised_max_rr_s
                or rr.std() > cfg.organised_max_rr_cv * rr.mean()):
            out.append(False)
            continue
        qrs = rows[i][(r - (e - n_w))[:, None] + np.arange(-h, h + 1)]
        qrs = qrs - qrs.mean(axis=1, keepdims=True)
        med = np.median(qrs, axis=0)
        corr = (qrs @ med) / np.maximum(np.sqrt((qrs * qrs).sum(axis=1) * float(med @ med)),
                                        1e-12)
        out.append(bool(corr.min() >= cfg.organised_min_corr))
    return out


def test_organised_windows_equal_the_numpy_formulation_near_its_thresholds():
    """The veto checks a window's few intervals on Python floats in numpy's summation order
    and takes the median QRS by sorting: the same answers as the plain numpy formulation,
    here on 600 windows whose RR variation straddles the 0.1 CV limit and whose QRS shapes
    straddle the 0.9 correlation."""
    rng = np.random.default_rng(3)
    fs, cfg = 360.0, VentricularConfig()
    got, ref = [], []
    for k in range(600):
        rr = 0.8 * (1 + rng.normal(0, 0.1, 8))
        times = list(0.25 + np.cumsum(rr) - rr[0])
        shapes = list(0.012 * (1 + rng.uniform(0, 1.5 * (k % 3 == 0), len(times))))
        ends, rows, r = _beat_rows(fs, times, shapes)
        rows = rows + rng.normal(0, 0.02, rows.shape)
        got += organised_windows(ends, rows, r, r, 0, cfg).tolist()
        ref += _organised_reference(ends, rows, r, r, 0, cfg)
    assert got == ref
    assert 100 < sum(got) < 500  # both answers well represented


def test_veto_stops_organised_rhythm_not_vf():
    """At a threshold every sinus window passes (P >= 0.001), the model alone makes the
    whole stream one episode; with the detector's beats the sinus windows are vetoed and
    the episode is the VF alone. Without beats fed, nothing is vetoed."""
    fs = 250.0
    x = np.concatenate([synthetic_ecg(40, fs), synthetic_vf(30, fs), synthetic_ecg(30, fs)])
    low = VentricularConfig(p_shockable=0.001)
    (only,) = vf_episodes(x, fs, config=low)
    assert 38 * fs <= only[0] <= 42 * fs and 68 * fs <= only[1] <= 74 * fs
    (whole,) = vf_episodes(x, fs, config=VentricularConfig(p_shockable=0.001,
                                                           organised_veto=False))
    assert whole[0] <= 5 * fs and whole[1] >= 95 * fs
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector(low)  # no add_beats: the model alone
    out = det.process(pre.process(x))
    assert det.n_vetoed == 0 and not any(w.organised for w in out.windows)


def _veto_run(x, fs, sizes, screen=True):
    from edge.dsp.rpeak import DetectorConfig, RPeakDetector
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector(VentricularConfig(p_shockable=0.001, screen=screen))
    peaks = RPeakDetector(DetectorConfig(fs_hz=pre.config.fs_out_hz))
    wins, changes = [], []
    bounds = np.minimum(np.cumsum([0] + sizes), x.size)
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == b:
            break
        cond = pre.process(x[a:b])
        r = peaks.process(cond)
        det.add_beats(r, peaks.decided_at, lag_samples=peaks.decision_lag_samples)
        out = det.process(cond)
        wins += out.windows
        changes += out.changes
    cond = pre.flush()
    r = peaks.finish(cond)
    det.add_beats(r, peaks.decided_at, lag_samples=peaks.decision_lag_samples)
    out = det.process(cond)
    return wins + out.windows, changes + out.changes + det.end(), det


@pytest.mark.parametrize("sizes", ["small", "mixed"])
def test_veto_is_chunk_invariant(sizes):
    """The veto counts only beats decided by a window's end minus the detector's lag, so
    the windows' flags and the episodes do not depend on the chunking (screened or not)."""
    fs = 250.0
    x = np.concatenate([synthetic_ecg(30, fs), synthetic_vf(20, fs), synthetic_ecg(20, fs)])
    ref_w, ref_c, ref_d = _veto_run(x, fs, [x.size])
    assert ref_d.n_vetoed > 30
    plan = [7] * x.size if sizes == "small" else [3, 1, 2000, 7, 4000, 1, 250] * 100
    for screen in (True, False):
        w, c, _ = _veto_run(x, fs, plan, screen=screen)
        assert [a.organised for a in w] == [a.organised for a in ref_w]
        assert repr(c) == repr(ref_c)


def test_beats_held_for_the_veto_stay_bounded_while_windows_go_unanalysed():
    """Beats fed while no window can be analysed (here: every window has too few valid
    samples) are forgotten once no later window can hold them."""
    from edge.dsp.preprocess import Conditioned
    fs = 360.0
    det = VfDetector()
    n = int(fs)
    for k in range(600):  # 10 min, one beat a second, every sample invalid
        start = k * n
        det.add_beats(np.array([start + n // 2]), np.array([start + n // 2]), lag_samples=10)
        det.process(Conditioned(start, np.zeros(n), np.zeros(n, dtype=bool)))
    assert det.windows.n_unanalysed > 500
    assert len(det._beat_index) <= det.config.window_s + 2  # the next window's beats only


def test_add_beats_checks_its_input():
    det = VfDetector()
    with pytest.raises(SignalError, match="one length"):
        det.add_beats(np.array([1, 2]), np.array([1]), lag_samples=10)
    with pytest.raises(SignalError, match="increase"):
        det.add_beats(np.array([5, 3]), np.array([5, 5]), lag_samples=10)
    det.add_beats(np.array([100, 400]), np.array([120, 420]), lag_samples=10)
    with pytest.raises(SignalError, match="increase"):
        det.add_beats(np.array([400]), np.array([430]), lag_samples=10)


def _per_call(x, fs, sizes, **kw):
    """(windows, [changes of each call]) of one stream through VfDetector(**kw) with beats."""
    from edge.dsp.rpeak import DetectorConfig, RPeakDetector
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    det = VfDetector(**kw)
    peaks = RPeakDetector(DetectorConfig(fs_hz=pre.config.fs_out_hz))
    wins, calls, waiting = [], [], []
    bounds = np.minimum(np.cumsum([0] + sizes), x.size)
    for a, b in zip(bounds[:-1], bounds[1:]):
        if a == b:
            break
        cond = pre.process(x[a:b])
        det.add_beats(peaks.process(cond), peaks.decided_at,
                      lag_samples=peaks.decision_lag_samples)
        out = det.process(cond)
        wins += out.windows
        calls.append(repr(out.changes))
        waiting.append(det.windows.n_ready)
    out = det.score_waiting()
    wins += out.windows
    calls.append(repr(out.changes + det.end()))
    return wins, calls, waiting, det


@pytest.mark.parametrize("sizes", ["small", "mixed"])
def test_deferred_scoring_returns_each_change_in_the_same_call(sizes):
    """``defer``: windows that cannot change an episode wait and are scored in a batch with
    the next one that can; every change (date, P, evidence) leaves in the same call as when
    each window is scored as it completes, and every window is scored exactly once."""
    rec = read_record(EXCERPT)
    fs = rec.fs_hz
    x = np.concatenate([rec.signal_mv[:, 0], synthetic_ecg(30, fs)])  # onset, end, sinus
    plan = [9] * (x.size // 9 + 1) if sizes == "small" else [3, 1, 2000, 7, 4000, 1, 250] * 60
    ref_w, ref_calls, ref_wait, _ = _per_call(x, fs, plan)
    w, calls, waiting, det = _per_call(x, fs, plan, changes_only=True)
    assert calls == ref_calls
    assert "'onset'" in "".join(calls) and "'end'" in "".join(calls)
    assert [a.end_index for a in w] == [a.end_index for a in ref_w]
    np.testing.assert_array_equal([a.p for a in w], [a.p for a in ref_w])
    assert max(ref_wait) == 0 and max(waiting) >= 2  # windows did wait, and no longer
    assert max(waiting) <= 16  # than the bound
    assert det.n_vetoed_unscored > 10  # the sinus windows: vetoed before any feature


@pytest.mark.parametrize("p_shockable", [0.001, 0.65])
def test_windows_vetoed_first_are_not_scored_and_change_no_episode(p_shockable):
    """``changes_only``: every window's organised-rhythm veto is tested before its features;
    a vetoed window is not scored (NaN P and features, ``organised``), and the episodes --
    with a threshold so low that nearly every window would be shockable without the veto --
    leave in the same calls with the same dates, P and evidence."""
    fs = 250.0
    x = np.concatenate([synthetic_ecg(30, fs), synthetic_vf(20, fs), synthetic_ecg(30, fs)])
    cfg = VentricularConfig(p_shockable=p_shockable)
    plan = [3, 1, 2000, 7, 4000, 1, 250] * 60
    ref_w, ref_calls, _, ref = _per_call(x, fs, plan, config=cfg)
    w, calls, _, det = _per_call(x, fs, plan, config=cfg, changes_only=True)
    assert calls == ref_calls and "'onset'" in "".join(calls)
    assert [a.end_index for a in w] == [a.end_index for a in ref_w]
    unscored = [a for a in w if a.organised and np.isnan(a.p)]
    # (a vetoed window that closes an episode is scored all the same)
    assert len(unscored) > 20 and 0 <= det.n_vetoed_unscored - len(unscored) <= 2
    assert all(np.isnan(a.features).all() for a in unscored)
    if p_shockable < 0.01:  # without changes_only these were scored, shockable and vetoed
        assert ref.n_vetoed >= len(unscored) - 2


def test_deferred_windows_are_scored_at_the_end_of_the_stream():
    """A stream that ends inside an episode is closed at its last shockable window, also
    when the windows after it were still waiting."""
    rec = read_record(EXCERPT)
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    for changes_only in (False, True):
        pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
        det = VfDetector(changes_only=changes_only)
        changes = []
        for i in range(0, x.size, 100):
            changes += det.process(pre.process(x[i:i + 100])).changes
        changes += det.end()
        if not changes_only:
            ref = repr(changes)
    assert repr(changes) == ref and changes[-1].state == "end"


def test_next_change_end_follows_the_episode_rule():
    det = VfDetector(VentricularConfig(onset_k=3, onset_n=4, offset_windows=5), changes_only=True)
    assert det.next_change_end == 0  # nothing fed
    fs = det.config.fs_hz
    det.process(Preprocessor(PreprocessConfig(fs_in_hz=fs)).process(synthetic_ecg(2, fs)))
    step, first = det.windows.n_step, det.windows.next_window_end
    assert det.next_change_end == first + 2 * step  # three shockable windows needed
    det._recent.extend([(0, False), (1, True), (2, False)])
    assert det.next_change_end == first + step  # (F, T, F): two more make three of four
    det._recent.append((3, True))
    assert det.next_change_end == first  # (T, F, T): the next one can
    det._in_vf, det._below = True, 3
    assert det.next_change_end == first + step  # two more below end it
    assert VfDetector(changes_only=False).next_change_end == 0
