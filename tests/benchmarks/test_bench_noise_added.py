"""benchmarks/bench_noise_added.py: its arguments and data folders are checked before any
work (the run itself is a benchmark, not a test)."""
from __future__ import annotations

import pytest

from benchmarks import bench_noise_added as bna
from tests.benchmarks.support import exits_2, one_line_error


@pytest.mark.parametrize("snr", ["nan", "inf", "x"])
def test_a_non_finite_snr_is_refused(snr, tmp_path, capsys):
    exits_2(bna.main, ["--snr-db", snr, "--out", str(tmp_path)])
    one_line_error(capsys, "--snr-db", "finite")


def test_an_empty_mitdb_names_its_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MITDB_DIR", str(tmp_path))
    assert bna.main(["--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "MITDB_DIR")
    assert "--data-dir" not in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
