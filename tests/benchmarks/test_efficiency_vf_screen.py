"""benchmarks/efficiency_vf_screen.py on the bundled CUDB excerpt: the identity check passes and
is written out; a missing record is one line, exit 2."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.efficiency_vf_screen import main

EXCERPT_DIR = Path(__file__).resolve().parents[1] / "data" / "cudb"


def test_the_excerpt_screens_windows_without_changing_an_episode(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CUDB_DIR", str(EXCERPT_DIR))
    assert main(["--records", "cudb/cudb_cu01_excerpt", "--out-stem", str(tmp_path / "r")]) == 0
    row = json.loads((tmp_path / "r.json").read_text())["records"][0]
    assert row["changes_identical"] and row["window_mismatches"] == 0
    assert row["changes"] >= 1 and 0 < row["screened"] < row["windows"]
    md = (tmp_path / "r.md").read_text()
    assert "bit-identical on every record: **yes**" in md


def test_a_missing_record_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CUDB_DIR", str(EXCERPT_DIR))
    assert main(["--records", "cudb/nope", "--out-stem", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("efficiency_vf_screen: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.md").exists()
