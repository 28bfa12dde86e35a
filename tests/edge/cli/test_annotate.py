"""``ecg-edge annotate``: option values, help, and a record with a NaN gap."""
import logging

import numpy as np
import pytest
import wfdb

from edge.cli.main import build_parser, main


@pytest.mark.parametrize("argv, option", [
    (["--chunk-s", "-1"], "--chunk-s"),
    (["--chunk-s", "0"], "--chunk-s"),
    (["--channel", "-1"], "--channel"),
])
def test_bad_values_are_one_line_errors(argv, option, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["annotate", "100", "--out-dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ecg-edge annotate: error: argument") and option in err[-1]


def test_every_option_has_help():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    p = sub.choices["annotate"]
    missing = [a.option_strings for a in p._actions if a.option_strings and not a.help]
    assert not missing


@pytest.fixture(scope="module")
def gapped_record(mitdb_dir, tmp_path_factory):
    """Issue 14, bad input 9: the first 60 s of record 100, seconds 20-30 missing (NaN, which
    WFDB stores as its invalid sample value), with the reference annotations."""

    out = tmp_path_factory.mktemp("gap")
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=360 * 60)
    p = rec.p_signal.copy()
    p[360 * 20:360 * 30] = np.nan
    wfdb.wrsamp("100gap", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=p,
                fmt=["16", "16"], adc_gain=rec.adc_gain, baseline=rec.baseline,
                write_dir=str(out))
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=360 * 60)
    wfdb.wrann("100gap", "atr", ann.sample, symbol=ann.symbol, write_dir=str(out), fs=360)
    return out / "100gap"


@pytest.mark.parametrize("mode", [["--reference-beats", "atr"], []])
def test_a_nan_gap_is_warned_and_its_beats_not_ectopic(gapped_record, tmp_path, mode, caplog):
    with caplog.at_level(logging.WARNING, logger="edge.cli.annotate"):
        assert main(["annotate", str(gapped_record), "--out-dir", str(tmp_path), *mode]) == 0
    warn = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warn) == 1 and "3600 missing" in warn[0] and "written as Q" in warn[0], warn
    got = wfdb.rdann(str(tmp_path / "100gap"), "cls")
    t = got.sample / 360.0
    sym = np.array(got.symbol)
    near = (t > 18.5) & (t < 33.0)
    assert not np.isin(sym[near], ["V", "S"]).any(), list(zip(t[near], sym[near]))
    assert np.all(sym[(t >= 20.5) & (t < 29.5)] == "Q")  # beats inside the gap: unclassifiable
    assert np.all(sym[(t > 30.5) & (t < 33.0)] == "N")  # as without the gap


def test_no_warning_on_a_clean_record(mitdb_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert main(["annotate", "100", "--reference-beats", "atr", "--out-dir",
                     str(tmp_path), "--data-dir", str(mitdb_dir)]) == 0
    assert not [r for r in caplog.records if r.name == "edge.cli.annotate"]


def test_rhythm_changes_are_written_as_mitbih_does(mitdb_dir, tmp_path, capsys):
    """``--rhythm``: '+' annotations with aux notes '(N' / '(AFIB' in the beats' file, read back
    by wfdb.rdann; MIT-BIH 201 (DS1) opens in atrial fibrillation (reference: '(AFIB' at
    sample 60, until 378 s)."""
    rec = wfdb.rdrecord(str(mitdb_dir / "201"), sampto=360 * 300)
    wfdb.wrsamp("201start", fs=360, units=rec.units, sig_name=rec.sig_name,
                p_signal=rec.p_signal, fmt=["212"] * rec.n_sig, write_dir=str(tmp_path))
    record = str(tmp_path / "201start")
    assert main(["annotate", record, "--out-dir", str(tmp_path / "plain")]) == 0
    assert main(["annotate", record, "--rhythm", "--out-dir", str(tmp_path / "rhythm")]) == 0
    assert "AF/AFL episodes" in capsys.readouterr().out
    plain = wfdb.rdann(str(tmp_path / "plain" / "201start"), "cls")
    ann = wfdb.rdann(str(tmp_path / "rhythm" / "201start"), "cls")
    assert "+" not in plain.symbol
    beats = [(s, y) for s, y in zip(ann.sample, ann.symbol) if y != "+"]
    assert beats == list(zip(plain.sample, plain.symbol))
    changes = [(int(s), a.rstrip("\x00")) for s, y, a in zip(ann.sample, ann.symbol,
                                                             ann.aux_note) if y == "+"]
    assert changes[0] == (0, "(N")
    assert {a for _, a in changes} <= {"(N", "(AFIB"}
    af_onsets = [s for s, a in changes if a == "(AFIB"]
    assert af_onsets and af_onsets[0] < 60 * 360


def test_a_stretch_without_beats_is_written_noise(mitdb_dir, tmp_path, capsys):
    """``--rhythm`` on MIT-BIH 100 (DS1, sinus) with 20 s of lost signal (flat, from 60 to
    80 s): '(NOISE' where the last beat before it was, '(N' again once a window of readable
    intervals is full, and the summary counts it as an unreadable stretch, not AF."""
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=360 * 180)
    sig = rec.p_signal.copy()
    sig[60 * 360:80 * 360] = 0.0
    wfdb.wrsamp("100gap", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=sig,
                fmt=["212"] * rec.n_sig, write_dir=str(tmp_path))
    assert main(["annotate", str(tmp_path / "100gap"), "--rhythm", "--out-dir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0 AF/AFL episodes" in out and "1 unreadable stretches" in out
    ann = wfdb.rdann(str(tmp_path / "100gap"), "cls")
    changes = [(int(s) / 360, a.rstrip("\x00")) for s, y, a in zip(ann.sample, ann.symbol,
                                                                    ann.aux_note) if y == "+"]
    assert [a for _, a in changes] == ["(N", "(NOISE", "(N"]
    assert 58 <= changes[1][0] <= 60 and 80 <= changes[2][0] <= 82


def test_s_calls_in_confirmed_af_are_written_n(mitdb_dir, tmp_path, capsys):
    """Rhythm-aware calls (default): in the first 5 minutes of MIT-BIH 201 (DS1, atrial
    fibrillation from 0.2 s to 378 s) the model calls some conducted AF beats S; written N
    once the analyser has confirmed AF; ``--no-rhythm-context`` writes the model's calls."""
    rec = wfdb.rdrecord(str(mitdb_dir / "201"), sampto=360 * 300)
    wfdb.wrsamp("201start", fs=360, units=rec.units, sig_name=rec.sig_name,
                p_signal=rec.p_signal, fmt=["212"] * rec.n_sig, write_dir=str(tmp_path))
    record = str(tmp_path / "201start")
    assert main(["annotate", record, "--out-dir", str(tmp_path / "aware")]) == 0
    assert "S calls in confirmed AF/AFL reported N" in capsys.readouterr().out
    assert main(["annotate", record, "--no-rhythm-context", "--out-dir",
                 str(tmp_path / "model")]) == 0
    assert "confirmed AF/AFL" not in capsys.readouterr().out
    aware = wfdb.rdann(str(tmp_path / "aware" / "201start"), "cls")
    model = wfdb.rdann(str(tmp_path / "model" / "201start"), "cls")
    assert list(aware.sample) == list(model.sample)
    a, m = np.array(aware.symbol), np.array(model.symbol)
    changed = a != m
    assert changed.sum() > 0 and set(m[changed]) == {"S"} and set(a[changed]) == {"N"}
    assert aware.sample[changed].min() > 30 * 360  # not before the analyser confirmed AF


def test_an_episode_ending_where_the_next_starts_is_written(tmp_path):
    """CUDB cu18: a VFL episode ended at sample 89750 and a VT run began on the beat at 89751;
    the 'N' between them held for one sample and left no room for the VT's '+' annotation
    (annotate failed: "not free for the '+' annotation")."""
    from edge.cli.annotate import overlay_changes
    from edge.io.wfdb_io import write_annotations

    changes = overlay_changes([(0, "N")], [(1000, 2000, "VFL"), (2001, 2600, "VT")])
    assert changes == [(0, "N"), (1000, "VFL"), (2000, "VT"), (2600, "N")]
    beats = np.array([500, 2001, 2300, 2599, 2900])
    write_annotations("r", "cls", beats, ["N", "V", "V", "V", "N"], 250.0, tmp_path,
                      rhythm_changes=changes)
    ann = wfdb.rdann(str(tmp_path / "r"), "cls")
    rhythm = [(int(s), a) for s, y, a in zip(ann.sample, ann.symbol, ann.aux_note) if y == "+"]
    assert rhythm == [(0, "(N"), (1000, "(VFL"), (2000, "(VT"), (2600, "(N")]
    # Same sample or farther apart: as before.
    assert overlay_changes([(0, "N")], [(10, 20, "VT"), (20, 30, "VFL")]) == [
        (0, "N"), (10, "VT"), (20, "VFL"), (30, "N")]
    assert overlay_changes([(0, "N")], [(10, 20, "VT"), (22, 30, "VFL")]) == [
        (0, "N"), (10, "VT"), (20, "N"), (22, "VFL"), (30, "N")]


def test_the_default_chunk_gives_the_file_short_chunks_give(mitdb_dir, tmp_path):
    """Issue 18: ``--chunk-s`` defaults to 60 s because that is cheaper per hour; beats,
    classes and rhythm (207: ventricular flutter, PVCs) must not depend on it."""
    out = {}
    for name, extra in (("default", []), ("short", ["--chunk-s", "7"])):
        d = tmp_path / name
        assert main(["annotate", "207", "--rhythm", "--data-dir", str(mitdb_dir),
                     "--out-dir", str(d), *extra]) == 0
        out[name] = (d / "207.cls").read_bytes()
    ann = wfdb.rdann(str(tmp_path / "default" / "207"), "cls")
    assert "(VFL" in ann.aux_note and len(ann.sample) > 1000
    assert out["default"] == out["short"]


@pytest.mark.parametrize("lost", ["start", "end", "all"])
def test_signal_lost_at_a_record_edge_is_written_noise(mitdb_dir, tmp_path, capsys, lost):
    """``--rhythm`` on the first 90 s of MIT-BIH 100 with the signal flat for the first or
    the last 30 s, or throughout: the beat-less stretch at the record's edge is '(NOISE' (as
    a long interval inside a record is), not the rhythm next to it, and it is counted."""
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=360 * 90)
    sig = rec.p_signal.copy()
    flat = {"start": slice(0, 360 * 30), "end": slice(360 * 60, None), "all": slice(None)}
    sig[flat[lost]] = 0.0
    wfdb.wrsamp("100edge", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=sig,
                fmt=["212"] * rec.n_sig, write_dir=str(tmp_path))
    assert main(["annotate", str(tmp_path / "100edge"), "--rhythm", "--out-dir",
                 str(tmp_path)]) == 0
    assert "1 unreadable stretches" in capsys.readouterr().out
    ann = wfdb.rdann(str(tmp_path / "100edge"), "cls")
    plus = np.array(ann.symbol) == "+"
    changes = [(int(s), a.rstrip("\x00")) for s, a in zip(ann.sample[plus],
                                                          np.array(ann.aux_note)[plus])]
    beats = ann.sample[~plus]
    # ('+' goes on the sample before a beat's own annotation when both fall on one, as
    # MIT-BIH writes it)
    if lost == "start":
        assert [a for _, a in changes] == ["(NOISE", "(N"]
        assert changes[0][0] == 0 and beats[0] - 1 <= changes[1][0] <= beats[0]
        assert 30 * 360 <= beats[0] <= 34 * 360
    elif lost == "end":
        assert [a for _, a in changes] == ["(N", "(NOISE"]
        assert beats[-1] - 1 <= changes[1][0] <= beats[-1] and 59 * 360 <= beats[-1] <= 60 * 360
    else:
        assert changes == [(0, "(NOISE")] and beats.size == 0


def test_rhythm_changes_at_the_edges():
    """The edge rule alone: no beat for ``unreadable_samples`` or more before the first or
    after the last beat is NOISE; shorter stretches are not; without the record's length the
    changes are the analyser's."""
    from types import SimpleNamespace

    from edge.cli.annotate import rhythm_changes
    from edge.rhythm import RhythmChange

    res = SimpleNamespace(changes=[RhythmChange(500, "N", 0.1)])
    beats = np.arange(500, 9000, 300)
    assert rhythm_changes(res, beats) == [(0, "N")]
    assert rhythm_changes(res, beats, n_samples=9100, unreadable_samples=600) == [(0, "N")]
    assert rhythm_changes(res, beats, n_samples=9800, unreadable_samples=600) == [
        (0, "N"), (8900, "NOISE")]
    assert rhythm_changes(res, beats, n_samples=9100, unreadable_samples=500) == [
        (0, "NOISE"), (500, "N")]
    # already unreadable at the last beat: nothing to add
    res2 = SimpleNamespace(changes=[RhythmChange(500, "N", 0.1), RhythmChange(8900, "NOISE",
                                                                                float("nan"))])
    assert rhythm_changes(res2, beats, n_samples=9800, unreadable_samples=600) == [
        (0, "N"), (8900, "NOISE")]
    # a change dated at the last beat gives way to NOISE there
    res3 = SimpleNamespace(changes=[RhythmChange(500, "N", 0.1), RhythmChange(8900, "AF/AFL",
                                                                                0.9)])
    assert rhythm_changes(res3, beats, n_samples=9800, unreadable_samples=600) == [
        (0, "N"), (8900, "NOISE")]
    # no beat at all
    empty = SimpleNamespace(changes=[])
    assert rhythm_changes(empty, np.zeros(0, np.int64), n_samples=9800,
                          unreadable_samples=600) == [(0, "NOISE")]


@pytest.mark.parametrize("models,vf", [("monitor", True), ("handheld", False)])
def test_vf_models_choose_the_bundled_pair(cinc2017_dir, tmp_path, models, vf):
    """CinC A00230 (labelled normal): hand motion the monitor models call VF. The handheld pair
    was fitted on CinC, this recording included: which pair runs, not accuracy."""
    assert main(["annotate", str(cinc2017_dir / "A00230"), "--rhythm", "--vf-models", models,
                 "--out-dir", str(tmp_path)]) == 0
    ann = wfdb.rdann(str(tmp_path / "A00230"), "cls")
    assert ("(VF" in ann.aux_note or "(VFL" in ann.aux_note) == vf


@pytest.fixture
def short_record(mitdb_dir, tmp_path):
    """Record 100's first 20 s with its reference beats (``atr``)."""
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=7200)
    wfdb.wrsamp("rec20", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal,
                fmt=["212", "212"], write_dir=str(tmp_path))
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=7200)
    wfdb.wrann("rec20", "atr", ann.sample, symbol=ann.symbol, write_dir=str(tmp_path), fs=360)
    return tmp_path / "rec20"


def test_reference_beats_outside_the_signal_or_twice_are_left_out_and_said(short_record,
                                                                            tmp_path, caplog):
    """Session 44 audit: beats past the record's end were classified (S, N) with exit 0."""
    wfdb.wrann("rec20", "far", np.array([100, 400, 400, 5000, 7199, 7300, 100000]),
               symbol=["N"] * 7, write_dir=str(tmp_path), fs=360)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="edge.cli.annotate"):
        assert main(["annotate", str(short_record), "--reference-beats", "far", "--out-dir",
                     str(out)]) == 0
    warn = " ".join(r.getMessage() for r in caplog.records)
    assert "2 beat annotations outside the signal (0..7199) left out" in warn
    assert "1 beat annotations at a sample already annotated left out" in warn
    assert list(wfdb.rdann(str(out / "rec20"), "cls").sample) == [100, 400, 5000, 7199]


def test_an_annotation_file_without_beats_is_an_error(short_record, tmp_path, capsys):
    (tmp_path / "rec20.empty").write_bytes(b"")
    assert main(["annotate", str(short_record), "--reference-beats", "empty", "--out-dir",
                 str(tmp_path / "out")]) == 2
    assert "no beat annotation in the signal" in capsys.readouterr().err
    assert not (tmp_path / "out" / "rec20.cls").exists()


@pytest.mark.parametrize("command", [["annotate", "--reference-beats", "atr"], ["annotate"],
                                     ["detect"]])
def test_the_reference_annotation_file_is_never_overwritten(short_record, tmp_path, capsys,
                                                            command):
    """Session 44 audit: ``--ext atr`` next to the record replaced the expert annotations."""
    before = (tmp_path / "rec20.atr").read_bytes()
    assert main([command[0], str(short_record), *command[1:], "--ext", "atr", "--out-dir",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not overwritten" in err or "the annotation file being read" in err
    assert (tmp_path / "rec20.atr").read_bytes() == before
    # another extension, or another directory, is written as before
    assert main([command[0], str(short_record), *command[1:], "--ext", "atr", "--out-dir",
                 str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "rec20.atr").is_file()


def test_reference_beats_by_record_name_and_data_dir_alone(mitdb_dir, tmp_path, monkeypatch):
    """The overwrite check resolves the record as the command does: with ``--data-dir`` and
    no ``$MITDB_DIR`` (it looked in the environment only and refused a good command)."""
    monkeypatch.delenv("MITDB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["annotate", "100", "--data-dir", str(mitdb_dir), "--reference-beats", "atr",
                 "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "100.cls").is_file()


def test_rhythm_of_a_record_whose_first_reference_beat_is_sample_0(mitdb_dir, tmp_path):
    """Audit C, defect 10: with the first reference beat on sample 0, the first rhythm change
    (at that beat) had no free sample before it: exit 2 and an internal message about the '+'
    placement. It goes on the sample after the beat; rdann reads the file."""
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=360 * 40)
    beats = [int(s) for s, y in zip(ann.sample, ann.symbol) if y in "NV"]
    start = beats[0]
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampfrom=start, sampto=start + 360 * 30)
    wfdb.wrsamp("b0", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal,
                fmt=["16", "16"], write_dir=str(tmp_path))
    keep = [(s - start, y) for s, y in zip(ann.sample, ann.symbol)
            if start <= s < start + 360 * 30 and y != "+"]
    wfdb.wrann("b0", "atr", np.array([k for k, _ in keep]), [y for _, y in keep],
               write_dir=str(tmp_path), fs=360)
    assert main(["annotate", str(tmp_path / "b0"), "--reference-beats", "atr", "--rhythm",
                 "--out-dir", str(tmp_path / "o")]) == 0
    out = wfdb.rdann(str(tmp_path / "o" / "b0"), "cls")
    assert out.sample[0] == 0 and out.symbol[0] != "+"
    assert (out.sample[1], out.symbol[1], out.aux_note[1]) == (1, "+", "(N")


def test_annotate_refuses_the_records_signal_file_before_loading_anything(short_record,
                                                                          tmp_path, capsys):
    """Audit C, defect 1: ``annotate --ext dat`` replaced the record's signal file."""
    before = (tmp_path / "rec20.dat").read_bytes()
    assert main(["annotate", str(short_record), "--reference-beats", "atr", "--ext", "dat",
                 "--out-dir", str(tmp_path)]) == 2
    assert "rec20.dat, its signal file" in capsys.readouterr().err
    assert (tmp_path / "rec20.dat").read_bytes() == before
