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


def _rows_on_and_around_thresholds(m, rng, n_rows):
    """Random rows, rows whose values sit exactly on split thresholds or one ulp either
    side, and rows of special values (-0.0, +-inf, NaN)."""
    n_f = len(m.feature_names)
    thr = m.threshold.ravel()
    usual = thr[np.abs(thr) < 1e6]  # (not the padded splits' huge thresholds)
    x = rng.standard_normal((n_rows, n_f)) * (usual.std() + 1.0) + usual.mean()
    on = rng.choice(thr, size=(n_rows, n_f))
    x[n_rows // 4:n_rows // 2] = on[n_rows // 4:n_rows // 2]
    x[n_rows // 2:3 * n_rows // 4] = np.nextafter(on, np.inf)[n_rows // 2:3 * n_rows // 4]
    x[3 * n_rows // 4:] = np.nextafter(on, -np.inf)[3 * n_rows // 4:]
    special = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan])
    x[::9, rng.integers(0, n_f)] = rng.choice(special, size=x[::9].shape[0])
    return x


@pytest.mark.parametrize("kind", ["af_window", "vf_window", "synthetic"])
def test_bisected_split_patterns_give_the_level_walks_scores(tmp_path, kind):
    """One to 64 rows find their split outcomes by bisecting each feature's thresholds: the
    raw scores of the level-by-level walk (more than 64 rows) bit for bit, on random rows,
    on and one ulp around the thresholds, and on -0.0, +-inf and NaN."""
    from edge.rhythm.model import _LOOKUP_MAX_ROWS, default_model_path

    path = (_write(tmp_path, _doc()) if kind == "synthetic" else default_model_path(kind))
    m = load_tree_model(path)
    rng = np.random.default_rng(11)
    x = _rows_on_and_around_thresholds(m, rng, 4 * _LOOKUP_MAX_ROWS)
    walk = m.raw(x)
    for n in (1, 2, 3, 7, _LOOKUP_MAX_ROWS):
        few = np.concatenate([m.raw(x[i:i + n]) for i in range(0, x.shape[0], n)])
        assert few.view(np.int64).tolist() == walk.view(np.int64).tolist(), n


@pytest.mark.parametrize("kind", ["af_window", "vf_window", "synthetic"])
def test_p_row_is_predict_proba_of_one_row_bit_for_bit(tmp_path, kind):
    """:meth:`TreeModel.p_row` (one row of Python floats) gives the bits of predict_proba
    on a batch of rows (the walk) and on the row alone."""
    from edge.rhythm.model import default_model_path

    path = (_write(tmp_path, _doc()) if kind == "synthetic" else default_model_path(kind))
    m = load_tree_model(path)
    rng = np.random.default_rng(5)
    x = _rows_on_and_around_thresholds(m, rng, 400)
    batch = m.predict_proba(x)[:, 1]
    one = np.array([m.p_row(row) for row in x.tolist()])
    assert one.view(np.int64).tolist() == batch.view(np.int64).tolist()
    alone = np.array([m.predict_proba(x[i:i + 1])[0, 1] for i in range(0, 400, 13)])
    assert one[::13].view(np.int64).tolist() == alone.view(np.int64).tolist()


def test_p_row_on_af_feature_rows_of_real_windows():
    """Rows computed by the features on real-looking windows (Python floats from
    :func:`rr_window_row`): p_row is the batch's P(AF) bit for bit."""
    from edge.rhythm.features import rr_window_row

    m = load_af_model()
    rng = np.random.default_rng(8)
    rows = [rr_window_row(rng.uniform(0.4, 1.2, 40))[0] for _ in range(150)]
    rows += [rr_window_row(0.8 + 0.02 * rng.standard_normal(rng.integers(12, 41)))[0]
             for _ in range(150)]
    batch = m.predict_proba(np.array(rows))[:, 1]
    one = np.array([m.p_row(r) for r in rows])
    assert one.view(np.int64).tolist() == batch.view(np.int64).tolist()


def test_p_row_refuses_multiclass_and_deep_models():
    with pytest.raises(ValueError, match="binary"):
        load_strip_model().p_row([0.0] * 109)
