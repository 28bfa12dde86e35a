"""Fixtures for the firmware_bridge tests: the MIT-BIH data directory and record 100."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    """The MIT-BIH directory from ``$MITDB_DIR``; skips the test when it is not available."""
    raw = os.environ.get("MITDB_DIR")
    if not raw:
        pytest.skip("MITDB_DIR is not set; point it at the MIT-BIH Arrhythmia Database "
                    "(e.g. MITDB_DIR=/work/shared/data/mitdb)")
    path = Path(raw)
    if not (path / "100.hea").is_file():
        pytest.skip(f"MITDB_DIR={raw} has no record 100 (100.hea)")
    return path


@pytest.fixture(scope="session")
def record100(mitdb_dir: Path):
    """MIT-BIH record 100 (raw ADC and metadata)."""
    from edge.io.records import read_record

    return read_record("100", data_dir=mitdb_dir)
