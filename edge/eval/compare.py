"""EC57 agreement of classified beats with reference annotations (detection Se/+P and the
class confusion matrix of matched beats), for the demo, the end-to-end tests and the
benchmark. Matching is :func:`edge.eval.scoring.match_beats` (150 ms window); ventricular
flutter/fibrillation episodes are excluded from detection statistics as EC57 prescribes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge.aami import AAMI_CLASSES, AAMI_MAP
from edge.eval.scoring import (
    DetectionScore,
    class_metrics,
    confusion_matrix,
    match_beats,
    score_detection,
    vf_episodes,
)

__all__ = ["Agreement", "compare_beats"]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Agreement:
    """``detection``: EC57 detection counts; ``confusion``: (5, 5) counts of matched beats,
    rows reference class, columns predicted (``AAMI_CLASSES`` order); ``metrics``: per-class
    Se/+P/F1 and accuracy from :func:`edge.eval.scoring.class_metrics`."""

    detection: DetectionScore
    confusion: np.ndarray
    metrics: dict

    def to_dict(self) -> dict:
        return {"detection": self.detection.to_dict(), "confusion": self.confusion.tolist(),
                "classes": list(AAMI_CLASSES), "metrics": self.metrics}


def compare_beats(ref_index: np.ndarray, ref_symbols, det_index: np.ndarray, det_labels,
                  fs_hz: float, *, window_ms: float = 150.0) -> Agreement:
    """Score detected, classified beats against reference annotations (any symbols: non-beat
    annotations are ignored; ``[``/``]`` mark flutter episodes)."""
    ref_index = np.asarray(ref_index, dtype=np.int64)
    sym = np.asarray(list(ref_symbols), dtype=object)
    exclude = vf_episodes(ref_index, sym)
    is_beat = np.array([s in AAMI_MAP for s in sym], dtype=bool)
    r_idx = ref_index[is_beat]
    r_cls = np.array([AAMI_MAP[s] for s in sym[is_beat]], dtype=object)
    d_idx = np.asarray(det_index, dtype=np.int64)
    d_lab = np.asarray(list(det_labels), dtype=object)
    det = score_detection(r_idx, d_idx, fs_hz, window_ms=window_ms, exclude=exclude)
    ro, do = np.argsort(r_idx, kind="stable"), np.argsort(d_idx, kind="stable")
    r2d, _ = match_beats(r_idx, d_idx, fs_hz, window_ms=window_ms)
    ok = r2d >= 0
    cm = confusion_matrix(r_cls[ro][ok], d_lab[do][r2d[ok]])
    return Agreement(det, cm, class_metrics(cm))
