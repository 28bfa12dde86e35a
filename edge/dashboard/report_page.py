"""The report page (Streamlit): a model's evaluation report, read by
:mod:`edge.dashboard.report` from the files ``training.evaluate`` writes.

A missing folder or ``report.json`` gives a clear "no report found" state; a damaged one an
error message; missing PNGs fall back to tables.
"""
from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from edge.dashboard.report import (
    MODES,
    confusion_rows,
    load_report,
    metrics_rows,
    model_label,
    percent_text,
)
from edge.errors import DataError

__all__ = ["render_report"]

logger = logging.getLogger(__name__)

_STRIP_KEYS = (("V_FN", "V beats missed (false negatives)"),
               ("V_FP", "beats wrongly called V (false positives)"),
               ("S_FN", "S beats missed (false negatives)"),
               ("S_FP", "beats wrongly called S (false positives)"))


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
    labels = [model_label(m) for m in report.models]
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
    c1.metric("Accuracy", f"{percent_text(res.get('accuracy'))} %")
    c2.metric("Macro F1", f"{percent_text(res.get('macro_f1'))} %")
    c3.metric("Beats", f"{res.get('n_beats', '–')}")
    det = res.get("detection")
    if isinstance(det, dict):
        st.caption(f"Detection: Se {percent_text(det.get('se'))} %, "
                   f"+P {percent_text(det.get('ppv'))} % "
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
