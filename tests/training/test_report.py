"""training.report: the committed report re-renders byte for byte from its JSON; the int8
columns say what was measured."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.aami import AAMI_CLASSES
from tests.training.support import check_ec57_next_to_plain
from training.metrics import E2E_CLASSES, summarize, with_ec57
from training.report import write_report

REPORT_DIR = Path(__file__).resolve().parents[2] / "reports" / "beat_classifiers"


def _same(a, b) -> bool:
    """Equal JSON content (NaN equals NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("folder", [REPORT_DIR, REPORT_DIR / "cnnx3-1.1.0",
                                    REPORT_DIR / "cnnx3-1.0.0"],
                         ids=["shipped", "cnnx3-1.1.0", "cnnx3-1.0.0"])
def test_stored_report_is_rendered_from_its_confusion_matrices(tmp_path, folder):
    """The committed reports (the shipped model's and the previous one's) carry EC57 next to
    the plain numbers, and re-rendering them from the confusion matrices in report.json (no
    model) gives the committed files back."""
    from training.evaluate import main

    stored = json.loads((folder / "report.json").read_text())
    recomputed = with_ec57(json.loads((folder / "report.json").read_text()))
    assert _same(recomputed, stored)
    for r in stored:
        for mode in ("reference", "end_to_end"):
            check_ec57_next_to_plain(r[mode])
    md = (folder / "report.md").read_text()
    shipped = next(line.split("**Shipped model:** ", 1)[1] for line in md.splitlines()
                   if line.startswith("**Shipped model:** "))
    assert main(["--from-json", str(folder / "report.json"), "--out", str(tmp_path),
                 "--shipped", shipped, "--notes", str(folder / "notes.md")]) == 0
    assert (tmp_path / "report.md").read_text() == md
    assert _same(json.loads((tmp_path / "report.json").read_text()), stored)
    assert "## EC57 gross statistics" in md


def _result(**extra) -> dict:
    per_record = {"100": {"true": list("NNNNSVVN"), "pred": list("NNNVSVVN")}}
    e2e = summarize(per_record, E2E_CLASSES)
    e2e["detection"] = {"tp": 8, "fn": 0, "fp": 0, "se": 1.0, "ppv": 1.0}
    return {"model": "m", "kind": "cnn", "model_version": "cnn-test", "params": 10,
            "keras_bytes": 2048,
            "training": {"records": ["101"], "validation_records": ["106"], "selection": "s",
                         "best_epoch": 1, "epochs_run": 2, "seconds": 6.0},
            "reference": summarize(per_record, AAMI_CLASSES), "end_to_end": e2e,
            "plots": {"reference_confusion": "r.png", "end_to_end_confusion": "e.png"},
            "strips": {}, **extra}


def _side_by_side_row(md: str) -> list[str]:
    row = next(line for line in md.splitlines() if line.startswith("| CNN (cnn-test) |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_int8_columns_name_the_given_model(tmp_path):
    int8 = {"tflite": "model.tflite", "int8_bytes": 51200, "agreement_with_float": 0.998,
            "latency_ms_per_beat": 0.031, "beats_compared": 3000}
    md = write_report([_result(int8=int8)], tmp_path).read_text()
    assert _side_by_side_row(md)[3:6] == ["50", "99.8", "0.03"]
    assert "given with `--int8` (made by `python convert/quantize.py`: `model.tflite`)" in md
    assert "trial full-int8 conversion" not in md


def test_without_int8_the_report_says_none_was_measured(tmp_path):
    md = write_report([_result()], tmp_path).read_text()
    assert _side_by_side_row(md)[3:6] == ["nan", "–", "nan"]
    assert "no int8 model was measured" in md
    assert "trial full-int8 conversion" not in md
    assert json.loads((tmp_path / "report.json").read_text())[0]["kind"] == "cnn"


def test_header_says_what_the_models_were_trained_on(tmp_path):
    """A DS1-only model and one trained with SVDB patients are told apart in the header, and the
    extra patient folds and their cross-validation are listed."""
    md = write_report([_result()], tmp_path).read_text()
    assert "Trained on DS1 only" in md
    r = _result()
    r["training"].update(records=["101", "svdb/800", "svdb/801"], folds=[["101"], ["106"]],
                         extra_folds=[["svdb/800"], ["svdb/801"]], svdb_crossval_members=r[
                             "reference"])
    md = write_report([r], tmp_path).read_text()
    assert "Trained on DS1 and 2 records of SVDB (never DS2)" in md
    assert "extra patient folds (member k also leaves out extra fold k) svdb/800 / svdb/801" in md
    assert "SVDB cross-validation (each member on its held-out fold" in md


def test_the_header_names_the_records_when_they_are_not_ds2(tmp_path):
    """Evaluated on --records other than DS2 (here 100, and 101 which the model trained on):
    the report says so instead of claiming DS2's 22 unseen patients."""
    r = _result()
    r["reference"] = summarize({"100": {"true": list("NNS"), "pred": list("NNS")},
                                "101": {"true": list("NV"), "pred": list("NV")}}, AAMI_CLASSES)
    md = write_report([r], tmp_path).read_text()
    assert md.startswith("# Beat classifiers: evaluation on MIT-BIH records 100, 101\n")
    assert "22 patients never seen in training" not in md
    assert ("evaluated on 2 records given with --records (100, 101), not the DS2 test set; 101 "
            "was seen in training or validation") in md
    assert "## Side by side (records 100, 101)" in md
    assert "## EC57 gross statistics (`bxb` rules, records 100, 101)" in md
    assert "Ours above are on records 100, 101, not DS2" in md


def test_the_header_keeps_the_ds2_wording_on_ds2(tmp_path):
    from training.data import DS2

    r = _result()
    r["reference"] = summarize({rec: {"true": ["N"], "pred": ["N"]} for rec in reversed(DS2)},
                               AAMI_CLASSES)
    md = write_report([r], tmp_path).read_text()
    assert md.startswith("# Beat classifiers: inter-patient evaluation on MIT-BIH DS2\n")
    assert "DS2 (22 patients never seen in training) is used for evaluation only" in md
    assert "## Side by side (DS2)" in md and "not DS2" not in md


def test_running_the_module_says_it_has_no_command_line():
    """Session 44 script audit: `python -m training.report` printed nothing and exited 0."""
    import subprocess
    import sys
    from pathlib import Path

    p = subprocess.run([sys.executable, "-m", "training.report"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("python -m training.report: a library module with no command line")
