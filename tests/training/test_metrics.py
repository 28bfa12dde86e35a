"""training.metrics: pooled and per-record metrics, targets, EC57 statistics next to the plain
ones."""
from __future__ import annotations

import numpy as np

from edge.aami import AAMI_CLASSES
from tests.training.support import check_ec57_next_to_plain
from training.metrics import E2E_CLASSES, NO_BEAT, TARGETS, summarize, with_ec57


def test_summary_reports_ec57_next_to_the_plain_metrics():
    # reference -> predicted: F and Q called V, Q called S, a missed V, an extra "V"
    pairs = ([("N", "N")] * 20 + [("V", "V")] * 6 + [("S", "S")] * 4 + [("F", "V")] * 2
             + [("Q", "V"), ("Q", "S"), ("N", "V"), ("N", "S"), ("V", NO_BEAT), (NO_BEAT, "V")])
    per_record = {"r1": {"true": [t for t, _ in pairs], "pred": [p for _, p in pairs]}}
    m = summarize(per_record, E2E_CLASSES)
    check_ec57_next_to_plain(m)
    v, s = m["ec57"]["V"], m["ec57"]["S"]
    assert (v["tp"], v["fp"], v["fn"]) == (6, 2, 1)  # N->V and the extra beat
    assert m["per_class"]["V"]["fp"] == 5  # plain: F->V (2), Q->V, N->V, extra
    assert (s["tp"], s["fp"], s["fn"]) == (4, 1, 0)  # N->S; Q->S is not a false SVEB
    assert m["per_class"]["S"]["fp"] == 2


def test_per_record_rows_dominant_confusions_and_targets():
    per_record = {"a": {"true": list("NNNNVVS"), "pred": list("NNNVVVN")},
                  "b": {"true": list("NNNNNNV"), "pred": list("NNNNNNV")}}
    m = summarize(per_record, AAMI_CLASSES)
    assert [r["record"] for r in m["per_record"]] == ["a", "b"]
    assert [r["errors"] for r in m["per_record"]] == [2, 0]
    assert m["dominant_confusions"][0]["top_records"] == [{"record": "a", "count": 1}]
    assert set(m["targets"]) == set(TARGETS)
    assert m["targets"]["accuracy"]["value"] == m["accuracy"] == 12 / 14
    assert m["targets"]["accuracy"]["met"] is False


def test_with_ec57_recomputes_from_the_stored_confusion_matrix():
    per_record = {"a": {"true": list("NNFQVV"), "pred": list("NNVVVN")}}
    m = summarize(per_record, AAMI_CLASSES)
    results = [{"reference": dict(m, ec57=None), "end_to_end": dict(m, ec57=None)}]
    assert with_ec57(results) is results
    assert results[0]["reference"]["ec57"]["V"] == m["ec57"]["V"]
    assert results[0]["end_to_end"]["ec57"]["V"] == m["ec57"]["V"]
    assert np.isclose(m["ec57"]["V"]["ppv"], 1.0)  # F and Q called V are not false VEBs
