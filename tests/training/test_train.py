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
