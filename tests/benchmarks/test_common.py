"""benchmarks/common.py: the checked option values and the ending every benchmark shares."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks import common
from edge.errors import DataNotFoundError


@pytest.mark.parametrize("text, ok", [("8,16, 32", [8, 16, 32]), ("1", [1]), ("foo", None),
                                      ("0", None), (",", None), ("4,-1", None)])
def test_positive_ints(text, ok):
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError):
            common.positive_ints(text)
    else:
        assert common.positive_ints(text) == ok


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "x"])
def test_finite_float_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        common.finite_float(text)
    assert common.finite_float("-3.5") == -3.5


def test_parse_names_refuses_nothing_and_unknown_names(capsys):
    ap = argparse.ArgumentParser(prog="p")
    assert common.parse_names(ap, "--records", " 100, 101 ,") == ["100", "101"]
    for text, known in ((",", None), ("", None), ("a,b", ("a",))):
        with pytest.raises(SystemExit) as exc:
            common.parse_names(ap, "--records", text, known)
        assert exc.value.code == 2
    assert "--records: unknown ['b']" in capsys.readouterr().err


def test_run_bench_makes_errors_one_line(capsys):
    def missing():
        raise DataNotFoundError("mitdb data directory not found: 'x' (from default); set "
                                "MITDB_DIR=/path/to/mitdb, pass --data-dir, or give the "
                                "record as a path")

    def interrupted():
        raise KeyboardInterrupt

    assert common.run_bench("b", missing, data_dir_option=False) == 2
    err = capsys.readouterr().err
    assert err == ("b: error: mitdb data directory not found: 'x' (from default); set "
                   "MITDB_DIR=/path/to/mitdb\n")
    assert common.run_bench("b", interrupted) == 130
    assert capsys.readouterr().err == "b: interrupted; nothing written\n"
    assert common.run_bench("b", lambda: 0) == 0


def test_git_head_names_the_revision_and_says_when_the_code_differs(tmp_path, monkeypatch):
    import subprocess

    from benchmarks import common

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("r\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    head = common.git_head()
    assert len(head) >= 7 and "+" not in head
    (tmp_path / "README.md").write_text("changed\n")  # not code under test
    assert common.git_head() == head
    (tmp_path / "edge" / "a.py").write_text("x = 2\n")
    assert common.git_head() == head + "+uncommitted"
    import tempfile

    with tempfile.TemporaryDirectory() as plain:  # not in a checkout
        monkeypatch.setattr(common, "ROOT", Path(plain))
        assert common.git_head() == "unknown"
