"""``ecg-edge adapt`` and the ``--adapted`` option of ``run`` and ``annotate``
(:mod:`edge.cli.adapt`): the summary states fallbacks and the template vote, the head runs on
the device path, and a damaged or foreign adapted file is one line on stderr, exit 2."""
import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from edge.aami import AAMI_MAP
from edge.cli.adapt import add_parser
from edge.cli.main import main
from edge.io.records import read_annotations
from edge.model.adapt import AdaptConfig, WearerHead
from edge.model.bundled import default_model_path


def test_adapt_minutes_longer_than_the_record_say_so(mitdb_dir, tmp_path, capsys, caplog):
    """Asking for more labelled minutes than the record has uses the whole record: the summary
    says so (it said 'the first 1000 min' of a 30-min record) and a warning says no beat is
    left to test the head on; a shorter span states both lengths."""
    import logging

    out = tmp_path / "100.npz"
    with caplog.at_level(logging.WARNING, logger="edge.cli.adapt"):
        assert main(["adapt", "--record", str(mitdb_dir / "100"), "--labels", "atr", "--out",
                     str(out), "--adapt-minutes", "1000"]) == 0
    text = capsys.readouterr().out
    assert "adapted on the whole record, 30.1 min (--adapt-minutes 1000)" in text
    assert "first 1000 min" not in text
    assert any("shorter than --adapt-minutes 1000" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge.cli.adapt"):
        assert main(["adapt", "--record", str(mitdb_dir / "100"), "--labels", "atr", "--out",
                     str(out), "--adapt-minutes", "2"]) == 0
    assert "adapted on the first 2 of 30.1 min" in capsys.readouterr().out
    assert not [r for r in caplog.records if "shorter than" in r.getMessage()]


@pytest.fixture(scope="module")
def head_119(mitdb_dir, tmp_path_factory):
    """`ecg-edge adapt` on the first 3 minutes of record 119, and what it printed."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("adapted") / "119.npz"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["adapt", "--record", "119", "--labels", "atr", "--out", str(path),
                     "--adapt-minutes", "3", "--data-dir", str(mitdb_dir)]) == 0
    return path, out.getvalue()


def test_cli_adapt_reports_fallbacks(mitdb_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "100.npz"
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "adapted classes: N" in text and "fallback V: 0 beats < min_beats 5" in text
    assert "nearest vote on V (V not in the window: a beat like the wearer's own loses that " \
        "call)" in text
    assert WearerHead.load(out).info["record"] == "100"
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--templates", "0", "--data-dir",
                              str(mitdb_dir)])
    assert args.func(args) == 0
    assert "wearer templates" not in capsys.readouterr().out
    assert WearerHead.load(out).templates is None
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--template-novelty", "off",
                              "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    head = WearerHead.load(out)
    assert head.config.template_novelty is None and np.isinf(head.template_reach)
    with pytest.raises(SystemExit):
        parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                           "--template-novelty", "-1"])
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--novel-ectopic", "off",
                              "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    assert WearerHead.load(out).config.novel_ectopic_log is None
    assert AdaptConfig().novel_ectopic_log == 0.1  # the default when the option is absent
    with pytest.raises(SystemExit):
        parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                           "--novel-ectopic", "-1"])


def test_daemon_runs_an_adapted_model_and_reports_its_counters(mitdb_dir, head_119,
                                                                tmp_path):
    """`ecg-edge adapt` then `ecg-edge run --adapted` on a replayed record: beats carry the
    adapted model's version and the status event counts the beats new to the wearer."""
    head, printed = head_119
    assert "V" in WearerHead.load(head).adapted  # 119 has PVCs from the start: templates vote
    assert "novelty guard: beats unlike every template are spared the vote with ectopic " \
        "timing" in printed
    jsonl = tmp_path / "events.jsonl"
    assert main(["run", "--replay", "119", "--speed", "max", "--adapted", str(head),
                     "--jsonl", str(jsonl), "--quiet", "--idle-exit-s", "1",
                     "--set", f'source.replay.data_dir="{mitdb_dir}"',
                     "--set", "source.replay.start_s=180", "--set", "source.replay.duration_s=120",
                     "--set", "outputs.status_interval_s=0"]) == 0
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    beats = [e for e in events if e["type"] == "beat"]
    assert len(beats) > 100 and {e["label"] for e in beats} >= {"N", "V"}
    final = [e for e in events if e["type"] == "status" and e["state"] == "stopped"][-1]
    assert "adapted(119)" in final["model_version"]
    stats = final["counters"]["adaptation"]
    assert stats["beats"] == len(beats) and stats["adapted_classes"] == "NV"
    assert 0 <= stats["new_to_wearer"] < 0.25 * stats["beats"]


def test_annotate_with_an_adapted_head(mitdb_dir, head_119, tmp_path, capsys):
    """`ecg-edge annotate --adapted` labels a record with the wearer head (the offline tool of
    the device path) and refuses a head made for another model."""
    import wfdb

    head, _ = head_119
    assert main(["annotate", "119", "--adapted", str(head), "--reference-beats", "atr",
                     "--ext", "adp", "--out-dir", str(tmp_path),
                     "--data-dir", str(mitdb_dir)]) == 0
    assert "adapted(119)" in capsys.readouterr().out
    got = wfdb.rdann(str(tmp_path / "119"), "adp")
    ref = read_annotations("119", data_dir=mitdb_dir)
    keep = np.isin(ref.symbol, list(AAMI_MAP))
    assert np.array_equal(got.sample, ref.sample_index[keep])
    truth = np.array([AAMI_MAP[s] for s in ref.symbol[keep]])
    late = got.sample >= 180 * 360  # after the adaptation window
    assert np.mean(np.asarray(got.symbol)[late] == truth[late]) > 0.97
    assert main(["annotate", "119", "--adapted", str(head), "--model",
                     str(default_model_path()), "--out-dir", str(tmp_path),
                     "--data-dir", str(mitdb_dir)]) != 0  # head made for another base model
    assert "made for base model" in capsys.readouterr().err


def _damaged(kind: str, good: bytes, rng: np.random.Generator) -> bytes:
    if kind == "empty":
        return b""
    if kind == "truncated":
        return good[:len(good) // 2]
    if kind == "flipped":
        data = bytearray(good)
        data[len(good) // 3:len(good) // 3 + 16] = bytes(b ^ 0xFF for b in
                                                          data[len(good) // 3:len(good) // 3 + 16])
        return bytes(data)
    return rng.bytes(4096)  # "random": some other file


@pytest.mark.parametrize("kind", ["empty", "truncated", "flipped", "random"])
@pytest.mark.parametrize("command", ["annotate", "run"])
def test_a_damaged_adapted_file_is_one_line_and_exit_2(command, kind, head_119, mitdb_dir,
                                                        tmp_path, capsys, rng):
    """Issue 14, bad input 2: a damaged ``--adapted`` file gave a BadZipFile/EOFError traceback,
    a random file numpy's "allow_pickle" advice."""
    bad = tmp_path / f"{kind}.npz"
    bad.write_bytes(_damaged(kind, head_119[0].read_bytes(), rng))
    argv = {"annotate": ["annotate", "119", "--adapted", str(bad), "--out-dir", str(tmp_path),
                         "--data-dir", str(mitdb_dir)],
            "run": ["run", "--replay", "119", "--speed", "max", "--adapted", str(bad),
                    "--jsonl", str(tmp_path / "events.jsonl"), "--quiet", "--idle-exit-s", "1",
                    "--set", f'source.replay.data_dir="{mitdb_dir}"']}[command]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith(f"ecg-edge {command}: error: {bad}: "), err
    assert "Traceback" not in err and "allow_pickle" not in err
    assert not (tmp_path / "119.cls").exists()


def test_a_flat_recording_or_too_many_templates_is_one_line_and_exit_2(mitdb_dir, tmp_path,
                                                                       capsys):
    """Session 44 audit: a flat signal gave a head of flat-line templates with exit 0, and
    --templates 100000 was refused in the words of a setting the command does not have."""
    import wfdb

    wfdb.wrsamp("flat", fs=360, units=["mV"], sig_name=["MLII"],
                p_signal=np.zeros((360 * 20, 1)), fmt=["16"], write_dir=str(tmp_path))
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=360 * 20)
    wfdb.wrann("flat", "atr", ann.sample, symbol=ann.symbol, write_dir=str(tmp_path), fs=360)
    out = tmp_path / "head.npz"
    assert main(["adapt", "--record", str(tmp_path / "flat"), "--labels", "atr", "--out",
                 str(out)]) == 2
    assert "lies in missing, flat or saturated signal" in capsys.readouterr().err
    assert not out.exists()
    assert main(["adapt", "--record", "100", "--data-dir", str(mitdb_dir), "--labels", "atr",
                 "--out", str(out), "--templates", "100000"]) == 2
    assert "--templates 100000: must be 0 (off) to" in capsys.readouterr().err


@pytest.mark.parametrize("argv,said", [
    (["--adapt-minutes", "0"], "argument --adapt-minutes: expected a number > 0, got '0'"),
    (["--adapt-minutes", "nan"], "argument --adapt-minutes: expected a number > 0"),
    (["--min-beats", "0"], "argument --min-beats: must be >= 1, got 0"),
    # Audit C, defect 9: a huge finite value overflowed (a traceback)
    (["--adapt-minutes", "1e308"], "argument --adapt-minutes: expected a number <= 10080"),
])
def test_wrong_numbers_name_the_option(argv, said, tmp_path, capsys):
    """Session 48 audit: ``--adapt-minutes 0`` said ``adapt_s: must be > 0 seconds`` (an
    internal name), after reading the record."""
    with pytest.raises(SystemExit) as exc:
        main(["adapt", "--record", "201", "--labels", "atr", "--out",
              str(tmp_path / "x.npz"), *argv])
    assert exc.value.code == 2 and said in capsys.readouterr().err


@pytest.fixture
def record_119(mitdb_dir, tmp_path):
    """A writable copy of MIT-BIH 119 (header, signals, expert annotations)."""
    import shutil

    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"119.{ext}", tmp_path)
    (tmp_path / "119.qrs").write_bytes((mitdb_dir / "119.atr").read_bytes())
    return tmp_path / "119"


@pytest.mark.parametrize("out, words", [
    ("119.atr", "the --labels annotation file"),
    ("119.hea", "its header"),
    ("119.dat", "its signal file"),
    ("119.qrs", "an annotation file of the record"),
])
def test_an_out_that_is_a_file_of_the_record_is_refused_before_fitting(
        record_119, capsys, monkeypatch, out, words):
    """Audit C, defect 3: ``--out 119.atr`` wrote a zip over the expert annotations, ``--out
    119.hea`` destroyed the header."""
    import edge.cli.adapt as adapt_cli

    folder = record_119.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setattr(adapt_cli, "read_channel", lambda *a, **k: pytest.fail("read"))
    assert main(["adapt", "--record", str(record_119), "--labels", "atr", "--out",
                 str(folder / out)]) == 2
    err = capsys.readouterr().err
    assert words in err and "not overwritten" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_an_unwritable_out_is_refused_before_fitting(record_119, tmp_path, capsys, monkeypatch):
    """Audit C, defect 3: a read-only --out was reported after the fit."""
    import os

    import edge.cli.adapt as adapt_cli

    monkeypatch.setattr(adapt_cli, "read_channel", lambda *a, **k: pytest.fail("read"))
    (tmp_path / "folder").mkdir()
    assert main(["adapt", "--record", str(record_119), "--labels", "atr", "--out",
                 str(tmp_path / "folder")]) == 2
    assert "a folder, not a file" in capsys.readouterr().err
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["adapt", "--record", str(record_119), "--labels", "atr", "--out",
                 str(tmp_path / "new" / "x.npz")]) == 2
    assert "is not writable" in capsys.readouterr().err


def test_out_is_written_whole_or_not_at_all(record_119, tmp_path, capsys, monkeypatch):
    """Audit C, defect 3: the head was written in place: a failure midway left a broken file.
    Now a temporary file beside --out is renamed over it; on failure the old file stays and
    no temporary file is left. A previous adapted model may be replaced (119.npz)."""
    out = tmp_path / "119.npz"
    out.write_bytes(b"PK\x03\x04 previous adapted model")

    def broken_save(self, path):
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(WearerHead, "save", broken_save)
    argv = ["adapt", "--record", str(record_119), "--labels", "atr", "--out", str(out),
            "--adapt-minutes", "2"]
    assert main(argv) == 2
    assert f"{out}: No space left on device" in capsys.readouterr().err  # not the temp file
    assert out.read_bytes() == b"PK\x03\x04 previous adapted model"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert main(argv) == 0
    assert WearerHead.load(out).classes
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
