"""benchmarks/bench_rpeak.py: data directories come from --data-dir / $MITDB_DIR / $NSTDB_DIR
(no hard-coded path), and a missing one or a bad option is a one-line error, exit 2, before any
detector runs."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_rpeak  # noqa: E402


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_missing_mitdb_directory_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MITDB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data/mitdb here
    assert bench_rpeak.main(["--records", "100", "--no-nstdb", "--out", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("bench_rpeak.py: error: mitdb data directory not found")
    assert "MITDB_DIR" in err
    assert not (tmp_path / "rpeak.json").exists()


def test_data_dir_option_wins_over_the_environment(tmp_path, monkeypatch, capsys, mitdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    missing = tmp_path / "nope"
    assert bench_rpeak.main(["--data-dir", str(missing), "--records", "100", "--no-nstdb",
                             "--out", str(tmp_path)]) == 2
    assert f"'{missing}' (from data_dir / --data-dir)" in _one_line_error(capsys)


def test_missing_nstdb_directory_is_an_error_only_when_the_nst_runs(tmp_path, monkeypatch,
                                                                    capsys, mitdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    monkeypatch.delenv("NSTDB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert bench_rpeak.main(["--records", "100", "--nstdb-records", "118e06",
                             "--out", str(tmp_path)]) == 2
    assert "nstdb data directory not found" in _one_line_error(capsys)


def test_unknown_record_is_a_one_line_error(tmp_path, monkeypatch, capsys, mitdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bench_rpeak.main(["--records", "100,999", "--no-nstdb", "--out", str(tmp_path)]) == 2
    assert "record '999' not found" in _one_line_error(capsys)


@pytest.mark.parametrize("argv, message", [
    (["--detectors", "ours,pan"], "unknown detector(s) ['pan']"),
    (["--nstdb-records", "118e07"], "--nstdb-records: unknown ['118e07']"),
    (["--jobs", "0"], "--jobs: must be >= 1"),
    (["--no-svdb", "--svdb-records", "865"], "--no-svdb contradicts"),
    # session 44 script audit: "," ran nothing (or everything) and wrote empty results, exit 0
    (["--detectors", ","], "--detectors: expected comma-separated names, got ','"),
    (["--records", ","], "--records: expected comma-separated names"),
    (["--nstdb-records", ""], "--nstdb-records: expected comma-separated names"),
    (["--svdb-records", ","], "--svdb-records: expected comma-separated names"),
])
def test_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_rpeak.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_svdb_directory_and_records(tmp_path, monkeypatch, capsys, mitdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    missing = tmp_path / "nope"
    assert bench_rpeak.main(["--records", "100", "--no-nstdb", "--svdb-dir", str(missing),
                             "--out", str(tmp_path)]) == 2
    assert "svdb data directory not found" in _one_line_error(capsys)
    # Without --svdb-dir / $SVDB_DIR / a sibling svdb folder the section is skipped ...
    monkeypatch.delenv("SVDB_DIR", raising=False)
    assert bench_rpeak._svdb_dir(None, str(tmp_path / "mitdb"), required=False) is None
    # ... unless records were asked for.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(bench_rpeak.EdgeError, match="SVDB_DIR"):
        bench_rpeak._svdb_dir(None, str(tmp_path / "mitdb"), required=True)
    assert not (tmp_path / "rpeak.json").exists()


def test_unknown_svdb_record_is_a_one_line_error(tmp_path, monkeypatch, capsys, mitdb_dir,
                                                 svdb_dir):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bench_rpeak.main(["--records", "100", "--no-nstdb", "--svdb-dir", str(svdb_dir),
                             "--svdb-records", "865,999", "--out", str(tmp_path)]) == 2
    assert "'999' not found" in _one_line_error(capsys)


def test_record_selection():
    a = bench_rpeak._parse_args(["--records", "207, 100", "--nstdb-records", "119e00,118e06"])
    assert a.records == ["207", "100"]
    assert a.nstdb_records == ["118e06", "119e00"]  # in NSTDB_RECORDS order
    assert bench_rpeak._parse_args(["--no-nstdb"]).nstdb_records == []
    assert len(bench_rpeak._parse_args([]).records) == 48


def test_workers_hash_the_code_they_imported():
    """A worker reports the hash of the sources under the root it imported edge from: the
    same as the parent's hash of that root (it was edge/ itself after the layout moved
    detection.py into edge/dsp/, so every run warned that workers ran other code)."""
    bench_rpeak._WORKER_CODE = None
    code = bench_rpeak._worker_code()
    root = Path(code.split(" @ ", 1)[1])
    assert (root / "edge" / "dsp" / "detection.py").is_file()
    assert code.split(" @ ", 1)[0] == bench_rpeak._combined(bench_rpeak.source_hashes(root))
    assert None not in bench_rpeak.source_hashes(root).values()


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_rpeak, "_resolve_dir", interrupted)
    assert bench_rpeak.main(["--records", "100", "--no-nstdb", "--out", str(tmp_path)]) == 130
    assert _one_line_error(capsys) == "bench_rpeak.py: interrupted; nothing written"
    assert not (tmp_path / "rpeak.json").exists()
