"""``ecg-edge rhythm``: CinC 2017 recordings in, ``name,label`` lines out, through the device's
detector and the strip model; too short or unreadable recordings are ``~``, never a crash."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import wfdb

from edge.cli.main import main
from edge.rhythm import STRIP_CLASSES

RECORDS = ("A00001", "A00004", "A00009", "A00020", "A00034")  # N, A, A, O, ~ in REFERENCE.csv


def _lines(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split(",")) for line in text.strip().splitlines()]


def _interrupted_on_third(monkeypatch, exc):
    """``classify_record`` that raises ``exc`` (or sends it, a signal number) on the third
    recording."""
    import os

    import edge.cli.rhythm as rhythm_cli
    real = rhythm_cli.classify_record
    seen = []

    def classify(path, **kw):
        seen.append(path.name)
        if len(seen) == 3:
            if isinstance(exc, int):
                os.kill(os.getpid(), exc)
            else:
                raise exc
        return real(path, **kw)

    monkeypatch.setattr(rhythm_cli, "classify_record", classify)


@pytest.mark.parametrize("how, code, said", [("ctrl-c", 130, "interrupted"),
                                              ("sigterm", 143, "terminated")])
def test_ctrl_c_or_sigterm_halfway_leaves_the_previous_answers(cinc2017_dir, tmp_path, capsys,
                                                               monkeypatch, how, code, said):
    """Audit C, defects 5/11: Ctrl-C or SIGTERM on the third recording: the previous --out
    is left as it was (it was truncated at the start, then held a partial answer set that
    looked complete), no temporary file is left, stderr says so, no traceback."""
    import signal

    _interrupted_on_third(monkeypatch, KeyboardInterrupt if how == "ctrl-c"
                          else int(signal.SIGTERM))
    out = tmp_path / "answers.txt"
    out.write_text("previous,N\n")
    assert main(["rhythm", *[str(cinc2017_dir / r) for r in RECORDS], "--out", str(out)]) == code
    assert out.read_text() == "previous,N\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.txt"]
    err = capsys.readouterr().err
    assert f"{said} after 2 of 5 recordings; {out} not written (left as it was)" in err
    assert "Traceback" not in err
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler is put back


def test_out_is_replaced_whole_once_every_recording_is_classified(cinc2017_dir, tmp_path,
                                                                  monkeypatch):
    """Audit C, defect 5: the answers go to a temporary file beside --out, renamed over it at
    the end: while running, --out still holds the previous answers (two runs never mix
    lines), and the new file has a normal file's permissions."""
    import edge.cli.rhythm as rhythm_cli
    real = rhythm_cli.classify_record
    out = tmp_path / "answers.txt"
    out.write_text("previous,N\n")
    during = []

    def classify(path, **kw):
        during.append(out.read_text())
        return real(path, **kw)

    monkeypatch.setattr(rhythm_cli, "classify_record", classify)
    assert main(["rhythm", *[str(cinc2017_dir / r) for r in RECORDS[:2]], "--out",
                 str(out)]) == 0
    assert during == ["previous,N\n"] * 2
    assert [n for n, _ in _lines(out.read_text())] == list(RECORDS[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.txt"]


def test_out_dash_is_stdout(cinc2017_dir, tmp_path, capsys, monkeypatch):
    """Audit C: ``--out -`` wrote a file named '-'."""
    monkeypatch.chdir(tmp_path)
    assert main(["rhythm", str(cinc2017_dir / "A00001"), "--out", "-"]) == 0
    assert [n for n, _ in _lines(capsys.readouterr().out)] == ["A00001"]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("out, inputs, words", [
    ("db/A00001.hea", ["db/A00001", "db/A00002"], "its header (record A00001)"),
    ("db/A00002.mat", ["db/A00004", "db/A00002.mat"], "its signal file (record A00002)"),
    ("db/RECORDS", ["db"], "the list of records of"),
    ("link.hea", ["db/A00001"], "its header (record A00001)"),  # a symbolic link to it
])
def test_an_out_that_is_an_input_is_refused_before_anything_is_written(
        cinc2017_dir, tmp_path, capsys, monkeypatch, out, inputs, words):
    """Audit C, defect 2: ``--out`` naming an input's header, signal file or a folder's
    RECORDS list emptied it before it was read."""
    import shutil

    db = tmp_path / "db"
    db.mkdir()
    for r in ("A00001", "A00002", "A00004"):
        for ext in ("hea", "mat"):
            shutil.copy(cinc2017_dir / f"{r}.{ext}", db)
    (db / "RECORDS").write_text("A00001\nA00002\n")
    (tmp_path / "link.hea").symlink_to(db / "A00001.hea")
    before = {p.name: p.read_bytes() for p in db.iterdir()}
    monkeypatch.chdir(tmp_path)
    assert main(["rhythm", *inputs, "--out", out]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err and "not overwritten" in captured.err
    assert {p.name: p.read_bytes() for p in db.iterdir()} == before


def test_one_recording_twice_is_classified_once_and_same_names_are_warned(
        cinc2017_dir, tmp_path, capsys, caplog):
    """Audit C, defect 12: a folder of links to a recording's files and the recording itself
    are one recording (listed twice before); two different recordings with one name are
    warned about, naming both paths."""
    import logging
    import shutil

    links, other = tmp_path / "links", tmp_path / "other"
    links.mkdir()
    other.mkdir()
    for ext in ("hea", "mat"):
        (links / f"A00001.{ext}").symlink_to(cinc2017_dir / f"A00001.{ext}")
        shutil.copy(cinc2017_dir / f"A00004.{ext}", other / f"A00001.{ext}")
    head = other / "A00001.hea"
    head.write_text(head.read_text().replace("A00004", "A00001"))
    with caplog.at_level(logging.WARNING, logger="edge.cli.rhythm"):
        assert main(["rhythm", str(cinc2017_dir / "A00001"), str(links / "A00001"),
                     str(other / "A00001")]) == 0
    assert len(_lines(capsys.readouterr().out)) == 2
    warned = [r.getMessage() for r in caplog.records if "two different" in r.getMessage()]
    assert len(warned) == 1 and str(cinc2017_dir / "A00001") in warned[0] \
        and str(other / "A00001") in warned[0]


def test_a_folder_with_multi_segment_records_is_classified(cinc2017_dir, tmp_path, capsys,
                                                           caplog):
    """Audit C, defect 8: a multi-segment record was an AttributeError traceback and the run
    over a folder stopped there; its layout header alone (0 samples) is '~' saying why."""
    rec = wfdb.rdrecord(str(cinc2017_dir / "A00001"), physical=False)
    d = rec.d_signal[:, 0].astype("<i2")
    a, b = d[:4000], d[4000:]
    (tmp_path / "s1.dat").write_bytes(a.tobytes())
    (tmp_path / "s2.dat").write_bytes(b.tobytes())
    (tmp_path / "s1.hea").write_text(f"s1 1 300 {a.size}\ns1.dat 16 1000 16 0 0 0 0 ECG\n")
    (tmp_path / "s2.hea").write_text(f"s2 1 300 {b.size}\ns2.dat 16 1000 16 0 0 0 0 ECG\n")
    (tmp_path / "lay.hea").write_text("lay 1 300 0\n~ 0 1000 16 0 0 0 0 ECG\n")
    (tmp_path / "msf.hea").write_text(f"msf/2 1 300 {d.size}\ns1 {a.size}\ns2 {b.size}\n")
    (tmp_path / "msv.hea").write_text(f"msv/4 1 300 {d.size + 600}\nlay 0\ns1 {a.size}\n"
                                      f"~ 600\ns2 {b.size}\n")
    (tmp_path / "RECORDS").write_text("msf\nmsv\nlay\n")
    with caplog.at_level(logging.WARNING, logger="edge.cli.rhythm"):
        assert main(["rhythm", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    lines = dict(_lines(captured.out))
    assert set(lines) == {"msf", "msv", "lay"} and lines["msf"] == "N"
    assert lines["lay"] == "~" and "layout header of a multi-segment record" in caplog.text
    assert "Traceback" not in captured.err


def test_a_max_s_below_one_sample_says_too_short(cinc2017_dir, caplog):
    """Audit C, defect 13: ``--max-s 0.001`` read 0 samples and blamed damaged files."""
    assert main(["rhythm", str(cinc2017_dir / "A00001"), "--max-s", "0.001"]) == 0
    assert "download it again" not in caplog.text and "beats" in caplog.text


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
