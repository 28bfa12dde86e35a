"""``ecg-edge detect``: bad option values are one-line errors naming the option."""
import pytest

from edge.cli.main import main


@pytest.mark.parametrize("argv, option", [
    (["--chunk-s", "-1"], "--chunk-s"),  # issue 14, bad input 7: ran 1-sample chunks (30 s)
    (["--chunk-s", "0"], "--chunk-s"),
    (["--chunk-s", "nan"], "--chunk-s"),
    (["--channel", "-1"], "--channel"),
])
def test_bad_values_are_one_line_errors(argv, option, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["detect", "100", "--out-dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ecg-edge detect: error: argument") and option in err[-1]
    assert not list(tmp_path.iterdir())


def test_chunk_size_does_not_change_the_result(mitdb_dir, tmp_path):
    import wfdb

    for chunk, ext in (("1", "qa"), ("0.37", "qb")):
        assert main(["detect", "100", "--chunk-s", chunk, "--ext", ext, "--out-dir",
                     str(tmp_path), "--data-dir", str(mitdb_dir)]) == 0
    a, b = (wfdb.rdann(str(tmp_path / "100"), e) for e in ("qa", "qb"))
    assert list(a.sample) == list(b.sample)


def test_a_flat_record_says_why_it_has_no_beats(tmp_path, caplog):
    """Session 44 audit: a flat line gave "0 beats" and exit 0 without a word."""
    import logging

    import numpy as np
    import wfdb

    from edge.cli.main import main

    wfdb.wrsamp("flat", fs=360, units=["mV"], sig_name=["MLII"],
                p_signal=np.zeros((360 * 20, 1)), fmt=["16"], write_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        assert main(["detect", str(tmp_path / "flat"), "--out-dir", str(tmp_path)]) == 0
    assert "flat: no beat found: the signal is flat (lead off?)" in caplog.text


def test_an_annotation_extension_is_letters_and_digits(tmp_path, capsys):
    import pytest

    from edge.cli.main import main

    for bad in ("", "a/b", "x.y", "qrs1"):  # wfdb writes no digit (qrs1 was a traceback)
        for command in ("detect", "annotate"):
            with pytest.raises(SystemExit) as exc:
                main([command, "100", "--ext", bad, "--out-dir", str(tmp_path)])
            assert exc.value.code == 2
            assert "extension of letters only" in capsys.readouterr().err
