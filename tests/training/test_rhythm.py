"""training.rhythm: the JSON export reproduces scikit-learn exactly, folds are stratified,
F1/challenge arithmetic, DS2 is never used for training, MIT-BIH rhythm intervals, per-beat
readable flags from the quality stage."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.rhythm.analyser import RhythmConfig
from edge.rhythm.model import load_tree_model
from training.rhythm import (
    beat_readable,
    cinc_folds,
    export_trees,
    f1_scores,
    fit_trees,
    mitdb_window_dataset,
    rhythm_intervals,
)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_export_reproduces_sklearn_probabilities(tmp_path, n_classes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 5))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int) * (n_classes - 2)
    y = np.minimum(y, n_classes - 1)
    clf = fit_trees(x, y, n_estimators=20, max_depth=3)
    names = tuple(f"f{i}" for i in range(5))
    classes = tuple(f"c{i}" for i in range(n_classes))
    doc = export_trees(clf, kind="strip", classes=classes, feature_names=names)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    model = load_tree_model(path, kind="strip", feature_names=names)
    xt = rng.standard_normal((200, 5)) * 2
    np.testing.assert_allclose(model.predict_proba(xt), clf.predict_proba(xt), atol=1e-9)


def test_folds_are_stratified():
    labels = np.array(["N"] * 50 + ["A"] * 10 + ["~"] * 5)
    fold = cinc_folds(labels, 5)
    for k in range(5):
        assert np.sum((fold == k) & (labels == "A")) == 2
        assert np.sum((fold == k) & (labels == "~")) == 1


def test_f1_and_challenge():
    truth = np.array(["N", "N", "A", "O", "~"])
    pred = np.array(["N", "A", "A", "O", "N"])
    f = f1_scores(truth, pred)
    assert f["N"] == pytest.approx(2 / 4) and f["A"] == pytest.approx(2 / 3)
    assert f["O"] == 1.0 and f["~"] == 0.0
    assert f["challenge"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)


def test_ds2_is_refused_for_training():
    with pytest.raises(ValueError, match="DS2"):
        mitdb_window_dataset(("201", "202"), RhythmConfig())


def test_rhythm_intervals_of_201(mitdb_dir):
    iv, n, fs = rhythm_intervals("201", mitdb_dir)
    assert fs == 360.0 and n == 650000
    assert iv[0] == (60, 136226)  # '(AFIB' then '(NOD'
    assert all(a < b for a, b in iv)


def test_balanced_weights_give_every_class_the_same_total():
    from training.rhythm import balanced_weights

    y = np.array([0] * 60 + [1] * 10 + [2] * 30)
    w = balanced_weights(y)
    totals = [w[y == c].sum() for c in (0, 1, 2)]
    np.testing.assert_allclose(totals, [y.size / 3] * 3)


def test_strip_dataset_rows_are_the_device_features(cinc2017_dir, tmp_path, monkeypatch):
    """Each training row is what ``classify_strip`` computes on the device (too-short strips
    flagged), and the cache returns the same rows."""
    from edge.dsp.detection import detect_signal
    from edge.io.records import read_record
    from edge.rhythm.strip import STRIP_FEATURE_NAMES, strip_features
    from training.rhythm import CincBeats, strip_dataset

    monkeypatch.setenv("ECG_EDGE_CACHE", str(tmp_path))
    names = ["A00001", "A00004", "A00034"]
    sigs = [read_record(cinc2017_dir / n) for n in names]
    beats = [detect_signal(np.nan_to_num(r.signal_mv[:, 0]), r.fs_hz) for r in sigs]
    beats[2] = beats[2][:4]  # too few beats: no features
    cinc = CincBeats(np.array(names), np.array(["N", "A", "~"]),
                     np.array([r.signal_mv.shape[0] / r.fs_hz for r in sigs]),
                     np.array([r.fs_hz for r in sigs]),
                     np.cumsum([0] + [b.size for b in beats]), np.concatenate(beats))
    x, y, ok = strip_dataset(cinc, cinc2017_dir)
    assert x.shape == (3, len(STRIP_FEATURE_NAMES)) and list(y) == [0, 1, 3]
    assert list(ok) == [True, True, False]
    for i in (0, 1):
        np.testing.assert_array_equal(x[i], strip_features(sigs[i].signal_mv[:, 0],
                                                           sigs[i].fs_hz, beats[i]))
    x2, _, ok2 = strip_dataset(cinc, cinc2017_dir)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(ok2, ok)
    assert list(tmp_path.glob("rhythm_cinc_strip_*.npz"))


def test_beat_readable_marks_the_intervals_in_bad_signal(mitdb_dir):
    """MIT-BIH 100 (DS1), first minute, with strong 60-Hz-band noise from 20 to 40 s: the
    intervals ending in (or overlapping) the noise are unreadable, those well clear of it
    readable -- what the daemon's ``clean`` flag says of the same signal."""
    from edge.io.records import read_annotations, read_record

    fs = 360.0
    rec = read_record("100", data_dir=mitdb_dir, sampto=int(60 * fs))
    x = rec.signal_mv[:, 0].copy()
    rng = np.random.default_rng(0)
    x[int(20 * fs):int(40 * fs)] += 0.5 * rng.standard_normal(int(20 * fs))
    ann = read_annotations("100", "atr", data_dir=mitdb_dir, sampto=int(60 * fs))
    beats = ann.sample_index[np.isin(ann.symbol, ["N", "A", "V"])]
    ok = beat_readable(x, fs, beats)
    t = beats / fs
    assert ok.dtype == bool and ok.shape == beats.shape
    assert not ok[(t > 21) & (t < 39)].any()
    assert ok[(t < 17) | (t > 44)].all()
    assert beat_readable(rec.signal_mv[:, 0], fs, beats).all()
    assert beat_readable(x, fs, beats[:0]).size == 0


@pytest.mark.parametrize("content, words", [
    (None, "REFERENCE.csv not found"), ("A00001,N\nXYZ\n", "line 2: expected 'name,label'"),
    ("A00001,Q\n", "line 1: expected"), ("", "lists no recordings")])
def test_a_damaged_cinc_folder_is_one_line(tmp_path, monkeypatch, capsys, content, words):
    """Session 44 audit: an empty CINC2017_DIR, a file, or a malformed REFERENCE.csv line gave
    tracebacks, and --folds 0 printed a CV score of 0.0 with exit 0."""
    from training.rhythm import main

    if content is not None:
        (tmp_path / "REFERENCE.csv").write_text(content)
    monkeypatch.setenv("CINC2017_DIR", str(tmp_path))
    assert main(["--no-export"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    monkeypatch.setenv("CINC2017_DIR", str(tmp_path / "REFERENCE.csv"))
    if content is not None:
        assert main(["--no-export"]) == 2
        assert "is not a folder" in capsys.readouterr().err
    for bad in ("0", "1", "-2"):
        with pytest.raises(SystemExit) as exc:
            main(["--no-export", "--folds", bad])
        assert exc.value.code == 2 and "--folds: must be 2-20" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--out-dir", "{afile}/models"], ["--out-dir", "is a file"]),
    (["--folds", "1"], ["--folds", "must be 2-20"]),
    (["--af-only", "--no-export"], ["--af-only"]),
])
def test_bad_arguments_are_refused_before_any_fitting(tmp_path, capsys, argv, words):
    """Refused by the parser (exit 2, one line) before a CinC recording is read; the models
    go to ``--out-dir`` rather than the bundled files when it is given."""
    from training.rhythm import main

    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(SystemExit) as exc:
        main([a.format(afile=afile) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err


def test_models_are_written_into_out_dir_when_given(tmp_path):
    from edge.rhythm.model import default_model_path
    from training.rhythm import _model_path

    assert _model_path("strip", None) == Path(default_model_path("strip"))
    assert _model_path("af_window", str(tmp_path)) == (
        tmp_path / Path(default_model_path("af_window")).name)
