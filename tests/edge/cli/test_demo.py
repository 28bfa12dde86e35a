"""``ecg-edge demo``'s options: bad values are one-line errors naming the option."""
import pytest

from edge.cli.main import build_parser, main


@pytest.mark.parametrize("argv, option", [
    (["--duration-s", "-3"], "--duration-s"),  # issue 14, bad input 3: a traceback before
    (["--duration-s", "0"], "--duration-s"),
    (["--duration-s", "nan"], "--duration-s"),
    (["--speed", "0"], "--speed"),  # 0 is neither real time nor 'max'
    (["--speed", "-1"], "--speed"),
    (["--speed", "fast"], "--speed"),  # a ValueError traceback before
    (["--speed", "inf"], "--speed"),
])
def test_bad_values_are_one_line_errors(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ecg-edge demo: error: argument") and option in err[-1]
    assert "Traceback" not in "".join(err)


@pytest.mark.parametrize("text, speed", [("max", None), ("MAX", None), ("1", 1.0),
                                         ("0.5", 0.5)])
def test_speed_spellings(text, speed):
    assert build_parser().parse_args(["demo", "--speed", text]).speed == speed
    assert build_parser().parse_args(["demo"]).speed == 1.0


def test_run_demo_refuses_bad_values_itself():
    from edge.errors import ConfigError
    from edge.runtime.demo import run_demo

    for kwargs, field in (({"duration_s": -3.0}, "duration_s"), ({"duration_s": 0.0},
                                                                  "duration_s"),
                          ({"speed": 0.0}, "speed")):
        with pytest.raises(ConfigError) as exc:
            run_demo(**kwargs)
        assert exc.value.field == field
