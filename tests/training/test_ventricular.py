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


@pytest.mark.parametrize("argv", [["--errors"], ["--net-cv", "d"]])
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
