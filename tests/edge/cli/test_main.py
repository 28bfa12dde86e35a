import numpy as np
import pytest
import wfdb

from edge.cli.main import main


def test_detect_writes_a_wfdb_annotation_file(mitdb_dir, tmp_path, capsys):
    assert main(["detect", "100", "--out-dir", str(tmp_path), "--data-dir", str(mitdb_dir)]) == 0
    ann = wfdb.rdann(str(tmp_path / "100"), "qrs")
    assert 2250 <= len(ann.sample) <= 2290 and set(ann.symbol) == {"N"}
    assert np.all(np.diff(ann.sample) > 0)
    assert "100:" in capsys.readouterr().out


def test_detect_on_a_record_path_at_another_rate(mitdb_dir, tmp_path):
    # Write 60 s of record 100 resampled to 250 Hz as a new WFDB record and detect on it.
    from scipy.signal import resample_poly
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=21600, channels=[0])
    x = resample_poly(rec.p_signal[:, 0], 25, 36)
    wfdb.wrsamp("ex250", fs=250, units=["mV"], sig_name=["MLII"], p_signal=x[:, None],
                fmt=["16"], adc_gain=[200.0], baseline=[0], write_dir=str(tmp_path))
    assert main(["detect", str(tmp_path / "ex250"), "--out-dir", str(tmp_path)]) == 0
    ann = wfdb.rdann(str(tmp_path / "ex250"), "qrs")
    assert ann.fs == 250 and 70 <= len(ann.sample) <= 76


@pytest.mark.parametrize("argv", [["detect", "nosuchrecord", "--data-dir", "/nonexistent"],
                                  ["detect", "/tmp/definitely/not/a/record"]])
def test_missing_data_is_a_clear_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and ("MITDB_DIR" in err or "no WFDB record" in err)


def test_bad_channel_is_a_clear_error(mitdb_dir, tmp_path, capsys):
    assert main(["detect", "100", "--channel", "5", "--data-dir", str(mitdb_dir),
                 "--out-dir", str(tmp_path)]) == 2
    assert "--channel 5" in capsys.readouterr().err


def test_annotate_and_detect_read_the_mlii_lead_unless_told(mitdb_dir, tmp_path, capsys):
    """MIT-BIH 114 holds V5 in channel 0 and MLII (the model's lead) in channel 1."""
    d = ["--data-dir", str(mitdb_dir)]
    assert main(["detect", "114", "--out-dir", str(tmp_path / "auto"), *d]) == 0
    assert "beats on channel 1 (MLII" in capsys.readouterr().out
    assert main(["detect", "114", "--channel", "0", "--out-dir", str(tmp_path / "v5"), *d]) == 0
    assert "beats on channel 0 (V5" in capsys.readouterr().out
    for ch, sub in ((None, "auto"), ("1", "one"), ("0", "v5")):
        extra = [] if ch is None else ["--channel", ch]
        assert main(["annotate", "114", "--out-dir", str(tmp_path / sub), *extra, *d]) == 0
    read = {sub: wfdb.rdann(str(tmp_path / sub / "114"), "cls") for sub in ("auto", "one", "v5")}
    np.testing.assert_array_equal(read["auto"].sample, read["one"].sample)
    assert read["auto"].symbol == read["one"].symbol
    assert not np.array_equal(read["auto"].sample, read["v5"].sample)


def test_version(capsys):
    import edge

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ecg-edge {edge.__version__}"


def test_a_closed_pipe_is_not_a_traceback():
    """``ecg-edge check CONFIG | head -1``: the reader leaves early; no BrokenPipeError trace."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "check",
                             str(repo / "deploy" / "ecg-edge.toml")], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize("argv", [
    ["annotate", "100", "--out-dir", "{blocked}/out"],
    ["detect", "100", "--out-dir", "{blocked}/out"],
    ["rhythm", "{cinc}/A00001", "--out", "{blocked}/answers.txt"]])
def test_an_output_that_cannot_be_written_is_a_clear_error(argv, mitdb_dir, cinc2017_dir,
                                                           tmp_path, capsys):
    """An output folder under a regular file cannot be created: one error line and rc 2, not a
    traceback (found trying ``--out-dir /proc/x``). ``--out-dir`` is refused by argparse before
    the record is read (exit 2 by SystemExit); ``rhythm --out`` when it opens the file."""
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    argv = [a.format(blocked=blocked, cinc=cinc2017_dir) for a in argv]
    if argv[0] != "rhythm":
        argv += ["--data-dir", str(mitdb_dir)]
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert f"ecg-edge {argv[0]}: error:" in err and "a_file" in err


def test_ctrl_c_while_the_arguments_are_read_is_one_line(monkeypatch, capsys):
    """Session 48 audit: Ctrl-C 0.3 s after ``ecg-edge run --replay 100 --speed 20`` printed a
    traceback: reading ``--speed`` imports the replay package, outside the command's own
    Ctrl-C handling."""
    import edge.cli.main as cli_main

    def interrupted(command):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    assert main(["run", "--replay", "100"]) == 130
    assert capsys.readouterr().err == "ecg-edge: interrupted\n"
