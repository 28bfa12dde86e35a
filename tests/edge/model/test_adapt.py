"""Patient adaptation (:mod:`edge.model.adapt`, :mod:`edge.cli.adapt`): a constructed case improves,
degenerate inputs give a clear error or a safe fallback, the adapted file round-trips and is
bound to its base model. The constructed cases are pure numpy; the real-record cases use the
bundled two-output int8 model on MIT-BIH record 100 (LiteRT only)."""
import argparse
import logging
from dataclasses import replace

import numpy as np
import pytest
from scipy import signal

from edge.aami import AAMI_CLASSES, AAMI_MAP
from edge.cli.adapt import add_parser
from edge.dsp.features import FEATURE_NAMES
from edge.errors import AdaptedModelError, AdaptError, ConfigError, ModelError
from edge.io.records import read_annotations, read_record
from edge.model.adapt import (
    AdaptConfig,
    AdaptedClassifier,
    WearerHead,
    adapt_recording,
    fit_head,
    model_sha256,
)
from edge.model.bundled import default_embed_model_path, default_model_path
from edge.model.classifier import BeatClassifier
from edge.pipeline import classify_at

CLASSES = np.asarray(AAMI_CLASSES, dtype=object)


def _wearer(rng, n, p_s=0.2, k=8):
    """A wearer whose S beats the base model calls N (p(N) 0.7), but whose embedding tells
    them apart along a wearer-specific direction."""
    y = np.where(rng.uniform(size=n) < p_s, "S", "N").astype(object)
    direction = rng.standard_normal(k)
    emb = rng.standard_normal((n, k)) + np.outer(y == "S", 2.5 * direction)
    feats = rng.standard_normal((n, 14))
    proba = np.tile([0.7, 0.25, 0.03, 0.01, 0.01], (n, 1))
    proba[y == "N"] = [0.9, 0.07, 0.01, 0.01, 0.01]
    return proba, emb, feats, y


def _acc(head, proba, emb, feats, y):
    q = proba if head is None else head.apply(proba, head.inputs(emb, feats), feats)
    return float(np.mean(CLASSES[q.argmax(1)] == y))


def test_adaptation_improves_a_constructed_case(rng):
    proba, emb, feats, y = _wearer(rng, 1500)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], AdaptConfig())
    base_acc, adapted_acc = _acc(None, *(a[300:] for a in (proba, emb, feats, y))), \
        _acc(head, *(a[300:] for a in (proba, emb, feats, y)))
    assert base_acc < 0.85 and adapted_acc > 0.97
    assert head.adapted == ("N", "S") and set(head.fallback) == {"V", "F", "Q"}


def test_class_without_enough_beats_falls_back_to_the_base_model(rng, caplog):
    proba, emb, feats, y = _wearer(rng, 400)
    y[:] = "N"
    y[:3] = "V"  # 3 < min_beats 5
    with caplog.at_level(logging.WARNING, logger="edge.model.adapt"):
        head = fit_head(proba, emb, feats, y, AdaptConfig(min_beats=5))
    assert head.adapted == ("N",)
    assert "3 beats < min_beats 5" in head.fallback["V"] and head.counts["V"] == 3
    assert "S" in head.fallback and head.counts["S"] == 0  # no beats at all: fallback too
    assert np.all(head.weights[:, 1:] == 0)  # non-adapted columns are the base model's
    assert "class V not adapted" in caplog.text


def test_a_non_adapted_v_keeps_the_base_probability_exactly(rng):
    """A head fitted on a window without PVCs knows only the wearer's other beats: it must not
    lower the V score of a later PVC (exact_fallback), while S may still be lowered."""
    proba, emb, feats, y = _wearer(rng, 600)
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
    assert _acc(head, *(a[300:] for a in (proba, emb, feats, y))) > 0.97  # S still adapted


def test_templates_vote_on_a_non_adapted_v(rng):
    """A wearer whose window had no PVC: a beat matching the wearer's own templates loses the
    base model's V call; a beat new to the wearer and premature keeps it (a first PVC)."""
    proba, emb, feats, y = _wearer(rng, 600)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], AdaptConfig())
    assert "V" not in head.adapted and head.templates is not None
    base_v = np.tile([0.35, 0.05, 0.55, 0.03, 0.02], (40, 1))  # the base model says V
    look_alike = emb[300:340]  # the wearer's own kind of beat
    new = rng.standard_normal((40, emb.shape[1])) * 0.3
    new[:, 0] += 25.0  # unlike anything in the window
    f = rng.standard_normal((40, 14))
    on_time, early = _timing(40), _timing(40, pre_log=-0.3)
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


def test_class_min_beats_overrides_or_disables_a_class(rng):
    proba, emb, feats, y = _wearer(rng, 400)
    y[:40] = "F"
    head = fit_head(proba, emb, feats, y, AdaptConfig(class_min_beats={"F": None}))
    assert "F" not in head.adapted and "never adapted" in head.fallback["F"]
    assert np.all(head.weights[:, 3] == 0)
    head = fit_head(proba, emb, feats, y, AdaptConfig(class_min_beats={"F": 50}))
    assert "F" not in head.adapted and "40 beats < min_beats 50" in head.fallback["F"]
    assert "F" in fit_head(proba, emb, feats, y, AdaptConfig()).adapted


def test_fallback_gain_caps_non_adapted_classes():
    """A head adapted on N only must not push atypical beats toward V beyond the cap."""
    def head(gain):
        w = np.zeros((3, 5), dtype=np.float32)
        w[0, 0], w[2, 0] = -4.0, 2.0  # N residual 2 - 4 x: negative for atypical beats
        return WearerHead(classes=tuple(AAMI_CLASSES), adapted=("N",),
                          fallback={c: "test" for c in "SVFQ"}, counts={"N": 300},
                          mean=np.zeros(2, np.float32), std=np.ones(2, np.float32), weights=w,
                          base_sha256="", base_model_version="", base_file="", embedding_size=0,
                          config=AdaptConfig(max_fallback_gain=gain,
                                             exact_fallback=()).to_dict())
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


def _v_wearer(rng, n, k=6):
    """A wearer with N and V beats in two embedding clusters, plus "artefact" beats (labelled
    N) at the edge of the N cloud that the base model calls V: the wearer's V templates should
    veto them."""
    kind = rng.choice(3, size=n, p=[0.8, 0.12, 0.08])  # 0 N, 1 V, 2 artefact (true N)
    centre = np.zeros((3, k))
    centre[1, 0], centre[2, 1] = 4.0, -2.0  # artefacts: at the edge of the N cloud
    emb = centre[kind] + 0.5 * rng.standard_normal((n, k))
    feats = rng.standard_normal((n, 14))
    feats[:, 0] -= 3.0 * (kind == 1)  # V beats come early (a short pre-RR)
    proba = np.tile([0.9, 0.04, 0.04, 0.01, 0.01], (n, 1))
    proba[kind == 1] = [0.2, 0.02, 0.75, 0.02, 0.01]
    proba[kind == 2] = [0.35, 0.02, 0.6, 0.02, 0.01]
    y = np.where(kind == 1, "V", "N").astype(object)
    return proba, emb, feats, y, kind


def test_wearer_templates_veto_false_v_and_keep_true_v(rng):
    proba, emb, feats, y, kind = _v_wearer(rng, 2000)
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


def _timing(n, pre_log=0.0, post_log=0.0):
    """Unstandardised scalar features of ``n`` beats with the given RR log ratios (pre/local
    and pre/long = ``pre_log``, post/pre = ``post_log``); only the timing columns matter."""
    f = np.zeros((n, len(FEATURE_NAMES)))
    f[:, FEATURE_NAMES.index("log_pre_over_local")] = pre_log
    f[:, FEATURE_NAMES.index("log_pre_over_long")] = pre_log
    f[:, FEATURE_NAMES.index("log_post_over_pre")] = post_log
    return f


def test_a_new_morphology_is_not_vetoed_by_the_templates(rng):
    """V beats of a focus the window never showed (far from every template) keep the head's
    V call when the novelty guard is on and they come early or before a pause; the plain vote
    would suppress them, and so does the guard when they come on time (a normal beat deformed
    by noise looks new too)."""
    proba, emb, feats, y, kind = _v_wearer(rng, 800)
    win = kind != 2
    new_v = rng.standard_normal((60, emb.shape[1])) * 0.5
    new_v[:, 2] += 12.0  # a direction no window beat ever took
    p_new = np.tile([0.05, 0.01, 0.92, 0.01, 0.01], (60, 1))
    f_new = rng.standard_normal((60, 14))
    timing = {"premature": _timing(60, pre_log=-0.3), "pause": _timing(60, post_log=0.4),
              "on time": _timing(60, pre_log=-0.05, post_log=0.05)}
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
    proba, emb, feats, y, kind = _v_wearer(rng, 400)
    h = fit_head(proba, emb, feats, y, AdaptConfig())
    x = h.inputs(emb, feats)
    with pytest.raises(AdaptError, match="timing"):
        h.apply(proba, x)
    with pytest.raises(AdaptError, match="shape"):
        h.apply(proba, x, feats[:, :4])
    nan = _timing(len(y), pre_log=np.nan)  # unknown timing: not ectopic, no crash
    assert np.all(np.isfinite(h.apply(proba, x, nan)))
    old = fit_head(proba, emb, feats, y, AdaptConfig(novel_ectopic_log=None))
    old.apply(proba, x)  # a guard without the timing condition (older files) needs none


def test_template_vote_is_per_beat_and_leaves_unadapted_classes(rng):
    proba, emb, feats, y, _ = _v_wearer(rng, 600)
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


def test_templates_are_capped_and_round_trip(rng, tmp_path):
    proba, emb, feats, y, _ = _v_wearer(rng, 3000)
    head = fit_head(proba, emb, feats, y, AdaptConfig(max_templates=1000))
    assert head.templates.shape[0] == 1000
    path = head.save(tmp_path / "w.npz")
    assert path.stat().st_size < 1_000_000
    back = WearerHead.load(path)
    np.testing.assert_array_equal(back.templates, head.templates)
    assert back.template_reach == pytest.approx(head.template_reach)
    np.testing.assert_allclose(back.apply(proba, back.inputs(emb, feats), feats),
                               head.apply(proba, head.inputs(emb, feats), feats))
    with np.load(path) as z:  # damaged: templates without their labels
        arrays = {k: z[k] for k in z.files if k != "template_labels"}
    with open(tmp_path / "bad.npz", "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(AdaptedModelError):
        WearerHead.load(tmp_path / "bad.npz")


def test_no_labelled_beats_or_no_class_with_enough_beats_is_a_clear_error(rng):
    proba, emb, feats, y = _wearer(rng, 50)
    with pytest.raises(AdaptError, match="no labelled beats"):
        fit_head(proba[:0], emb[:0], feats[:0], y[:0], AdaptConfig())
    with pytest.raises(AdaptError, match="no class has 100 labelled beats"):
        fit_head(proba, emb, feats, y, AdaptConfig(min_beats=100))
    with pytest.raises(AdaptError, match="AAMI classes"):
        fit_head(proba, emb, feats, np.full(50, "A", dtype=object), AdaptConfig())


def test_mislabelled_beats(rng, caplog):
    proba, emb, feats, y = _wearer(rng, 1500)
    noisy = y[:300].copy()
    flip = rng.choice(300, 30, replace=False)  # 10 % wrong labels: still a clear gain
    noisy[flip] = np.where(noisy[flip] == "N", "S", "N")
    head = fit_head(proba[:300], emb[:300], feats[:300], noisy, AdaptConfig())
    rest = tuple(a[300:] for a in (proba, emb, feats, y))
    assert _acc(head, *rest) > _acc(None, *rest) + 0.05
    # Labels that contradict a confident base model everywhere: fitted, but flagged loudly.
    confident = np.tile([0.97, 0.01, 0.01, 0.005, 0.005], (300, 1))
    with caplog.at_level(logging.WARNING, logger="edge.model.adapt"):
        bad = fit_head(confident, emb[:300], feats[:300], np.full(300, "V", dtype=object),
                       AdaptConfig())
    assert bad.info["confident_disagreement"] > 0.5
    assert "mislabelled or shifted" in caplog.text


def test_config_errors_name_the_field():
    for kw, field in (({"min_beats": 0}, "min_beats"), ({"adapt_s": 0}, "adapt_s"),
                      ({"class_balance": 2.0}, "class_balance"),
                      ({"use_embedding": False, "use_rr": False}, "use_embedding"),
                      ({"class_min_beats": {"X": 5}}, "class_min_beats"),
                      ({"class_min_beats": {"F": 0}}, "class_min_beats"),
                      ({"class_min_beats": [("F", 5)]}, "class_min_beats"),
                      ({"max_fallback_gain": -1.0}, "max_fallback_gain"),
                      ({"template_k": -1}, "template_k"), ({"template_k": 2.5}, "template_k"),
                      ({"template_weight": -1.0}, "template_weight"),
                      ({"template_floor": 0.0}, "template_floor"),
                      ({"template_classes": ("X",)}, "template_classes"),
                      ({"template_classes": "V"}, "template_classes"),
                      ({"template_k": 20, "max_templates": 10}, "max_templates"),
                      ({"template_novelty": 0.0}, "template_novelty"),
                      ({"novel_ectopic_log": -0.1}, "novel_ectopic_log"),
                      ({"exact_fallback": ("X",)}, "exact_fallback"),
                      ({"exact_fallback": "V"}, "exact_fallback")):
        with pytest.raises(ConfigError) as err:
            AdaptConfig(**kw)
        assert err.value.field == field


def test_head_file_round_trips_and_is_small(rng, tmp_path):
    proba, emb, feats, y = _wearer(rng, 400)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base_sha256="ab" * 32,
                    base_model_version="v", base_file="m.tflite")
    path = head.save(tmp_path / "wearer.adapted")
    assert path.stat().st_size < 1_000_000
    back = WearerHead.load(path)
    assert back.adapted == head.adapted and back.fallback == head.fallback
    assert back.counts == head.counts and back.base_sha256 == head.base_sha256
    np.testing.assert_array_equal(back.weights, head.weights)
    np.testing.assert_allclose(back.apply(proba, back.inputs(emb, feats), feats),
                               head.apply(proba, head.inputs(emb, feats), feats))


def test_damaged_or_foreign_file_is_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz at all")
    with pytest.raises(AdaptedModelError, match="not an ecg-edge adapted model"):
        WearerHead.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "something-else"}'), mean=np.zeros(1),
             std=np.ones(1), weights=np.zeros((2, 5)))
    with pytest.raises(AdaptedModelError, match="format 'something-else'"):
        WearerHead.load(other)
    with pytest.raises(AdaptedModelError, match="not found"):
        WearerHead.load(tmp_path / "missing.npz")


# --- the real model on a real record ------------------------------------------------------

@pytest.fixture(scope="module")
def base():
    return BeatClassifier(default_embed_model_path())


@pytest.fixture(scope="module")
def rec100(mitdb_dir):
    rec = read_record("100", data_dir=mitdb_dir)
    ann = read_annotations("100", data_dir=mitdb_dir)
    n = int(8 * 60 * rec.fs_hz)  # 8 minutes keep the test quick
    keep = ann.sample_index < n
    return rec.signal_mv[:n, 0], rec.fs_hz, ann.sample_index[keep], ann.symbol[keep]


def test_embedding_model_is_full_int8_small_and_agrees_with_its_scores(base):
    assert base.quantized and base.embedding_size == 72 and base.size_bytes <= 64 * 1024
    assert base.contract["embedding"]["size"] == 72
    rng = np.random.default_rng(0)
    beat = rng.uniform(-1, 1, (4, 252, 2)).astype(np.float32)
    feats = np.abs(rng.standard_normal((4, 14))).astype(np.float32)
    p, e = base.predict_with_embedding(beat, feats)
    np.testing.assert_array_equal(p, base.predict_proba(beat, feats))
    assert e.shape == (4, 72) and np.all(e >= 0)  # ReLU activations
    with pytest.raises(ModelError, match="no embedding output"):
        BeatClassifier(default_model_path()).predict_embedding(beat, feats)


def test_adapted_classifier_runs_the_pipeline_and_round_trips(base, rec100, tmp_path):
    x, fs, idx, sym = rec100
    res = adapt_recording(base, x, fs, idx, sym, AdaptConfig(adapt_s=180.0), name="100")
    assert res.head.info["adapt_cpu_s"] < 10
    path = res.head.save(tmp_path / "100.adapted.npz")
    clf = AdaptedClassifier.load(path, default_embed_model_path())
    assert clf.classes == base.classes and "adapted(100)" in clf.model_version
    beats = idx[np.array([s in AAMI_MAP for s in sym])]
    out = classify_at(clf, x, fs, beats)  # the pipeline uses it unchanged
    assert out.proba.shape == (beats.size, 5) and np.allclose(out.proba.sum(1), 1, atol=1e-4)
    truth = np.array([AAMI_MAP[s] for s in sym if s in AAMI_MAP], dtype=object)
    rest = beats >= 180 * fs
    assert np.mean(out.label[rest] == truth[rest]) >= 0.98


def test_record_at_another_sample_rate_is_resampled(base, rec100):
    x, fs, idx, sym = rec100
    x250 = signal.resample_poly(x, 25, 36)
    idx250 = np.round(idx * 250.0 / fs).astype(np.int64)
    a = adapt_recording(base, x, fs, idx, sym, AdaptConfig(adapt_s=120.0)).head
    b = adapt_recording(base, x250, 250.0, idx250, sym, AdaptConfig(adapt_s=120.0)).head
    assert b.info["fs_in_hz"] == 250.0
    assert b.adapted == a.adapted and abs(b.counts["N"] - a.counts["N"]) <= 2


def test_no_labelled_beat_in_the_window_is_a_clear_error(base, rec100):
    x, fs, idx, sym = rec100
    with pytest.raises(AdaptError, match="no labelled beat in the first"):
        adapt_recording(base, x, fs, idx + int(400 * fs), sym, AdaptConfig(adapt_s=60.0))
    with pytest.raises(ModelError, match="no embedding output"):
        adapt_recording(BeatClassifier(default_model_path()), x, fs, idx, sym)


def test_adapted_file_for_another_base_model_is_refused(base, rng, tmp_path):
    proba, emb, feats, y = _wearer(rng, 200, k=72)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base=base)
    assert head.base_sha256 == model_sha256(base.path)
    path = head.save(tmp_path / "w.npz")
    AdaptedClassifier.load(path, base.path)  # its own base: fine
    with pytest.raises(AdaptedModelError, match="made for base model 'default_embed.tflite'"):
        AdaptedClassifier.load(path, default_model_path())


def test_cli_adapt_reports_fallbacks(mitdb_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "100.npz"
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "adapted classes: N" in text and "fallback V: 0 beats < min_beats 5" in text
    assert "nearest vote on V (V not in the window: a beat like the wearer's own loses that " \
        "call)" in text
    assert WearerHead.load(out).info["record"] == "100"
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--templates", "0", "--data-dir",
                              str(mitdb_dir)])
    assert args.func(args) == 0
    assert "wearer templates" not in capsys.readouterr().out
    assert WearerHead.load(out).templates is None
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--template-novelty", "off",
                              "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    head = WearerHead.load(out)
    assert head.config["template_novelty"] is None and np.isinf(head.template_reach)
    with pytest.raises(SystemExit):
        parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                           "--template-novelty", "-1"])
    args = parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                              "--adapt-minutes", "2", "--novel-ectopic", "off",
                              "--data-dir", str(mitdb_dir)])
    assert args.func(args) == 0
    assert WearerHead.load(out).config["novel_ectopic_log"] is None
    assert AdaptConfig().novel_ectopic_log == 0.1  # the default when the option is absent
    with pytest.raises(SystemExit):
        parser.parse_args(["adapt", "--record", "100", "--labels", "atr", "--out", str(out),
                           "--novel-ectopic", "-1"])


def test_two_output_conversion_and_contract_checks(tmp_path):
    """An (untrained) 2-member ensemble converted with the embedding output loads on the
    device path; a two-output model whose contract lacks the embedding field is refused."""
    pytest.importorskip("tensorflow")
    from convert.quantize import convert_int8_embedding, embed_contract
    from edge.dsp.features import FEATURE_NAMES
    from edge.errors import ContractError
    from training.contract import make_contract
    from training.dataset import DatasetConfig
    from training.models import ModelConfig, build_model

    mc = ModelConfig(ensemble=2)
    contract = make_contract(model_config=mc, data_config=DatasetConfig(), n_params=1,
                             keras_file="x.keras", feature_mean=np.zeros(len(FEATURE_NAMES)),
                             feature_std=np.ones(len(FEATURE_NAMES)), training={"records": []},
                             model_version="cnnx2-test")
    rng = np.random.default_rng(0)
    beat = rng.uniform(-2, 2, (16, 252, 2)).astype(np.float32)
    feats = rng.standard_normal((16, len(FEATURE_NAMES))).astype(np.float32)
    raw, size = convert_int8_embedding(build_model(mc), contract, beat, feats)
    assert size == 2 * mc.head_units
    good = tmp_path / "embed.tflite"
    good.write_bytes(embed_contract(raw, dict(contract, embedding={"name": "embedding",
                                                                   "size": size})))
    clf = BeatClassifier(good)
    assert clf.quantized and clf.embedding_size == size
    assert clf.predict_embedding(beat[:2], feats[:2]).shape == (2, size)
    bare = tmp_path / "no_field.tflite"
    bare.write_bytes(embed_contract(raw, contract))
    with pytest.raises(ContractError, match="embedding"):
        BeatClassifier(bare)


def test_daemon_runs_an_adapted_model_and_reports_its_counters(mitdb_dir, tmp_path, capsys):
    """`ecg-edge adapt` then `ecg-edge run --adapted` on a replayed record: beats carry the
    adapted model's version and the status event counts the beats new to the wearer."""
    import json

    from edge.cli.main import main as cli_main

    head = tmp_path / "119.npz"
    assert cli_main(["adapt", "--record", "119", "--labels", "atr", "--out", str(head),
                     "--adapt-minutes", "3", "--data-dir", str(mitdb_dir)]) == 0
    assert "V" in WearerHead.load(head).adapted  # 119 has PVCs from the start: templates vote
    assert "novelty guard: beats unlike every template are spared the vote with ectopic " \
        "timing" in capsys.readouterr().out
    jsonl = tmp_path / "events.jsonl"
    assert cli_main(["run", "--replay", "119", "--speed", "max", "--adapted", str(head),
                     "--jsonl", str(jsonl), "--quiet", "--idle-exit-s", "1",
                     "--set", f'source.replay.data_dir="{mitdb_dir}"',
                     "--set", "source.replay.start_s=180", "--set", "source.replay.duration_s=120",
                     "--set", "outputs.status_interval_s=0"]) == 0
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    beats = [e for e in events if e["type"] == "beat"]
    assert len(beats) > 100 and {e["label"] for e in beats} >= {"N", "V"}
    final = [e for e in events if e["type"] == "status" and e["state"] == "stopped"][-1]
    assert "adapted(119)" in final["model_version"]
    stats = final["counters"]["adaptation"]
    assert stats["beats"] == len(beats) and stats["adapted_classes"] == "NV"
    assert 0 <= stats["new_to_wearer"] < 0.25 * stats["beats"]


def test_annotate_with_an_adapted_head(mitdb_dir, tmp_path, capsys):
    """`ecg-edge annotate --adapted` labels a record with the wearer head (the offline tool of
    the device path) and refuses a head made for another model."""
    import wfdb

    from edge.cli.main import main as cli_main

    head = tmp_path / "119.npz"
    assert cli_main(["adapt", "--record", "119", "--labels", "atr", "--out", str(head),
                     "--adapt-minutes", "3", "--data-dir", str(mitdb_dir)]) == 0
    capsys.readouterr()
    assert cli_main(["annotate", "119", "--adapted", str(head), "--reference-beats", "atr",
                     "--ext", "adp", "--out-dir", str(tmp_path),
                     "--data-dir", str(mitdb_dir)]) == 0
    assert "adapted(119)" in capsys.readouterr().out
    got = wfdb.rdann(str(tmp_path / "119"), "adp")
    ref = read_annotations("119", data_dir=mitdb_dir)
    keep = np.isin(ref.symbol, list(AAMI_MAP))
    assert np.array_equal(got.sample, ref.sample_index[keep])
    truth = np.array([AAMI_MAP[s] for s in ref.symbol[keep]])
    late = got.sample >= 180 * 360  # after the adaptation window
    assert np.mean(np.asarray(got.symbol)[late] == truth[late]) > 0.97
    assert cli_main(["annotate", "119", "--adapted", str(head), "--model",
                     str(default_model_path()), "--out-dir", str(tmp_path),
                     "--data-dir", str(mitdb_dir)]) != 0  # head made for another base model
    assert "made for base model" in capsys.readouterr().err


def test_adapted_classifier_warns_when_the_wearer_changed(base, rec100, caplog):
    """A head whose templates lie far from every real beat: every beat is new to the wearer,
    the templates stay out of it, and the classifier says to adapt again (once)."""
    x, fs, idx, sym = rec100
    rng = np.random.default_rng(0)
    y = np.where(np.arange(300) % 10 == 0, "V", "N").astype(object)
    emb = rng.standard_normal((300, base.embedding_size)) * 0.01 + 50.0
    feats = rng.standard_normal((300, 14)) * 0.01
    proba = np.tile([0.9, 0.04, 0.04, 0.01, 0.01], (300, 1))
    proba[y == "V"] = [0.1, 0.01, 0.87, 0.01, 0.01]
    clf = AdaptedClassifier(base, fit_head(proba, emb, feats, y, AdaptConfig(), base=base))
    beats = idx[np.array([s in AAMI_MAP for s in sym])][:600]
    with caplog.at_level(logging.WARNING, logger="edge.model.adapt"):
        classify_at(clf, x, fs, beats)
        classify_at(clf, x, fs, beats)
    st = clf.adaptation_stats()
    assert st == {"beats": 1200, "new_to_wearer": 1200, "adapted_classes": "NV"}
    assert caplog.text.count("consider adapting again") == 1
