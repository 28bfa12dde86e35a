"""training.evaluate and the shipped model: accuracy floors on DS2 records (inter-patient)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.aami import AAMI_CLASSES
from training.data import DS1, DS2

pytest.importorskip("tensorflow")

SHIPPED = Path(__file__).resolve().parents[2] / "edge" / "models" / "beat_cnn.keras"
#: DS2 records with N, S and V beats; floors sit a few points under the measured values.
FLOOR_RECORDS = ("100", "105", "200", "210", "221", "233")


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED.exists():
        pytest.skip(f"shipped model {SHIPPED} not present")
    from training.contract import load_model
    return load_model(SHIPPED)


def test_shipped_contract_is_ds1_only(shipped):
    _, contract = shipped
    used = set(contract["training"]["records"]) | set(contract["training"]["validation_records"])
    assert used <= set(DS1)
    assert not used & set(DS2)
    assert contract["classes"] == list(AAMI_CLASSES)


def test_shipped_model_accuracy_floor_on_ds2_records(shipped, mitdb_dir):
    from training.evaluate import _summary, evaluate_reference

    model, contract = shipped
    res = evaluate_reference(model, contract, FLOOR_RECORDS, mitdb_dir, progress=False)
    m = _summary(res, AAMI_CLASSES)
    assert m["accuracy"] >= 0.93
    assert m["per_class"]["V"]["se"] >= 0.85
    assert m["per_class"]["V"]["ppv"] >= 0.80


def test_end_to_end_counts_missed_and_extra_beats(shipped, mitdb_dir):
    from training.evaluate import E2E_CLASSES, NO_BEAT, _summary, evaluate_end_to_end

    model, contract = shipped
    res = evaluate_end_to_end(model, contract, ("100",), mitdb_dir, progress=False)
    r = res["100"]
    assert sum(t != NO_BEAT for t in r["true"]) == r["n_reference"]
    assert sum(p != NO_BEAT for p in r["pred"]) == r["n_detected"]
    m = _summary(res, E2E_CLASSES)
    assert m["accuracy"] >= 0.90
    _check_ec57_next_to_plain(m)


def _check_ec57_next_to_plain(m: dict) -> None:
    """EC57 (bxb) VEB/SVEB statistics sit next to the plain ones: same Se, never more FPs."""
    for c in ("S", "V"):
        plain, g = m["per_class"][c], m["ec57"][c]
        assert (g["tp"], g["fn"]) == (plain["tp"], plain["fn"])
        assert g["se"] == plain["se"] or (np.isnan(g["se"]) and np.isnan(plain["se"]))
        assert g["fp"] <= plain["fp"]
        if g["tp"]:
            assert g["ppv"] >= plain["ppv"] and g["f1"] >= plain["f1"]


def test_summary_reports_ec57_next_to_the_plain_metrics():
    from training.evaluate import E2E_CLASSES, NO_BEAT, _summary

    # reference -> predicted: F and Q called V, Q called S, a missed V, an extra "V"
    pairs = ([("N", "N")] * 20 + [("V", "V")] * 6 + [("S", "S")] * 4 + [("F", "V")] * 2
             + [("Q", "V"), ("Q", "S"), ("N", "V"), ("N", "S"), ("V", NO_BEAT), (NO_BEAT, "V")])
    per_record = {"r1": {"true": [t for t, _ in pairs], "pred": [p for _, p in pairs]}}
    m = _summary(per_record, E2E_CLASSES)
    _check_ec57_next_to_plain(m)
    v, s = m["ec57"]["V"], m["ec57"]["S"]
    assert (v["tp"], v["fp"], v["fn"]) == (6, 2, 1)  # N->V and the extra beat
    assert m["per_class"]["V"]["fp"] == 5  # plain: F->V (2), Q->V, N->V, extra
    assert (s["tp"], s["fp"], s["fn"]) == (4, 1, 0)  # N->S; Q->S is not a false SVEB
    assert m["per_class"]["S"]["fp"] == 2


REPORT_DIR = Path(__file__).resolve().parents[2] / "reports" / "beat_classifiers"


def _same(a, b) -> bool:
    """Equal JSON content (NaN equals NaN)."""
    import json
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_stored_report_is_rendered_from_its_confusion_matrices(tmp_path):
    """The committed report carries EC57 next to the plain numbers, and re-rendering it from
    the confusion matrices in report.json (no model) gives the committed files back."""
    import json

    from training.evaluate import main, with_ec57

    stored = json.loads((REPORT_DIR / "report.json").read_text())
    recomputed = with_ec57(json.loads((REPORT_DIR / "report.json").read_text()))
    assert _same(recomputed, stored)
    for r in stored:
        for mode in ("reference", "end_to_end"):
            _check_ec57_next_to_plain(r[mode])
    md = (REPORT_DIR / "report.md").read_text()
    shipped = next(line.split("**Shipped model:** ", 1)[1] for line in md.splitlines()
                   if line.startswith("**Shipped model:** "))
    assert main(["--from-json", str(REPORT_DIR / "report.json"), "--out", str(tmp_path),
                 "--shipped", shipped, "--notes", str(REPORT_DIR / "notes.md")]) == 0
    assert (tmp_path / "report.md").read_text() == md
    assert _same(json.loads((tmp_path / "report.json").read_text()), stored)
    assert "## EC57 gross statistics" in md
