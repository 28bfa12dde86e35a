"""The rhythm model file: boosted shallow trees stored as JSON, evaluated with numpy.

Training (:mod:`training.rhythm`) fits scikit-learn gradient boosting on the workstation and
exports it here; the device never imports scikit-learn. Every tree is padded to a complete
binary tree of the file's ``depth`` (a leaf above the last level becomes a split whose two
children carry its value), so all trees are evaluated at once, level by level.

The file (``format`` :data:`MODEL_FORMAT`, ``version`` 1)::

    {"format": "ecg-edge-rhythm-trees", "version": 1, "kind": "af_window" | "strip" | "vf_window",
     "classes": [...], "feature_names": [...], "depth": d,
     "init": [K floats], "feature": [[T*K][2**d - 1] ints], "threshold": [[...] floats],
     "leaf": [[T*K][2**d] floats]}

Tree ``t`` adds to the raw score of class ``t % K`` (leaf values already scaled by the
learning rate); probabilities are the logistic (K = 1, binary: P of ``classes[1]``) or the
softmax of the raw scores. ``x <= threshold`` goes left, as in scikit-learn.
"""
from __future__ import annotations

import json
import logging
import os
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from edge.errors import ModelError
from edge.model.seal import verify_json, warn_unsealed

__all__ = ["MODEL_FORMAT", "TreeModel", "load_tree_model", "default_model_path"]

logger = logging.getLogger(__name__)

MODEL_FORMAT = "ecg-edge-rhythm-trees"
_MODELS = Path(__file__).resolve().parents[1] / "models"
#: Most rows :meth:`TreeModel.raw` evaluates through its leaf table (a streaming call's few).
_LOOKUP_MAX_ROWS = 64
_add_reduce = np.add.reduce  # ``ndarray.sum()`` of a 1-D array, without its wrapper


def default_model_path(kind: str) -> Path:
    """The bundled model of ``kind`` (``"af_window"``, ``"strip"`` or ``"vf_window"``)."""
    return _MODELS / {"af_window": "rhythm_af.json", "strip": "rhythm_strip.json",
                      "vf_window": "rhythm_vf.json"}[kind]


@dataclass(frozen=True, eq=False)
class TreeModel:
    """A loaded tree ensemble (arrays validated by :func:`load_tree_model`)."""

    kind: str
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    depth: int
    init: np.ndarray  # (K,)
    feature: np.ndarray  # (T*K, 2**d - 1) int64
    threshold: np.ndarray  # (T*K, 2**d - 1) float64
    leaf: np.ndarray  # (T*K, 2**d) float64
    path: str = ""
    # per known-feature mask: which splits on each leaf's path are free (raw_bounds)
    _free: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_outputs(self) -> int:
        """K: 1 for a binary model, else the number of classes."""
        return int(self.init.size)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores, shape (n, K), of feature rows ``x`` (n, F) (or one row (F,)).

        A few rows of a model of depth <= 3 (a streaming call's windows): a split goes right
        when its threshold is below the row's value, so one bisection of each feature's
        sorted thresholds settles every split on that feature (:meth:`_row_codes`), and a
        table maps each tree's pattern of split outcomes to the leaf its path ends in -- the
        leaf the level-by-level walk reaches, as the walk never reads the other splits. Many
        rows or deeper models walk level by level. The leaves add alike either way (same
        sums, same bits)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        n = x.shape[0]
        lookup = self._leaf_lookup if n <= _LOOKUP_MAX_ROWS else None
        if lookup is not None:
            codes = b"".join([self._row_codes(row) for row in x.tolist()])
            leaves = self._leaves_of(codes).reshape(n, -1)  # (n, T*K)
        else:
            n_trees = self.feature.shape[0]
            node = np.zeros((n, n_trees), dtype=np.int64)
            cols = np.arange(n_trees)
            for _ in range(self.depth):
                f = self.feature[cols, node]
                go_right = x[np.arange(n)[:, None], f] > self.threshold[cols, node]
                node = 2 * node + 1 + go_right
            leaves = self.leaf[cols, node - (2 ** self.depth - 1)]  # (n, T*K)
        k = self.n_outputs
        return self.init[None, :] + leaves.reshape(n, -1, k).sum(axis=1)

    @property
    def has_p_row(self) -> bool:
        """Whether :meth:`p_row` applies (a binary model of depth <= 3)."""
        return self.n_outputs == 1 and self._leaf_lookup is not None

    def p_row(self, row: Sequence[float]) -> float:
        """P(``classes[1]``) of one feature row of Python floats, of a binary model of
        depth <= 3 -- ``float(predict_proba(np.array([row]))[0, 1])``, the same bits (the
        same leaves summed alike, numpy's ``exp``), without the arrays around one row."""
        if not self.has_p_row:
            raise ValueError("p_row needs a binary model of depth <= 3")
        _, _, code_leaves, code_base = self._leaf_lookup
        codes = np.frombuffer(self._row_codes(row), dtype=np.uint8)
        raw = self._init0 + float(_add_reduce(code_leaves[codes + code_base]))
        return 1.0 / (1.0 + float(np.exp(-raw)))  # float64 arithmetic, numpy's exp

    @cached_property
    def _init0(self) -> float:
        return float(self.init[0])

    def _leaves_of(self, codes: bytes) -> np.ndarray:
        """The leaf each tree's split pattern in ``codes`` (one byte per tree, row after
        row) ends in, flat (n T*K,)."""
        _, _, code_leaves, code_base = self._leaf_lookup
        return code_leaves[np.frombuffer(codes, dtype=np.uint8).reshape(-1, code_base.size)
                           + code_base].ravel()

    def _row_codes(self, row: Sequence[float]) -> bytes:
        """Each tree's pattern of split outcomes for one row of Python floats, one byte per
        tree (bit j: split node j goes right), found by bisecting each feature's thresholds
        (:attr:`_leaf_lookup`)."""
        thresholds, masks, _, code_base = self._leaf_lookup
        bits = 0
        for thr, mask, v in zip(thresholds, masks, row):
            bits |= mask[bisect_left(thr, v)]  # NaN: no threshold below, as x > thr is False
        return bits.to_bytes(code_base.size, "little")

    @cached_property
    def _leaf_lookup(self) -> tuple[list[list[float]], list[list[int]], np.ndarray,
                                    np.ndarray] | None:
        """For a depth <= 3 (a tree's splits fit a byte; ``None`` deeper): per feature, the
        distinct thresholds of its splits, sorted, and for each count ``p`` of them below a
        value, the splits that go right (``x > threshold``: the first ``p``) as the bits of
        an integer (tree t's split node j: bit 8 t + j); the leaves by pattern, (T*K * P,)
        with P = 2**(2**d - 1) patterns (bit j of a pattern: split node j goes right), tree
        t's leaf of pattern ``code`` at P t + code; and P t of each tree."""
        if self.depth > 3:
            return None
        n_split = 2 ** self.depth - 1
        table = np.empty(1 << n_split, dtype=np.int64)  # pattern -> the leaf the walk reaches
        for code in range(1 << n_split):
            node = 0
            for _ in range(self.depth):
                node = 2 * node + 1 + ((code >> node) & 1)
            table[code] = node - n_split
        n_trees = self.feature.shape[0]
        code_leaves = self.leaf[:, table].ravel()  # (T*K * P,)
        by_feature: list[list[tuple[float, int]]] = [[] for _ in self.feature_names]
        for t, (feats, thrs) in enumerate(zip(self.feature.tolist(), self.threshold.tolist())):
            for j, (f, thr) in enumerate(zip(feats, thrs)):
                by_feature[f].append((thr, 8 * t + j))
        thresholds: list[list[float]] = []
        masks: list[list[int]] = []
        for splits in by_feature:
            thr_f: list[float] = []
            mask_f, bits = [0], 0
            for thr, bit in sorted(splits):
                bits |= 1 << bit
                if thr_f and thr == thr_f[-1]:  # (0.0 and -0.0 compare alike too)
                    mask_f[-1] = bits
                else:
                    thr_f.append(thr)
                    mask_f.append(bits)
            thresholds.append(thr_f)
            masks.append(mask_f)
        return (thresholds, masks, code_leaves,
                np.arange(n_trees, dtype=np.int64) * table.size)

    def raw_bounds(self, x: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact (lowest, highest) raw scores, each (n, K), that rows ``x`` (n, F) can reach
        whatever the values of the features not ``known`` (a boolean mask over the F features;
        their columns in ``x`` are ignored): a tree whose split reads an unknown feature may go
        either way, so it adds the least or the most of the leaves still reachable. With every
        feature known both equal :meth:`raw` up to the order of the sum (float rounding)."""
        reach = self._reach(x, known)
        return self._reached_sum(reach, np.inf, np.min), self._reached_sum(reach, -np.inf, np.max)

    def raw_upper(self, x: np.ndarray, known: np.ndarray) -> np.ndarray:
        """The highest raw scores of :meth:`raw_bounds` alone (n, K)."""
        return self._reached_sum(self._reach(x, known), -np.inf, np.max)

    def _reached_sum(self, reach: np.ndarray, fill: float, pick) -> np.ndarray:  # noqa: ANN001
        """init + the sum over trees of the ``pick`` (min or max) of their reachable leaves."""
        leaves = pick(np.where(reach, self.leaf, fill), axis=2)  # (n, T*K)
        return self.init[None, :] + leaves.reshape(reach.shape[0], -1, self.n_outputs).sum(axis=1)

    def _reach(self, x: np.ndarray, known: np.ndarray) -> np.ndarray:
        """(n, T*K, leaves): the leaves each row can reach."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        known = np.asarray(known, dtype=bool)
        if known.shape != (len(self.feature_names),):
            raise ValueError(f"known must mask the {len(self.feature_names)} features, "
                             f"got shape {known.shape}")
        path, turn = _leaf_paths(self.depth)
        key = known.tobytes()
        free = self._free.get(key)
        if free is None:  # (T, leaves, depth): the split on the path may go either way
            free = self._free[key] = ~known[self.feature][:, path]
        right = x[:, self.feature] > self.threshold  # (n, T, nodes)
        # a leaf is reachable when every split on its path is free or turns its way
        return (free | (right[:, :, path] == turn)).all(axis=3)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        raw = self.raw(x)
        if self.n_outputs == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            out = np.empty((p.size, 2))
            out[:, 0] = 1.0 - p
            out[:, 1] = p
            return out
        z = np.exp(raw - raw.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


_PATHS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _leaf_paths(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """For each leaf of a complete tree of ``depth`` (heap order: node i's children are
    2i + 1 and 2i + 2): the nodes on its path (leaves, depth) and whether it turns right at
    each (the split's ``x > threshold``)."""
    if depth not in _PATHS:
        leaves = np.arange(2 ** depth)
        path = np.zeros((leaves.size, depth), dtype=np.int64)
        turn = np.zeros((leaves.size, depth), dtype=bool)
        for level in range(depth):
            prefix = leaves >> (depth - level)  # the node's index within its level
            path[:, level] = 2 ** level - 1 + prefix
            turn[:, level] = (leaves >> (depth - level - 1)) & 1
        _PATHS[depth] = (path, turn)
    return _PATHS[depth]


def _array(doc: dict, key: str, shape: tuple[int, ...], dtype, path: str) -> np.ndarray:
    try:
        arr = np.asarray(doc[key], dtype=dtype)
    except KeyError:
        raise ModelError(f"rhythm model has no {key!r} field", path) from None
    except (TypeError, ValueError):
        raise ModelError(f"rhythm model field {key!r} is not a numeric array", path) from None
    if arr.shape != shape:
        raise ModelError(f"rhythm model field {key!r} has shape {arr.shape}, expected {shape}",
                         path)
    if not np.all(np.isfinite(arr)) and key != "threshold":
        raise ModelError(f"rhythm model field {key!r} holds a non-finite number", path)
    return arr


def load_tree_model(path: str | os.PathLike, *, kind: str | None = None,
                    feature_names: tuple[str, ...] | None = None) -> TreeModel:
    """Read and validate a rhythm model file.

    Parameters
    ----------
    path : the JSON file.
    kind : the expected ``kind`` (``None``: any).
    feature_names : the features the caller computes; the file must list the same, in order.

    Raises
    ------
    ModelError
        One line naming the file: missing, unreadable, not JSON, of another format, version or
        kind, other features, or arrays of the wrong shape or with non-finite numbers.
    """
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("rhythm model file does not exist", p) from None
    except UnicodeDecodeError:
        raise ModelError("not a rhythm model: a binary file (rhythm models are JSON, such as "
                         "edge/models/rhythm_strip.json; a .tflite is a network)", p) from None
    except OSError as exc:
        raise ModelError(f"rhythm model file cannot be read ({type(exc).__name__})", p) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"rhythm model is not JSON (line {exc.lineno}: {exc.msg})", p) from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ModelError(f"not a rhythm model (format must be {MODEL_FORMAT!r})", p)
    try:
        seal = verify_json(doc)
    except ModelError as exc:
        raise ModelError(exc.reason, p) from None
    if not seal:
        warn_unsealed(p)
    if doc.get("version") != 1:
        raise ModelError(f"rhythm model version {doc.get('version')!r} is not supported "
                         "(this code reads version 1)", p)
    if kind is not None and doc.get("kind") != kind:
        raise ModelError(f"rhythm model kind is {doc.get('kind')!r}, expected {kind!r}", p)
    classes = doc.get("classes")
    names = doc.get("feature_names")
    depth = doc.get("depth")
    if not (isinstance(classes, list) and len(classes) >= 2
            and all(isinstance(c, str) for c in classes)):
        raise ModelError("rhythm model field 'classes' must list >= 2 class names", p)
    if not (isinstance(names, list) and names and all(isinstance(c, str) for c in names)):
        raise ModelError("rhythm model field 'feature_names' must list the feature names", p)
    if feature_names is not None and tuple(names) != tuple(feature_names):
        raise ModelError("rhythm model was trained on other features than this code computes "
                         f"({len(names)} vs {len(feature_names)} names)", p)
    if not (isinstance(depth, int) and not isinstance(depth, bool) and 1 <= depth <= 8):
        raise ModelError(f"rhythm model field 'depth' must be an integer 1..8, got {depth!r}", p)
    k = 1 if len(classes) == 2 else len(classes)
    init = _array(doc, "init", (k,), np.float64, p)
    n_rows = len(doc.get("feature") or [])
    if n_rows == 0 or n_rows % k:
        raise ModelError(f"rhythm model needs a positive multiple of {k} trees, got {n_rows}", p)
    feature = _array(doc, "feature", (n_rows, 2 ** depth - 1), np.int64, p)
    threshold = _array(doc, "threshold", (n_rows, 2 ** depth - 1), np.float64, p)
    leaf = _array(doc, "leaf", (n_rows, 2 ** depth), np.float64, p)
    if feature.min() < 0 or feature.max() >= len(names):
        raise ModelError("rhythm model field 'feature' indexes a feature it does not list", p)
    if np.any(np.isnan(threshold)):
        raise ModelError("rhythm model field 'threshold' holds NaN", p)
    return TreeModel(str(doc.get("kind")), tuple(classes), tuple(names), depth, init, feature,
                     threshold, leaf, p)
