"""training.train: a tiny end-to-end run (CLI) on two records, and the protocol guards."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge.errors import ConfigError
from training.train import TrainConfig, _class_weights, main, selection_score

pytest.importorskip("tensorflow")


def test_cli_trains_a_tiny_model_for_one_epoch(mitdb_dir, tmp_path):
    out = tmp_path / "run"
    rc = main(["--model", "cnn", "--out", str(out), "--records", "119", "--val-records", "101",
               "--epochs", "1", "--n-augment", "0", "--normal-per-epoch", "500", "--quiet",
               "--data-dir", str(mitdb_dir)])
    assert rc == 0
    from training.contract import load_model, model_inputs
    from training.dataset import DatasetConfig, build_record

    model, contract = load_model(out)
    assert contract["training"]["records"] == ["119"]
    assert contract["training"]["validation_records"] == ["101"]
    assert contract["model"]["kind"] == "cnn"
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    b = build_record("101", DatasetConfig(n_augment=0), data_dir=mitdb_dir)
    p = model.predict(model_inputs(b.beat[:50], b.features[:50], contract), verbose=0)
    assert p.shape == (50, 5)


def test_ds2_is_refused_for_training():
    with pytest.raises(ConfigError, match="DS2"):
        TrainConfig(train_records=("100",), val_records=("101",))
    with pytest.raises(ConfigError, match="disjoint"):
        TrainConfig(train_records=("101",), val_records=("101",))


def test_class_weights_and_selection_score():
    w = _class_weights(np.array([0] * 100 + [1] * 4 + [2] * 25), power=0.5, cap=3.0)
    assert w[0] == 1.0 and w[1] == 3.0 and w[2] == pytest.approx(2.0)
    m = {"accuracy": 0.9, "per_class": {"S": {"f1": 0.5}, "V": {"f1": float("nan")}}}
    assert selection_score(m) == pytest.approx(0.4 * 0.5 + 0.2 * 0.9)


def test_a_time_budget_inside_the_warm_up_keeps_the_last_epoch(mitdb_dir, tmp_path):
    """Session 44 audit: the budget ending training before --min-epochs crashed after the
    training (no checkpoint chosen: set_weights(None)) and nothing was saved."""
    out = tmp_path / "run"
    rc = main(["--model", "cnn", "--out", str(out), "--records", "119", "--val-records", "101",
               "--epochs", "3", "--min-epochs", "3", "--max-minutes", "1e-6",
               "--n-augment", "0", "--normal-per-epoch", "300", "--quiet",
               "--data-dir", str(mitdb_dir)])
    assert rc == 0
    contract = json.loads((out / "beat_cnn.contract.json").read_text())
    assert contract["training"]["ended_in_warm_up"] is True
    assert contract["training"]["best_epoch"] == contract["training"]["epochs_run"] == 1


@pytest.mark.parametrize("field, value", [
    ("class_weight_power", float("nan")), ("learning_rate", float("inf")),
    ("max_minutes", float("nan")), ("max_minutes", 0.0), ("max_minutes", -5.0),
    ("class_weight_scale", (float("nan"), 1.0, 1.0, 1.0, 1.0))])
def test_non_finite_settings_are_refused(field, value):
    """Session 44 audit: NaN weights trained silently and were stored in the contract."""
    with pytest.raises(ConfigError, match=field):
        TrainConfig(train_records=("101",), val_records=("106",), **{field: value})


@pytest.mark.parametrize("argv,said", [
    (["--normal-per-epoch", "0"], "argument --normal-per-epoch: must be >= 1, got 0"),
    (["--patience", "0"], "argument --patience: must be >= 1, got 0"),
    (["--lr", "nan"], "argument --lr: expected a number > 0"),
    (["--records"], "argument --records: expected at least one argument"),
    (["--val-records"], "argument --val-records: expected at least one argument"),
])
def test_wrong_values_name_their_option(argv, said, tmp_path, capsys):
    """Session 48 audit: ``--normal-per-epoch 0`` was reported as ``learning_rate``, and
    ``--patience 0`` as ``max_epochs``; ``--records`` with no value trained the default
    ensemble, ``--val-records`` with none trained without validation."""
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--single"], ["--records", "101"], ["--val-records", "101"]])
def test_fold_is_refused_outside_the_fold_ensemble(tmp_path, capsys, extra):
    """``--fold K`` trains one ensemble member; with a single network it would be ignored."""
    from training.train import main

    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "m"), "--fold", "1", *extra])
    assert exc.value.code == 2
    assert "--fold trains one member" in capsys.readouterr().err
