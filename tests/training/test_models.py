"""training.models: both families build small, with validated configs."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from training.models import ModelConfig, build_model

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


# Full-int8 conversion of both families, run in LiteRT: tests/convert/test_quantize.py.
