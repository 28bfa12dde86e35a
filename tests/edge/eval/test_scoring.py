import numpy as np
import pytest

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError
from edge.eval.scoring import (
    DetectionScore,
    class_metrics,
    confusion_matrix,
    ec57_gross,
    match_beats,
    score_detection,
    vf_episodes,
)


def test_matching_within_150_ms_nearest_first():
    ref = np.array([100, 500, 1000])
    det = np.array([90, 120, 560, 1100])  # 560 is 60 samples off (167 ms at 360 Hz): no match
    r2d, d2r = match_beats(ref, det, 360.0)
    assert r2d.tolist() == [0, -1, -1]
    assert d2r.tolist() == [0, -1, -1, -1]
    s = score_detection(ref, det, 360.0)
    assert (s.tp, s.fp, s.fn) == (1, 3, 2)


def test_one_to_one_and_gross_statistics():
    s = score_detection(np.array([100, 110]), np.array([105]), 360.0)
    assert (s.tp, s.fp, s.fn) == (1, 0, 1)
    total = s + DetectionScore(9, 1, 0)
    assert total.tp == 10 and abs(total.se - 10 / 11) < 1e-12 and abs(total.ppv - 10 / 11) < 1e-12
    assert np.isnan(DetectionScore().se)


def test_exclusion_drops_both_sides():
    s = score_detection(np.array([100, 1000]), np.array([100, 990, 1500]), 360.0,
                        exclude=[(1400, 1600)])
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)
    assert vf_episodes(np.array([1, 5, 9, 12]), ["[", "!", "]", "N"]) == [(1, 9)]


def test_class_metrics():
    cm = confusion_matrix(list("NNNNSSVV"), list("NNNSSNVV"))
    m = class_metrics(cm)
    assert m["n_beats"] == 8 and abs(m["accuracy"] - 6 / 8) < 1e-12
    s = m["per_class"]["S"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 1) and abs(s["f1"] - 0.5) < 1e-12
    assert m["per_class"]["V"]["f1"] == 1.0


def test_ec57_gross_exempts_fusion_and_unclassifiable_false_positives():
    # rows reference N S V F Q, columns predicted
    cm = np.array([[90, 2, 3, 0, 0],
                   [4, 20, 1, 0, 0],
                   [1, 1, 30, 2, 0],
                   [0, 1, 5, 3, 0],
                   [0, 2, 4, 0, 1]])
    g = ec57_gross(cm)
    v, s = g["V"], g["S"]
    assert (v["tp"], v["fn"], v["fp"]) == (30, 4, 3 + 1)  # Fv (5) and Qv (4) are not errors
    assert (s["tp"], s["fn"], s["fp"]) == (20, 5, 2 + 1 + 1)  # Qs (2) is not an error
    plain = class_metrics(cm)["per_class"]
    assert plain["V"]["fp"] == 3 + 1 + 5 + 4 and plain["V"]["fn"] == v["fn"]
    assert v["ppv"] == pytest.approx(30 / 34) and v["f1"] == pytest.approx(60 / 68)


def test_ec57_gross_with_missed_and_extra_beats():
    classes = AAMI_CLASSES + ("-",)
    cm = np.zeros((6, 6), dtype=np.int64)
    cm[2, 2], cm[2, 5], cm[5, 2], cm[5, 1], cm[1, 1] = 10, 3, 2, 1, 5
    g = ec57_gross(cm, classes)
    assert (g["V"]["tp"], g["V"]["fn"], g["V"]["fp"]) == (10, 3, 2)  # missed V, extra "V"
    assert (g["S"]["tp"], g["S"]["fn"], g["S"]["fp"]) == (5, 0, 1)
    with pytest.raises(ConfigError):
        ec57_gross(np.zeros((3, 3)), ("N", "S", "V"))
