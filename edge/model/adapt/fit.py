"""Fitting a wearer head: a residual multinomial logistic regression on labelled beats.

From the base model's probabilities ``p``, its int8 beat embedding ``e`` and the standardised
RR features of a wearer's labelled beats, :func:`fit_head` fits (L-BFGS, ``scipy.optimize``)::

    logits = log(p) + [z, 1] @ W,     z = standardise([e, standardised RR features])

with an L2 prior pulling ``W`` back to zero (zero = the base model), so with little data the
head *is* the base model. A class with fewer than its minimum of labelled beats is not adapted
(its column of ``W`` stays zero; the head says why). The labelled beats are also kept as the
wearer's templates (:mod:`edge.model.adapt.vote`).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.errors import AdaptError
from edge.model.adapt.headfile import WearerHead, model_sha256
from edge.model.adapt.residual import head_inputs, log_proba
from edge.model.adapt.settings import AdaptConfig
from edge.model.adapt.vote import pick_templates, template_reach
from edge.model.classifier import BeatClassifier

__all__ = ["fit_head"]

logger = logging.getLogger(__name__)


def fit_head(proba: np.ndarray, embedding: np.ndarray | None, features_std: np.ndarray,
             labels: np.ndarray, config: AdaptConfig, *, base: BeatClassifier | None = None,
             base_sha256: str = "", base_model_version: str = "",
             base_file: str = "") -> WearerHead:
    """Fit the residual head on labelled beats.

    Parameters
    ----------
    proba : (n, 5) base-model probabilities of the labelled beats.
    embedding : (n, k) their int8 embeddings (dequantized), or None if ``use_embedding`` is off.
    features_std : (n, 14) their standardised scalar features (as the model sees them).
    labels : (n,) AAMI class letters (``"N"``...).
    config : head settings.
    base : the base classifier (fills in the ``base_*`` identity fields).

    Raises
    ------
    AdaptError
        No labelled beats, or no class has :attr:`AdaptConfig.min_beats` beats.
    """
    from scipy.optimize import minimize

    t0 = time.process_time()
    classes = tuple(AAMI_CLASSES)
    labels = np.asarray(labels, dtype=object)
    n = labels.size
    if n == 0:
        raise AdaptError("no labelled beats in the adaptation window: check the annotation "
                         "file and --adapt-minutes")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise AdaptError(f"labels must be AAMI classes {classes}, got {unknown}")
    counts = {c: int(np.sum(labels == c)) for c in classes}
    need = {c: config.min_beats_for(c) for c in classes}
    adapted = tuple(c for c in classes if need[c] is not None and counts[c] >= need[c])
    fallback = {c: (f"{counts[c]} beats, never adapted (class_min_beats): base model kept"
                    if need[c] is None else
                    f"{counts[c]} beats < min_beats {need[c]}: base model kept")
                for c in classes if c not in adapted}
    if not adapted:
        raise AdaptError(f"no class has {config.min_beats} labelled beats in the adaptation "
                         f"window (counts {counts}, class_min_beats {config.class_min_beats})"
                         "; nothing to adapt")
    for c, why in fallback.items():
        if counts[c] > 0 or c in ("S", "V"):
            logger.warning("class %s not adapted (%s)", c, why)
    x = head_inputs(embedding, features_std, use_embedding=config.use_embedding,
                     use_rr=config.use_rr)
    keep = np.isin(labels, adapted)  # beats of fallback classes do not steer the head
    x, y_lab, logp = x[keep], labels[keep], log_proba(proba[keep], config.prob_floor)
    m_rows, k = x.shape[0], len(classes)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    xb = np.hstack([(x - mean) / std, np.ones((m_rows, 1))])
    yi = np.array([classes.index(c) for c in y_lab], dtype=np.int64)
    onehot = np.eye(k)[yi]
    cnt = onehot.sum(axis=0)
    w = (m_rows / (len(adapted) * np.maximum(cnt, 1)))[yi] ** config.class_balance
    w = w / w.sum() * m_rows
    free = np.array([c in adapted for c in classes])
    n_in = x.shape[1]
    lam_w, lam_b = config.weight_l2, config.bias_l2

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wt = theta.reshape(n_in + 1, k)
        z = logp + xb @ wt
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = (-(w * np.log(p[np.arange(m_rows), yi] + 1e-12)).sum() / m_rows
                + 0.5 * lam_w * np.sum(wt[:-1] ** 2) + 0.5 * lam_b * np.sum(wt[-1] ** 2))
        g = xb.T @ ((p - onehot) * w[:, None]) / m_rows
        g[:-1] += lam_w * wt[:-1]
        g[-1] += lam_b * wt[-1]
        g[:, ~free] = 0.0
        return float(loss), g.ravel()

    res = minimize(objective, np.zeros((n_in + 1) * k), jac=True, method="L-BFGS-B",
                   options={"maxiter": config.max_iter})
    weights = res.x.reshape(n_in + 1, k)
    weights[:, ~free] = 0.0
    base_label = np.asarray(classes, dtype=object)[np.asarray(proba).argmax(axis=1)]
    confident = np.asarray(proba).max(axis=1) >= 0.9
    disagree = float(np.mean(base_label[confident] != labels[confident])) if confident.any() \
        else 0.0
    if disagree > config.max_disagreement:
        logger.warning("%.0f %% of the labelled beats disagree with a confident base model: "
                       "are the annotations mislabelled or shifted?", 100 * disagree)
    cpu_s = time.process_time() - t0
    info = {"fit_cpu_s": round(cpu_s, 4), "n_beats": int(n), "n_used": int(m_rows),
            "converged": bool(res.success), "confident_disagreement": round(disagree, 4)}
    if base is not None:
        base_sha256 = base_sha256 or model_sha256(base.path)
        base_model_version = base_model_version or base.model_version
        base_file = base_file or base.path.name
    templates = template_labels = None
    reach = float("inf")
    if config.template_k > 0:
        templates, template_labels = pick_templates(xb[:, :-1], yi, config.max_templates)
        reach = template_reach(templates, config.template_novelty)
    return WearerHead(classes=classes, adapted=adapted, fallback=fallback, counts=counts,
                      mean=mean.astype(np.float32), std=std.astype(np.float32),
                      weights=weights.astype(np.float32), templates=templates,
                      template_labels=template_labels, template_reach=reach,
                      base_sha256=base_sha256,
                      base_model_version=base_model_version, base_file=base_file,
                      embedding_size=int(embedding.shape[1]) if config.use_embedding
                      and embedding is not None else 0,
                      config=config, info=info)

