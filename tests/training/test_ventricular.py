"""training.ventricular: noisy copies by name, their SNR, and the window cache."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.rhythm.vfeatures import VF_FEATURE_NAMES
from training import ventricular as tv


def test_noise_variants_are_named_kind_and_snr():
    assert tv.parse_variant("clean") is None
    assert tv.parse_variant("em6") == ("em", 6.0)
    assert tv.parse_variant("ma12") == ("ma", 12.0)
    for bad in ("em", "xx6", "em6db", ""):
        with pytest.raises(ValueError, match="noise variant"):
            tv.parse_variant(bad)
    assert set(tv.SHIPPED_NOISE) <= set(tv.TRAIN_NOISE)


def test_held_out_records_are_refused():
    with pytest.raises(ValueError, match="held out"):
        tv.training_rows(["100"])  # DS2


@pytest.mark.parametrize("noise,snr", [("em", 6.0), ("ma", 12.0)])
def test_noisy_copy_is_at_its_snr(mitdb_dir, nstdb_dir, noise, snr):
    x, fs = tv.record_signal("101")
    x = x[: int(120 * fs)]
    y = tv.noisy_signal("101", x, fs, snr_db=snr, noise=noise)
    d = y - x
    from edge.io.records import read_annotations
    ann = read_annotations("101", "atr")
    pos = ann.sample_index[np.isin(ann.symbol, ["N"])]
    half = int(0.05 * fs)
    pos = pos[(pos > half) & (pos < x.size - half)]
    pp = np.median([np.ptp(x[i - half:i + half]) for i in pos[::10]])
    measured = 10 * np.log10(pp ** 2 / 8 / d.var())
    # the scale is set over the whole record's beats; a 2-min excerpt lies within 1.5 dB
    assert measured == pytest.approx(snr, abs=1.5)
    assert not np.array_equal(y, tv.noisy_signal("101", x, fs, snr_db=snr,
                                                 noise="em" if noise == "ma" else "ma"))


def test_window_cache_is_recomputed_when_the_features_change(mitdb_dir, private_cache):
    rw = tv.record_windows("101")
    assert rw.features.shape[1] == len(VF_FEATURE_NAMES)
    path = private_cache / "vf_mitdb_101_clean.npz"
    z = dict(np.load(path))
    np.savez(path, **{**z, "features": z["features"][:, :14], "names": z["names"][:14]})
    again = tv.record_windows("101")  # stale cache (another feature set): recomputed
    np.testing.assert_array_equal(again.features, rw.features)


@pytest.fixture
def cudb_dir():
    from pathlib import Path
    d = tv.cudb_dir()
    if not (Path(d) / "cu01.hea").is_file():
        pytest.skip(f"CUDB not found at {d} (set CUDB_DIR)")
    return d


def test_cross_validation_scores_out_of_fold_windows_and_episodes(cudb_dir, monkeypatch):
    monkeypatch.setattr(tv, "TRAIN_RECORDS", ("cu01", "cu02", "cu04", "cu05"))
    res = tv.cross_validate((), ("clean",), n_folds=2, errors=True)
    r = res["cudb clean"]
    assert 0.5 < r["window_se"] <= 1 and 0.5 < r["window_sp"] <= 1
    assert r["episode_se"] is not None and r["alarm_episodes"] >= 1
    assert r["latency_median_s"] is None or 0 <= r["latency_median_s"] < 60
    e = r["errors"]
    assert sum(e["false_kinds"].values()) == e["false_windows"] == sum(
        e["false_by_record"].values())
    assert set(e["false_by_record"]) <= {"cu01", "cu02", "cu04", "cu05"}
    assert all(0 < m <= n for m, n, _ in e["missed_by_record"].values())


def test_window_errors_sorts_false_windows_by_kind_and_counts_missed_ones():
    fs = 100.0
    ends = np.arange(400, 6001, 100)  # 4-s windows stepped 1 s over 60 s
    feats = np.zeros((ends.size, len(VF_FEATURE_NAMES)))
    feats[:, VF_FEATURE_NAMES.index("std_mv")] = 0.3
    feats[:, VF_FEATURE_NAMES.index("dom_freq_hz")] = 5.0
    rw = tv.RecordWindows("x", ends, feats, fs, 6000)
    ep = tv.Episodes(shockable=[(3000, 3800)], vt=[(500, 900)], n_samples=6000, fs_hz=fs)
    beats = np.concatenate([np.arange(1000, 1400, 100),  # 60 bpm at 10-13 s
                            np.arange(5200, 6000, 25)])  # 240 bpm from 52 s
    p = np.zeros(ends.size)
    at = {int(e): i for i, e in enumerate(ends)}
    for end_s in (8, 14, 20, 27, 57):  # vt, beats, no beats, near the onset, fast beats
        p[at[end_s * 100]] = 0.9
    inside = [at[e] for e in range(3400, 3801, 100)]  # windows entirely inside the episode
    p[inside[:3]] = 0.2  # missed
    p[inside[3]] = np.nan  # unanalysed
    p[inside[4:]] = 0.95
    e = tv.window_errors(rw, ep, p, 0.7, beats)
    assert e["false"] == 5
    assert e["false_kinds"] == {"vt": 1, "near_boundary": 1, "no_beats": 1, "fast_beats": 1,
                                "beats": 1}
    assert (e["shockable"], e["missed"], e["unanalysed"]) == (len(inside) - 1, 3, 1)
    assert e["missed_median"] == {"std_mv": 0.3, "dom_freq_hz": 5.0}
    # without reference beats every false window past the first two kinds is "beats"
    assert tv.window_errors(rw, ep, p, 0.7)["false_kinds"]["beats"] == 3


@pytest.mark.parametrize("argv", [["--errors"], ["--net-cv", "d"], ["--cinc-eval"],
                                  ["--save-folds", "d"]])
def test_cv_options_without_cv_are_refused_before_anything_is_trained(argv, capsys):
    with pytest.raises(SystemExit) as e:
        tv.main(argv)
    assert e.value.code == 2
    assert "need --cv" in capsys.readouterr().err


def test_net_cv_without_a_converted_network_cv_is_one_line(tmp_path):
    with pytest.raises(EdgeError, match="convert/vf_net.py --cv"):
        tv._net_oof(tmp_path, tv.folds(tv.TRAIN_RECORDS))


def test_alarm_durations_count_overlapping_alarms_once():
    """Two alarm kinds open at once (``vflutter`` and a ``v_run``) cover the reference once:
    duration Se and +P stay within 0..1 (it read 103 % before), while episodes are counted per
    alarm episode."""
    ref = [(100, 200)]
    alarms = [(90, 210, 95), (120, 180, 125), (300, 350, 305)]
    s = tv.score_alarm_episodes(ref, alarms, fs_hz=1.0, latency_from_s=0.0)
    assert (s["ref_s"], s["det_s"], s["overlap_s"]) == (100.0, 170.0, 100.0)
    assert (s["ref_found"], s["det"], s["det_true"]) == (1, 3, 2)
    assert s["latency_s"] == [0.0]


def test_cinc_recordings_are_named_not_shockable_and_dealt_into_the_strip_folds(
        cinc2017_dir, monkeypatch):
    monkeypatch.setenv("CINC2017_DIR", str(cinc2017_dir))
    assert tv.is_cinc("A00001") and tv.is_cinc("A08528")
    assert not any(tv.is_cinc(r) for r in ("cu01", "101", "A0001", "A0000x", "a00001"))
    names, f = tv.cinc_records()
    assert len(names) == f.size and set(f.tolist()) <= set(range(5))
    from training.rhythm import cinc_folds
    labels = np.loadtxt(cinc2017_dir / "REFERENCE.csv", dtype=str, delimiter=",")[:, 1]
    np.testing.assert_array_equal(f, cinc_folds(labels))  # the strip model's folds
    ep = tv.episodes(names[0])
    assert ep.shockable == [] and ep.vt == [] and ep.fs_hz == 300.0 and ep.n_samples > 0


def test_missing_cinc_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CINC2017_DIR", str(tmp_path))
    with pytest.raises(EdgeError, match="CINC2017_DIR"):
        tv.cinc_records()


def _fake_windows(record, variant="clean", noisy=False):  # noqa: ARG001
    """Windows of a record without reading it: CinC 10, the others 20 (VF from 12 s:
    ``_fake_episodes``)."""
    n = 10 if tv.is_cinc(record) else 20
    ends = np.arange(n, dtype=np.int64) * 100 + 400
    feats = np.random.default_rng(len(record) + len(variant)).normal(
        size=(n, len(VF_FEATURE_NAMES)))
    return tv.RecordWindows(record, ends, feats, 100.0, int(ends[-1]))


def _fake_episodes(record):
    if tv.is_cinc(record):
        return tv.Episodes([], [], 1300, 100.0)
    return tv.Episodes([(1200, 2300)], [], 2300, 100.0)


def test_cinc_rows_are_clean_only_every_step_th_and_weigh_their_share(monkeypatch):
    monkeypatch.setattr(tv, "record_windows", _fake_windows)
    monkeypatch.setattr(tv, "episodes", _fake_episodes)
    records = ["cu01", "A00001", "A00002"]
    x, y, g = tv.training_rows(records, noisy=("em6",))
    per = np.bincount(g, minlength=3)
    assert per[1] == per[2] == 10 // tv.CINC_STEP  # CinC: clean only, every step-th window
    assert per[0] == 2 * (9 + 9)  # cu01: clean + em6, 9 outside VF + 9 >= 75 % inside
    assert not y[g > 0].any()
    seen = {}

    def capture(x, y, *, seed, sample_weight, **params):  # noqa: ARG001
        seen["w"], seen["y"] = sample_weight, y
        return "model"

    monkeypatch.setattr(tv, "fit_trees", capture)
    for share in (0.25, 0.5):
        assert tv.fit_vf(records, noisy=("em6",), cinc_share=share) == "model"
        w, y = seen["w"], seen["y"]
        cinc = g > 0
        assert w[y == 1].sum() == pytest.approx(0.5 * w.sum())
        assert w[cinc].sum() == pytest.approx(share * 0.5 * w.sum())
    tv.fit_vf(["cu01"], noisy=("em6",))  # no CinC: classes balanced as before
    assert seen["w"][seen["y"] == 1].sum() == pytest.approx(0.5 * seen["w"].sum())
    with pytest.raises(ValueError, match="cinc_share"):
        tv.fit_vf(records, cinc_share=1.0)


def test_a_bad_cinc_share_is_refused_by_the_command(capsys):
    with pytest.raises(SystemExit) as e:
        tv.main(["--cinc-share", "1.5"])
    assert e.value.code == 2
    assert "--cinc-share" in capsys.readouterr().err


def test_cv_fold_models_are_cached_by_recipe(monkeypatch, private_cache):
    from pathlib import Path
    calls = []
    monkeypatch.setattr(tv, "fit_vf", lambda train, noisy, cinc_share: calls.append(1) or "m")
    monkeypatch.setattr(tv, "export_vf", lambda clf, path: Path(path).write_text("{}"))
    a = tv.cv_fold_model(["cu01", "cu02"], ("em6",), 0.0)
    b = tv.cv_fold_model(["cu02", "cu01"], ("em6",), 0.0)  # the same records: reused
    c = tv.cv_fold_model(["cu01", "cu02"], ("em6",), 0.25)  # another CinC share: refitted
    assert a == b != c and len(calls) == 2 and a.is_file()
    assert not list(private_cache.glob("*.tmp"))


@pytest.mark.parametrize("argv, words", [
    (["--out", "{afile}/vf.json"], ["--out", "is a file"]),
    (["--out", "{tmp}"], ["--out", "is a folder"]),
    (["--cv", "--save-folds", "{afile}"], ["--save-folds", "is not a directory"]),
])
def test_an_output_it_cannot_write_is_refused_before_fitting(tmp_path, argv, words, capsys):
    (tmp_path / "afile").write_text("x")
    argv = [a.format(afile=tmp_path / "afile", tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as exc:
        tv.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert all(w in err for w in words) and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--cv", "--cinc-share", "0.5"], ["--cinc-share", "0.5"]])
def test_a_damaged_cinc_folder_is_one_line_in_its_own_words(tmp_path, monkeypatch, capsys,
                                                             argv):
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\nA00002\n")
    monkeypatch.setenv("CINC2017_DIR", str(tmp_path))
    assert tv.main([*argv, "--out", str(tmp_path / "vf.json")]
                   if "--cv" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "REFERENCE.csv line 2" in err
    assert "not found" not in err  # a malformed file is not a missing one


def test_an_empty_cudb_names_its_variable_not_a_data_dir_option(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECG_EDGE_CACHE", str(tmp_path / "cache"))  # nothing cached: reads
    monkeypatch.setenv("CUDB_DIR", str(tmp_path))
    assert tv.main(["--out", str(tmp_path / "vf.json"), "--no-noise"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDB_DIR" in err and "--data-dir" not in err
