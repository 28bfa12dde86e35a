"""The report page: a model's evaluation report, read from the files ``training.evaluate``
writes into its ``--out`` folder.

Files read (see :func:`training.evaluate.write_report` and ``evaluate_model``):

``report.json``   a list with one entry per model: ``kind``, ``model_version``, ``params``,
                  and per mode (``reference``, ``end_to_end``) ``accuracy``, ``macro_f1``,
                  ``n_beats``, ``per_class`` (``se``, ``ppv``, ``spec``, ``f1``, ``tp``, ``fp``,
                  ``fn``), ``confusion`` (``classes``, ``matrix``), ``per_record`` rows,
                  ``targets``; ``plots`` names the PNG files (``<mode>_confusion``,
                  ``<S|V>_<FN|FP>_strips``), ``strips`` describes the strip beats.
``*.png``         confusion matrices and false negative / false positive strips.

A missing folder or ``report.json`` gives ``None`` (the page's "no report found" state); a
damaged one a :class:`~edge.errors.DataError`. This module does not import Streamlit: the page
that shows the report is :mod:`edge.dashboard.report_page`.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import DataError

__all__ = [
    "MODES",
    "EvaluationReport",
    "confusion_rows",
    "load_report",
    "metrics_rows",
    "model_label",
    "percent_text",
]

logger = logging.getLogger(__name__)

#: Evaluation modes, with their explanation.
MODES = {"reference": "beats at the reference annotation positions (comparable with the "
                      "literature)",
         "end_to_end": "beats found by the streaming detector, matched to the reference "
                       "(`-` = missed or extra beat)"}


@dataclass(frozen=True, kw_only=True)
class EvaluationReport:
    """An evaluation report folder.

    Attributes
    ----------
    folder : the report folder.
    models : one ``report.json`` entry per evaluated model.
    """

    folder: Path
    models: tuple[dict[str, Any], ...]

    def plot_path(self, model: dict[str, Any], key: str) -> Path | None:
        """Path of the PNG ``model["plots"][key]`` when the file exists."""
        name = (model.get("plots") or {}).get(key)
        if not name:
            return None
        path = self.folder / name
        return path if path.is_file() else None


def load_report(folder: str | Path) -> EvaluationReport | None:
    """Read ``folder/report.json``; None when there is none.

    Raises
    ------
    DataError
        When ``report.json`` is not valid JSON or not a list of model results.
    """
    folder = Path(folder)
    path = folder / "report.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the report: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise DataError(f"{path}: expected a list of model results, got {type(data).__name__}")
    return EvaluationReport(folder=folder, models=tuple(data))


def percent_text(value: Any) -> str:
    """A fraction as a percentage with one decimal (``–`` when missing or not finite)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{100 * v:.1f}"


def metrics_rows(mode_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-class table rows: class, Se, +P, Spec, F1 (%), TP, FP, FN."""
    rows = []
    for c, v in (mode_result.get("per_class") or {}).items():
        rows.append({"class": c, "Se %": percent_text(v.get("se")),
                     "+P %": percent_text(v.get("ppv")), "Spec %": percent_text(v.get("spec")),
                     "F1 %": percent_text(v.get("f1")),
                     "TP": v.get("tp"), "FP": v.get("fp"), "FN": v.get("fn")})
    return rows


def confusion_rows(mode_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Confusion matrix as table rows (reference class -> counts per predicted class)."""
    conf = mode_result.get("confusion") or {}
    classes = conf.get("classes") or []
    return [{"reference \\ predicted": t, **{p: int(n) for p, n in zip(classes, row)}}
            for t, row in zip(classes, conf.get("matrix") or [])]


def model_label(m: dict[str, Any]) -> str:
    """e.g. ``CNN (cnn-2024-1)``."""
    return f"{str(m.get('kind', 'model')).upper()} ({m.get('model_version', '?')})"
