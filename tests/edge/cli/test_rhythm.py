"""``ecg-edge rhythm``: CinC 2017 recordings in, ``name,label`` lines out, through the device's
detector and the strip model; too short or unreadable recordings are ``~``, never a crash."""
from __future__ import annotations

import numpy as np
import pytest
import wfdb

from edge.cli.main import main
from edge.rhythm import STRIP_CLASSES

RECORDS = ("A00001", "A00004", "A00009", "A00020", "A00034")  # N, A, A, O, ~ in REFERENCE.csv


def _lines(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split(",")) for line in text.strip().splitlines()]


def test_ctrl_c_halfway_says_how_far_the_answers_go(cinc2017_dir, tmp_path, capsys,
                                                    monkeypatch):
    """Ctrl-C on the third recording: exit 130, the two whole answers stay in the file and
    stderr says the set is not complete (no traceback)."""
    import edge.cli.rhythm as rhythm_cli
    real = rhythm_cli.classify_record
    seen = []

    def interrupted_on_third(path, **kw):
        seen.append(path.name)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return real(path, **kw)

    monkeypatch.setattr(rhythm_cli, "classify_record", interrupted_on_third)
    out = tmp_path / "answers.txt"
    assert main(["rhythm", *[str(cinc2017_dir / r) for r in RECORDS], "--out", str(out)]) == 130
    assert [n for n, _ in _lines(out.read_text())] == list(RECORDS[:2])
    err = capsys.readouterr().err
    assert f"interrupted after 2 of 5 recordings; {out} holds their answers" in err
    assert "Traceback" not in err


def test_a_few_cinc_recordings(cinc2017_dir, capsys):
    paths = [str(cinc2017_dir / f"{r}.hea") for r in RECORDS]
    assert main(["rhythm", *paths]) == 0
    captured = capsys.readouterr()
    lines = _lines(captured.out)
    assert [name for name, _ in lines] == list(RECORDS)
    assert all(label in STRIP_CLASSES for _, label in lines)
    assert captured.err.startswith("ecg-edge rhythm: 5 recordings")


def test_out_file_and_every_path_form(cinc2017_dir, tmp_path, capsys):
    out = tmp_path / "answers" / "answers.txt"
    assert main(["rhythm", str(cinc2017_dir / "A00001"), str(cinc2017_dir / "A00004.mat"),
                 "--out", str(out)]) == 0
    assert [n for n, _ in _lines(out.read_text())] == ["A00001", "A00004"]
    assert capsys.readouterr().out == ""


def test_too_short_and_flat_recordings_are_noise_with_the_reason(cinc2017_dir, tmp_path,
                                                                   capsys, caplog):
    rec = wfdb.rdrecord(str(cinc2017_dir / "A00001"))
    x = rec.p_signal[:, :1]
    wfdb.wrsamp("short", fs=rec.fs, units=["mV"], sig_name=["ECG"], p_signal=x[:2 * 300],
                fmt=["16"], write_dir=str(tmp_path))
    wfdb.wrsamp("flat", fs=rec.fs, units=["mV"], sig_name=["ECG"],
                p_signal=np.zeros((30 * 300, 1)), fmt=["16"], write_dir=str(tmp_path))
    assert main(["rhythm", str(tmp_path / "short"), str(tmp_path / "flat")]) == 0
    assert _lines(capsys.readouterr().out) == [("short", "~"), ("flat", "~")]
    assert "short: '~'" in caplog.text and "flat: '~'" in caplog.text


def test_a_missing_path_is_one_line_before_any_output(cinc2017_dir, tmp_path, capsys):
    assert main(["rhythm", str(cinc2017_dir / "A00001"), str(tmp_path / "nothere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "nothere" in captured.err


def test_out_as_a_directory_and_a_bare_database_name_are_one_clear_line(
        cinc2017_dir, tmp_path, capsys, monkeypatch):
    """Session 48 audit: ``--out DIR`` said ``[Errno 21] Is a directory: 'DIR'``; ``rhythm
    201`` did not say that the record lies in ``$MITDB_DIR`` (paths are read as given)."""
    assert main(["rhythm", str(cinc2017_dir / "A00001"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"ecg-edge rhythm: error: {tmp_path}: a directory, not a file " \
                          f"(give a file path)"
    monkeypatch.setenv("CINC2017_DIR", str(cinc2017_dir))
    monkeypatch.chdir(tmp_path)
    assert main(["rhythm", "A00001"]) == 2
    err = capsys.readouterr().err
    assert f"did you mean {cinc2017_dir / 'A00001'} ($CINC2017_DIR)?" in err
    # session 49 audit: with no MITDB_DIR set, `rhythm 201` gave no next step
    monkeypatch.delenv("MITDB_DIR", raising=False)
    assert main(["rhythm", "201"]) == 2
    err = capsys.readouterr().err
    assert "$MITDB_DIR/201" in err and "ecg-edge download mitdb" in err


def test_a_directory_with_records(cinc2017_dir, tmp_path, capsys):
    for name in ("A00001", "A00004"):
        for ext in (".hea", ".mat"):
            (tmp_path / f"{name}{ext}").write_bytes((cinc2017_dir / f"{name}{ext}").read_bytes())
    (tmp_path / "RECORDS").write_text("A00004\nA00001\n")
    assert main(["rhythm", str(tmp_path)]) == 0
    assert [n for n, _ in _lines(capsys.readouterr().out)] == ["A00004", "A00001"]


def test_the_lead_ii_channel_is_read_unless_one_is_given(cinc2017_dir, tmp_path, capsys,
                                                          caplog):
    """A two-channel record whose second channel is MLII: that one is read by default (the
    label of the recording alone, and the choice logged); ``--channel 0`` reads the flat one."""
    import logging

    rec = wfdb.rdrecord(str(cinc2017_dir / "A00004"))
    x = rec.p_signal[:, :1]
    two = np.hstack([np.zeros_like(x), x])
    wfdb.wrsamp("two", fs=rec.fs, units=["mV", "mV"], sig_name=["V1", "MLII"], p_signal=two,
                fmt=["16", "16"], write_dir=str(tmp_path))
    assert main(["rhythm", str(cinc2017_dir / "A00004")]) == 0
    alone = _lines(capsys.readouterr().out)[0][1]
    with caplog.at_level(logging.INFO, logger="edge.cli.rhythm"):
        assert main(["rhythm", str(tmp_path / "two")]) == 0
    assert _lines(capsys.readouterr().out) == [("two", alone)]
    assert "two: channel 1 (MLII, the MLII lead)" in caplog.text
    assert main(["rhythm", str(tmp_path / "two"), "--channel", "0"]) == 0
    assert _lines(capsys.readouterr().out) == [("two", "~")]
    # no recording read at all: still its line, and exit 1 (session 44 audit)
    assert main(["rhythm", str(tmp_path / "two"), "--channel", "2"]) == 1
    assert _lines(capsys.readouterr().out) == [("two", "~")]
    assert "no channel 2 (the record has 2)" in caplog.text
    assert main(["rhythm", str(tmp_path / "two"), str(cinc2017_dir / "A00004"),
                 "--channel", "1"]) == 0  # A00004 lacks channel 1, two has it


def test_a_long_recording_is_classified_on_its_start_and_says_so(cinc2017_dir, tmp_path,
                                                                   capsys, caplog):
    """A recording longer than ``--max-s``: its first ``--max-s`` seconds alone are read (the
    same label as the cut recording), with a warning naming both lengths."""
    rec = wfdb.rdrecord(str(cinc2017_dir / "A00004"))  # 30 s
    x = rec.p_signal[:, :1]
    wfdb.wrsamp("start", fs=rec.fs, units=["mV"], sig_name=["ECG"], p_signal=x[:20 * 300],
                fmt=["16"], write_dir=str(tmp_path))
    wfdb.wrsamp("long", fs=rec.fs, units=["mV"], sig_name=["ECG"],
                p_signal=np.vstack([x[:20 * 300], np.zeros((10 * 300, 1))]), fmt=["16"],
                write_dir=str(tmp_path))
    assert main(["rhythm", str(tmp_path / "start")]) == 0
    start = _lines(capsys.readouterr().out)
    assert main(["rhythm", str(tmp_path / "long"), "--max-s", "20"]) == 0
    assert _lines(capsys.readouterr().out) == [("long", start[0][1])]
    assert "long: 30 s long; classified on its first 20 s" in caplog.text
    caplog.clear()
    assert main(["rhythm", str(tmp_path / "start"), "--max-s", "20"]) == 0  # not longer
    assert "classified on its first" not in caplog.text


@pytest.mark.parametrize("argv", [["--channel", "-1"], [], ["x", "--max-s", "0"],
                                  ["x", "--max-s", "nan"]])
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["rhythm", *argv])
    assert exc.value.code == 2


def test_no_net_and_another_net(cinc2017_dir, tmp_path, capsys):
    from edge.rhythm.strip_net import default_net_path

    paths = [str(cinc2017_dir / f"{r}.hea") for r in RECORDS]
    assert main(["rhythm", *paths, "--no-net"]) == 0
    alone = _lines(capsys.readouterr().out)
    copy = tmp_path / "net.tflite"
    copy.write_bytes(default_net_path().read_bytes())
    assert main(["rhythm", *paths, "--net", str(copy)]) == 0
    both = _lines(capsys.readouterr().out)
    assert main(["rhythm", *paths]) == 0
    assert _lines(capsys.readouterr().out) == both
    assert [n for n, _ in alone] == [n for n, _ in both] == list(RECORDS)


@pytest.mark.parametrize("damage", ["cut", "missing", "beat model"])
def test_a_damaged_or_wrong_net_is_one_line_before_any_output(cinc2017_dir, tmp_path, capsys,
                                                              damage):
    from edge.model.bundled import default_model_path
    from edge.rhythm.strip_net import default_net_path

    bad = tmp_path / "net.tflite"
    if damage == "cut":
        bad.write_bytes(default_net_path().read_bytes()[:5000])
    elif damage == "beat model":
        bad.write_bytes(default_model_path().read_bytes())
    assert main(["rhythm", str(cinc2017_dir / "A00001"), "--net", str(bad)]) != 0
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.strip().count("\n") == 0 and "net.tflite" in captured.err


def test_net_and_no_net_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["rhythm", "x", "--net", "a.tflite", "--no-net"])
    assert exc.value.code == 2
