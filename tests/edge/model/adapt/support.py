"""Constructed wearers for the adaptation tests (pure numpy, seeded by the caller's rng)."""
from __future__ import annotations

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.features import FEATURE_NAMES

CLASSES = np.asarray(AAMI_CLASSES, dtype=object)


def wearer(rng, n, p_s=0.2, k=8):
    """A wearer whose S beats the base model calls N (p(N) 0.7), but whose embedding tells
    them apart along a wearer-specific direction."""
    y = np.where(rng.uniform(size=n) < p_s, "S", "N").astype(object)
    direction = rng.standard_normal(k)
    emb = rng.standard_normal((n, k)) + np.outer(y == "S", 2.5 * direction)
    feats = rng.standard_normal((n, 14))
    proba = np.tile([0.7, 0.25, 0.03, 0.01, 0.01], (n, 1))
    proba[y == "N"] = [0.9, 0.07, 0.01, 0.01, 0.01]
    return proba, emb, feats, y


def accuracy(head, proba, emb, feats, y):
    """Accuracy of the head (``None``: the base model) on the given beats."""
    q = proba if head is None else head.apply(proba, head.inputs(emb, feats), feats)
    return float(np.mean(CLASSES[q.argmax(1)] == y))


def v_wearer(rng, n, k=6):
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


def rr_timing(n, pre_log=0.0, post_log=0.0):
    """Unstandardised scalar features of ``n`` beats with the given RR log ratios (pre/local
    and pre/long = ``pre_log``, post/pre = ``post_log``); only the timing columns matter."""
    f = np.zeros((n, len(FEATURE_NAMES)))
    f[:, FEATURE_NAMES.index("log_pre_over_local")] = pre_log
    f[:, FEATURE_NAMES.index("log_pre_over_long")] = pre_log
    f[:, FEATURE_NAMES.index("log_post_over_pre")] = post_log
    return f
