"""benchmarks/bench_decoder.py: bad option values are one line and exit 2."""
from __future__ import annotations

import pytest

from benchmarks import bench_decoder as bd
from tests.benchmarks.support import exits_2, one_line_error


@pytest.mark.parametrize("argv, words", [
    (["--repeats", "0"], ["--repeats", ">= 1"]),
    (["--seconds-of-signal", "-1"], ["--seconds-of-signal", "> 0"]),
    (["--seconds-of-signal", "nan"], ["--seconds-of-signal", "> 0"]),
    (["--seconds-of-signal", "0.05"], ["--seconds-of-signal", "at least 1 s"]),
])
def test_bad_values_are_refused(argv, words, tmp_path, capsys):
    exits_2(bd.main, [*argv, "--out-dir", str(tmp_path)])
    one_line_error(capsys, *words)
    assert not list(tmp_path.iterdir())
