"""Converter and device-side model checks: every bad model gives a clear error naming the
problem. Models are small untrained networks built here (no data needed)."""
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from convert.quantize import convert_int8, embed_contract  # noqa: E402
from edge.dsp.features import FEATURE_NAMES  # noqa: E402
from edge.errors import ContractError, ModelError  # noqa: E402
from edge.model.classifier import BeatClassifier  # noqa: E402
from edge.model.tflite_meta import read_contract, read_metadata  # noqa: E402
from training.contract import make_contract  # noqa: E402
from training.dataset import DatasetConfig  # noqa: E402
from training.models import ModelConfig, build_model  # noqa: E402


def _contract(mc):
    return make_contract(model_config=mc, data_config=DatasetConfig(), n_params=1,
                         keras_file="x.keras", feature_mean=np.zeros(len(FEATURE_NAMES)),
                         feature_std=np.ones(len(FEATURE_NAMES)), training={"records": []},
                         model_version=f"{mc.kind}-test")


def _rep(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-2, 2, (n, 252, 2)).astype(np.float32),
            rng.standard_normal((n, len(FEATURE_NAMES))).astype(np.float32))


@pytest.fixture(scope="module", params=["cnn", "lstm"])
def converted(request, tmp_path_factory):
    mc = ModelConfig(kind=request.param)
    model = build_model(mc)
    contract = _contract(mc)
    raw = convert_int8(model, contract, *_rep())
    path = tmp_path_factory.mktemp(request.param) / "model.tflite"
    path.write_bytes(embed_contract(raw, contract))
    return model, contract, raw, path


def test_int8_model_loads_and_matches_float(converted):
    model, contract, _, path = converted
    clf = BeatClassifier(path)
    assert clf.quantized and clf.classes == ("N", "S", "V", "F", "Q")
    beat, feats = _rep(64, seed=1)
    p8 = clf.predict_proba(beat, feats)
    pf = model.predict({"beat": beat, "features": feats}, verbose=0)
    assert p8.shape == (64, 5) and np.allclose(p8.sum(1), 1, atol=0.05)
    assert np.abs(p8 - pf).max() < 0.1
    assert read_contract(path.read_bytes())["model_version"] == contract["model_version"]


def test_reembedding_replaces_the_contract(converted):
    _, contract, raw, _ = converted
    once = embed_contract(raw, contract)
    twice = embed_contract(once, dict(contract, model_version="v2"))
    assert read_contract(twice)["model_version"] == "v2"
    assert sum(1 for k in read_metadata(twice) if k == "ecg_edge_contract") == 1


def test_truncated_file(converted, tmp_path):
    data = converted[3].read_bytes()
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="damaged|interpreter|contract"):
        BeatClassifier(bad)


def test_random_bytes(tmp_path):
    bad = tmp_path / "random.tflite"
    bad.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(ModelError, match="not a TFLite model"):
        BeatClassifier(bad)


def test_missing_metadata(converted, tmp_path):
    bad = tmp_path / "bare.tflite"
    bad.write_bytes(converted[2])
    with pytest.raises(ModelError, match="no embedded ecg-edge contract"):
        BeatClassifier(bad)


@pytest.mark.parametrize("field, value, match", [
    ("sample_rate_hz", 250.0, "sample_rate_hz"),
    ("window", {"after_ms": 400.0}, "window.after_ms"),
    ("window", {"fs_hz": 250.0}, "window.fs_hz"),
    ("classes", ["N", "S", "V", "F"], "classes"),
])
def test_contract_mismatch(converted, tmp_path, field, value, match):
    _, contract, raw, _ = converted
    c = json.loads(json.dumps(contract))
    if isinstance(value, dict):
        c[field].update(value)
    else:
        c[field] = value
    bad = tmp_path / "mismatch.tflite"
    bad.write_bytes(embed_contract(raw, c))
    with pytest.raises(ContractError, match=match):
        BeatClassifier(bad)


def test_float_model_is_refused(tmp_path):
    mc = ModelConfig(kind="cnn")
    model = build_model(mc, batch_size=1)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path / "float.tflite"
    path.write_bytes(embed_contract(bytes(conv.convert()), _contract(mc)))
    with pytest.raises(ContractError, match="full-int8"):
        BeatClassifier(path)
    assert not BeatClassifier(path, allow_float=True).quantized


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        BeatClassifier(tmp_path / "nope.tflite")


def test_a_failed_check_leaves_no_file_and_keeps_a_good_one(tmp_path):
    """Session 44 audit: a conversion refused by the device check was left at --out (and had
    replaced the good model there first)."""
    from convert.quantize import _write_checked

    out = tmp_path / "m.tflite"
    out.write_bytes(b"good")

    def refuse(path):
        assert path != out and path.read_bytes() == b"bad"
        raise ModelError("refused")

    with pytest.raises(ModelError):
        _write_checked(out, b"bad", refuse)
    assert out.read_bytes() == b"good" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    _write_checked(out, b"new", lambda path: None)
    assert out.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


@pytest.mark.parametrize("argv, words", [
    (["--per-class", "0"], "--per-class: must be >= 1"),
    (["--per-class", "-3"], "--per-class: must be >= 1"),
])
def test_bad_options_are_argparse_errors(argv, words, tmp_path, capsys):
    from convert.quantize import main

    with pytest.raises(SystemExit) as exc:
        main(["--model", "x", "--out", str(tmp_path / "q.tflite"), *argv])
    assert exc.value.code == 2 and words in capsys.readouterr().err


def test_parity_records_are_found_before_the_conversion(tmp_path, capsys, mitdb_dir):
    from convert.quantize import main

    out = tmp_path / "q.tflite"
    from pathlib import Path

    model = Path(__file__).resolve().parents[2] / "edge" / "models" / "beat_cnn.keras"
    assert main(["--model", str(model), "--out", str(out), "--data-dir",
                 str(mitdb_dir), "--parity-records", "999"]) == 2
    assert "999" in capsys.readouterr().err and not out.exists()


def test_out_must_be_a_tflite_that_is_not_the_model(tmp_path, capsys):
    """Session 48 audit: ``--out model2/beat_cnn.keras`` replaced the Keras model being
    converted with tflite bytes ("wrote model2/beat_cnn.keras")."""
    from convert.net_tool import net_main
    from convert.quantize import check_out_path, main

    model = tmp_path / "m"
    model.mkdir()
    (model / "beat_cnn.keras").write_bytes(b"keras")
    (tmp_path / "dir.tflite").mkdir()
    for out, said in ((model / "beat_cnn.keras", "must name a .tflite file"),
                      (tmp_path / "dir.tflite", "is a folder"),
                      (model / "beat_cnn.tflite", None)):
        if said is None:
            assert check_out_path(out, model) == out
            continue
        with pytest.raises(ModelError, match=said):
            check_out_path(out, model)
    assert main(["--model", str(model), "--out", str(model / "beat_cnn.keras")]) == 2
    assert "must name a .tflite file" in capsys.readouterr().err
    assert (model / "beat_cnn.keras").read_bytes() == b"keras"
    with pytest.raises(SystemExit) as exc:
        net_main(["--model", str(model / "beat_cnn.keras"), "--out",
                  str(model / "beat_cnn.keras")], name="vf_net", description="",
                 convert_model=None, convert_cv=None)
    assert exc.value.code == 2 and "vf_net: error:" in capsys.readouterr().err
