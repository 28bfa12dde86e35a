"""Tests of firmware_bridge/replay/records.py: the simulator's own WFDB lookup and reader.

It must find the same record and read the same samples as ``edge.io.records`` (the device's
reader), which the simulator used before it stopped depending on ``edge``; and every failure is
a one-line ReplayError that says what to set.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.io import records as edge_records
from firmware_bridge.errors import ReplayError
from firmware_bridge.replay.records import (
    data_dir_env,
    find_data_dir,
    read_header,
    read_samples,
    resolve_record,
)

# (record, channels, sampfrom, sampto): both channels, swapped channels, one channel of an
# excerpt, a record with a paced rhythm, the end of a record
MITDB_CASES = [("100", None, 0, None), ("114", [1, 0], 0, 36000), ("233", [1], 1234, 56789),
               ("107", None, 0, 7200), ("208", None, 640000, None)]


def assert_same_record(mine, theirs):
    np.testing.assert_array_equal(mine.adc, theirs.adc)
    assert mine.adc.dtype == theirs.adc.dtype == np.int32
    np.testing.assert_array_equal(mine.signal_mv, theirs.signal_mv)  # mV, bit for bit
    assert mine.fs_hz == theirs.fs_hz
    assert mine.adc_gain == theirs.adc_gain and mine.baseline == theirs.baseline
    assert mine.name == theirs.name


@pytest.mark.parametrize("record, channels, sampfrom, sampto", MITDB_CASES)
def test_samples_equal_edge_read_record_on_mitdb(mitdb_dir, record, channels, sampfrom, sampto):
    path = resolve_record(record, "mitdb", mitdb_dir)
    assert path == edge_records.resolve_record(record, "mitdb", mitdb_dir)
    mine = read_samples(path, channels=channels, sampfrom=sampfrom, sampto=sampto)
    theirs = edge_records.read_record(record, data_dir=mitdb_dir, channels=channels,
                                      sampfrom=sampfrom, sampto=sampto)
    assert_same_record(mine, theirs)
    header = read_header(path)
    assert (header.fs_hz, header.n_channels) == (360.0, 2) and header.n_samples == 650000


def test_samples_equal_edge_read_record_on_nstdb(nstdb_dir):
    path = resolve_record("118e06", "nstdb", nstdb_dir)
    mine = read_samples(path, sampfrom=100, sampto=20000)
    theirs = edge_records.read_record("118e06", database="nstdb", data_dir=nstdb_dir,
                                      sampfrom=100, sampto=20000)
    assert_same_record(mine, theirs)


def test_zero_gain_reads_as_200_counts_per_mv(mitdb_dir, tmp_path):
    for ext in ("hea", "dat"):
        shutil.copy(mitdb_dir / f"100.{ext}", tmp_path / f"100.{ext}")
    hea = tmp_path / "100.hea"
    hea.write_text(hea.read_text().replace(" 200 11 1024", " 0 11 1024", 1))
    assert " 0 11 1024 " in hea.read_text()
    mine = read_samples(tmp_path / "100", sampto=1000)
    theirs = edge_records.read_record(str(tmp_path / "100"), sampto=1000)
    assert mine.adc_gain == (200.0, 200.0)
    assert_same_record(mine, theirs)


def test_invalid_samples_are_nan_in_mv_and_raw_on_the_wire(tmp_path):
    """WFDB marks a missing sample with its format's most negative value (-32768 in format
    16, -2048 in format 212): NaN in mV, as ``wfdb.rdrecord(physical=True)`` reads it."""
    import wfdb

    adc = np.array([[10, 20], [-32768, 30], [40, -2048], [50, 60]], dtype=np.int64)
    wfdb.wrsamp("rec", fs=360, units=["mV", "mV"], sig_name=["a", "b"], d_signal=adc,
                fmt=["16", "212"], adc_gain=[200.0, 200.0], baseline=[0, 0],
                write_dir=str(tmp_path))
    rec = read_samples(tmp_path / "rec")
    np.testing.assert_array_equal(rec.adc, adc)
    assert rec.invalid_adc == (-32768, -2048)
    physical = wfdb.rdrecord(str(tmp_path / "rec")).p_signal
    np.testing.assert_array_equal(np.isnan(rec.signal_mv), np.isnan(physical))
    assert np.isnan(rec.signal_mv).sum() == 2
    np.testing.assert_allclose(rec.signal_mv, physical, equal_nan=True)


def test_lookup_by_name_env_default_and_path(mitdb_dir, tmp_path, monkeypatch):
    expected = mitdb_dir / "100"
    assert resolve_record("100", "mitdb", mitdb_dir) == expected           # --data-dir
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert resolve_record("100") == expected                                # $MITDB_DIR
    monkeypatch.delenv("MITDB_DIR")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mitdb").symlink_to(mitdb_dir)
    monkeypatch.chdir(tmp_path)
    assert resolve_record("100") == Path("data/mitdb/100")                  # ./data/mitdb
    for text in (str(expected), f"{expected}.hea", f"{expected}.dat"):      # a path
        assert resolve_record(text, data_dir="/nonexistent") == expected
        assert resolve_record(text) == edge_records.resolve_record(text)
    assert data_dir_env("mitdb") == "MITDB_DIR" and data_dir_env("svdb") == "SVDB_DIR"


def one_line_replay_error(fn, *args, **kw) -> str:
    with pytest.raises(ReplayError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_missing_directory_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("MITDB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    msg = one_line_replay_error(resolve_record, "100")
    assert "data/mitdb" in msg and "MITDB_DIR" in msg and "--data-dir" in msg
    msg = one_line_replay_error(find_data_dir, "mitdb", tmp_path / "nope")
    assert "nope" in msg and "MITDB_DIR" in msg
    monkeypatch.setenv("MITDB_DIR", str(tmp_path))  # a directory, but no .hea in it
    msg = one_line_replay_error(resolve_record, "100")
    assert str(tmp_path) in msg and "*.hea" in msg and "$MITDB_DIR" in msg


def test_missing_record_names_it(mitdb_dir, tmp_path):
    msg = one_line_replay_error(resolve_record, "999", "mitdb", mitdb_dir)
    assert "'999'" in msg and str(mitdb_dir) in msg and "MITDB_DIR" in msg
    msg = one_line_replay_error(resolve_record, str(tmp_path / "x" / "100"))
    assert "x/100.hea" in msg


def test_damaged_files_are_one_line_errors(mitdb_dir, tmp_path):
    shutil.copy(mitdb_dir / "100.hea", tmp_path / "100.hea")
    (tmp_path / "100.dat").write_bytes((mitdb_dir / "100.dat").read_bytes()[:1001])
    msg = one_line_replay_error(read_samples, tmp_path / "100")
    assert "100" in msg and "damaged" in msg
    (tmp_path / "bad.hea").write_text("bad x y z\n")
    msg = one_line_replay_error(read_header, tmp_path / "bad")
    assert "bad" in msg
