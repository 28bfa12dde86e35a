"""The adapted classifier (:mod:`edge.model.adapt.classifier`): it runs the pipeline unchanged,
round-trips through its file, refuses a head made for another base model, and warns once when
the wearer's beats no longer look like the adaptation recording."""
import logging

import numpy as np
import pytest

from edge.aami import AAMI_MAP
from edge.errors import AdaptedModelError
from edge.model.adapt import (
    AdaptConfig,
    AdaptedClassifier,
    adapt_recording,
    fit_head,
    model_sha256,
)
from edge.model.bundled import default_embed_model_path, default_model_path
from edge.pipeline import classify_at
from tests.edge.model.adapt.support import wearer


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


def test_adapted_file_for_another_base_model_is_refused(base, rng, tmp_path):
    proba, emb, feats, y = wearer(rng, 200, k=72)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base=base)
    assert head.base_sha256 == model_sha256(base.path)
    path = head.save(tmp_path / "w.npz")
    AdaptedClassifier.load(path, base.path)  # its own base: fine
    with pytest.raises(AdaptedModelError, match="made for base model 'default_embed.tflite'"):
        AdaptedClassifier.load(path, default_model_path())


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


def test_a_head_that_cannot_run_on_its_base_model_is_refused_at_load(base, rng, tmp_path):
    """A head file whose inputs do not fit the model (here: it says it uses no embedding
    while it was fitted on one) used to fail on the first beat; the load's run on a zero beat
    refuses it, naming the file."""
    import json

    proba, emb, feats, y = wearer(rng, 200, k=72)
    path = fit_head(proba, emb, feats, y, AdaptConfig(), base=base).save(tmp_path / "w.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["embedding_size"] = 0
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(AdaptedModelError) as err:
        AdaptedClassifier.load(path, base.path)
    assert str(err.value).startswith(f"{path}: the head cannot run on default_embed.tflite")


def test_a_head_whose_base_model_is_not_bundled_names_the_option(base, rng, tmp_path):
    proba, emb, feats, y = wearer(rng, 200, k=72)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base=base, base_file="mine.tflite")
    path = head.save(tmp_path / "w.npz")
    with pytest.raises(AdaptedModelError, match="'mine.tflite' is not bundled .* --model"):
        AdaptedClassifier.load(path)


def test_a_head_adapted_before_its_base_model_was_sealed_stays_valid(base, rng):
    """convert/seal.py records the digest the bundled model had before its seal; a head made on
    that file is still this model's head, another digest is still refused."""
    from dataclasses import replace

    sealed_from = base.seal.sealed_from_sha256
    assert len(sealed_from) == 64 and sealed_from != model_sha256(base.path)
    proba, emb, feats, y = wearer(rng, 200, k=72)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base=base)
    AdaptedClassifier(base, replace(head, base_sha256=sealed_from))
    with pytest.raises(AdaptedModelError, match="made for base model"):
        AdaptedClassifier(base, replace(head, base_sha256="ab" * 32))
