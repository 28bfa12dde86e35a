"""Streaming rhythm analyser: config rules, synthetic regular/irregular RR, hysteresis and
minimum episode length, chunk invariance, unreadable stretches (the NOISE rhythm), a real AF
excerpt of MIT-BIH 201 (DS1)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge.errors import ConfigError, ModelError, SignalError
from edge.rhythm.analyser import (
    RHYTHM_AF,
    RHYTHM_NOISE,
    RHYTHM_OTHER,
    RhythmAnalyser,
    RhythmConfig,
    analyse_beats,
)
from edge.rhythm.features import FEATURE_NAMES

FS = 250.0


def _beats(rr_s: np.ndarray, fs: float = FS) -> np.ndarray:
    return np.r_[0, np.cumsum(np.round(np.asarray(rr_s) * fs))].astype(np.int64) + 100


def _sinus(rng, n, mean=0.8):
    return mean + 0.01 * rng.standard_normal(n) + 0.02 * np.sin(np.arange(n) / 4)


def _af(rng, n):
    return rng.uniform(0.4, 1.1, n)


@pytest.mark.parametrize("kw, field", [
    ({"window_beats": 4}, "window_beats"),
    ({"window_beats": 40.0}, "window_beats"),
    ({"min_window_beats": 50}, "min_window_beats"),
    ({"min_rr_s": 2.0, "max_rr_s": 1.0}, "min_rr_s"),
    ({"p_onset": 1.0}, "p_onset"),
    ({"p_offset": 0.7, "p_onset": 0.6}, "p_offset"),
    ({"onset_beats": 0}, "onset_beats"),
    ({"min_episode_s": -1.0}, "min_episode_s"),
    ({"offset_s": float("nan")}, "offset_s"),
    ({"lag_beats": 41}, "lag_beats"),
    ({"noise_s": 0.0}, "noise_s"),
    ({"noise_s": float("nan")}, "noise_s"),
    ({"noise_s": "10"}, "noise_s"),
    ({"min_pattern_ratio": 1.5}, "min_pattern_ratio"),
    ({"min_pattern_ratio": -0.1}, "min_pattern_ratio"),
])
def test_config_rules_name_the_field(kw, field):
    with pytest.raises(ConfigError) as info:
        RhythmConfig(**kw)
    assert info.value.field == field


def test_regular_rhythm_has_no_af(rng):
    res = analyse_beats(_beats(_sinus(rng, 400)), FS)
    assert [c.rhythm for c in res.changes] == [RHYTHM_OTHER]
    assert np.nanmax(res.p_af) < 0.5 and set(res.rhythm) == {RHYTHM_OTHER}


def test_irregular_stretch_is_one_af_episode(rng):
    rr = np.r_[_sinus(rng, 150), _af(rng, 200), _sinus(rng, 150)]
    idx = _beats(rr)
    res = analyse_beats(idx, FS)
    assert [c.rhythm for c in res.changes] == [RHYTHM_OTHER, RHYTHM_AF, RHYTHM_OTHER]
    on, off = res.changes[1].sample_index, res.changes[2].sample_index
    # dated within a window of the true change
    assert abs(on - idx[150]) < 45 * 0.8 * FS and abs(off - idx[350]) < 45 * 0.8 * FS
    assert res.changes[1].p_af >= 0.6 and "nrmssd" in res.changes[1].evidence
    inside = (idx >= on) & (idx < off)
    assert np.all(res.rhythm[inside] == RHYTHM_AF) and np.all(res.rhythm[~inside] == RHYTHM_OTHER)


def test_any_model_with_predict_proba_serves(rng):
    """A model that is not a TreeModel (only ``predict_proba``, as the benchmark's logistic
    baseline) takes the array path and gives the bundled model's answers when it is it."""
    from edge.rhythm.analyser import load_af_model

    tree = load_af_model()

    class Plain:
        def predict_proba(self, rows):
            return tree.predict_proba(rows)

    idx = _beats(np.r_[_sinus(rng, 150), _af(rng, 200), _sinus(rng, 150)])
    want = analyse_beats(idx, FS)
    got = analyse_beats(idx, FS, model=Plain())
    np.testing.assert_array_equal(got.p_af, want.p_af)
    assert got.changes == want.changes


def test_short_af_run_is_no_episode(rng):
    rr = np.r_[_sinus(rng, 150), _af(rng, 60), _sinus(rng, 150)]  # ~45 s of AF
    long = analyse_beats(_beats(rr), FS, config=RhythmConfig(min_episode_s=120.0))
    assert [c.rhythm for c in long.changes] == [RHYTHM_OTHER]
    short = analyse_beats(_beats(rr), FS, config=RhythmConfig(min_episode_s=5.0))
    assert RHYTHM_AF in [c.rhythm for c in short.changes]


@pytest.mark.parametrize("size", [1, 7, 250, None])
def test_chunk_invariance(rng, size):
    rr = np.r_[_sinus(rng, 100), _af(rng, 150), 3.5, _af(rng, 50), _sinus(rng, 120)]
    idx = _beats(rr)
    labels = np.where(rng.random(idx.size) < 0.1, "V", "N")
    whole = RhythmAnalyser()
    p_all, ch_all = whole.process_beats(idx, FS, labels)
    part = RhythmAnalyser()
    ps, chs = [], []
    size = size or idx.size
    for i in range(0, idx.size, size):
        p, ch = part.process_beats(idx[i:i + size], FS, labels[i:i + size])
        ps.append(p)
        chs += ch
    np.testing.assert_array_equal(np.concatenate(ps), p_all)
    assert chs == ch_all and len(ch_all) >= 2
    assert part.n_window_restarts == whole.n_window_restarts == 1
    assert "ectopic_share" in ch_all[-1].evidence


@pytest.mark.parametrize("with_labels", [False, True])
def test_streaming_equals_batch_features(rng, with_labels):
    from edge.rhythm.features import beat_window_features

    idx = _beats(np.r_[_sinus(rng, 60), _af(rng, 60)])
    labels = rng.choice(np.array(["N", "S", "V", "F", "Q"]), idx.size,
                        p=[0.7, 0.1, 0.1, 0.05, 0.05]) if with_labels else None
    cfg = RhythmConfig()
    an = RhythmAnalyser(cfg)
    p, _ = an.process_beats(idx, FS, labels)
    f, v = beat_window_features(idx, FS, window_beats=cfg.window_beats,
                                min_window_beats=cfg.min_window_beats, min_rr_s=cfg.min_rr_s,
                                max_rr_s=cfg.max_rr_s, labels=labels)
    np.testing.assert_allclose(p[v], an.model.predict_proba(f[v])[:, 1])
    assert np.all(np.isnan(p[~v]))


def test_pvc_intervals_are_left_out(rng):
    """Sinus rhythm with a PVC (short coupling, compensatory pause) every third beat is
    irregular by its RR alone; told which beats are V, the analyser reads only the sinus
    intervals and finds no AF -- while AF with the same PVCs stays AF."""
    rr, lab = [], []
    for k in range(240):
        if k % 3 == 2:
            rr += [0.45, 1.15]
            lab += ["V", "N"]
        else:
            rr.append(0.8 + 0.01 * rng.standard_normal())
            lab.append("N")
    idx = _beats(np.array(rr))
    labels = np.array(["N", *lab])
    with_v = analyse_beats(idx, FS, labels)
    assert RHYTHM_AF not in set(with_v.rhythm)
    assert np.nanmax(with_v.p_af) < 0.5
    af = _beats(_af(rng, len(rr)))
    assert RHYTHM_AF in set(analyse_beats(af, FS, labels).rhythm)


def test_reset_forgets_everything(rng):
    idx = _beats(_af(rng, 120))
    an = RhythmAnalyser()
    first = an.process(idx, FS)
    an.reset()
    assert an.process(idx, FS) == first


@pytest.mark.parametrize("call, words", [
    (lambda a: a.process(np.array([5, 3]), FS), "strictly increasing"),
    (lambda a: a.process(np.array([1.5, 3.0]), FS), "integer"),
    (lambda a: a.process(np.array([1, 3]), 0.0), "fs_hz"),
    (lambda a: a.process(np.array([1, 3]), FS, np.array(["N"])), "labels"),
    (lambda a: a.process(np.array([1, 3]), FS, readable=np.array([True])), "readable"),
    (lambda a: a.process(np.array([1, 3]), FS, readable=np.array([1, 0])), "readable"),
])
def test_bad_beats_are_refused(call, words):
    with pytest.raises(SignalError, match=words):
        call(RhythmAnalyser())


def test_beats_going_back_across_calls_and_rate_change_are_refused():
    an = RhythmAnalyser()
    an.process(np.array([100, 300]), FS)
    with pytest.raises(SignalError, match="strictly increasing"):
        an.process(np.array([200]), FS)
    with pytest.raises(SignalError, match="fs_hz changed"):
        an.process(np.array([400]), 360.0)


def test_model_path_errors_name_the_file(tmp_path):
    bad = tmp_path / "af.json"
    bad.write_text(json.dumps({"format": "ecg-edge-rhythm-trees", "version": 1,
                               "kind": "af_window"}))
    with pytest.raises(ModelError) as info:
        RhythmAnalyser(RhythmConfig(model_path=str(bad)))
    assert str(info.value).startswith(str(bad)) and "\n" not in str(info.value)
    assert len(FEATURE_NAMES) > 10


def test_real_af_excerpt_mitdb_201(mitdb_dir):
    """MIT-BIH 201 (DS1): reference '+' (AFIB from sample 60 to 136226 (~6.3 min), then (NOD and
    (N. Reference beats of the first 12 minutes: the AF stretch is found, the rest is not AF."""
    from edge.io.records import read_annotations

    ann = read_annotations("201", "atr", data_dir=mitdb_dir, sampto=12 * 60 * 360)
    beat = np.array([s not in "+~|\"x[]!" for s in ann.symbol])
    idx = ann.sample_index[beat]
    res = analyse_beats(idx, 360.0, labels=ann.symbol[beat].astype(str))
    af = res.rhythm == RHYTHM_AF
    truth = idx < 136226
    assert af[truth].mean() > 0.8
    assert af[~truth].mean() < 0.2


def test_changes_name_the_beat_that_confirmed_them(rng):
    """process_indexed pairs each change with its beat: feeding that beat alone (after the
    ones before it) confirms the same change."""
    rr = np.r_[_sinus(rng, 100), _af(rng, 150), _sinus(rng, 120)]
    idx = _beats(rr)
    p, state, changes = RhythmAnalyser().process_indexed(idx, FS)
    assert len(changes) >= 3
    one = RhythmAnalyser()
    for i, s in enumerate(idx.tolist()):
        got = one.process(np.array([s]), FS)
        assert got == [c for k, c in changes if k == i]
        assert (one.rhythm or "") == state[i]


def _noisy_stretch(rng, n_before, n_noise, n_after, rhythm=_sinus):
    """Beats of ``rhythm`` with ``n_noise`` beats in the middle marked unreadable."""
    idx = _beats(np.r_[rhythm(rng, n_before), rhythm(rng, n_noise), rhythm(rng, n_after)])
    ok = np.ones(idx.size, dtype=bool)
    ok[n_before + 1:n_before + 1 + n_noise] = False
    return idx, ok


def test_unreadable_stretch_is_noise_then_judged_anew(rng):
    """20 unreadable intervals (~16 s >= noise_s 10 s) in sinus rhythm: N, NOISE dated at the
    beat before the first unreadable interval, N again dated at the first readable beat once
    a window of readable intervals is full; no P(AF) from a window spanning the noise."""
    idx, ok = _noisy_stretch(rng, 100, 20, 100)
    an = RhythmAnalyser()
    p, state, changes = an.process_indexed(idx, FS, readable=ok)
    assert [c.rhythm for _, c in changes] == [RHYTHM_OTHER, RHYTHM_NOISE, RHYTHM_OTHER]
    assert changes[1][1].sample_index == idx[100]
    assert changes[1][1].evidence["unreadable_s"] >= 10.0
    assert changes[2][1].sample_index == idx[120]
    assert changes[2][0] == 120 + RhythmConfig().min_window_beats  # first full window again
    assert np.all(np.isnan(p[101:120 + RhythmConfig().min_window_beats]))
    assert set(state[changes[1][0]:changes[2][0]]) == {RHYTHM_NOISE}
    assert an.n_unreadable == 20
    short = RhythmAnalyser().process_indexed(*_noisy_stretch(rng, 100, 8, 100)[:1], FS,
                                             readable=_noisy_stretch(rng, 100, 8, 100)[1])
    assert [c.rhythm for _, c in short[2]] == [RHYTHM_OTHER]  # ~6 s: no NOISE


def test_without_flags_the_noise_is_not_seen(rng):
    """The same beats without readable flags: no NOISE (the change needs the flags); with
    ``noise_s`` inf the flags only restart the window."""
    idx, ok = _noisy_stretch(rng, 100, 20, 100)
    assert [c.rhythm for c in analyse_beats(idx, FS).changes] == [RHYTHM_OTHER]
    never = analyse_beats(idx, FS, readable=ok, config=RhythmConfig(noise_s=float("inf")))
    assert [c.rhythm for c in never.changes] == [RHYTHM_OTHER]


def test_implausible_rr_stretch_is_noise(rng):
    """Noise detected as beats: 60 intervals of 0.18 s (< min_rr_s 0.2 s, ~11 s) are a NOISE
    stretch without any flags."""
    rr = np.r_[_sinus(rng, 100), np.full(60, 0.18), _sinus(rng, 100)]
    res = analyse_beats(_beats(rr), FS)
    assert [c.rhythm for c in res.changes] == [RHYTHM_OTHER, RHYTHM_NOISE, RHYTHM_OTHER]


def test_noise_ends_af_and_af_is_not_dated_back_into_it(rng):
    """AF, 25 unreadable intervals, AF again: the first AF episode ends at the NOISE change,
    the rhythm returns to N and AF is confirmed anew, dated no earlier than that N change."""
    idx, ok = _noisy_stretch(rng, 200, 25, 200, rhythm=_af)
    res = analyse_beats(idx, FS, readable=ok)
    names = [c.rhythm for c in res.changes]
    assert names == [RHYTHM_OTHER, RHYTHM_AF, RHYTHM_NOISE, RHYTHM_OTHER, RHYTHM_AF]
    assert res.changes[2].sample_index == idx[200]
    assert res.changes[4].sample_index >= res.changes[3].sample_index == idx[225]
    # without the flags the irregular RR runs through: one AF episode
    assert [c.rhythm for c in analyse_beats(idx, FS).changes] == [RHYTHM_OTHER, RHYTHM_AF]


@pytest.mark.parametrize("size", [1, 7, 250, None])
def test_chunk_invariance_with_readable_flags(rng, size):
    idx, ok = _noisy_stretch(rng, 200, 25, 200, rhythm=_af)
    ok[300:305] = False  # a short unreadable run inside the second AF stretch too
    labels = np.where(rng.random(idx.size) < 0.1, "V", "N")
    whole = RhythmAnalyser()
    p_all, s_all, ch_all = whole.process_indexed(idx, FS, labels, ok)
    part = RhythmAnalyser()
    ps, ss, chs = [], [], []
    size = size or idx.size
    for i in range(0, idx.size, size):
        p, st, ch = part.process_indexed(idx[i:i + size], FS, labels[i:i + size],
                                         ok[i:i + size])
        ps.append(p)
        ss.append(st)
        chs += [(k + i, c) for k, c in ch]
    np.testing.assert_array_equal(np.concatenate(ps), p_all)
    np.testing.assert_array_equal(np.concatenate(ss), s_all)
    assert chs == ch_all and RHYTHM_NOISE in [c.rhythm for _, c in ch_all]
    assert part.n_unreadable == whole.n_unreadable == 30


def test_ectopy_pattern_does_not_start_af(mitdb_dir):
    """MIT-BIH 208 (DS1: sinus rhythm with frequent PVCs, couplets and trigeminy), reference
    beats without their classes (as when the beat model misses the PVCs, so their intervals
    stay in the window): the window model alone reads ~20 min of it as AF; windows whose
    irregularity is a repeating pattern do not start AF (min_pattern_ratio), cutting it to
    at most 2 episodes and under 8 min. Real AF (the irregular stretch) still starts."""
    from edge.io.records import read_annotations

    ann = read_annotations("208", "atr", data_dir=mitdb_dir)
    idx = ann.sample_index[np.isin(ann.symbol, list("NLRejAaJSVFE/fQ"))]

    def af(cfg):
        res = analyse_beats(idx, 360.0, config=cfg)
        ep = [(a.sample_index, b.sample_index if b else int(idx[-1]))
              for a, b in zip(res.changes, res.changes[1:] + [None]) if a.rhythm == RHYTHM_AF]
        return len(ep), sum(e - s for s, e in ep) / 360.0

    n_off, s_off = af(RhythmConfig(min_pattern_ratio=0.0))
    n_on, s_on = af(RhythmConfig())
    assert s_off > 1000.0 and n_off >= 5
    assert s_on < 480.0 and n_on <= 2


def test_a_beat_adding_no_interval_keeps_its_windows_numbers(rng):
    """A ventricular beat and the beat after it add no interval: their window is the beat
    before's, and so are P(AF) and the pattern -- fed one beat a call or all at once."""
    idx = _beats(np.r_[_sinus(rng, 30), _af(rng, 60)])
    labels = np.full(idx.size, "N")
    labels[[20, 45, 46, 70]] = "V"
    whole = RhythmAnalyser()
    p_all, _ = whole.process_beats(idx, FS, labels)
    one = RhythmAnalyser()
    p_one = np.concatenate([one.process_beats(idx[i:i + 1], FS, labels[i:i + 1])[0]
                            for i in range(idx.size)])
    np.testing.assert_array_equal(p_one, p_all)
    for v in (20, 45, 70):
        assert p_all[v] == p_all[v - 1] and p_all[v + 1] == p_all[v - 1]
    assert p_all[47] == p_all[44] and len(set(p_all[21:45].tolist())) > 5


def test_python_window_path_is_probed_and_numpy_takes_over_on_a_mismatch(rng, monkeypatch,
                                                                          caplog):
    """The plain-Python window path is used only where it gives numpy's bits (probed once);
    a platform where it would not falls back to numpy with one warning, with the same P,
    states and changes beat by beat."""
    import edge.rhythm.analyser as analyser
    import edge.rhythm.features as features

    assert features.python_rows_exact()  # this platform: the probe passes
    rr = np.r_[_sinus(rng, 80), _af(rng, 120), _sinus(rng, 60)]
    idx = _beats(rr)
    exact_row = features.rr_window_row
    python_calls = []

    def counted_row(rr_s, sampen=None):
        python_calls.append(1)
        return exact_row(rr_s, sampen)

    monkeypatch.setattr(analyser, "rr_window_row", counted_row)

    def one_by_one():
        an = RhythmAnalyser()
        out = [an.process_beats(idx[i:i + 1], FS) for i in range(idx.size)]
        return np.concatenate([p for p, _ in out]), [c for _, ch in out for c in ch]

    p_py, ch_py = one_by_one()
    assert len(python_calls) > 200  # one beat per call: the Python path
    python_calls.clear()

    def drifting_row(rr_s, sampen=None):  # a numpy that sums in another order
        row, ratio = exact_row(rr_s, sampen)
        return [row[0] * (1 + 2 ** -52)] + row[1:], ratio

    monkeypatch.setattr(features, "rr_window_row", drifting_row)
    monkeypatch.setattr(features, "_PY_EXACT", None)
    with caplog.at_level("WARNING", logger="edge.rhythm.features"):
        assert not features.python_rows_exact()
        assert not features.python_rows_exact()  # probed once, warned once
    assert sum("plain-Python window path" in r.message for r in caplog.records) == 1
    p_np, ch_np = one_by_one()
    assert not python_calls  # numpy computed every window
    np.testing.assert_array_equal(p_np, p_py)
    assert ch_np == ch_py and any(c.rhythm == RHYTHM_AF for c in ch_np)


def _bits(p) -> list[int]:
    """The float64 bits of P(AF) values (NaN compares equal to NaN)."""
    return np.asarray(p, dtype=np.float64).view(np.int64).tolist()


def _record_beats(mitdb_dir, record="201"):
    """A real record's reference beats (classes N/S/V/F as the beat model calls them) and
    readable flags with unreadable beats sprinkled in and one long unreadable stretch."""
    from edge.io.records import read_annotations

    ann = read_annotations(record, "atr", data_dir=mitdb_dir, sampto=15 * 60 * 360)
    keep = np.isin(ann.symbol, list("NLRAaJSVFejE/fQ"))
    idx = ann.sample_index[keep].tolist()
    cls = {"V": "V", "F": "F", "A": "S", "a": "S", "J": "S", "S": "S"}
    labels = [cls.get(s, "N") for s in ann.symbol[keep].tolist()]
    ok = [i % 61 != 17 for i in range(len(idx))]
    ok[400:425] = [False] * 25
    return idx, labels, ok


@pytest.mark.parametrize("size", [1, 3, None])
def test_process_list_is_process_indexed_on_lists(mitdb_dir, size):
    """The plain-list path (a daemon's one or few beats per call) gives process_indexed's
    P(AF) to the bit, its rhythms and its changes (with the confirming beats), fed alike."""
    idx, labels, ok = _record_beats(mitdb_dir)
    size = size or len(idx)
    arrays, lists = RhythmAnalyser(), RhythmAnalyser()
    rhythms = set()
    for i in range(0, len(idx), size):
        sl = slice(i, i + size)
        p, states, changes = arrays.process_indexed(np.array(idx[sl], dtype=np.int64), 360.0,
                                                    np.array(labels[sl]), np.array(ok[sl]))
        assert RhythmAnalyser.plain_lists(idx[sl], labels[sl], ok[sl])
        p_l, states_l, changes_l = lists.process_list(idx[sl], 360.0, labels[sl], ok[sl])
        assert type(p_l) is list and type(states_l) is list
        assert _bits(p_l) == _bits(p)
        assert states_l == states.tolist() and changes_l == changes
        rhythms.update(c.rhythm for _, c in changes_l)
    assert rhythms == {RHYTHM_AF, RHYTHM_OTHER, RHYTHM_NOISE}
    assert arrays.n_beats == lists.n_beats and arrays.rhythm == lists.rhythm
    assert arrays.n_unreadable == lists.n_unreadable > 25
    p, _, _ = RhythmAnalyser().process_indexed(np.array(idx), 360.0)  # no labels, no flags
    an = RhythmAnalyser()
    p_l = [x for i in range(len(idx)) for x in an.process_list(idx[i:i + 1], 360.0)[0]]
    assert _bits(p_l) == _bits(p)


def test_plain_lists_takes_only_what_numpy_would_read_alike():
    ok = RhythmAnalyser.plain_lists
    assert ok([1, 2], ["N", "V"], [True, False]) and ok([5]) and ok([5], None, [True])
    assert not ok([]) and not ok((1, 2)) and not ok(np.array([1, 2]))
    assert not ok([np.int64(1)]) and not ok([1.0]) and not ok([True]) and not ok([2 ** 63])
    assert not ok([1, 2], ["N"]) and not ok([1], [np.str_("N")]) and not ok([1], ["N\0"])
    assert not ok([1], None, [1]) and not ok([1], None, [np.True_]) and not ok([1], None, [])


@pytest.mark.parametrize("call", [
    lambda a, f: f(a)([5, 3], FS),
    lambda a, f: f(a)([1.5, 3.0], FS),
    lambda a, f: f(a)([1, 3], 0.0),
    lambda a, f: f(a)([1, 3], float("nan")),
    lambda a, f: f(a)([1, 3], FS, ["N"]),
    lambda a, f: f(a)([1, 3], FS, readable=[True]),
    lambda a, f: f(a)([1, 3], FS, readable=[1, 0]),
    lambda a, f: (f(a)([100, 300], FS), f(a)([200], FS)),
    lambda a, f: (f(a)([100, 300], FS), f(a)([300], FS)),
    lambda a, f: (f(a)([100, 300], FS), f(a)([400], 360.0)),
    lambda a, f: (f(a)([100, 300], FS), f(a)([400, 500, 450], FS)),
])
def test_process_list_refuses_what_process_indexed_refuses(call):
    """Bad beats raise the same SignalError on lists as on arrays, and leave the state as
    it was (a later good call gives the same numbers)."""
    def on_arrays(a):
        return lambda i, fs, lab=None, readable=None: a.process_indexed(
            np.asarray(i), fs, None if lab is None else np.asarray(lab),
            None if readable is None else np.asarray(readable))

    def on_lists(a):
        return a.process_list

    arrays, lists = RhythmAnalyser(), RhythmAnalyser()
    with pytest.raises(SignalError) as want:
        call(arrays, on_arrays)
    with pytest.raises(SignalError) as got:
        call(lists, on_lists)
    assert str(got.value) == str(want.value)
    assert lists.n_beats == arrays.n_beats
    more = list(range(10_000, 10_000 + 30 * 200, 200))
    p, _, _ = arrays.process_indexed(np.array(more), FS)
    assert _bits(lists.process_list(more, FS)[0]) == _bits(p)


def test_process_list_of_other_element_types_goes_through_numpy():
    """numpy scalars in the lists: the array path's numbers (np.asarray of them)."""
    idx = _beats(np.r_[[0.8] * 20, np.linspace(0.5, 1.0, 20)])
    a, b = RhythmAnalyser(), RhythmAnalyser()
    p_l, states_l, _ = a.process_list(list(idx), FS, [np.str_("N")] * idx.size)
    p, states, _ = b.process_indexed(idx, FS, np.array(["N"] * idx.size))
    assert _bits(p_l) == _bits(p) and states_l == states.tolist() and not np.isnan(p_l[-1])


def test_an_interval_that_may_hide_a_beat_is_skipped_not_a_restart(rng):
    """``known`` False (an interval across a bridged link gap in which a beat could be lost):
    the window goes on without it -- P(AF) afterwards is that of the same beats with the
    interval's end beat left out of the timing, no restart, no NOISE -- where a readable
    False at the same beats restarts the window (and a run of them is NOISE)."""
    rr = _af(rng, 300)
    idx = _beats(rr)
    known = np.ones(idx.size, dtype=bool)
    known[60::7] = False  # every 7th interval from beat 60 may hide a beat
    skipped = RhythmAnalyser()
    p, states, changes = skipped.process_indexed(idx, FS, known=known)
    assert skipped.n_unreadable == 0 and RHYTHM_NOISE not in states.tolist()
    assert [c.rhythm for _, c in changes] == [c.rhythm for c in analyse_beats(idx, FS).changes]
    assert changes[-1][1].rhythm == RHYTHM_AF
    # the window of the last beat holds the known intervals only, in order
    want = np.diff(idx)[known[1:]][-skipped.config.window_beats:] / FS
    np.testing.assert_allclose(list(skipped._rr), want)
    restarted = RhythmAnalyser()
    p_r, states_r, _ = restarted.process_indexed(idx, FS, readable=known)
    assert restarted.n_unreadable == int((~known).sum())
    assert np.isnan(p_r[60:]).mean() > 0.9  # windows never fill between the restarts
    assert not np.isnan(p[60:]).any()


@pytest.mark.parametrize("size", [1, 5, None])
def test_known_flags_are_chunk_invariant_and_alike_on_lists(rng, size):
    idx, ok = _noisy_stretch(rng, 150, 20, 150, rhythm=_af)
    known = rng.random(idx.size) > 0.2
    labels = np.where(rng.random(idx.size) < 0.1, "V", "N")
    whole = RhythmAnalyser()
    p_all, s_all, ch_all = whole.process_indexed(idx, FS, labels, ok, known)
    part = RhythmAnalyser()
    ps, ss, chs = [], [], []
    size = size or idx.size
    for i in range(0, idx.size, size):
        sl = slice(i, i + size)
        p, st, ch = part.process_list(idx[sl].tolist(), FS, labels[sl].tolist(),
                                      ok[sl].tolist(), known[sl].tolist())
        ps += p
        ss += st
        chs += [(k + i, c) for k, c in ch]
    assert _bits(ps) == _bits(p_all) and ss == s_all.tolist() and chs == ch_all


@pytest.mark.parametrize("known", [[True], [1, 0], np.array([True])])
def test_bad_known_flags_are_refused(known):
    with pytest.raises(SignalError, match="known"):
        RhythmAnalyser().process_indexed(np.array([1, 3]), FS, known=np.asarray(known))
    with pytest.raises(SignalError, match="known"):
        RhythmAnalyser().process_list([1, 3], FS, known=list(np.asarray(known).tolist()))
