"""training.crossval: bad settings, data folders and Ctrl-C are one line, never a traceback
(the cross-validation itself trains three models: not run here)."""
from __future__ import annotations

import pytest

from training import crossval


@pytest.mark.parametrize("argv, words", [
    (["--class-weight-scale", "0", "1", "1", "1", "1"], ["--class-weight-scale", "finite"]),
    (["--class-weight-power", "nan"], ["--class-weight-power", "finite"]),
    (["--out", "{afile}"], ["--out", "is not a directory"]),
])
def test_bad_settings_are_refused_before_training(tmp_path, argv, words, capsys):
    (tmp_path / "afile").write_text("x")
    argv = [a.format(afile=tmp_path / "afile") for a in argv]
    with pytest.raises(SystemExit) as exc:
        crossval.main(["--out", str(tmp_path / "cv"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert all(w in err for w in words) and "Traceback" not in err


@pytest.mark.parametrize("where", ["empty --data-dir", "MITDB_DIR unset"])
def test_a_missing_mitdb_is_one_line(tmp_path, monkeypatch, capsys, where):
    monkeypatch.chdir(tmp_path)  # unset: ./data/mitdb, which is not there
    monkeypatch.delenv("MITDB_DIR", raising=False)
    extra = ["--data-dir", str(tmp_path)] if where.startswith("empty") else []
    assert crossval.main(["--out", str(tmp_path / "cv"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mitdb" in err.lower() and "Traceback" not in err
    assert "as a path" not in err  # crossval takes record names, not paths


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(crossval, "cross_validate", interrupted)
    assert crossval.main(["--out", str(tmp_path / "cv")]) == 130
    assert "interrupted" in capsys.readouterr().err
