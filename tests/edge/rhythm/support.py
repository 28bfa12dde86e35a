"""Helpers shared by the rhythm tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

CINC = Path(os.environ.get("CINC2017_DIR", "/work/shared/data/cinc2017"))


def cinc_strip(name: str) -> tuple[np.ndarray, float]:
    """Channel 0 (mV) and rate of a CinC 2017 recording; skips when the data are absent."""
    import wfdb

    if not (CINC / f"{name}.hea").is_file():
        pytest.skip("CinC 2017 data not present")
    rec = wfdb.rdrecord(str(CINC / name))
    return rec.p_signal[:, 0], float(rec.fs)
