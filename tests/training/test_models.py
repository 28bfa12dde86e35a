"""training.models: both families build small and convert to full-int8 TFLite."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from training.models import ModelConfig, build_model, fixed_batch_copy

tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_build_shapes_and_size(kind):
    cfg = ModelConfig(kind=kind)
    m = build_model(cfg)
    assert 3_000 <= m.count_params() <= 30_000
    out = m.predict({"beat": np.zeros((3, 252, 2), np.float32),
                     "features": np.zeros((3, cfg.n_features), np.float32)}, verbose=0)
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_config_validates():
    with pytest.raises(ConfigError, match="kind"):
        ModelConfig(kind="gru")
    with pytest.raises(ConfigError, match="kernel_sizes"):
        ModelConfig(filters=(8, 8), kernel_sizes=(3,))


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_full_int8_conversion_runs_in_litert(kind):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    cfg = ModelConfig(kind=kind)
    m1 = fixed_batch_copy(build_model(cfg, seed=1), cfg, 1)
    rng = np.random.default_rng(0)

    def rep():
        for _ in range(20):
            yield {"beat": rng.standard_normal((1, 252, 2)).astype(np.float32),
                   "features": rng.standard_normal((1, cfg.n_features)).astype(np.float32)}

    conv = tf.lite.TFLiteConverter.from_keras_model(m1)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    blob = conv.convert()
    it = litert.Interpreter(model_content=blob)
    it.allocate_tensors()
    assert all(d["dtype"] == np.int8 for d in it.get_input_details())
    assert it.get_output_details()[0]["dtype"] == np.int8
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], np.int8))
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == (1, 5)
