"""Shared fixtures: data directories come from the environment (``MITDB_DIR``, ``NSTDB_DIR``);
tests that need them skip, saying why, when they are not set."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def _data_dir(env: str) -> Path:
    value = os.environ.get(env)
    if not value or not Path(value).is_dir():
        pytest.skip(f"{env} is not set to a data directory (see README: Data)")
    return Path(value)


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    return _data_dir("MITDB_DIR")


@pytest.fixture(scope="session")
def nstdb_dir() -> Path:
    return _data_dir("NSTDB_DIR")


@pytest.fixture(scope="session")
def svdb_dir() -> Path:
    """The MIT-BIH Supraventricular Arrhythmia Database (128 Hz): ``$SVDB_DIR``, else ``svdb``
    next to ``$MITDB_DIR`` (the layout of ``../shared/data``); skipped, saying why, otherwise."""
    for raw in (os.environ.get("SVDB_DIR"),
                os.environ.get("MITDB_DIR") and Path(os.environ["MITDB_DIR"]).parent / "svdb"):
        if raw and (Path(raw) / "865.hea").is_file():
            return Path(raw)
    pytest.skip("SVDB_DIR is not set to the SVDB data directory (see README: Data)")


@pytest.fixture(scope="session")
def cudb_data_dir() -> Path:
    """The Creighton University Ventricular Tachyarrhythmia Database (250 Hz): ``$CUDB_DIR``,
    else ``cudb`` next to ``$MITDB_DIR``; skipped, saying why, otherwise."""
    for raw in (os.environ.get("CUDB_DIR"),
                os.environ.get("MITDB_DIR") and Path(os.environ["MITDB_DIR"]).parent / "cudb"):
        if raw and (Path(raw) / "cu03.hea").is_file():
            return Path(raw)
    pytest.skip("CUDB_DIR is not set to the CUDB data directory (see README: Data)")


@pytest.fixture(scope="session")
def cinc2017_dir() -> Path:
    """The CinC 2017 recordings: ``$CINC2017_DIR``, else ``cinc2017`` next to ``$MITDB_DIR``
    (the layout of ``../shared/data``); skipped, saying why, when neither holds them."""
    for raw in (os.environ.get("CINC2017_DIR"),
                os.environ.get("MITDB_DIR") and Path(os.environ["MITDB_DIR"]).parent
                / "cinc2017"):
        if raw and (Path(raw) / "A00001.hea").is_file():
            return Path(raw)
    pytest.skip("CINC2017_DIR is not set to the CinC 2017 data directory (see README: Data)")


@pytest.fixture(scope="session")
def int8_model() -> Path:
    """An int8 model: the bundled one (or an untrained one built once, see daemon_support)."""
    from tests.edge.runtime.daemon_support import model_path

    return model_path()


@pytest.fixture(scope="session")
def classifier(int8_model):
    """The int8 model loaded on LiteRT."""
    from edge.model.classifier import BeatClassifier

    return BeatClassifier(int8_model)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def feed_in_chunks(stage_fn, x: np.ndarray, sizes, rng: np.random.Generator | None = None):
    """Feed ``x`` to ``stage_fn`` in chunks; ``sizes`` is an int or "random"."""
    out = []
    i = 0
    while i < x.size:
        n = int(rng.integers(1, 500)) if sizes == "random" else int(sizes)
        out.append(stage_fn(x[i:i + n]))
        i += n
    return out
