"""benchmarks/bench_flutter_grading.py: the per-record counts, the summary, the argument checks
and the stored results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_flutter_grading as bfg
from edge.errors import ModelError

RESULTS = Path(bfg.__file__).resolve().parent / "results"
FS = 250.0


def alert(kind, state, at, severity="alarm", **detail):
    return {"kind": kind, "state": state, "severity": severity, "sample_index": at,
            "detail": detail}


def test_a_record_counts_graded_onsets_inside_and_outside_vf_and_the_first_alarm():
    ref = [(10_000, 20_000)]
    d = {"fs_hz": FS, "n_samples": 40_000, "alerts": [
        # inside: 1 s before the reference, raised as an alarm 2 s later
        alert("vflutter", "onset", 10_250, onset_index=9_750),
        alert("vfib", "onset", 11_500, onset_index=10_500),
        alert("vflutter", "end", 12_000, end_index=12_000),
        alert("vfib", "end", 21_000, end_index=19_000),
        # outside, graded a warning
        alert("vflutter", "onset", 31_000, "warning", onset_index=30_000),
        alert("vflutter", "end", 31_500, "warning", end_index=31_500)]}
    s = bfg.score_record(d, ref)
    assert (s["vflutter"], s["vflutter_alarm"], s["inside"], s["inside_alarm"]) == (2, 1, 1, 1)
    assert (s["ref"], s["found"], s["vfib_found"]) == (1, 1, 1)
    assert s["latency_s"] == [1.0] and s["vfib_latency_s"] == [6.0]  # raised at 10,250
    # a warning never counts as the first alarm
    d["alerts"] = [a for a in d["alerts"] if a["kind"] == "vflutter"]
    d["alerts"][0]["severity"] = d["alerts"][1]["severity"] = "warning"
    s = bfg.score_record(d, ref)
    assert (s["found"], s["latency_s"], s["vflutter_alarm"]) == (0, [], 0)
    total = bfg.summarise([s, bfg.score_record({**d, "alerts": []}, ref)])
    assert (total["outside"], total["outside_alarm"], total["ref"]) == (1, 0, 2)
    assert total["first_alarm_latency"] == {"median_s": None, "worst_s": None, "n": 0}


def test_another_recipes_fold_models_by_record(tmp_path):
    from training.ventricular import TRAIN_RECORDS, folds

    f = folds(TRAIN_RECORDS, 5)
    (tmp_path / "folds.json").write_text(json.dumps({"folds": f}))
    for k in range(5):
        (tmp_path / f"fold{k}.tflite").write_bytes(b"")
    models, nets = bfg.dir_models(tmp_path)
    for r in ("cu15", "207"):
        assert models[r] == str(tmp_path / f"vf_trees_fold{f[r]}.json")
        assert nets[r] == str(tmp_path / f"fold{f[r]}.tflite")
    (tmp_path / "folds.json").write_text(json.dumps({"folds": {**f, "cu15": (f["cu15"] + 1) % 5}}))
    with pytest.raises(ModelError, match="folds"):
        bfg.dir_models(tmp_path)


def test_a_folds_dir_of_other_folds_is_one_line(tmp_path, capsys):
    from training.ventricular import TRAIN_RECORDS, folds

    f = folds(TRAIN_RECORDS, 5)
    (tmp_path / "folds.json").write_text(json.dumps({"folds": {**f, "cu15": (f["cu15"] + 1) % 5}}))
    for k in range(5):
        (tmp_path / f"fold{k}.tflite").write_bytes(b"")
        (tmp_path / f"vf_trees_fold{k}.json").write_text("{}")
    assert bfg.main(["--folds-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its folds are not" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--hold-s", "-1"], ["--lookback-s", "x"],
                                  ["--hold-s", "nan"], ["--folds-dir", "/nonexistent"]])
def test_bad_arguments_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bfg.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "error:" in err[-1] and "Traceback" not in "".join(err)


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "flutter_grading.json").read_text())
    assert {(r["set"], r["signal"], r["confirm"]) for r in res["rows"]} >= {
        (s, "clean", c) for s in ("cudb", "mitdb_ds1") for c in (False, True)}
    for r in res["rows"]:
        s = r["summary"]
        assert s["vflutter_alarm"] <= s["vflutter"] and s["found"] <= s["ref"]
        assert s["inside"] + s["outside"] == s["vflutter"]
        if not r["confirm"]:
            assert s["vflutter_alarm"] == s["vflutter"]
    md = (RESULTS / "flutter_grading.md").read_text()
    assert "bench_flutter_grading.py" in md and "| cudb | clean | on |" in md
