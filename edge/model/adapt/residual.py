"""The residual head's arithmetic: its inputs, and adapted probabilities from the base model's.

::

    logits = log(p) + [z, 1] @ W,     z = (x - mean) / std,   x = [embedding, RR features]

A non-adapted class gains at most ``max_fallback_gain`` log units over the base model, and the
``fixed`` ones (:attr:`~edge.model.adapt.settings.AdaptConfig.exact_fallback` when not
adapted) keep exactly the base model's probability. Pure numpy; :func:`fit_head
<edge.model.adapt.fit.fit_head>` fits ``W``, :class:`~edge.model.adapt.headfile.WearerHead`
applies it.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.errors import ModelError

__all__ = ["head_inputs", "log_proba", "apply_residual"]

logger = logging.getLogger(__name__)


def head_inputs(embedding: np.ndarray | None, features_std: np.ndarray, *,
                use_embedding: bool, use_rr: bool) -> np.ndarray:
    """The head's raw input matrix (n, k + 14): the dequantized embedding and/or the
    standardised scalar features, float64."""
    parts = []
    if use_embedding:
        if embedding is None:
            raise ModelError("this head uses the beat embedding; the model has none")
        parts.append(np.asarray(embedding, dtype=np.float64))
    if use_rr:
        parts.append(np.asarray(features_std, dtype=np.float64))
    return np.hstack(parts)


def log_proba(proba: np.ndarray, floor: float) -> np.ndarray:
    """Log of the base probabilities, floored at ``floor`` and renormalised (float64)."""
    p = np.clip(np.asarray(proba, dtype=np.float64), floor, None)
    return np.log(p / p.sum(axis=1, keepdims=True))


def apply_residual(proba, x, mean, std, weights, floor, *, free=None,
                   max_fallback_gain=None, fixed=None) -> np.ndarray:
    """The residual head on base probabilities; non-adapted (``~free``) classes gain at most
    ``max_fallback_gain`` log units, and the ``fixed`` ones keep exactly the base model's
    (floored, renormalised) probability, the other classes sharing the rest."""
    if len(proba) == 0:
        return np.zeros((0, weights.shape[1]), dtype=np.float32)
    xb = np.hstack([(x - mean) / std, np.ones((x.shape[0], 1))])
    logp = log_proba(proba, floor)
    z = logp + xb @ weights.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    if max_fallback_gain is not None and free is not None and (~free).any() and free.any():
        # A fallback class's adapted probability is p_f / Z (its residual is zero); cap it at
        # p_f * exp(gain) and hand the excess back to the adapted classes in proportion.
        cap = np.exp(logp[:, ~free] + max_fallback_gain)
        qf = np.minimum(q[:, ~free], cap)
        qa = q[:, free]
        rest = 1.0 - qf.sum(axis=1, keepdims=True)
        qa = qa / np.maximum(qa.sum(axis=1, keepdims=True), 1e-300) * rest
        q = q.copy()
        q[:, ~free], q[:, free] = qf, qa
    q = q.astype(np.float32)
    if fixed is not None and fixed.any():
        pb = np.exp(logp[:, fixed])
        out = q.astype(np.float64)
        rest = out[:, ~fixed]
        left = 1.0 - pb.sum(axis=1, keepdims=True)
        out[:, ~fixed] = rest / np.maximum(rest.sum(axis=1, keepdims=True), 1e-300) * left
        out[:, fixed] = pb
        q = out.astype(np.float32)
    return q

