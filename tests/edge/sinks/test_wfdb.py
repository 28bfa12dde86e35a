import pytest
import wfdb

from edge.errors import ConfigError
from edge.sinks.wfdb import WfdbAnnotationSink, WfdbSinkSettings


def test_wfdb_sink_writes_beats(tmp_path, beat):
    s = WfdbAnnotationSink(tmp_path, "rec", ext="tst")
    for i, lab in [(100, "N"), (400, "V"), (700, "S")]:
        s.emit(beat(i, lab))
    s.close()
    ann = wfdb.rdann(str(tmp_path / "rec"), "tst")
    assert list(ann.sample) == [100, 400, 700] and ann.symbol == ["N", "V", "S"]
    assert ann.fs == 360


def test_a_restarted_device_gets_a_file_of_its_own(tmp_path, beat):
    """Session 45 audit: a wearable that rebooted counted from 0 again, and its beats were
    merged into the first session's file (duplicate sample numbers, re-sorted)."""
    s = WfdbAnnotationSink(tmp_path, "rec", ext="tst")
    for i in (74, 368, 700, 1000):
        s.emit(beat(i, "N"))
    for i in (74, 400):  # the device restarted
        s.emit(beat(i, "V"))
    s.close()
    first = wfdb.rdann(str(tmp_path / "rec"), "tst")
    second = wfdb.rdann(str(tmp_path / "rec_part2"), "tst")
    assert list(first.sample) == [74, 368, 700, 1000] and set(first.symbol) == {"N"}
    assert list(second.sample) == [74, 400] and second.symbol == ["V", "V"]


def test_a_file_from_before_the_run_is_never_overwritten(tmp_path, beat, caplog):
    """Audit (session 49): a second run into the same folder replaced the first run's beats,
    and ``ext = "atr"`` replaced a database's reference file, without a word."""
    (tmp_path / "rec.atr").write_bytes(b"reference")
    for run, labels in enumerate(["NNV", "VVN", "SSS"]):
        s = WfdbAnnotationSink(tmp_path, "rec", ext="atr", min_write_interval_s=0)
        for k, lab in enumerate(labels):
            s.emit(beat(100 + 300 * k, lab))
            s.flush()  # rewrites its own file: still the same name
        s.close()
        assert s.paths == [tmp_path / f"rec_run{run + 2}.atr"]
    assert (tmp_path / "rec.atr").read_bytes() == b"reference"
    assert wfdb.rdann(str(tmp_path / "rec_run2"), "atr").symbol == list("NNV")
    assert wfdb.rdann(str(tmp_path / "rec_run4"), "atr").symbol == list("SSS")
    assert "not overwritten" in caplog.text


@pytest.mark.parametrize("kw,field", [({"ext": "c.s"}, "ext"),
                                      ({"record_name": "a/b"}, "record_name")])
def test_settings_rules(kw, field):
    with pytest.raises(ConfigError) as err:
        WfdbSinkSettings(**kw)
    assert err.value.field == field


def test_a_directory_that_cannot_be_written_fails_at_open(tmp_path):
    """The run stops at the start (a SinkError naming the sink) when the annotations could
    never be written, instead of processing the whole record and failing at the close; a
    missing directory is made."""
    from edge.errors import SinkError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SinkError) as err:
        WfdbAnnotationSink(blocker / "sub", "rec")
    assert "cannot write to" in str(err.value) and "wfdb:" in str(err.value)
    s = WfdbAnnotationSink(tmp_path / "new" / "dir", "rec", ext="tst")
    assert (tmp_path / "new" / "dir").is_dir()
    s.close()  # no beats: nothing to write, no error


def test_run_with_an_unwritable_wfdb_dir_is_one_line_and_exit_2(mitdb_dir, tmp_path, capsys):
    from edge.cli.main import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["run", "--replay", str(mitdb_dir / "100"), "--speed", "max", "--quiet",
               "--wfdb-dir", str(blocker / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("ecg-edge run: error: sink wfdb:")
    assert "cannot write to" in err[-1]
