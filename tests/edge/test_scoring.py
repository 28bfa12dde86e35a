import numpy as np

from edge.scoring import (DetectionScore, class_metrics, confusion_matrix, match_beats,
                          score_detection, vf_episodes)


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
