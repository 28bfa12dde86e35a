"""benchmarks/bench_end_to_end.py: the model and the records are checked before any replay."""
from __future__ import annotations

from benchmarks import bench_end_to_end as be
from tests.benchmarks.support import exits_2, one_line_error


def test_a_damaged_model_is_one_line(truncated_tflite, capsys):
    assert be.main(["--model", str(truncated_tflite), "--records", "100"]) == 2
    one_line_error(capsys, "trunc.tflite: damaged .tflite")


def test_an_unknown_record_is_one_line_before_any_replay(mitdb_dir, monkeypatch, capsys):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert be.main(["--records", "100,999"]) == 2
    assert "--data-dir" not in one_line_error(capsys, "record '999' not found")


def test_no_records_is_refused(capsys):
    exits_2(be.main, ["--records", ","])
    one_line_error(capsys, "--records")
