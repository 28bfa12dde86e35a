"""benchmarks/bench_ingest.py: option values are checked before any server starts, and its
/tmp/bench-ingest-* folder goes on every exit (results, error or Ctrl-C)."""
from __future__ import annotations

import shutil
import tempfile

import pytest

from benchmarks import bench_ingest as bi
from edge.errors import StoreError
from tests.benchmarks.support import exits_2, one_line_error


@pytest.mark.parametrize("argv, words", [
    (["--devices", "0"], ["--devices", ">= 1"]), (["--events", "-5"], ["--events", ">= 1"]),
    (["--events", "5", "--devices", "10"], ["fewer than --devices"]),
    (["--rate", "nan"], ["--rate"]), (["--latency-s", "0"], ["--latency-s"]),
])
def test_bad_values_are_refused(argv, words, tmp_path, capsys):
    exits_2(bi.main, [*argv, "--out", str(tmp_path / "i.json")])
    one_line_error(capsys, *words)


@pytest.mark.parametrize("failure, rc", [(KeyboardInterrupt, 130), (StoreError("down"), 2)])
def test_the_work_folder_goes_on_every_exit(failure, rc, tmp_path, monkeypatch, capsys):
    from tests.edge.store import pg_support

    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(pg_support, "pg_bin", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def fails(args, argv, work):
        assert work.is_dir() and work.name.startswith("bench-ingest-")
        raise failure

    monkeypatch.setattr(bi, "_run", fails)
    assert bi.main(["--devices", "2", "--events", "4", "--out", str(tmp_path / "i.json")]) == rc
    one_line_error(capsys, "bench_ingest")
    assert not list(tmp_path.glob("bench-ingest-*"))
