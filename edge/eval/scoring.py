"""Beat-by-beat scoring as in ANSI/AAMI EC57: detection (TP/FP/FN, Se, +P, F1) and
classification (per-class Se, +P, specificity, F1, confusion matrix).

A reference beat and a detected beat match when they lie within ``window_ms`` (150 ms) of each
other; each beat matches at most once, nearest first. Beats inside excluded intervals (e.g.
ventricular flutter/fibrillation episodes, which EC57 leaves out of QRS-detection statistics)
are dropped from both sides before matching.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError

__all__ = ["DetectionScore", "match_beats", "score_detection", "ClassScore",
           "confusion_matrix", "class_metrics", "ec57_gross", "vf_episodes"]

@dataclass
class DetectionScore:
    """Detection counts; add scores of several records with ``+`` (gross statistics)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "DetectionScore") -> "DetectionScore":
        return DetectionScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def se(self) -> float:
        """Sensitivity TP / (TP + FN)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def ppv(self) -> float:
        """Positive predictivity TP / (TP + FP)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else float("nan")

    def to_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "se": self.se, "ppv": self.ppv,
                "f1": self.f1}


def _drop_excluded(x: np.ndarray, exclude) -> np.ndarray:
    if not exclude:
        return x
    keep = np.ones(x.size, dtype=bool)
    for a, b in exclude:
        keep &= ~((x >= a) & (x <= b))
    return x[keep]


def match_beats(reference: np.ndarray, detected: np.ndarray, fs_hz: float, *,
                window_ms: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """Match reference and detected beat positions (sample indices, any order).

    Returns ``(ref_to_det, det_to_ref)``: for each reference beat (in sorted order) the index of
    its matched detection in sorted order, or -1; and the reverse map.
    """
    if window_ms <= 0:
        raise ConfigError("window_ms", "must be positive")
    ref = np.sort(np.asarray(reference, dtype=np.int64))
    det = np.sort(np.asarray(detected, dtype=np.int64))
    w = window_ms * fs_hz / 1000.0
    r2d = np.full(ref.size, -1, dtype=np.int64)
    d2r = np.full(det.size, -1, dtype=np.int64)
    if ref.size == 0 or det.size == 0:
        return r2d, d2r
    # Candidate pairs within the window, resolved greedily by distance (nearest first).
    lo = np.searchsorted(det, ref - w, side="left")
    hi = np.searchsorted(det, ref + w, side="right")
    counts = hi - lo
    ri = np.repeat(np.arange(ref.size), counts)
    starts = np.repeat(lo, counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    di = starts + offs
    if ri.size == 0:
        return r2d, d2r
    dist = np.abs(det[di] - ref[ri])
    order = np.lexsort((di, ri, dist))
    for k in order.tolist():
        r, d = ri[k], di[k]
        if r2d[r] < 0 and d2r[d] < 0:
            r2d[r] = d
            d2r[d] = r
    return r2d, d2r


def score_detection(reference: np.ndarray, detected: np.ndarray, fs_hz: float, *,
                    window_ms: float = 150.0, exclude=None) -> DetectionScore:
    """EC57 beat-by-beat detection score of one record."""
    ref = _drop_excluded(np.asarray(reference, dtype=np.int64), exclude)
    det = _drop_excluded(np.asarray(detected, dtype=np.int64), exclude)
    r2d, d2r = match_beats(ref, det, fs_hz, window_ms=window_ms)
    tp = int((r2d >= 0).sum())
    return DetectionScore(tp=tp, fp=int(det.size - tp), fn=int(ref.size - tp))


def vf_episodes(sample_index: np.ndarray, symbols) -> list[tuple[int, int]]:
    """Ventricular flutter/fibrillation episodes from MIT-BIH '[' ... ']' annotations."""
    out: list[tuple[int, int]] = []
    start = None
    for s, y in zip(np.asarray(sample_index).tolist(), list(symbols)):
        if y == "[":
            start = s
        elif y == "]" and start is not None:
            out.append((start, s))
            start = None
    return out


def confusion_matrix(true_labels, pred_labels, classes=AAMI_CLASSES) -> np.ndarray:
    """Counts, rows = reference class, columns = predicted class (``classes`` order)."""
    index = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(true_labels, pred_labels):
        cm[index[t], index[p]] += 1
    return cm


@dataclass
class ClassScore:
    """Per-class metrics of one class from a confusion matrix."""

    name: str
    tp: int
    fp: int
    fn: int
    tn: int
    se: float = field(init=False)
    ppv: float = field(init=False)
    spec: float = field(init=False)
    f1: float = field(init=False)

    def __post_init__(self) -> None:
        def div(a, b):
            return a / b if b else float("nan")
        self.se = div(self.tp, self.tp + self.fn)
        self.ppv = div(self.tp, self.tp + self.fp)
        self.spec = div(self.tn, self.tn + self.fp)
        self.f1 = div(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def to_dict(self) -> dict:
        return {"class": self.name, "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "se": self.se, "ppv": self.ppv, "spec": self.spec, "f1": self.f1}


def class_metrics(cm: np.ndarray, classes=AAMI_CLASSES) -> dict:
    """Per-class Se/+P/Spec/F1, overall accuracy and macro F1 from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.int64)
    total = int(cm.sum())
    per = {}
    for i, c in enumerate(classes):
        tp = int(cm[i, i])
        fp = int(cm[:, i].sum() - tp)
        fn = int(cm[i, :].sum() - tp)
        per[c] = ClassScore(c, tp, fp, fn, total - tp - fp - fn)
    f1s = [s.f1 for s in per.values() if s.tp + s.fn > 0]
    return {
        "per_class": {c: s.to_dict() for c, s in per.items()},
        "accuracy": float(np.trace(cm) / total) if total else float("nan"),
        "macro_f1": float(np.nanmean(f1s)) if f1s else float("nan"),
        "n_beats": total,
    }


#: Predicted classes that EC57 does not count as false positives of a reference class, per
#: ectopic class: a fusion or unclassifiable beat called V is not a false VEB, an
#: unclassifiable beat called S is not a false SVEB (``bxb``: VFP = Nv + Sv + Ov + Xv,
#: SFP = Ns + Vs + Fs + Os + Xs).
EC57_NOT_FALSE_POSITIVE = {"V": ("F", "Q"), "S": ("Q",)}


def ec57_gross(cm: np.ndarray, classes=AAMI_CLASSES) -> dict:
    """VEB and SVEB gross statistics by the ANSI/AAMI EC57 rules (as PhysioNet's ``bxb``).

    They differ from the plain one-vs-rest numbers of :func:`class_metrics` only in the false
    positives: reference F and Q beats classified as V, and Q beats classified as S, are not
    counted against the classifier (:data:`EC57_NOT_FALSE_POSITIVE`). False negatives are every
    reference beat of the class given another label, or missed.

    Parameters
    ----------
    cm : confusion counts, rows = reference, columns = predicted, in ``classes`` order.
    classes : the row/column labels; must contain ``N S V F Q`` and may add a "no beat"
        label (a missed reference beat in that column is a false negative, an extra detection
        in that row a false positive, like any other label outside the exemptions).

    Returns
    -------
    ``{"V": ClassScore-dict, "S": ClassScore-dict}`` (``tn`` counts every other beat).
    """
    cm = np.asarray(cm, dtype=np.int64)
    index = {c: i for i, c in enumerate(classes)}
    missing = [c for c in AAMI_CLASSES if c not in index]
    if missing or cm.shape != (len(classes), len(classes)):
        raise ConfigError("classes", f"need a square matrix over {AAMI_CLASSES} (+ optional "
                          f"no-beat label); missing {missing}, shape {cm.shape}")
    out = {}
    total = int(cm.sum())
    for c, exempt in EC57_NOT_FALSE_POSITIVE.items():
        i = index[c]
        tp = int(cm[i, i])
        fn = int(cm[i, :].sum() - tp)
        skip = {i, *(index[e] for e in exempt)}
        fp = int(sum(cm[r, i] for r in range(len(classes)) if r not in skip))
        out[c] = ClassScore(c, tp, fp, fn, total - tp - fp - fn).to_dict()
    return out
