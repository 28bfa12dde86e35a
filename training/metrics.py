"""The metrics of an evaluation: pooled and per-record class metrics, targets, EC57 statistics.

Everything is computed from per-record label lists with :mod:`edge.eval.scoring`; the plain
one-vs-rest numbers of :func:`~edge.eval.scoring.class_metrics` are the default everywhere
(including :data:`TARGETS`), the EC57/bxb gross statistics (:func:`~edge.eval.scoring.ec57_gross`)
sit next to them under ``"ec57"``.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.eval.scoring import class_metrics, confusion_matrix, ec57_gross

__all__ = ["NO_BEAT", "E2E_CLASSES", "TARGETS", "summarize", "with_ec57"]

logger = logging.getLogger(__name__)

#: Label of the missing side of an end-to-end pair: a missed reference beat is predicted
#: ``NO_BEAT``, an extra detection has reference ``NO_BEAT``.
NO_BEAT = "-"
#: Classes of the end-to-end confusion matrix (the AAMI classes and "no beat").
E2E_CLASSES = AAMI_CLASSES + (NO_BEAT,)

#: DS2 targets at reference positions (plain one-vs-rest; Se, +P, F1 and accuracy as fractions).
TARGETS = {"V_f1": 0.90, "V_se": 0.85, "V_ppv": 0.85, "S_f1": 0.55, "S_se": 0.60,
           "accuracy": 0.93}


def summarize(per_record: dict, classes) -> dict:
    """Pooled and per-record metrics of one evaluation mode.

    Parameters
    ----------
    per_record : record -> ``{"true": [...], "pred": [...]}`` (class labels, one per beat;
        :data:`NO_BEAT` for a missed or extra beat in the end-to-end mode).
    classes : the confusion matrix's classes (:data:`edge.aami.AAMI_CLASSES` or
        :data:`E2E_CLASSES`).

    Returns
    -------
    dict
        :func:`edge.eval.scoring.class_metrics` of the pooled confusion matrix, plus
        ``macro_f1``, ``confusion`` (``classes``, ``matrix``), ``per_record`` rows,
        ``dominant_confusions`` (the eight largest off-diagonal cells with their top records),
        ``targets`` (:data:`TARGETS`, met or not) and ``ec57`` (bxb gross statistics).
    """
    true = [t for r in per_record.values() for t in r["true"]]
    pred = [p for r in per_record.values() for p in r["pred"]]
    cm = confusion_matrix(true, pred, classes)
    m = class_metrics(cm, classes)
    m["per_class"] = {c: m["per_class"][c] for c in AAMI_CLASSES}
    f1s = [v["f1"] for v in m["per_class"].values() if v["tp"] + v["fn"] > 0]
    m["macro_f1"] = float(np.nanmean(f1s))
    m["confusion"] = {"classes": list(classes), "matrix": cm.tolist()}
    rows = []
    for rec, r in per_record.items():
        cmr = confusion_matrix(r["true"], r["pred"], classes)
        mr = class_metrics(cmr, classes)
        pc = mr["per_class"]
        rows.append({"record": rec, "beats": int(cmr.sum()), "accuracy": mr["accuracy"],
                     **{f"n_{c}": int(cmr[i].sum()) for i, c in enumerate(AAMI_CLASSES)},
                     **{f"{c}_{k}": pc[c][k] for c in ("S", "V") for k in ("se", "ppv", "f1")},
                     "errors": int(cmr.sum() - np.trace(cmr))})
    m["per_record"] = rows
    conf = []
    for i, t in enumerate(classes):
        for j, p in enumerate(classes):
            if i != j and cm[i, j] > 0:
                recs = sorted(((int(confusion_matrix(r["true"], r["pred"], classes)[i, j]), k)
                               for k, r in per_record.items()), reverse=True)
                conf.append({"true": t, "pred": p, "count": int(cm[i, j]),
                             "top_records": [{"record": k, "count": n} for n, k in recs[:3]
                                             if n > 0]})
    m["dominant_confusions"] = sorted(conf, key=lambda d: -d["count"])[:8]
    m["targets"] = _targets(m)
    m["ec57"] = _ec57(m["confusion"])
    return m


def _ec57(confusion: dict) -> dict:
    """EC57/bxb VEB and SVEB gross statistics of a stored ``{"classes", "matrix"}``."""
    return ec57_gross(np.array(confusion["matrix"]), tuple(confusion["classes"]))


def with_ec57(results: list[dict]) -> list[dict]:
    """Set ``"ec57"`` of both modes of every result from its stored confusion matrix (for
    results written before it existed); returns ``results``."""
    for r in results:
        for mode in ("reference", "end_to_end"):
            r[mode]["ec57"] = _ec57(r[mode]["confusion"])
    return results


def _targets(m: dict) -> dict:
    pc = m["per_class"]
    got = {"V_f1": pc["V"]["f1"], "V_se": pc["V"]["se"], "V_ppv": pc["V"]["ppv"],
           "S_f1": pc["S"]["f1"], "S_se": pc["S"]["se"], "accuracy": m["accuracy"]}
    return {k: {"value": float(v), "target": TARGETS[k], "met": bool(v >= TARGETS[k])}
            for k, v in got.items()}
