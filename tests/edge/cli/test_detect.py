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


def _record(folder, name="rec", seconds=20):
    """A synthetic one-lead record (beats every second) written by wfdb: ``folder/name``."""
    import numpy as np
    import wfdb

    x = np.zeros((360 * seconds, 1))
    x[180::360, 0] = 1.0
    wfdb.wrsamp(name, fs=360, units=["mV"], sig_name=["MLII"], p_signal=x, fmt=["16"],
                write_dir=str(folder))
    return folder / name


@pytest.mark.parametrize("ext, what", [("hea", "its header"), ("dat", "its signal file"),
                                       ("mat", "its signal file")])
def test_an_extension_naming_the_records_own_file_is_refused(tmp_path, capsys, ext, what):
    """Audit C, defect 1: ``--ext hea|dat|mat`` replaced the record's own header or signal
    file (even a read-only one, by rename); refused now before any work, exit 2."""
    import os

    rec = _record(tmp_path)
    (tmp_path / "rec.mat").write_bytes(b"not really a mat file")
    files = sorted(tmp_path.iterdir())
    before = {p: p.read_bytes() for p in files}
    for p in files:
        os.chmod(p, 0o444)
    for command in ("detect", "annotate"):
        assert main([command, str(rec), "--ext", ext, "--out-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"would overwrite {tmp_path / ('rec.' + ext)}" in err
        assert what in err
    assert {p: p.read_bytes() for p in sorted(tmp_path.iterdir())} == before


def test_a_signal_file_named_otherwise_is_refused_too(tmp_path, capsys):
    """The signal files are those the header names, whatever their name."""
    rec = _record(tmp_path)
    head = tmp_path / "rec.hea"
    (tmp_path / "rec.dat").rename(tmp_path / "rec.sig")
    head.write_text(head.read_text().replace("rec.dat", "rec.sig"))
    assert main(["detect", str(rec), "--ext", "sig", "--out-dir", str(tmp_path)]) == 2
    assert "rec.sig, its signal file" in capsys.readouterr().err
    assert main(["detect", str(rec), "--ext", "dat", "--out-dir", str(tmp_path)]) == 0


def test_an_output_path_that_is_a_folder_names_the_users_path(tmp_path, capsys):
    """Audit C, defect 13: the error named the temporary file (``.rec.qrs.1719.tmp``)."""
    rec = _record(tmp_path)
    (tmp_path / "out" / "rec.qrs").mkdir(parents=True)
    assert main(["detect", str(rec), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out' / 'rec.qrs'} is a folder" in err and ".tmp" not in err


def test_a_dangling_out_dir_link_is_said_so(tmp_path, capsys):
    """Audit C, defect 13: a dangling ``--out-dir`` symbolic link said "File exists"."""
    rec = _record(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(rec), "--out-dir", str(tmp_path / "dangling")])
    assert exc.value.code == 2
    assert "is a dangling symbolic link" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["detect", "annotate"])
@pytest.mark.parametrize("value", ["1e306", "3601"])
def test_a_huge_chunk_is_a_one_line_error(tmp_path, capsys, command, value):
    """Audit C, defect 9: ``--chunk-s 1e306`` passed and overflowed (a traceback)."""
    with pytest.raises(SystemExit) as exc:
        main([command, "100", "--out-dir", str(tmp_path), "--chunk-s", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "argument --chunk-s: expected a number <= 3600 s" in err[-1]


@pytest.mark.parametrize("setup, words", [
    ("annotation path", "is a file of WFDB record"),
    ("non-ascii", "not ASCII"),
    ("other folder", "in another folder"),
])
def test_a_record_path_or_header_problem_gives_its_cause(tmp_path, capsys, setup, words):
    """Audit C, defect 13: these said "the files may be truncated or damaged ... download it
    again" (or blamed the rate field)."""
    rec = _record(tmp_path)
    if setup == "annotation path":
        (tmp_path / "rec.qrs").write_bytes(b"\0\0")
        target = tmp_path / "rec.qrs"
    elif setup == "non-ascii":
        (tmp_path / "rec.dat").rename(tmp_path / "ü.dat")
        (tmp_path / "ü.hea").write_text("ü 1 360 7200\nü.dat 16 200 16 0 0 0 0 MLII\n")
        target = tmp_path / "ü"
    else:
        (tmp_path / "far").mkdir()
        (tmp_path / "far" / "far.hea").write_text(
            "far 1 360 7200\n../rec.dat 16 200 16 0 0 0 0 MLII\n")
        target = tmp_path / "far" / "far"
    del rec
    assert main(["detect", str(target), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert words in err and "download it again" not in err and err.count("\n") == 1
