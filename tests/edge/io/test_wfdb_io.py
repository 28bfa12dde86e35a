"""edge.io.wfdb_io: beat annotation files, and rhythm changes ('+' with aux_note "(AFIB"...)
in the same file, read back with wfdb.rdann."""
import hashlib

import numpy as np
import pytest
import wfdb

from edge.errors import DataError
from edge.io.wfdb_io import write_annotations


def golden_beats():
    """300 beats, every class, one gap longer than the 10-bit time field (a SKIP)."""
    k = np.arange(300)
    idx = np.cumsum(120 + (k * 37) % 580).astype(np.int64)
    idx[150:] += 5000
    return idx, ["NSVFQ"[(j * j) % 5] for j in range(300)]


#: SHA-256 and size of the file the beat-only writer (before rhythm changes, commit 5e4c5d4)
#: wrote for :func:`golden_beats` as record "r1", annotator "edge", at each rate.
GOLDEN = {360.0: ("d5d8fb96267efed220356d6aee73a81a5f9442cdd836aede132f79c0a77c2dbf", 644),
          128.0: ("857b78f587b61b349a8d3596cbf533a15a2218cf71c0e3e96e265a14b0b2de29", 644)}


@pytest.mark.parametrize("fs_hz", sorted(GOLDEN))
@pytest.mark.parametrize("rhythm", [None, []], ids=["none", "empty"])
def test_without_rhythm_changes_the_file_is_byte_identical_to_the_beat_only_writer(
        tmp_path, fs_hz, rhythm):
    idx, sym = golden_beats()
    data = write_annotations("r1", "edge", idx, sym, fs_hz, tmp_path,
                             rhythm_changes=rhythm).read_bytes()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == GOLDEN[fs_hz]
    wfdb.wrann("r1", "ref", idx, symbol=sym, write_dir=str(tmp_path), fs=fs_hz)
    assert data == (tmp_path / "r1.ref").read_bytes()


def test_an_empty_file_is_still_two_zero_bytes(tmp_path):
    assert write_annotations("e", "edge", [], [], 360.0, tmp_path,
                             rhythm_changes=[]).read_bytes() == b"\x00\x00"


def test_rhythm_changes_read_back_with_rdann(tmp_path):
    idx, sym = golden_beats()
    changes = [(10, "N"), (int(idx[40]) + 7, "AFIB"), (int(idx[200]) - 3, "AFL"),
               (int(idx[250]) + 1, "SVTA"), (int(idx[-1]) + 100, "N")]
    write_annotations("r1", "edge", idx, sym, 300.0, tmp_path, rhythm_changes=changes)
    ann = wfdb.rdann(str(tmp_path / "r1"), "edge")
    assert ann.fs == 300.0
    assert np.all(np.diff(ann.sample) > 0)  # one file, in time order
    plus = np.array(ann.symbol) == "+"
    assert ann.sample[plus].tolist() == [c[0] for c in changes]
    assert [ann.aux_note[i] for i in np.flatnonzero(plus)] == ["(N", "(AFIB", "(AFL", "(SVTA",
                                                                "(N"]
    assert ann.sample[~plus].tolist() == idx.tolist()  # the beats are untouched
    assert [s for s in ann.symbol if s != "+"] == sym
    assert all(ann.aux_note[i] == "" for i in np.flatnonzero(~plus))


def test_a_rhythm_change_on_a_beat_is_written_just_before_it(tmp_path):
    idx = np.array([100, 400, 700, 1000])
    write_annotations("r", "edge", idx, list("NNNN"), 360.0, tmp_path,
                      rhythm_changes=[(0, "N"), (400, "AFIB"), (1000, "N")])
    ann = wfdb.rdann(str(tmp_path / "r"), "edge")
    assert ann.sample.tolist() == [0, 100, 399, 400, 700, 999, 1000]
    assert ann.symbol == ["+", "N", "+", "N", "N", "+", "N"]
    assert ann.aux_note[2] == "(AFIB" and ann.aux_note[5] == "(N"


def test_rhythm_changes_without_beats(tmp_path):
    write_annotations("r", "edge", [], [], 250.0, tmp_path, rhythm_changes=[(5, "AFL")])
    ann = wfdb.rdann(str(tmp_path / "r"), "edge")
    assert ann.sample.tolist() == [5] and ann.symbol == ["+"] and ann.aux_note == ["(AFL"]


def test_mitdb_rhythm_annotations_survive_a_round_trip(tmp_path, mitdb_dir):
    """Beats and rhythm changes of MIT-BIH 201 (DS1, AF) written by us read back the same."""
    ann = wfdb.rdann(str(mitdb_dir / "201"), "atr")
    sym = np.array(ann.symbol)
    plus = sym == "+"
    beats = ~plus & np.isin(sym, list("NLRBAaJSVrFejnE/fQ"))
    changes = [(int(s), a.rstrip("\x00")[1:]) for s, a, p in
               zip(ann.sample, ann.aux_note, plus) if p]
    assert any(r == "AFIB" for _, r in changes)
    write_annotations("201", "edge", ann.sample[beats], sym[beats].tolist(), ann.fs, tmp_path,
                      rhythm_changes=changes)
    ref = wfdb.rdann(str(tmp_path / "201"), "edge")
    assert ref.sample.tolist() == ann.sample[beats | plus].tolist()
    assert ref.symbol == sym[beats | plus].tolist()
    assert [a for a in ref.aux_note if a] == ["(" + r for _, r in changes]


@pytest.mark.parametrize("changes, words", [
    ([(10, "(AFIB")], "rhythm name"),
    ([(10, "afib")], "rhythm name"),
    ([(10, "")], "rhythm name"),
    ([(10, None)], "rhythm name"),
    ([(10, "AF IB")], "rhythm name"),
    ([(10, "N"), (10, "AFIB")], "increasing"),
    ([(20, "N"), (10, "AFIB")], "increasing"),
    ([(-1, "N")], ">= 0"),
    ([(1.5, "N")], "integer"),
    ([(True, "N")], "integer"),
    ([("10", "N")], "integer"),
    ([10], "pair"),
    ([(10, "N", "x")], "pair"),
    ([(0, "N"), (1, "AFIB")], "not free"),  # on the beat at 0, and 1 holds the next change
    ([(399, "N"), (400, "AFIB")], "not free"),  # the sample before 400 holds a change
])
def test_bad_rhythm_changes_are_one_line_data_errors(tmp_path, changes, words):
    with pytest.raises(DataError) as err:
        write_annotations("r", "edge", [0, 400, 800], list("NNN"), 360.0, tmp_path,
                          rhythm_changes=changes)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "r.edge").exists()


def test_a_first_change_on_a_beat_at_sample_0_goes_after_it(tmp_path):
    """Audit C, defect 10: a record whose first reference beat is sample 0 and which opens in
    AF had no sample before the beat for the '+' (annotate --rhythm failed, exit 2): the
    first change goes on the first free sample after the beat(s), as rdann reads it."""
    write_annotations("r", "edge", [0, 1, 400, 800], list("NNNN"), 360.0, tmp_path,
                      rhythm_changes=[(0, "AFIB"), (400, "N")])
    ann = wfdb.rdann(str(tmp_path / "r"), "edge")
    assert list(zip(ann.sample.tolist(), ann.symbol, ann.aux_note)) == [
        (0, "N", ""), (1, "N", ""), (2, "+", "(AFIB"), (399, "+", "(N"), (400, "N", ""),
        (800, "N", "")]


_FULL_DISK = r"""
import resource, signal, sys
import numpy as np
from edge.io.wfdb_io import write_annotations
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
try:
    write_annotations("rec", "cls", np.arange(1, 20001) * 300, ["N"] * 20000, 360.0, sys.argv[1])
except Exception as exc:
    print(type(exc).__name__, exc)
else:
    print("written")
"""


@pytest.mark.parametrize("limit", [4096, 100])
def test_a_write_cut_short_is_an_error_and_the_previous_file_stays(tmp_path, limit):
    """Audit (session 49): on a full disk the daemon's WFDB sink left a 4096-byte file of
    2029 of 2273 beats, or 0 bytes, and nothing was said (numpy's writes inside wfdb.wrann
    lose a short tail silently). A file-size limit (RLIMIT_FSIZE) cuts writes the same way."""
    import subprocess
    import sys

    write_annotations("rec", "cls", np.array([100, 400]), ["N", "V"], 360.0, tmp_path)
    before = (tmp_path / "rec.cls").read_bytes()
    run = subprocess.run([sys.executable, "-c", _FULL_DISK, str(tmp_path), str(limit)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] in ("DataError", "OSError"), run.stdout
    assert (tmp_path / "rec.cls").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.cls"]
