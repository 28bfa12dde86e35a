"""The residual head's arithmetic (:mod:`edge.model.adapt.residual`): a non-adapted class gains
at most the cap, and a non-adapted V keeps the base model's probability exactly."""
from dataclasses import replace

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.model.adapt import AdaptConfig, WearerHead, fit_head
from tests.edge.model.adapt.support import CLASSES, accuracy, wearer


def test_a_non_adapted_v_keeps_the_base_probability_exactly(rng):
    """A head fitted on a window without PVCs knows only the wearer's other beats: it must not
    lower the V score of a later PVC (exact_fallback), while S may still be lowered."""
    proba, emb, feats, y = wearer(rng, 600)
    cfg = AdaptConfig(template_vote_unadapted=False)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], cfg)
    loose = fit_head(proba[:300], emb[:300], feats[:300], y[:300],
                     replace(cfg, exact_fallback=()))
    assert "V" not in head.adapted
    pvc = np.tile([0.35, 0.05, 0.55, 0.03, 0.02], (50, 1))  # a first PVC, base says V
    e_pvc, f_pvc = rng.standard_normal((50, emb.shape[1])), rng.standard_normal((50, 14))
    q = head.apply(pvc, head.inputs(e_pvc, f_pvc), f_pvc)
    np.testing.assert_allclose(q[:, 2], pvc[:, 2] / pvc.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(CLASSES[q.argmax(1)] == "V")
    q_loose = loose.apply(pvc, loose.inputs(e_pvc, f_pvc), f_pvc)
    assert np.all(q_loose[:, 2] <= q[:, 2] + 1e-6)  # without it, V can only lose
    rest = head.apply(proba[300:], head.inputs(emb[300:], feats[300:]), feats[300:])
    np.testing.assert_allclose(rest[:, 2], proba[300:, 2] / proba[300:].sum(axis=1), rtol=1e-5)
    assert accuracy(head, *(a[300:] for a in (proba, emb, feats, y))) > 0.97  # S still adapted


def test_fallback_gain_caps_non_adapted_classes():
    """A head adapted on N only must not push atypical beats toward V beyond the cap."""
    def head(gain):
        w = np.zeros((3, 5), dtype=np.float32)
        w[0, 0], w[2, 0] = -4.0, 2.0  # N residual 2 - 4 x: negative for atypical beats
        return WearerHead(classes=tuple(AAMI_CLASSES), adapted=("N",),
                          fallback={c: "test" for c in "SVFQ"}, counts={"N": 300},
                          mean=np.zeros(2, np.float32), std=np.ones(2, np.float32), weights=w,
                          base_sha256="", base_model_version="", base_file="", embedding_size=0,
                          config=AdaptConfig(max_fallback_gain=gain, exact_fallback=()))
    p = np.tile([0.6, 0.1, 0.2, 0.05, 0.05], (3, 1)).astype(np.float32)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])  # typical .. atypical
    q_free, q0, q1 = head(None).apply(p, x), head(0.0).apply(p, x), head(1.0).apply(p, x)
    assert CLASSES[q_free[2].argmax()] == "V"  # unbounded: mass flows to the fallback classes
    assert np.all(q0[:, 1:] <= p[:, 1:] * (1 + 1e-5))  # capped: never above the base model
    assert np.all(q1[:, 1:] <= p[:, 1:] * np.e * (1 + 1e-5))
    assert CLASSES[q0[2].argmax()] == "N"
    for q in (q_free, q0, q1):
        np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q0[0], q_free[0], atol=1e-6)  # no outflow: cap does not bite
