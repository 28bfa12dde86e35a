"""training.contract: the model's preprocessing contract round-trips and is checked on load."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge.dsp.features import FEATURE_NAMES
from edge.errors import ConfigError
from training.contract import (
    contract_path,
    dataset_config,
    load_contract,
    make_contract,
    model_inputs,
    save_contract,
)
from training.dataset import DatasetConfig
from training.models import ModelConfig


def _contract():
    n = len(FEATURE_NAMES)
    return make_contract(model_config=ModelConfig(), data_config=DatasetConfig(), n_params=10,
                         keras_file="beat_cnn.keras", feature_mean=np.zeros(n),
                         feature_std=np.full(n, 2.0), training={"records": ["101"]},
                         model_version="cnn-test")


def test_contract_round_trips_as_json(tmp_path):
    c = _contract()
    path = contract_path(tmp_path / "beat_cnn.keras")
    assert path.name == "beat_cnn.contract.json"
    save_contract(c, path)
    back = load_contract(path)
    assert back == json.loads(json.dumps(c))
    assert back["window"]["length"] == 252
    assert back["inputs"][1]["shape"] == [len(FEATURE_NAMES)]


def test_contract_mismatch_raises(tmp_path):
    c = _contract()
    c["features"]["names"] = c["features"]["names"][:-1]
    save_contract(c, tmp_path / "x.contract.json")
    with pytest.raises(ConfigError, match="features"):
        load_contract(tmp_path / "x.contract.json")
    c = _contract()
    c["contract_version"] = 99
    save_contract(c, tmp_path / "y.contract.json")
    with pytest.raises(ConfigError, match="contract_version"):
        load_contract(tmp_path / "y.contract.json")


def test_model_inputs_standardize_features():
    c = _contract()
    x = model_inputs(np.zeros((2, 252, 2)), np.full((2, len(FEATURE_NAMES)), 4.0), c)
    assert x["beat"].dtype == np.float32
    np.testing.assert_allclose(x["features"], 2.0)


def test_dataset_config_is_read_back_from_the_contract():
    """Evaluation and conversion rebuild the training data settings from the contract alone."""
    from edge.dsp.beats import WindowConfig
    from edge.dsp.features import FeatureConfig

    n = len(FEATURE_NAMES)
    cfg = DatasetConfig(lead="V1", window=WindowConfig(before_ms=300.0, local_beats=6),
                        features=FeatureConfig())
    c = make_contract(model_config=ModelConfig(), data_config=cfg, n_params=10,
                      keras_file="k.keras", feature_mean=np.zeros(n), feature_std=np.ones(n),
                      training={}, model_version="v")
    back = dataset_config(json.loads(json.dumps(c)))
    assert (back.lead, back.window, back.features) == (cfg.lead, cfg.window, cfg.features)


def test_dataset_config_from_a_loaded_models_contract(classifier):
    """A .tflite's contract as the device loads it gives the same settings as its JSON."""
    from edge.model.tflite_meta import read_contract

    as_json = read_contract(classifier.path.read_bytes())
    assert dataset_config(classifier.contract) == dataset_config(as_json)


@pytest.mark.parametrize("text, words", [
    (None, "no such contract file"), ("not json", "not a readable contract JSON"),
    ("[1]", "not a model contract"),
    ('{"contract_version": 1, "classes": ["N", "S", "V", "F", "Q"]}', "not a model contract"),
])
def test_a_missing_or_damaged_contract_is_a_model_error_naming_it(tmp_path, text, words):
    from edge.errors import ModelError

    path = tmp_path / "m.contract.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ModelError, match=words) as exc:
        load_contract(path)
    assert str(exc.value).startswith(f"{path}: ")
