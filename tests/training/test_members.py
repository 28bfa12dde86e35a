"""training.members: an ensemble split back into its members' model directories."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.dsp.features import FEATURE_NAMES
from edge.errors import ConfigError
from training.contract import contract_path, load_model, make_contract, save_contract
from training.dataset import DatasetConfig
from training.members import main, split_members
from training.models import ModelConfig, build_model

FOLDS = [["101", "106"], ["108", "109"]]
EXTRA = [["svdb/800"], ["svdb/801"]]


def _save(tmp_path, cfg: ModelConfig, **training):
    model = build_model(cfg, seed=3)
    path = tmp_path / "ens" / f"beat_{cfg.kind}.keras"
    path.parent.mkdir()
    model.save(path)
    n = len(FEATURE_NAMES)
    members = [{"fold": f, "best_epoch": 4 + k, "epochs_run": 9, "best_validation": {"k": k}}
               for k, f in enumerate(FOLDS)]
    tr = {"records": [r for f in FOLDS for r in f] + [r for f in EXTRA for r in f],
          "folds": FOLDS, "extra_folds": EXTRA, "members": members, "test_records": ["100"],
          **training}
    save_contract(make_contract(model_config=cfg, data_config=DatasetConfig(),
                                n_params=model.count_params(), keras_file=path.name,
                                feature_mean=np.zeros(n), feature_std=np.ones(n),
                                training=tr, model_version=f"{cfg.kind}x2-9.9"),
                  contract_path(path))
    return model, path


def test_members_average_to_the_ensemble_and_know_their_folds(tmp_path, rng):
    cfg = replace(ModelConfig(), ensemble=2)
    ens, path = _save(tmp_path, cfg)
    dirs = split_members(path, tmp_path / "cv")
    assert [d.name for d in dirs] == ["member0", "member1"]
    assert (tmp_path / "cv" / "beat_cnn.contract.json").is_file()
    beat = rng.normal(size=(16, 252, 2)).astype(np.float32)
    feats = rng.normal(size=(16, len(FEATURE_NAMES))).astype(np.float32)
    outs = []
    for k, d in enumerate(dirs):
        model, c = load_model(d)
        outs.append(model.predict([beat, feats], verbose=0))
        assert c["model"]["config"]["ensemble"] == 1 and c["model_version"] == "cnn-9.9"
        assert c["training"]["validation_records"] == FOLDS[k]
        assert c["training"]["held_out_extra_records"] == EXTRA[k]
        held = set(FOLDS[k]) | set(EXTRA[k])
        assert not held & set(c["training"]["records"])
        assert c["training"]["best_epoch"] == 4 + k
    np.testing.assert_allclose(np.mean(outs, axis=0), ens.predict([beat, feats], verbose=0),
                               atol=1e-6)
    assert not np.allclose(outs[0], outs[1])  # two different members


def test_a_single_model_or_a_missing_file_is_a_clear_error(tmp_path, capsys):
    _, path = _save(tmp_path, ModelConfig())
    with pytest.raises(ConfigError, match="single model"):
        split_members(path, tmp_path / "cv")
    assert main([str(tmp_path / "nope.keras"), "--out", str(tmp_path / "cv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("training.members: ") and "Traceback" not in err
