"""The training tools' shared command-line guard (:func:`training.tool.run_guarded`)."""
from __future__ import annotations

from edge.errors import DataNotFoundError
from training.tool import run_guarded


def test_a_data_hint_names_data_dir_only_for_mit_bih(capsys):
    """Session 48 audit: ``training.train --svdb`` with ``SVDB_DIR`` unset said "or pass
    --data-dir", an option that names the MIT-BIH folder only."""
    tail = ", pass --data-dir, or give the record as a path"

    def fails(database):  # noqa: ANN001, ANN202
        def job():  # noqa: ANN202
            raise DataNotFoundError(f"{database} data directory not found; set "
                                    f"{database.upper()}_DIR=/path/to/{database}{tail}")
        return job

    assert run_guarded("prog", fails("svdb"), interrupted="") == 2
    assert capsys.readouterr().err.strip().endswith("set SVDB_DIR=/path/to/svdb")
    assert run_guarded("prog", fails("mitdb"), interrupted="") == 2
    assert capsys.readouterr().err.strip().endswith("MITDB_DIR=/path/to/mitdb, or pass --data-dir")
