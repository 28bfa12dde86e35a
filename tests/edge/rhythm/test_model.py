"""Rhythm model files: evaluation of padded trees, and one-line ModelErrors naming the file."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge.errors import ModelError
from edge.rhythm.analyser import load_af_model
from edge.rhythm.features import FEATURE_NAMES
from edge.rhythm.model import MODEL_FORMAT, load_tree_model
from edge.rhythm.strip import load_strip_model


def _doc(**over):
    doc = {"format": MODEL_FORMAT, "version": 1, "kind": "af_window", "classes": ["o", "a"],
           "feature_names": ["x0", "x1"], "depth": 2, "init": [0.5],
           # tree: x0 <= 1 ? (x1 <= 0 ? -1 : 1) : leaf 2 (padded split with +inf threshold)
           "feature": [[0, 1, 0]], "threshold": [[1.0, 0.0, 1e308]],
           "leaf": [[-1.0, 1.0, 2.0, 2.0]]}
    doc.update(over)
    return doc


def _write(tmp_path, doc, name="m.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc) if isinstance(doc, dict) else doc)
    return p


def test_padded_tree_evaluation(tmp_path):
    m = load_tree_model(_write(tmp_path, _doc()))
    raw = m.raw(np.array([[0.0, -1.0], [0.0, 3.0], [5.0, -7.0]]))[:, 0]
    np.testing.assert_allclose(raw, [-0.5, 1.5, 2.5])
    p = m.predict_proba(np.array([0.0, 3.0]))
    np.testing.assert_allclose(p[0], [1 - 1 / (1 + np.exp(-1.5)), 1 / (1 + np.exp(-1.5))])


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    ("{not json", "not JSON"),
    (_doc(format="x"), "not a rhythm model"),
    (_doc(version=2), "version 2"),
    (_doc(kind="strip"), "kind is 'strip'"),
    (_doc(depth=0), "depth"),
    (_doc(leaf=[[1.0, 2.0]]), "'leaf' has shape"),
    (_doc(feature=[[0, 5, 0]]), "indexes a feature"),
    (_doc(init=["a"]), "'init' is not a numeric array"),
    (_doc(leaf=[[1.0, 2.0, None, 1.0]]), "'leaf'"),
    (_doc(classes=["only"]), "'classes'"),
])
def test_bad_files_raise_one_line_model_error_naming_file(tmp_path, content, words):
    path = tmp_path / "missing.json" if content is None else _write(tmp_path, content)
    with pytest.raises(ModelError) as info:
        load_tree_model(path, kind="af_window")
    msg = str(info.value)
    assert words in msg and "\n" not in msg and msg.startswith(str(path))
    assert info.value.path == str(path)


def test_feature_names_must_match_the_code(tmp_path):
    p = _write(tmp_path, _doc())
    with pytest.raises(ModelError, match="other features"):
        load_af_model(p)


def test_bundled_models_load_and_match_the_features():
    af = load_af_model()
    assert af.feature_names == FEATURE_NAMES and af.classes[1] == "AF/AFL"
    strip = load_strip_model()
    assert set(strip.classes) <= {"N", "A", "O", "~"}
    p = af.predict_proba(np.zeros((3, len(FEATURE_NAMES))))
    assert p.shape == (3, 2) and np.allclose(p.sum(axis=1), 1)


@pytest.mark.parametrize("kind", ["af_window", "vf_window", "synthetic"])
def test_leaf_table_gives_the_level_walks_scores(tmp_path, kind):
    """A few rows go through the split-pattern -> leaf table, many through the level-by-level
    walk: the same raw scores, bit for bit (a padded split included)."""
    from edge.rhythm.model import _LOOKUP_MAX_ROWS, default_model_path

    path = (_write(tmp_path, _doc()) if kind == "synthetic" else default_model_path(kind))
    m = load_tree_model(path)
    assert m._leaf_lookup is not None
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3 * _LOOKUP_MAX_ROWS, len(m.feature_names))) * 2
    x[::5] = np.round(x[::5])  # values on the split thresholds
    x[1::7] = m.threshold.ravel()[: x.shape[1]].clip(-1e3, 1e3)
    walk = m.raw(x)
    table = np.concatenate([m.raw(x[i:i + 5]) for i in range(0, x.shape[0], 5)])
    assert walk.view(np.int64).tolist() == table.view(np.int64).tolist()
    np.testing.assert_array_equal(m.raw(x[7]), walk[7:8])


def test_raw_bounds_bracket_every_value_of_the_unknown_features():
    """The bound over known features holds whatever the unknown ones are, is reached (the
    extremes are leaves some values reach), and is the score itself when all are known."""
    m = load_af_model()
    rng = np.random.default_rng(3)
    n_f = len(m.feature_names)
    base = rng.standard_normal((40, n_f)) * m.threshold.std() + m.threshold.mean()
    lo, hi = m.raw_bounds(base, np.ones(n_f, bool))
    np.testing.assert_allclose(lo, m.raw(base), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, m.raw(base), rtol=0, atol=1e-12)
    known = rng.random(n_f) < 0.5
    lo, hi = m.raw_bounds(base, known)
    assert np.all(lo <= hi)
    for _ in range(30):  # other values of the unknown features stay inside
        x = base.copy()
        x[:, ~known] = rng.choice(m.threshold.ravel(), size=(40, int((~known).sum())))
        x[:, ~known] += rng.choice([-1e-9, 1e-9], size=x[:, ~known].shape)
        raw = m.raw(x)
        assert np.all(raw >= lo - 1e-9) and np.all(raw <= hi + 1e-9)
    lo0, hi0 = m.raw_bounds(base, np.zeros(n_f, bool))  # nothing known: one constant range
    assert np.all(lo0 <= lo + 1e-9) and np.all(hi0 >= hi - 1e-9)
    assert np.ptp(lo0) == 0 and np.ptp(hi0) == 0
    with pytest.raises(ValueError, match="mask"):
        m.raw_bounds(base, np.ones(n_f + 1, bool))


def test_raw_bounds_of_a_small_tree(tmp_path):
    m = load_tree_model(_write(tmp_path, _doc()))  # x0 <= 1 ? (x1 <= 0 ? -1 : 1) : 2
    x = np.array([[0.0, 5.0], [3.0, 5.0]])
    lo, hi = m.raw_bounds(x, np.array([True, False]))  # x1 unknown
    np.testing.assert_allclose(lo[:, 0], [0.5 - 1, 0.5 + 2])
    np.testing.assert_allclose(hi[:, 0], [0.5 + 1, 0.5 + 2])
    lo, hi = m.raw_bounds(x, np.array([False, True]))  # x0 unknown, x1 > 0
    np.testing.assert_allclose(lo[:, 0], [0.5 + 1, 0.5 + 1])
    np.testing.assert_allclose(hi[:, 0], [0.5 + 2, 0.5 + 2])
