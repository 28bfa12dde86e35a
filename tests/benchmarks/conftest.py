"""Fixtures for the benchmark tests (data folders come from tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.support import MODELS


@pytest.fixture
def truncated_tflite(tmp_path) -> Path:
    """The bundled int8 model cut after 5000 bytes (a damaged model file)."""
    path = tmp_path / "trunc.tflite"
    path.write_bytes((MODELS / "default.tflite").read_bytes()[:5000])
    return path
