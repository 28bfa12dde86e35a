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

A missing folder or ``report.json`` gives a clear "no report found" state; a damaged one an
error message; missing PNGs fall back to tables.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from edge.errors import DataError

__all__ = [
    "MODES",
    "EvaluationReport",
    "confusion_rows",
    "load_report",
    "metrics_rows",
    "render_report",
]

logger = logging.getLogger(__name__)

#: Evaluation modes, with their explanation.
MODES = {"reference": "beats at the reference annotation positions (comparable with the "
                      "literature)",
         "end_to_end": "beats found by the streaming detector, matched to the reference "
                       "(`-` = missed or extra beat)"}

_STRIP_KEYS = (("V_FN", "V beats missed (false negatives)"),
               ("V_FP", "beats wrongly called V (false positives)"),
               ("S_FN", "S beats missed (false negatives)"),
               ("S_FP", "beats wrongly called S (false positives)"))


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


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{100 * v:.1f}"


def metrics_rows(mode_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-class table rows: class, Se, +P, Spec, F1 (%), TP, FP, FN."""
    rows = []
    for c, v in (mode_result.get("per_class") or {}).items():
        rows.append({"class": c, "Se %": _pct(v.get("se")), "+P %": _pct(v.get("ppv")),
                     "Spec %": _pct(v.get("spec")), "F1 %": _pct(v.get("f1")),
                     "TP": v.get("tp"), "FP": v.get("fp"), "FN": v.get("fn")})
    return rows


def confusion_rows(mode_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Confusion matrix as table rows (reference class -> counts per predicted class)."""
    conf = mode_result.get("confusion") or {}
    classes = conf.get("classes") or []
    return [{"reference \\ predicted": t, **{p: int(n) for p, n in zip(classes, row)}}
            for t, row in zip(classes, conf.get("matrix") or [])]


def _model_label(m: dict[str, Any]) -> str:
    return f"{str(m.get('kind', 'model')).upper()} ({m.get('model_version', '?')})"


def render_report(folder: str | Path) -> None:
    """The report page for ``folder``."""
    folder = Path(folder)
    st.header("Model evaluation report")
    try:
        report = load_report(folder)
    except DataError as exc:
        st.error(f"**Damaged report** — {exc}", icon=":material/error:")
        return
    if report is None:
        st.info(f"**No report found at `{folder}`** (no `report.json`). Write one with "
                f"`python -m training.evaluate --model MODEL_DIR --out {folder}`, or start the "
                f"dashboard with `--report DIR`.", icon=":material/description:")
        return
    st.caption(f"from `{report.folder}` · {len(report.models)} model(s)")
    labels = [_model_label(m) for m in report.models]
    idx = 0
    if len(labels) > 1:
        idx = labels.index(st.selectbox("Model", labels, key="report_model"))
    model = report.models[idx]
    mode = st.radio("Beats", list(MODES), horizontal=True, key="report_mode",
                    format_func=lambda m: m.replace("_", "-"))
    st.caption(MODES[mode])
    res = model.get(mode)
    if not isinstance(res, dict):
        st.warning(f"The report has no `{mode}` results for {labels[idx]}.")
        return

    c1, c2, c3 = st.columns(3)
    c1.metric("Accuracy", f"{_pct(res.get('accuracy'))} %")
    c2.metric("Macro F1", f"{_pct(res.get('macro_f1'))} %")
    c3.metric("Beats", f"{res.get('n_beats', '–')}")
    det = res.get("detection")
    if isinstance(det, dict):
        st.caption(f"Detection: Se {_pct(det.get('se'))} %, +P {_pct(det.get('ppv'))} % "
                   f"({det.get('fn')} missed, {det.get('fp')} extra)")

    st.subheader("Metrics per class")
    st.table(metrics_rows(res), hide_index=True)
    targets = res.get("targets")
    if isinstance(targets, dict) and targets:
        st.caption("Targets: " + ", ".join(
            f"{k} {float(v.get('value', float('nan'))):.3f} "
            f"{'✓' if v.get('met') else '✗'} (≥ {v.get('target')})"
            for k, v in targets.items()))

    st.subheader("Confusion matrix")
    png = report.plot_path(model, f"{mode}_confusion")
    if png is not None:
        st.image(str(png), caption=f"{labels[idx]}, {mode.replace('_', '-')}: rows reference, "
                                   f"columns predicted")
    rows = confusion_rows(res)
    if rows:
        if png is None:
            st.table(rows, hide_index=True)
        else:
            with st.expander("as a table"):
                st.table(rows, hide_index=True)

    st.subheader("Per-record results")
    per_record = res.get("per_record") or []
    if per_record:
        st.dataframe(per_record, width="stretch", hide_index=True)
    else:
        st.caption("no per-record results in the report")

    st.subheader("False negative / false positive strips")
    st.caption("3 s of conditioned ECG around misclassified beats (reference positions); "
               "dashed lines mark beats as `reference>predicted`, red = wrong.")
    shown = 0
    for key, title in _STRIP_KEYS:
        png = report.plot_path(model, f"{key}_strips")
        if png is None:
            continue
        st.markdown(f"**{title}**")
        st.image(str(png), width="stretch")
        shown += 1
    if not shown:
        st.caption("no strip images in the report")
