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


@pytest.fixture(autouse=True)
def _logger_levels_restored():
    """A benchmark's ``main`` quiets the ``edge`` and ``firmware_bridge`` loggers for its own
    run (bench_fleet); called in-process by a test, that must not silence the warnings later
    tests read from ``caplog``."""
    import logging

    names = ("", "edge", "firmware_bridge")
    levels = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)
