"""benchmarks/bench_size_curve.py: bytes and out-of-fold scores read from the int8 files'
contracts, a member file scored from its ensemble, and clear errors."""
from __future__ import annotations

import json
import shutil

import pytest

from benchmarks.bench_size_curve import main, model_row
from convert.quantize import embed_contract
from edge.model.bundled import MODELS_DIR
from edge.model.tflite_meta import read_contract

SHIPPED = MODELS_DIR / "default.tflite"


def test_the_shipped_model_row_is_its_contract():
    c = read_contract(SHIPPED.read_bytes())
    xcv = c["training"]["svdb_crossval_members"]
    row = model_row(SHIPPED)
    assert row["bytes"] == SHIPPED.stat().st_size and row["members"] == 3
    assert 0 < row["contract_bytes"] < row["bytes"]
    assert row["svdb_fold0_f1"] == {k: round(xcv["members"][0]["f1"][k], 3) for k in "SV"}
    assert row["svdb_pooled_f1"]["V"] == round(xcv["per_class"]["V"]["f1"], 3)
    assert "--svdb" in row["recipe"] and "--width" not in row["recipe"]


def test_a_member_file_takes_its_scores_from_the_ensemble(tmp_path, capsys):
    member = tmp_path / "member1.tflite"
    c = read_contract(SHIPPED.read_bytes())
    lean = {k: v for k, v in c.items() if k != "training"}
    member.write_bytes(embed_contract(SHIPPED.read_bytes(), lean))
    out = tmp_path / "sc"
    assert main([str(SHIPPED), str(member), "--member", f"{member}={SHIPPED}:1",
                 "--out-stem", str(out)]) == 0
    rows = {r["file"]: r for r in json.loads(out.with_suffix(".json").read_text())["models"]}
    m1 = c["training"]["svdb_crossval_members"]["members"][1]
    assert rows["member1.tflite"]["bytes"] == member.stat().st_size
    # member 1 was held out on SVDB fold 1, not fold 0: it has no fold-0 score
    assert rows["member1.tflite"]["svdb_fold0_f1"] is None
    assert rows["member1.tflite"]["svdb_pooled_f1"] is None
    assert "(member 1 of that ensemble)" in rows["member1.tflite"]["recipe"]
    assert m1["records"] == c["training"]["extra_folds"][1]
    md = out.with_suffix(".md").read_text()
    assert "| `default.tflite` (cnnx3-1.2.0) | 3 × 1 |" in md


def test_errors_are_one_line(tmp_path, capsys):
    lean = tmp_path / "lean.tflite"
    c = read_contract(SHIPPED.read_bytes())
    c["training"].pop("svdb_crossval_members")
    lean.write_bytes(embed_contract(SHIPPED.read_bytes(), c))
    assert main([str(lean), "--out-stem", str(tmp_path / "x")]) == 2
    assert "no SVDB out-of-fold scores" in capsys.readouterr().err
    bare = tmp_path / "bare.tflite"
    shutil.copy(SHIPPED, bare)
    bare.write_bytes(b"garbage")
    assert main([str(bare), "--out-stem", str(tmp_path / "x")]) == 2
    assert "bare.tflite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing.tflite")])
    with pytest.raises(SystemExit):
        main([str(SHIPPED), "--member", "nonsense"])
