"""Fixtures for the training tests (``mitdb_dir`` / ``nstdb_dir`` come from tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch) -> Path:
    """Beat caches go to a per-session temporary directory, never the repository."""
    path = tmp_path_factory.getbasetemp() / "ecg_edge_cache"
    monkeypatch.setenv("ECG_EDGE_CACHE", str(path))
    return path
