"""The model contract (:mod:`edge.model.contract`): the bundled models' and the training
contracts load as typed objects, a broken contract names the key and the rule, and the
pipeline agreement check names the first key that differs."""
import copy
import json
from pathlib import Path

import pytest

from edge.dsp.beats import WindowConfig
from edge.dsp.features import FeatureConfig
from edge.dsp.filters import FilterConfig
from edge.errors import ContractError, ModelError
from edge.model.bundled import MODELS_DIR, default_embed_model_path, default_model_path
from edge.model.contract import ModelContract, check_contract
from edge.model.tflite_meta import read_contract

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def raw() -> dict:
    return read_contract(default_model_path().read_bytes())


@pytest.mark.parametrize("path", [default_model_path(), default_embed_model_path()])
def test_bundled_models_load_as_typed_contracts(path):
    c = ModelContract.from_model_bytes(path.read_bytes())
    assert c.contract_version == 1 and c.model_version == "cnnx3-1.2.0"
    assert c.classes == ("N", "S", "V", "F", "Q") and c.lead == "MLII"
    assert c.window.config == WindowConfig() and c.window.length == 252
    assert c.filter == FilterConfig() and c.features.config == FeatureConfig()
    assert len(c.features.standardize.mean) == len(c.features.names) == 14
    assert [i.shape for i in c.inputs] == [(252, 2), (14,)] and c.output.shape == (5,)
    assert (c.embedding is not None) == (path == default_embed_model_path())
    assert c.quantization is not None and c.model["kind"] == "cnn"
    assert check_contract(c, window=WindowConfig(), filters=FilterConfig()) is c
    assert c.to_dict() == read_contract(path.read_bytes())  # nothing lost
    with pytest.raises(TypeError):
        c.training["records"] = []  # provenance is read-only


@pytest.mark.parametrize("path", [REPO / "models" / "beat_lstm" / "beat_lstm.contract.json",
                                  MODELS_DIR / "beat_cnn.contract.json"])
def test_training_contracts_load_unchanged(path):
    """What training.contract writes (before conversion adds ``quantization``) is readable."""
    d = json.loads(path.read_text())
    c = ModelContract.from_dict(d)
    assert c.quantization is None and c.to_dict() == d
    check_contract(c, window=WindowConfig(), filters=FilterConfig())


def _broken(raw, path, value):
    c = copy.deepcopy(raw)
    *parents, key = path
    block = c
    for p in parents:
        block = block[p]
    if value is KeyError:
        del block[key]
    else:
        block[key] = value
    return c


@pytest.mark.parametrize("path, value, field, rule", [
    (("contract_version",), 2, "contract_version", "expected 1"),
    (("sample_rate_hz",), "fast", "sample_rate_hz", "expected a finite number"),
    (("sample_rate_hz",), -360.0, "sample_rate_hz", "must be > 0"),
    (("classes",), ["N", "N"], "classes", "unique"),
    (("window", "before_ms"), "250", "window.before_ms", "expected a finite number"),
    (("window", "after_ms"), float("inf"), "window.after_ms", "expected a finite number"),
    (("window", "length"), KeyError, "window.length", "missing"),
    (("window", "bins"), 3, "window.bins", "unknown key"),
    (("window", "min_rr_s"), 5.0, "window.min_rr_s", "min_rr_s < max_rr_s"),
    (("preprocess", "filter", "lowpass_hz"), 400.0, "preprocess.filter.lowpass_hz", "(0, 180"),
    (("features", "config", "clip"), -1.0, "features.config.clip", "positive"),
    (("features", "config", "n_template_beats"), 16.5, "features.config.n_template_beats",
     "expected an integer"),
    (("preprocess", "filter", "notch_hz"), "60", "preprocess.filter.notch_hz",
     "expected a finite number"),
    (("features", "names"), "pre_rr_s", "features.names", "list of strings"),
    (("features", "standardize", "std"), [1.0] * 13 + [0.0], "features.standardize.std",
     "positive"),
    (("features", "standardize", "mean"), [0.0] * 3, "features.standardize", "one value"),
    (("inputs",), [], "inputs", "non-empty list"),
    (("inputs", 0, "shape"), [252, -2], "inputs[0].shape", "positive integers"),
    (("output",), KeyError, "output", "missing"),
    (("embedding",), {"size": "72"}, "embedding", "integer"),
    (("training",), ["101"], "training", "expected an object"),
])
def test_a_broken_contract_names_the_key_and_the_rule(raw, path, value, field, rule):
    with pytest.raises(ContractError) as err:
        ModelContract.from_dict(_broken(raw, path, value))
    assert err.value.field == field and rule in str(err.value), str(err.value)


@pytest.mark.parametrize("window, filters, field", [
    (WindowConfig(after_ms=400.0), FilterConfig(), "window.after_ms"),
    (WindowConfig(fs_hz=250.0), FilterConfig(fs_hz=250.0), "window.fs_hz"),
    (WindowConfig(), FilterConfig(lowpass_hz=35.0), "preprocess.filter.lowpass_hz"),
])
def test_the_pipeline_must_agree_with_the_contract(raw, window, filters, field):
    c = ModelContract.from_dict(raw)
    fs = window.fs_hz if field != "window.fs_hz" else 360.0
    with pytest.raises(ContractError) as err:
        check_contract(c, window=window, filters=filters, fs_hz=fs)
    assert err.value.field == field


def test_a_different_mains_notch_only_warns(raw, caplog):
    check_contract(ModelContract.from_dict(raw), window=WindowConfig(),
                   filters=FilterConfig(notch_hz=50.0))
    assert "mains notch differs" in caplog.text


def test_a_model_without_contract_is_a_model_error():
    with pytest.raises(ModelError, match="not a TFLite model"):
        ModelContract.from_model_bytes(b"\x00" * 64)
