"""training.vf_net: the device's windows as inputs (cached), labels as the trees', held-out
records refused, and a network that learns a toy VF / sinus split."""
from __future__ import annotations

import numpy as np
import pytest

from edge.rhythm.vf_net import NET_LENGTH
from training import ventricular as tv
from training import vf_net as tn


def test_held_out_records_are_refused():
    with pytest.raises(ValueError, match="held out"):
        tn.training_set(["100"])  # DS2
    with pytest.raises(ValueError, match="held out"):
        tn.training_set(["102"])  # paced


def test_window_rows_are_the_device_windows_and_cached(mitdb_dir, private_cache):
    end_in, rows = tn.window_rows("101")
    rw = tv.record_windows("101")
    assert np.array_equal(end_in, rw.end_in)  # the trees' windows, one for one
    assert rows.shape == (end_in.size, NET_LENGTH)
    assert np.array_equal(np.isfinite(rows).all(axis=1), np.isfinite(rw.features).all(axis=1))
    assert (private_cache / "vfnet_rows_mitdb_101_clean.npz").is_file()
    again_end, again = tn.window_rows("101")  # from the cache: the same (float16) values
    assert np.array_equal(again_end, end_in) and np.array_equal(again, rows, equal_nan=True)


def test_training_set_labels_as_the_trees(mitdb_dir, nstdb_dir, private_cache):
    x, y = tn.training_set(["207"], variants=("clean",))  # DS1 with ventricular flutter
    end_in, rows = tn.window_rows("207")
    sh = tn._labels("207", end_in)
    assert y.sum() == np.count_nonzero(np.isfinite(rows).all(axis=1) & (sh >= 0.75))
    assert x.shape == (y.size, NET_LENGTH) and np.isfinite(x).all()
    assert 0 < y.sum() < y.size


def test_a_cinc_recording_gives_its_clean_windows_every_step_th_all_not_shockable(
        cinc2017_dir, monkeypatch, private_cache):
    monkeypatch.setenv("CINC2017_DIR", str(cinc2017_dir))
    x, y = tn.training_set(["A00001"], variants=("clean", "em6"))
    end_in, rows = tn.window_rows("A00001")
    ok = np.isfinite(rows).all(axis=1)
    assert y.size == np.count_nonzero(ok & (np.arange(ok.size) % tn.CINC_STEP == 0)) > 0
    assert not y.any() and x.shape == (y.size, NET_LENGTH)
    assert not list(private_cache.glob("vfnet_rows_cinc_A00001_em6*"))  # no noisy copy


def _toy(n, rng):
    t = np.arange(NET_LENGTH) / 90.0
    x = np.zeros((n, NET_LENGTH), np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    for i in range(n):
        if y[i]:
            x[i] = 0.5 * np.sin(2 * np.pi * rng.uniform(4, 6) * t + rng.uniform(0, 6))
        else:
            for c in np.arange(rng.uniform(0, 0.8), 4.0, 0.8):
                x[i] += np.exp(-0.5 * ((t - c) / 0.02) ** 2)
    return x + 0.02 * rng.standard_normal(x.shape).astype(np.float32), y


def test_network_learns_a_toy_split_and_predicts_nan_for_unanalysed_rows():
    pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    x, y = _toy(400, rng)
    model = tn.fit_net(x[:320], y[:320], epochs=4)
    rows = np.vstack([x[320:], np.full((1, NET_LENGTH), np.nan, np.float32)])
    p = tn.predict_float(model, rows)
    assert np.isnan(p[-1]) and np.isfinite(p[:-1]).all()
    assert np.mean((p[:-1] >= 0.5) == (y[320:] == 1)) >= 0.9


def test_a_damaged_cinc_folder_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "cinc").mkdir()
    (tmp_path / "cinc" / "REFERENCE.csv").write_text("A00001,N\nA00002\n")
    monkeypatch.setenv("CINC2017_DIR", str(tmp_path / "cinc"))
    assert tn.main(["--cv", str(tmp_path / "cv"), "--cinc", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "REFERENCE.csv line 2" in err


def test_an_empty_data_folder_names_its_variable_not_a_data_dir_option(tmp_path, monkeypatch,
                                                                        capsys):
    """The command has no --data-dir: the hint names the environment variable."""
    monkeypatch.setenv("ECG_EDGE_CACHE", str(tmp_path / "cache"))  # nothing cached: reads
    for env in ("CUDB_DIR", "MITDB_DIR", "NSTDB_DIR"):
        monkeypatch.setenv(env, str(tmp_path))
    assert tn.main(["--fit", str(tmp_path / "m.keras"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "_DIR" in err and "--data-dir" not in err
