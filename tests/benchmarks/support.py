"""Helpers shared by the benchmark tests: a command's one-line error and exit 2."""
from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "edge" / "models"


def one_line_error(capsys, *words: str) -> str:
    """The command's stderr is one line (after argparse's usage lines, when it printed them)
    holding every one of ``words``, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    for w in words:
        assert w in last, (w, err)
    return last


def exits_2(main, argv: list[str]) -> None:
    """``main(argv)`` refuses its arguments: argparse's SystemExit(2) or a returned 2."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
