"""training.evaluate and the shipped model: accuracy floors on DS2 records (inter-patient)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.scoring import AAMI_CLASSES
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
