"""benchmarks/bench_daemon.py: the model, the record and --rt-s are checked before any run."""
from __future__ import annotations

import pytest

from benchmarks import bench_daemon as bd
from tests.benchmarks.support import exits_2, one_line_error


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_a_bad_real_time_duration_is_refused(value, capsys):
    exits_2(bd.main, ["--rt-s", value])
    one_line_error(capsys, "--rt-s", "> 0")


def test_a_damaged_model_is_one_line(truncated_tflite, capsys):
    assert bd.main(["--model", str(truncated_tflite)]) == 2
    one_line_error(capsys, "trunc.tflite: damaged .tflite")


def test_an_unknown_record_is_one_line(mitdb_dir, monkeypatch, capsys):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bd.main(["--record", "999"]) == 2
    assert "--data-dir" not in one_line_error(capsys, "record '999' not found", "MITDB_DIR")
