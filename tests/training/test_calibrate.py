"""training.calibrate: the bias shift is the probability shift, and the grid finds a known
prior offset."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from training.calibrate import apply_offsets, fit_offsets, shift_probabilities


def test_shift_probabilities_renormalises():
    p = np.array([[0.5, 0.3, 0.2, 0.0, 0.0]])
    q = shift_probabilities(p, [0, np.log(2), 0, 0, 0])
    np.testing.assert_allclose(q, [[0.5 / 1.3, 0.6 / 1.3, 0.2 / 1.3, 0, 0]])


def test_fit_finds_an_over_called_class():
    rng = np.random.default_rng(0)
    n = 4000
    labels = rng.choice(3, size=n, p=[0.8, 0.1, 0.1])
    logits = rng.normal(0, 1, (n, 5))
    logits[np.arange(n), labels] += 2.0
    logits[:, 1] += 1.5  # the model over-calls S
    logits[:, 3:] -= 10
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    fit = fit_offsets([p], labels)
    assert fit["score"] > fit["score_uncalibrated"]
    assert -2.0 <= fit["offsets"][1] <= -0.75  # S pushed down, near the planted +1.5
    assert fit["offsets"][0] == 0.0 and fit["offsets"][3:] == [0.0, 0.0]
    with pytest.raises(ConfigError):
        fit_offsets([], labels)


@pytest.mark.parametrize("ensemble", [1, 2])
def test_bias_offsets_equal_shifted_member_average(ensemble):
    pytest.importorskip("tensorflow")
    from training.models import ModelConfig, build_model
    cfg = ModelConfig(ensemble=ensemble).scaled(0.5)
    model = build_model(cfg, seed=3)
    rng = np.random.default_rng(1)
    x = {"beat": rng.normal(size=(16, cfg.window_length, 2)).astype(np.float32),
         "features": rng.normal(size=(16, cfg.n_features)).astype(np.float32)}
    members = ([model] if ensemble == 1 else
               [layer for layer in model.layers if layer.name.startswith("ecg_cnn_")])
    before = [m.predict([x["beat"], x["features"]], verbose=0) for m in members]
    off = [0.0, -1.0, 0.5, 0.0, 0.0]
    assert apply_offsets(model, off) == ensemble
    after = model.predict(x, verbose=0)
    want = np.mean([shift_probabilities(p, off) for p in before], axis=0)
    np.testing.assert_allclose(after, want, atol=1e-5)


def test_cli_needs_runs_or_offsets_and_reports_a_missing_model(tmp_path, capsys):
    from training.calibrate import main
    with pytest.raises(SystemExit) as e:
        main(["--model", str(tmp_path), "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "--runs" in capsys.readouterr().err
    assert main(["--model", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--offsets", "-0.5", "0"]) == 2
    assert "expected one .keras file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_non_finite_offsets_and_runs_that_are_not_ensembles(tmp_path, capsys):
    """Session 44 audit: NaN offsets were applied (every output NaN, exit 0); a folder without
    a contract gave an empty error line, a single model a KeyError traceback."""
    import json
    from pathlib import Path

    from training.calibrate import main

    model = Path(__file__).resolve().parents[2] / "edge" / "models"
    for bad in ("nan", "inf"):
        with pytest.raises(SystemExit) as e:
            main(["--model", str(model), "--out", str(tmp_path / "o"), "--offsets", bad, "0"])
        assert e.value.code == 2 and "must be a finite number" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--model", str(model), "--out", str(tmp_path / "o"), "--runs",
                 str(empty)]) == 2
    assert "no beat_*.contract.json" in capsys.readouterr().err
    single = tmp_path / "single"
    single.mkdir()
    (single / "beat_cnn.contract.json").write_text(json.dumps({"training": {}}))
    assert main(["--model", str(model), "--out", str(tmp_path / "o"), "--runs",
                 str(single)]) == 2
    assert "a single model, not an ensemble run" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
