"""benchmarks/bench_outbox_durability.py: --minutes is checked, a short run works and leaves
no temporary folder behind."""
from __future__ import annotations

import json
import tempfile

import pytest

from benchmarks import bench_outbox_durability as bod
from tests.benchmarks.support import exits_2, one_line_error


@pytest.mark.parametrize("minutes, words", [("-1", ["> 0"]), ("nan", ["> 0"]),
                                            ("0.1", ["at least 0.5 min"])])
def test_bad_minutes_are_refused(minutes, words, tmp_path, capsys):
    exits_2(bod.main, ["--minutes", minutes, "--out", str(tmp_path)])
    one_line_error(capsys, "--minutes", *words)


def test_a_short_run_writes_its_results_and_removes_its_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert bod.main(["--minutes", "0.5", "--out", str(tmp_path / "out")]) == 0
    res = json.loads((tmp_path / "out" / "outbox_durability.json").read_text())
    assert res["results"][0]["per_type"]["alert"]["n"] == 1
    assert not list(tmp_path.glob("outbox-bench-*"))


def test_a_dir_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert bod.main(["--minutes", "0.5", "--dir", str(tmp_path / "afile" / "x"),
                     "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "afile")
