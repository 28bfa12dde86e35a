"""The wearer templates (:mod:`edge.model.adapt.vote`): they veto a false V unlike the wearer's
own V beats, keep a true V, vote on a non-adapted V, and the novelty guard spares a new
morphology only when its timing is ectopic."""
import numpy as np
import pytest

from edge.errors import AdaptError
from edge.model.adapt import AdaptConfig, fit_head
from tests.edge.model.adapt.support import CLASSES, rr_timing, v_wearer, wearer


def test_templates_vote_on_a_non_adapted_v(rng):
    """A wearer whose window had no PVC: a beat matching the wearer's own templates loses the
    base model's V call; a beat new to the wearer and premature keeps it (a first PVC)."""
    proba, emb, feats, y = wearer(rng, 600)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], AdaptConfig())
    assert "V" not in head.adapted and head.templates is not None
    base_v = np.tile([0.35, 0.05, 0.55, 0.03, 0.02], (40, 1))  # the base model says V
    look_alike = emb[300:340]  # the wearer's own kind of beat
    new = rng.standard_normal((40, emb.shape[1])) * 0.3
    new[:, 0] += 25.0  # unlike anything in the window
    f = rng.standard_normal((40, 14))
    on_time, early = rr_timing(40), rr_timing(40, pre_log=-0.3)
    calls = {}
    for name, e, t in (("look-alike", look_alike, on_time), ("new, early", new, early),
                       ("new, on time", new, on_time)):
        calls[name] = np.mean(CLASSES[head.apply(base_v, head.inputs(e, f), t).argmax(1)] == "V")
    assert calls["look-alike"] < 0.1 and calls["new, early"] == 1.0
    assert calls["new, on time"] < 0.1  # a normal beat deformed by noise, as far as we know
    off = fit_head(proba[:300], emb[:300], feats[:300], y[:300],
                   AdaptConfig(template_vote_unadapted=False))
    assert np.all(CLASSES[off.apply(base_v, off.inputs(look_alike, f), on_time).argmax(1)]
                  == "V")


def test_wearer_templates_veto_false_v_and_keep_true_v(rng):
    proba, emb, feats, y, kind = v_wearer(rng, 2000)
    win = np.arange(2000) < 400
    win &= kind != 2  # the adaptation window holds no artefact
    rest = np.arange(2000) >= 400
    on = fit_head(proba[win], emb[win], feats[win], y[win], AdaptConfig())
    off = fit_head(proba[win], emb[win], feats[win], y[win], AdaptConfig(template_k=0))
    assert on.templates is not None and off.templates is None
    assert on.templates.shape == (int(win.sum()), emb.shape[1] + 14)
    lab_on, lab_off = (CLASSES[h.apply(proba[rest], h.inputs(emb[rest], feats[rest]),
                                       feats[rest]).argmax(1)] for h in (on, off))
    art, true_v = kind[rest] == 2, kind[rest] == 1
    assert np.mean(lab_off[art] == "V") > 0.5  # the head alone cannot learn an unseen kind
    # templates: unlike the wearer's V, not V (the few beyond the templates' reach are "new"
    # to the wearer and keep the head's call)
    assert np.mean(lab_on[art] == "V") < 0.15
    assert np.mean(lab_on[true_v] == "V") > 0.95


def test_a_new_morphology_is_not_vetoed_by_the_templates(rng):
    """V beats of a focus the window never showed (far from every template) keep the head's
    V call when the novelty guard is on and they come early or before a pause; the plain vote
    would suppress them, and so does the guard when they come on time (a normal beat deformed
    by noise looks new too)."""
    proba, emb, feats, y, kind = v_wearer(rng, 800)
    win = kind != 2
    new_v = rng.standard_normal((60, emb.shape[1])) * 0.5
    new_v[:, 2] += 12.0  # a direction no window beat ever took
    p_new = np.tile([0.05, 0.01, 0.92, 0.01, 0.01], (60, 1))
    f_new = rng.standard_normal((60, 14))
    timing = {"premature": rr_timing(60, pre_log=-0.3), "pause": rr_timing(60, post_log=0.4),
              "on time": rr_timing(60, pre_log=-0.05, post_log=0.05)}
    calls = {}
    for nov, ectopic in ((1.0, 0.1), (1.0, None), (None, 0.1)):
        h = fit_head(proba[win], emb[win], feats[win], y[win],
                     AdaptConfig(template_novelty=nov, novel_ectopic_log=ectopic))
        x = h.inputs(new_v, f_new)
        for name, t in timing.items():
            calls[nov, ectopic, name] = np.mean(CLASSES[h.apply(p_new, x, t).argmax(1)] == "V")
        if nov is not None:
            assert np.isfinite(h.template_reach) and h.template_reach > 0
            assert h.apply_detail(p_new, x, timing["on time"])[1].all()  # all new, counted
    assert calls[1.0, 0.1, "premature"] > 0.95 and calls[1.0, 0.1, "pause"] > 0.95
    assert calls[1.0, 0.1, "on time"] < 0.5
    assert all(calls[1.0, None, name] > 0.95 for name in timing)  # guard spares any new beat
    assert all(calls[None, 0.1, name] < 0.5 for name in timing)  # no guard


def test_the_timing_condition_needs_the_features(rng):
    proba, emb, feats, y, kind = v_wearer(rng, 400)
    h = fit_head(proba, emb, feats, y, AdaptConfig())
    x = h.inputs(emb, feats)
    with pytest.raises(AdaptError, match="timing"):
        h.apply(proba, x)
    with pytest.raises(AdaptError, match="shape"):
        h.apply(proba, x, feats[:, :4])
    nan = rr_timing(len(y), pre_log=np.nan)  # unknown timing: not ectopic, no crash
    assert np.all(np.isfinite(h.apply(proba, x, nan)))
    old = fit_head(proba, emb, feats, y, AdaptConfig(novel_ectopic_log=None))
    old.apply(proba, x)  # a guard without the timing condition (older files) needs none


def test_template_vote_is_per_beat_and_leaves_unadapted_classes(rng):
    proba, emb, feats, y, _ = v_wearer(rng, 600)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], AdaptConfig())
    x, f = head.inputs(emb[300:], feats[300:]), feats[300:]
    whole = head.apply(proba[300:], x, f)
    parts = np.vstack([head.apply(proba[300 + i:300 + j], x[i:j], f[i:j])
                       for i, j in ((0, 1), (1, 50), (50, 300))])
    np.testing.assert_allclose(parts, whole, rtol=1e-6, atol=1e-7)  # batch-size invariant
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-5)
    # A wearer without V beats: V is not adapted, has no V templates, and without the vote on
    # non-adapted classes keeps the head's score.
    only_n = fit_head(proba[:300][y[:300] == "N"], emb[:300][y[:300] == "N"],
                      feats[:300][y[:300] == "N"], y[:300][y[:300] == "N"],
                      AdaptConfig(template_vote_unadapted=False))
    assert "V" not in only_n.adapted and set(only_n.template_labels.tolist()) == {0}
    no_vote = fit_head(proba[:300][y[:300] == "N"], emb[:300][y[:300] == "N"],
                       feats[:300][y[:300] == "N"], y[:300][y[:300] == "N"],
                       AdaptConfig(template_k=0))
    np.testing.assert_allclose(only_n.apply(proba[300:], x, f), no_vote.apply(proba[300:], x, f),
                               rtol=1e-6)
