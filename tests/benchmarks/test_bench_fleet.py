"""benchmarks/bench_fleet.py: option values, the model and the records are checked before any
broker starts, and its work folder goes on every exit."""
from __future__ import annotations

import shutil
import tempfile

import pytest

from benchmarks import bench_fleet as bf
from tests.benchmarks.support import MODELS, exits_2, one_line_error

MODEL = str(MODELS / "default.tflite")


@pytest.mark.parametrize("argv, words", [
    (["--ks", "foo"], ["--ks", "integer >= 1"]), (["--ks", "0"], ["--ks", ">= 1"]),
    (["--ks", ","], ["--ks"]), (["--duration-s", "-1"], ["--duration-s", "> 0"]),
    (["--saturation", "nan"], ["--saturation"]), (["--max-p99-ms", "0"], ["--max-p99-ms"]),
])
def test_bad_values_are_refused(argv, words, tmp_path, capsys):
    exits_2(bf.main, ["--model", MODEL, *argv, "--out", str(tmp_path / "f.json")])
    one_line_error(capsys, *words)


def test_a_damaged_model_is_one_line_before_the_broker(truncated_tflite, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def no_broker(*args, **kwargs):
        raise AssertionError("the sweep started before the model was checked")

    monkeypatch.setattr(bf, "_sweep", no_broker)
    assert bf.main(["--model", str(truncated_tflite), "--out", str(tmp_path / "f.json")]) == 2
    one_line_error(capsys, "trunc.tflite: damaged .tflite")
    assert not list(tmp_path.glob("bench-fleet-*"))


def test_the_work_folder_goes_on_ctrl_c(tmp_path, monkeypatch, capsys, mitdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def interrupted(args, work):
        assert work.is_dir()
        raise KeyboardInterrupt

    monkeypatch.setattr(bf, "_sweep", interrupted)
    assert bf.main(["--model", MODEL, "--ks", "2", "--out", str(tmp_path / "f.json")]) == 130
    one_line_error(capsys, "interrupted")
    assert not list(tmp_path.glob("bench-fleet-*"))
