"""``ecg-edge history``: option values are one-line errors naming the option."""
import pytest

from edge.cli.main import main


@pytest.mark.parametrize("value", ["1e308", "1e18", "0", "nan"])
def test_a_silence_out_of_range_is_a_one_line_error(tmp_path, capsys, value):
    """Audit C, defect 9: ``--silence-s 1e308`` (float overflow) and ``1e18`` (SQLite integer
    overflow) were tracebacks."""
    with pytest.raises(SystemExit) as exc:
        main(["history", "--db", str(tmp_path / "ev.db"), "--silence-s", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ecg-edge history: error: argument --silence-s: expected a number")
