"""edge.cli.common: what the sub-commands share."""
import numpy as np
import pytest

from edge.cli.common import read_channel
from edge.errors import EdgeError
from edge.io.records import read_record


def test_one_channel_is_that_column_of_the_whole_record(mitdb_dir):
    whole = read_record("100", data_dir=mitdb_dir)
    for ch in (0, 1):
        one, got = read_channel("100", ch, mitdb_dir)
        assert got == ch
        assert one.signal_mv.shape == (whole.n_samples, 1)
        np.testing.assert_array_equal(one.signal_mv[:, 0], whole.signal_mv[:, ch])
        assert one.sig_names == (whole.sig_names[ch],) and one.fs_hz == whole.fs_hz


def test_a_channel_the_record_lacks_names_the_option(mitdb_dir):
    with pytest.raises(EdgeError, match=r"--channel 2: record 100 has 2 channels \(0..1\)"):
        read_channel("100", 2, mitdb_dir)


@pytest.mark.parametrize("record, want, words", [
    ("100", 0, "channel 0 (MLII, the MLII lead)"),
    ("114", 1, "channel 1 (MLII, the MLII lead)"),  # MIT-BIH 114 holds V5 first
    ("102", 0, "channel 0 (V5: no channel is named MLII"),
])
def test_no_channel_given_reads_the_models_lead(mitdb_dir, caplog, record, want, words):
    caplog.set_level("INFO", logger="edge.cli.common")
    rec, got = read_channel(record, None, mitdb_dir)
    assert got == want and words in caplog.text
    np.testing.assert_array_equal(rec.signal_mv[:, 0],
                                  read_record(record, channels=[want],
                                              data_dir=mitdb_dir).signal_mv[:, 0])


def test_a_record_without_signals_is_one_error(tmp_path):
    (tmp_path / "empty.hea").write_text("empty 0 360 0\n")
    with pytest.raises(EdgeError, match="has no signals"):
        read_channel(str(tmp_path / "empty"), None)


def test_an_output_folder_that_cannot_be_one_is_refused_before_any_work(tmp_path, capsys):
    """``annotate --out-dir FILE`` ran the whole record, then said ``[Errno 17] File exists``."""
    import argparse

    from edge.cli.common import output_dir
    from edge.cli.main import main

    f = tmp_path / "events.db"
    f.write_text("x")
    assert output_dir(str(tmp_path / "new" / "sub")) == tmp_path / "new" / "sub"  # made later
    assert not (tmp_path / "new").exists()
    for bad, said in ((f, "is not a directory"), (f / "sub", f"{str(f)!r} is a file")):
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            output_dir(str(bad))
        for command in ("annotate", "detect"):
            with pytest.raises(SystemExit) as exc:  # argparse: before the record is read
                main([command, "no-such-record", "--out-dir", str(bad)])
            assert exc.value.code == 2 and said in capsys.readouterr().err
