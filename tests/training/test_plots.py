"""training.plots: confusion matrices and strips of misclassified beats as PNG files."""
from __future__ import annotations

import numpy as np

from edge.dsp.beats import WindowConfig
from training.plots import plot_confusion, plot_strips

PNG = b"\x89PNG"


def _per_record(true: str, pred: str) -> dict:
    wcfg = WindowConfig()
    n = len(true)
    pos = (np.arange(n) * 0.8 * wcfg.fs_hz + wcfg.fs_hz).astype(np.int64)
    sig = 0.05 * np.random.default_rng(0).standard_normal(int(pos[-1] + 2 * wcfg.fs_hz))
    sig[pos] += 1.0
    return {"100": {"true": list(true), "pred": list(pred), "sample_index": pos,
                    "rr_s": np.full((n, 4), 0.8), "signal": sig, "wcfg": wcfg}}


def test_confusion_png(tmp_path):
    path = tmp_path / "c.png"
    plot_confusion(np.array([[5, 1], [0, 3]]), ("N", "V"), "test", path)
    assert path.read_bytes()[:4] == PNG


def test_strips_of_false_positives_and_none_when_no_error(tmp_path):
    per_record = _per_record("NNNNNNVNN", "NNNVNNVNN")
    info = plot_strips(per_record, "V", "FP", tmp_path / "fp.png")
    assert [(i["record"], i["true"], i["pred"]) for i in info] == [("100", "N", "V")]
    assert np.isclose(info[0]["time_s"], (1 + 3 * 0.8))
    assert (tmp_path / "fp.png").read_bytes()[:4] == PNG
    assert plot_strips(per_record, "V", "FN", tmp_path / "fn.png") == []
    assert not (tmp_path / "fn.png").exists()


def test_running_the_module_says_it_has_no_command_line():
    """Session 44 script audit: `python -m training.plots` printed nothing and exited 0."""
    import subprocess
    import sys
    from pathlib import Path

    p = subprocess.run([sys.executable, "-m", "training.plots"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("python -m training.plots: a library module with no command line")
