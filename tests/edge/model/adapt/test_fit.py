"""Fitting a wearer head (:mod:`edge.model.adapt.fit`): a constructed case improves, classes
without enough beats fall back to the base model, degenerate labels give a clear error or a
loud warning."""
import logging

import numpy as np
import pytest

from edge.errors import AdaptError
from edge.model.adapt import AdaptConfig, fit_head
from tests.edge.model.adapt.support import accuracy, wearer


def test_adaptation_improves_a_constructed_case(rng):
    proba, emb, feats, y = wearer(rng, 1500)
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300], AdaptConfig())
    base_acc, adapted_acc = accuracy(None, *(a[300:] for a in (proba, emb, feats, y))), \
        accuracy(head, *(a[300:] for a in (proba, emb, feats, y)))
    assert base_acc < 0.85 and adapted_acc > 0.97
    assert head.adapted == ("N", "S") and set(head.fallback) == {"V", "F", "Q"}


def test_class_without_enough_beats_falls_back_to_the_base_model(rng, caplog):
    proba, emb, feats, y = wearer(rng, 400)
    y[:] = "N"
    y[:3] = "V"  # 3 < min_beats 5
    with caplog.at_level(logging.WARNING, logger="edge.model.adapt"):
        head = fit_head(proba, emb, feats, y, AdaptConfig(min_beats=5))
    assert head.adapted == ("N",)
    assert "3 beats < min_beats 5" in head.fallback["V"] and head.counts["V"] == 3
    assert "S" in head.fallback and head.counts["S"] == 0  # no beats at all: fallback too
    assert np.all(head.weights[:, 1:] == 0)  # non-adapted columns are the base model's
    assert "class V not adapted" in caplog.text


def test_class_min_beats_overrides_or_disables_a_class(rng):
    proba, emb, feats, y = wearer(rng, 400)
    y[:40] = "F"
    head = fit_head(proba, emb, feats, y, AdaptConfig(class_min_beats={"F": None}))
    assert "F" not in head.adapted and "never adapted" in head.fallback["F"]
    assert np.all(head.weights[:, 3] == 0)
    head = fit_head(proba, emb, feats, y, AdaptConfig(class_min_beats={"F": 50}))
    assert "F" not in head.adapted and "40 beats < min_beats 50" in head.fallback["F"]
    assert "F" in fit_head(proba, emb, feats, y, AdaptConfig()).adapted


def test_no_labelled_beats_or_no_class_with_enough_beats_is_a_clear_error(rng):
    proba, emb, feats, y = wearer(rng, 50)
    with pytest.raises(AdaptError, match="no labelled beats"):
        fit_head(proba[:0], emb[:0], feats[:0], y[:0], AdaptConfig())
    with pytest.raises(AdaptError, match="no class has 100 labelled beats"):
        fit_head(proba, emb, feats, y, AdaptConfig(min_beats=100))
    with pytest.raises(AdaptError, match="AAMI classes"):
        fit_head(proba, emb, feats, np.full(50, "A", dtype=object), AdaptConfig())


def test_mislabelled_beats(rng, caplog):
    proba, emb, feats, y = wearer(rng, 1500)
    noisy = y[:300].copy()
    flip = rng.choice(300, 30, replace=False)  # 10 % wrong labels: still a clear gain
    noisy[flip] = np.where(noisy[flip] == "N", "S", "N")
    head = fit_head(proba[:300], emb[:300], feats[:300], noisy, AdaptConfig())
    rest = tuple(a[300:] for a in (proba, emb, feats, y))
    assert accuracy(head, *rest) > accuracy(None, *rest) + 0.05
    # Labels that contradict a confident base model everywhere: fitted, but flagged loudly.
    confident = np.tile([0.97, 0.01, 0.01, 0.005, 0.005], (300, 1))
    with caplog.at_level(logging.WARNING, logger="edge.model.adapt"):
        bad = fit_head(confident, emb[:300], feats[:300], np.full(300, "V", dtype=object),
                       AdaptConfig())
    assert bad.info["confident_disagreement"] > 0.5
    assert "mislabelled or shifted" in caplog.text
