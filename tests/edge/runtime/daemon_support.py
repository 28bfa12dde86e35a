"""Helpers for the daemon tests: an int8 model (the bundled one when it exists, otherwise an
untrained but valid int8 model built once per session (the ``int8_model`` and ``classifier``
fixtures of ``tests/conftest.py``) the same way the training team does:
``training.models`` -> ``convert/quantize.py``), and small utilities."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

_MAKE_UNTRAINED = r"""
import os, sys
import numpy as np
sys.path.insert(0, {repo!r})
from training.models import ModelConfig, build_model
from training.dataset import DatasetConfig
from training.contract import make_contract, save_contract, contract_path
from edge.dsp.features import FEATURE_NAMES
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
mc = ModelConfig(kind="cnn")
m = build_model(mc)
p = os.path.join(out, "cnn.keras")
m.save(p)
c = make_contract(model_config=mc, data_config=DatasetConfig(), n_params=m.count_params(),
                  keras_file=p, feature_mean=np.zeros(len(FEATURE_NAMES)),
                  feature_std=np.ones(len(FEATURE_NAMES)), training={{"records": ["101"]}},
                  model_version="cnn-untrained-test")
save_contract(c, contract_path(p))
"""


@functools.lru_cache(maxsize=1)
def model_path() -> Path:
    """The bundled model, or an untrained int8 model built once per test session."""
    from edge.model.bundled import default_model_path

    bundled = default_model_path()
    if bundled.is_file():
        return bundled
    mitdb = os.environ.get("MITDB_DIR")
    if not mitdb:
        pytest.fail("no bundled model and MITDB_DIR unset: cannot build a test model")
    work = Path(tempfile.mkdtemp(prefix="ecg-edge-test-model-"))
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", _MAKE_UNTRAINED.format(repo=str(REPO)),
                    str(work / "keras")], check=True, env=env, cwd=REPO,
                   capture_output=True, timeout=600)
    out = work / "untrained_cnn.tflite"
    subprocess.run([sys.executable, str(REPO / "convert" / "quantize.py"), "--model",
                    str(work / "keras"), "--out", str(out), "--per-class", "20",
                    "--no-parity"], check=True, env=env, cwd=REPO, capture_output=True,
                   timeout=900)
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_replay_jsonl(record: Path, model: Path, out: Path, *extra: str) -> list[dict]:
    """``ecg-edge run --replay RECORD --speed max`` in a subprocess, as a user runs it; the
    events it wrote to the JSONL file ``out`` (the run must exit 0)."""
    cmd = [sys.executable, "-m", "edge.cli", "run", "--replay", str(record), "--speed", "max",
           "--model", str(model), "--jsonl", str(out), "--quiet", *extra]
    proc = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return read_jsonl(out)
