"""benchmarks/bench_generalisation.py: its scoring helpers, the SVDB out-of-fold model
assignment and its command-line errors (the full run is a benchmark, not a test)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.bench_annotate import CLASSES
from benchmarks.bench_generalisation import (
    DETECTORS,
    aggregate,
    class_row,
    detection_row,
    evaluate_record,
    main,
    svdb_models,
)
from edge.errors import ModelError
from edge.eval.scoring import DetectionScore
from training.data import SVDB_FOLDS


def _cm(pairs):
    index = {c: i for i, c in enumerate(CLASSES)}
    cm = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    for t, p, n in pairs:
        cm[index[t], index[p]] += n
    return cm


def test_detection_row_counts_and_percentages():
    r = detection_row(DetectionScore(tp=90, fp=10, fn=10))
    assert (r["se"], r["ppv"]) == (pytest.approx(90.0), pytest.approx(90.0))
    assert detection_row(DetectionScore())["se"] is None


def test_class_row_strict_and_ec57():
    # 8 S found, 2 S missed by the detector, 2 N called S, 1 Q called S (no EC57 false SVEB),
    # 1 extra detection called S.
    cm = _cm([("N", "N", 100), ("S", "S", 8), ("S", "-", 2), ("N", "S", 2), ("Q", "S", 1),
              ("-", "S", 1), ("V", "V", 5), ("F", "V", 1)])
    r = class_row(cm)
    assert r["S"]["se"] == pytest.approx(0.8)
    assert r["S"]["ppv"] == pytest.approx(8 / 12)
    assert r["ec57_S"]["ppv"] == pytest.approx(8 / 11)  # the Q beat is exempt
    assert r["V"]["ppv"] == pytest.approx(5 / 6) and r["ec57_V"]["ppv"] == pytest.approx(1.0)
    assert r["beats"] == 119  # reference beats (the extra detection is not one)


def test_aggregate_pools_records_and_reports_errors():
    def row(rec, tp, fn, cm):
        return {"record": rec, "rate_hz": None, "error": None,
                "qrs": {d: {"tp": tp, "fp": 0, "fn": fn, "cpu_s": 1.0} for d in DETECTORS},
                "confusion": {"reference/model_calls": cm.tolist()}}
    a = row("1", 99, 1, _cm([("S", "S", 1), ("N", "N", 9)]))
    b = row("2", 100, 0, _cm([("S", "N", 1), ("N", "N", 9)]))
    bad = {"record": "3", "rate_hz": None, "error": "DataError: gone"}
    res = aggregate([a, b, bad], DETECTORS)
    assert res["records"] == ["1", "2"] and res["errors"] == {"3": "DataError: gone"}
    assert res["qrs"]["ours"]["se"] == pytest.approx(199 / 2)
    assert res["qrs"]["ours"]["cpu_s"] == 2.0
    assert res["classes"]["reference/model_calls"]["S"]["se"] == pytest.approx(0.5)


def test_a_missing_record_is_an_error_row_not_a_crash(mitdb_dir, monkeypatch):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    r = evaluate_record({"record": "999", "rate_hz": 128.0, "model": "x.tflite",
                         "detectors": DETECTORS, "classes": True})
    assert r["error"] and "999" in r["error"]


def test_svdb_models_out_of_fold(tmp_path):
    folds = [list(f) for f in SVDB_FOLDS]
    (tmp_path / "beat_cnn.contract.json").write_text(json.dumps(
        {"training": {"extra_folds": folds}}))
    for k in range(3):
        (tmp_path / f"member{k}.tflite").write_bytes(b"x")
    recs = [SVDB_FOLDS[0][0], SVDB_FOLDS[2][1]]
    got, how = svdb_models(str(tmp_path), "shipped.tflite", recs)
    assert got == {recs[0]: str(tmp_path / "member0.tflite"),
                   recs[1]: str(tmp_path / "member2.tflite")}
    assert "never saw" in how
    (tmp_path / "member1.tflite").unlink()
    with pytest.raises(ModelError, match="member1.tflite missing"):
        svdb_models(str(tmp_path), "shipped.tflite", recs)
    (tmp_path / "beat_cnn.contract.json").write_text(json.dumps({"training": {}}))
    with pytest.raises(ModelError, match="--svdb"):
        svdb_models(str(tmp_path), "shipped.tflite", recs)
    (tmp_path / "beat_cnn.contract.json").write_text("not json")
    with pytest.raises(ModelError, match="unreadable contract"):
        svdb_models(str(tmp_path), "shipped.tflite", recs)
    with pytest.raises(ModelError, match="no beat_.*contract.json there"):
        svdb_models(str(tmp_path / "nonexist"), "shipped.tflite", recs)


def test_a_cv_folder_without_a_contract_is_one_line(tmp_path, capsys, svdb_dir, monkeypatch):
    """Session 44 script audit: --cv of a missing folder ended in a bare StopIteration."""
    monkeypatch.setenv("SVDB_DIR", str(svdb_dir))
    assert main(["--cv", str(tmp_path / "nonexist"), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nonexist: no beat_*.contract.json" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


def test_cli_errors(tmp_path, capsys, monkeypatch):
    assert main(["--jobs", "0", "--out-dir", str(tmp_path)]) == 2
    assert main(["--model", str(tmp_path / "none.tflite"), "--out-dir", str(tmp_path)]) == 2
    assert "no model file" in capsys.readouterr().err
    monkeypatch.delenv("SVDB_DIR", raising=False)
    assert main(["--out-dir", str(tmp_path)]) == 2
    assert "SVDB_DIR" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_markdown_renders_every_table():
    from benchmarks.bench_generalisation import markdown
    cm = _cm([("N", "N", 90), ("S", "S", 4), ("S", "N", 1), ("V", "V", 5)])
    row = {"record": "svdb/804", "rate_hz": None, "error": None,
           "qrs": {d: {**detection_row(DetectionScore(tp=100, fp=1, fn=0)), "cpu_s": 0.5}
                   for d in DETECTORS},
           "confusion": {f"{m}/{c}": cm.tolist() for m in ("reference", "detected")
                         for c in ("model_calls", "rhythm_context")}}
    info = {"path": "m.tflite", "bytes": 1000, "model_version": "cnnx3-1.1.0", "params": 9,
            "members": 3, "seed": 7, "ds2_in_training": False, "svdb_in_training": True,
            "design": {"svdb_crossval_members": {c: {"se": 0.5, "ppv": 0.5, "f1": 0.5}
                                                 for c in ("S", "V")}}}
    res = {"command": "x", "date": "d", "runtime_s": 1.0, "quick": True, "model": info,
           "svdb_models": "out of fold", "sets": {"SVDB @ 128 Hz": aggregate([row], DETECTORS)},
           "extra_models": [], "ds2_looks": ["one"]}
    md = markdown(res)
    assert "| SVDB @ 128 Hz | 1 | 100 | 100.00 | 99.01 |" in md
    assert "| SVDB @ 128 Hz | detected | rhythm context | 80.0 | 100.0 | 0.889 |" in md
    assert "| svdb/804 | 100 |" in md and "## DS2 looks" in md and "1. one" in md
    assert "| `m.tflite` | 7 | 3 | 9 | - | - | 0.500 / 0.500 / 0.500 |" in md


def test_rows_are_cached_by_task_model_and_code(svdb_dir, tmp_path, monkeypatch):
    from benchmarks.bench_generalisation import cached_evaluate, task_key
    monkeypatch.setenv("SVDB_DIR", str(svdb_dir))
    task = {"record": "svdb/804", "rate_hz": None, "model": None, "detectors": ("ours",),
            "classes": False, "cache": str(tmp_path), "code": "c1"}
    first = cached_evaluate(task)
    assert first["error"] is None and first["qrs"]["ours"]["tp"] > 2800
    assert len(list(tmp_path.glob("*.json"))) == 1
    again = cached_evaluate(task)
    assert again.pop("cached") is True and "cached" not in first
    assert again == json.loads(json.dumps(first, default=float))
    assert task_key({**task, "rate_hz": 250.0}, "c1") != task_key(task, "c1")
    assert task_key(task, "c2") != task_key(task, "c1")
    m1, m2 = tmp_path / "a.tflite", tmp_path / "b.tflite"
    m1.write_bytes(b"one")
    m2.write_bytes(b"two")
    cls = {**task, "classes": True}
    assert task_key({**cls, "model": str(m1)}, "c1") != task_key({**cls, "model": str(m2)}, "c1")
    bad = {**task, "record": "svdb/999"}
    assert cached_evaluate(bad)["error"] and len(list(tmp_path.glob("*.json"))) == 1
