"""The model's preprocessing contract: everything the device must do to a beat before the model
sees it, as a JSON-able dict saved beside the Keras file (``<name>.contract.json``).

Format (``contract_version`` 1)::

    {
      "contract_version": 1,
      "model_version": "cnn-1.0.0",            # kind-semver
      "model": {"kind", "keras_file", "params", "config": ModelConfig dict},
      "classes": ["N", "S", "V", "F", "Q"],    # output order (AAMI EC57)
      "lead": "MLII",
      "sample_rate_hz": 360.0,                 # processing rate of the whole chain
      "preprocess": {"filter": FilterConfig dict},
      "window": WindowConfig.to_dict(),        # incl. before/after/align ms, RR settings
      "features": {
        "module": "edge.dsp.features",
        "config": FeatureConfig dict,
        "beat_channels": [...],                 # meaning of the ``beat`` input channels
        "names": FEATURE_NAMES,                 # order of the ``features`` input
        "standardize": {"mean": [...], "std": [...]}   # features -> (f - mean) / std
      },
      "inputs": [{"name": "beat", "shape": [252, 2], "dtype": "float32"},
                 {"name": "features", "shape": [12], "dtype": "float32"}],
      "output": {"name": "probabilities", "shape": [5], "activation": "softmax",
                 "decision": "argmax"},
      "training": {"records", "validation_records", "test_records", "selection", ...}
    }
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.beats import WindowConfig
from edge.dsp.features import FEATURE_NAMES, FeatureConfig, apply_standardization
from edge.dsp.filters import FilterConfig
from edge.errors import ConfigError, ModelError
from training.dataset import DatasetConfig
from training.models import ModelConfig

__all__ = ["CONTRACT_VERSION", "make_contract", "save_contract", "load_contract",
           "load_model", "load_keras", "model_inputs", "contract_path", "dataset_config"]

logger = logging.getLogger(__name__)

CONTRACT_VERSION = 1

BEAT_CHANNELS = [
    "window_mv minus its median, divided by max(ptp(template), min_amplitude_mv), clipped",
    "(window minus running template) divided by the same amplitude, clipped",
]


def contract_path(keras_path: str | os.PathLike) -> Path:
    """``model.keras`` -> ``model.contract.json``."""
    p = Path(keras_path)
    return p.with_name(p.name.removesuffix(".keras") + ".contract.json")


def make_contract(*, model_config: ModelConfig, data_config: DatasetConfig, n_params: int,
                  keras_file: str, feature_mean: np.ndarray, feature_std: np.ndarray,
                  training: dict, model_version: str) -> dict:
    """Assemble the contract dict (see module docstring)."""
    return {
        "contract_version": CONTRACT_VERSION,
        "model_version": model_version,
        "model": {"kind": model_config.kind, "keras_file": keras_file, "params": int(n_params),
                  "config": model_config.to_dict()},
        "classes": list(AAMI_CLASSES),
        "lead": data_config.lead,
        "sample_rate_hz": float(data_config.window.fs_hz),
        "preprocess": {"filter": asdict(FilterConfig(fs_hz=data_config.window.fs_hz))},
        "window": data_config.window.to_dict(),
        "features": {
            "module": "edge.dsp.features",
            "config": data_config.features.to_dict(),
            "beat_channels": BEAT_CHANNELS,
            "names": list(FEATURE_NAMES),
            "standardize": {"mean": [float(v) for v in feature_mean],
                            "std": [float(v) for v in feature_std]},
        },
        "inputs": [
            {"name": "beat", "shape": [data_config.window.length, 2], "dtype": "float32"},
            {"name": "features", "shape": [len(FEATURE_NAMES)], "dtype": "float32"},
        ],
        "output": {"name": "probabilities", "shape": [len(AAMI_CLASSES)],
                   "activation": "softmax", "decision": "argmax"},
        "training": training,
    }


def save_contract(contract: dict, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(contract, indent=1, sort_keys=False) + "\n")


def load_contract(path: str | os.PathLike) -> dict:
    """Read and check a contract JSON file.

    Raises
    ------
    ModelError
        The file is missing, unreadable, not JSON or not a contract (``path`` names it).
    ConfigError
        The contract's version, classes or feature names are not this code's.
    """
    try:
        c = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ModelError("no such contract file (a model's contract is saved beside its "
                         ".keras file as <name>.contract.json)", str(path)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"not a readable contract JSON (damaged or not a contract): {exc}",
                         str(path)) from None
    if not isinstance(c, dict):
        raise ModelError("not a model contract (expected a JSON object)", str(path))
    if c.get("contract_version") != CONTRACT_VERSION:
        raise ConfigError("contract_version", f"expected {CONTRACT_VERSION}, got "
                          f"{c.get('contract_version')!r} in {path}")
    try:
        if tuple(c["classes"]) != AAMI_CLASSES:
            raise ConfigError("classes", f"expected {AAMI_CLASSES}, got {c['classes']}")
        if tuple(c["features"]["names"]) != FEATURE_NAMES:
            raise ConfigError("features",
                              "feature names differ from edge.dsp.features.FEATURE_NAMES")
        if not all(isinstance(i["shape"], list) for i in c["inputs"]):
            raise TypeError("inputs")
    except (KeyError, TypeError) as exc:
        raise ModelError(f"not a model contract (no valid {exc} field)", str(path)) from None
    return c


def load_keras(path: str | os.PathLike, *, compile: bool = True):  # noqa: A002 (Keras' name)
    """The Keras model of a ``.keras`` file.

    Raises
    ------
    ModelError
        The file is missing, not a ``.keras`` file, or cannot be read as one (damaged): one
        message starting with the path.
    """
    import keras  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise ModelError("no such .keras file" if not p.exists() else "not a file (expected a "
                         ".keras model)", str(p))
    if p.suffix != ".keras":
        raise ModelError(f"not a .keras model (a {p.suffix or 'suffix-less'} file); give the "
                         ".keras file training wrote", str(p))
    try:
        return keras.models.load_model(p, compile=compile)
    except Exception:  # noqa: BLE001 - Keras raises anything on a damaged file
        raise ModelError("not a readable .keras model (damaged or not a Keras file)",
                         str(p)) from None


def load_model(model_dir_or_file: str | os.PathLike):
    """Load ``(keras_model, contract)`` from a ``.keras`` file or a directory holding one.

    Raises
    ------
    ModelError
        The file or its contract (``<name>.contract.json`` beside it) is missing or damaged.
    ConfigError
        A directory without exactly one ``.keras`` file; a contract that is not this code's
        or does not match the model's inputs.
    """
    p = Path(model_dir_or_file)
    if p.is_dir():
        found = sorted(p.glob("*.keras"))
        if len(found) != 1:
            raise ConfigError("model", f"expected one .keras file in {p}, found {len(found)}")
        p = found[0]
    elif not p.is_file():
        raise ModelError("no such .keras file or model folder", str(p))
    elif p.suffix != ".keras":
        raise ModelError(f"not a .keras model (a {p.suffix or 'suffix-less'} file); give the "
                         ".keras file training wrote or its folder", str(p))
    model = load_keras(p, compile=False)
    contract = load_contract(contract_path(p))
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    want = [tuple(i["shape"]) for i in contract["inputs"]]
    if shapes != want:
        raise ConfigError("inputs", f"model inputs {shapes} do not match contract {want}")
    return model, contract


def dataset_config(contract) -> DatasetConfig:
    """The :class:`training.dataset.DatasetConfig` a contract describes (lead, beat window,
    feature definitions): the inverse of the data part of :func:`make_contract`. Derived
    window values the contract also lists (``length``, ``rr_features``) are not settings.

    ``contract`` is the JSON dict, or a loaded model's contract object (anything with
    ``to_dict()``, e.g. ``BeatClassifier(...).contract``)."""
    if hasattr(contract, "to_dict"):
        contract = contract.to_dict()
    w = {k: v for k, v in contract["window"].items() if k in WindowConfig.__dataclass_fields__}
    return DatasetConfig(lead=contract.get("lead", "MLII"), window=WindowConfig(**w),
                         features=FeatureConfig(**contract["features"]["config"]))


def model_inputs(beat: np.ndarray, features: np.ndarray, contract: dict) -> dict:
    """Keras input dict from :func:`edge.dsp.features.beat_inputs` output and the contract."""
    st = contract["features"]["standardize"]
    return {"beat": np.asarray(beat, np.float32),
            "features": apply_standardization(features, st["mean"], st["std"])}
