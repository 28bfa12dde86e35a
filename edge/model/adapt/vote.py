"""The wearer templates: their vote on a beat's V score, and the novelty guard.

The adaptation window's labelled beats are kept as *wearer templates* (standardised head
inputs); each new beat's ``template_k`` nearest of them vote on the scores of the voted
classes (:func:`template_vote`), as a Holter analyser matches beats to the templates a
technician labelled. A beat farther from every template than the templates' own spread
(:func:`template_reach`) is *new* to the wearer; the guard spares it the vote when its timing
is ectopic (:func:`ectopic_timing`: premature, or followed by a pause). Pure numpy, row-wise:
a beat's result does not depend on the batch it comes in.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.dsp.features import FEATURE_NAMES
from edge.errors import AdaptError

__all__ = ["VOTE_ROWS", "ectopic_timing", "sq_distances", "template_vote", "template_reach",
           "pick_templates"]

logger = logging.getLogger(__name__)

#: Beats per slice of the template search (a slice's distance matrix is VOTE_ROWS x templates).
VOTE_ROWS = 512

#: Feature columns of the timing condition: premature against the local or the long-term mean
#: RR, or followed by a longer interval than the one before it (a pause).
_PREMATURE = (FEATURE_NAMES.index("log_pre_over_local"), FEATURE_NAMES.index("log_pre_over_long"))
_PAUSE = FEATURE_NAMES.index("log_post_over_pre")


def ectopic_timing(features: np.ndarray | None, log_ratio: float, n: int) -> np.ndarray:
    """Bool mask of beats whose timing is ectopic: RR shorter than the local or the long-term
    mean RR by more than ``log_ratio`` (natural log), or followed by an interval longer than
    their own by more than ``log_ratio``. ``features``: (n, 14) unstandardised scalar features
    (:data:`edge.dsp.features.FEATURE_NAMES`); a non-finite ratio is not ectopic."""
    if features is None:
        raise AdaptError("this head's novelty guard looks at the beats' timing: pass their "
                         "unstandardised features (n, 14)")
    f = np.asarray(features, dtype=np.float64)
    if f.shape != (n, len(FEATURE_NAMES)):
        raise AdaptError(f"features must have shape ({n}, {len(FEATURE_NAMES)}), got {f.shape}")
    with np.errstate(invalid="ignore"):
        return (f[:, _PREMATURE] < -log_ratio).any(axis=1) | (f[:, _PAUSE] > log_ratio)


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(a), len(b)) between the rows of ``a`` and ``b``."""
    return (np.einsum("ij,ij->i", a, a)[:, None] - 2.0 * a @ b.T
            + np.einsum("ij,ij->i", b, b)[None, :])


def template_vote(q: np.ndarray, xs: np.ndarray, templates: np.ndarray, labels: np.ndarray,
                  k: int, vote: np.ndarray, weight: float, floor: float,
                  reach: float = float("inf"), spare: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Scale the ``vote`` columns of ``q`` by ``(neighbour share + floor) ** weight`` over the
    ``k`` nearest templates (Euclidean, standardised inputs) and renormalise; beats farther
    than ``reach`` from every template keep ``q`` if ``spare`` (bool per beat; None = all)
    allows it. Returns the new scores and the "near" mask.
    Row-wise: the result of a beat does not depend on the batch it comes in (large batches go
    through in slices of :data:`VOTE_ROWS` beats, bounding the distance matrix's memory)."""
    if len(q) > VOTE_ROWS:
        parts = [template_vote(q[i:i + VOTE_ROWS], xs[i:i + VOTE_ROWS], templates, labels,
                               k, vote, weight, floor, reach,
                               None if spare is None else spare[i:i + VOTE_ROWS])
                 for i in range(0, len(q), VOTE_ROWS)]
        return (np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))
    k = min(k, len(labels))
    d2 = sq_distances(xs, templates.astype(np.float32))
    # the k nearest, in no particular order (a deterministic selection, row by row)
    nn = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else \
        np.broadcast_to(np.arange(k), d2.shape)
    share = np.zeros(q.shape, dtype=np.float64)
    rows = np.repeat(np.arange(len(q)), k)
    np.add.at(share, (rows, labels[nn].ravel()), 1.0 / k)
    near = np.sqrt(np.maximum(d2.min(axis=1), 0.0)) <= reach
    voted = near if spare is None else near | ~spare
    factor = np.where(vote[None, :] & voted[:, None], (share + floor) ** weight, 1.0)
    out = np.asarray(q, dtype=np.float64) * factor
    out /= out.sum(axis=1, keepdims=True)
    return out.astype(np.float32), near


def template_reach(templates: np.ndarray, novelty: float | None) -> float:
    """``novelty`` x the largest nearest-neighbour distance among the templates."""
    if novelty is None or len(templates) < 2:
        return float("inf")
    t = templates.astype(np.float64)
    d2 = sq_distances(t, t)
    np.fill_diagonal(d2, np.inf)
    return float(novelty * np.sqrt(max(float(d2.min(axis=1).max()), 0.0)))


def pick_templates(xs: np.ndarray, yi: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``m`` templates, evenly spaced over the window (in time order)."""
    if len(yi) > m:
        keep = np.unique(np.linspace(0, len(yi) - 1, m).round().astype(np.int64))
        xs, yi = xs[keep], yi[keep]
    return xs.astype(np.float32), yi.astype(np.int8)

