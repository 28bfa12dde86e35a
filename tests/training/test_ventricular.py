"""training.ventricular: noisy copies by name, their SNR, and the window cache."""
from __future__ import annotations

import numpy as np
import pytest

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
    res = tv.cross_validate((), ("clean",), n_folds=2)
    r = res["cudb clean"]
    assert 0.5 < r["window_se"] <= 1 and 0.5 < r["window_sp"] <= 1
    assert r["episode_se"] is not None and r["alarm_episodes"] >= 1
    assert r["latency_median_s"] is None or 0 <= r["latency_median_s"] < 60
