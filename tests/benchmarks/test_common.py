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


_OUT_OPTIONS = {
    "--out": ["bench_adapt", "bench_alarm_chain", "bench_alarm_path", "bench_annotate",
              "bench_classifier", "bench_false_alarms", "bench_flutter_grading",
              "bench_noise_added", "bench_outbox_durability", "bench_rpeak",
              "bench_ventricular", "bench_fleet", "bench_ingest"],
    "--out-dir": ["bench_decoder", "bench_generalisation", "bench_rhythm"],
    "--out-stem": ["bench_efficiency", "efficiency_vf_screen", "bench_size_curve",
                   "bench_polarity"],
}


@pytest.mark.parametrize("module, option", [(m, o) for o, ms in _OUT_OPTIONS.items()
                                            for m in ms])
def test_every_benchmark_refuses_an_unwritable_output_before_the_run(tmp_path, capsys,
                                                                      module, option):
    """An output under a regular file is the parser's one-line error (exit 2) before any
    measurement -- not a run of minutes that fails at its last step."""
    import importlib

    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / ("x.json" if module in ("bench_fleet", "bench_ingest") else "x")
    argv = [str(tmp_path)] if module == "bench_polarity" else []
    main = importlib.import_module(f"benchmarks.{module}").main
    with pytest.raises(SystemExit) as exc:
        main(argv + [option, str(target)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and f"{str(blocker)!r} is a file" in err


def test_results_stem_is_under_the_results_folder_unless_absolute(tmp_path):
    assert common.results_stem("efficiency") == common.ROOT / "benchmarks/results/efficiency"
    assert common.results_stem(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        common.output_file(str(tmp_path))
