"""The evaluation report: ``report.json`` and ``report.md`` of one or more evaluated models.

:func:`write_report` takes the results of :func:`training.evaluate.evaluate_model` (or the
``report.json`` of an earlier run) and renders them section by section: the models side by side,
the EC57 gross statistics, the targets, the literature, then per model its training, per-mode
tables, dominant confusions, per-record table and strips. It loads no model and computes no
metric; every figure comes from the results.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from training.data import DS2
from training.metrics import TARGETS

__all__ = ["LITERATURE", "CALIBRATION_RECORDS", "write_report"]

logger = logging.getLogger(__name__)

#: Published inter-patient DS2 results (Se/+P in %, or F1 where only that is given).
LITERATURE = [
    {"study": "de Chazal et al. 2004", "S_se": 76.0, "S_ppv": 38.0, "V_se": 77.0, "V_ppv": 82.0},
    {"study": "Zhang et al. 2014", "S_se": 79.1, "S_ppv": 36.0, "V_se": 85.5, "V_ppv": 92.7},
    {"study": "Mar et al. 2011", "S_se": 83.2, "S_ppv": 33.5, "V_se": 86.8, "V_ppv": 75.9},
    {"study": "Garcia et al. 2017", "S_se": 62.0, "S_ppv": 53.0, "V_se": 87.3, "V_ppv": 59.4},
    {"study": "Niu et al. 2020", "S_f1": 76.6, "V_f1": 89.7},
]

#: DS1 records whose beats calibrated the trial int8 conversion of earlier reports (results
#: with an ``"int8_trial"`` entry); named in the text of such reports when re-rendered.
CALIBRATION_RECORDS = ("101", "106", "118", "119", "207", "209", "220", "223")

MODES = ("reference", "end_to_end")


def _pct(v) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"


def _int8(r: dict) -> dict:
    """The int8 measurement of a result: ``"int8"`` (a given ``.tflite``) or, in reports
    written before, ``"int8_trial"`` (a trial conversion); ``{}`` when none was made."""
    return r.get("int8") or r.get("int8_trial") or {}


def _trained_on(results: list[dict]) -> str:
    """What the evaluated models were trained on, from their contracts' training records."""
    extra = sorted({r for res in results for r in res.get("training", {}).get("records") or ()
                    if "/" in r})
    if not extra:
        return "DS1 only"
    dbs = sorted({r.split("/")[0].upper() for r in extra})
    return f"DS1 and {len(extra)} records of {', '.join(dbs)} (never DS2)"


def _evaluated(results: list[dict]) -> list[str]:
    """The records the results were evaluated on (their per-record tables), in order."""
    return list(dict.fromkeys(row["record"] for r in results
                              for row in r.get("reference", {}).get("per_record", ())))


def _on(results: list[dict]) -> str:
    """``DS2`` when the results were evaluated on exactly the DS2 records (or do not say),
    else ``records 100, 101, ...``: the name of the evaluation set in headings."""
    recs = _evaluated(results)
    return "DS2" if not recs or sorted(recs) == sorted(DS2) else f"records {', '.join(recs)}"


def _evaluation_sentence(results: list[dict]) -> str:
    """What the evaluation set is: DS2's 22 unseen patients, or the records given instead
    (and which of them the models saw in training or validation)."""
    if _on(results) == "DS2":
        return ("DS2 (22 patients never seen in training) is used for evaluation only (see the "
                "notes on how DS2 was looked at).")
    recs = _evaluated(results)
    seen = [r for r in recs if any(r in (res.get("training", {}).get(k) or ())
                                   for res in results for k in ("records", "validation_records"))]
    text = (f"evaluated on {len(recs)} record{'s' if len(recs) != 1 else ''} given with "
            f"--records ({', '.join(recs)}), not the DS2 test set")
    if not seen:
        return text + "."
    return text + (f"; {', '.join(seen)} {'was' if len(seen) == 1 else 'were'} seen in "
                   "training or validation: not an inter-patient figure.")


def _header(shipped: str | None, notes: str | None, results: list[dict] | None = None
            ) -> list[str]:
    on = _on(results or [])
    L = ["# Beat classifiers: inter-patient evaluation on MIT-BIH DS2" if on == "DS2" else
         f"# Beat classifiers: evaluation on MIT-BIH {on}", ""]
    L += [f"Trained on {_trained_on(results or [])} (de Chazal 2004 split, paced records "
          "102/104/107/217 excluded); "
          "checkpoints were selected on held-out training patients; "
          f"{_evaluation_sentence(results or [])} Classes: AAMI EC57 N, S (SVEB), V (VEB), F, "
          "Q. Metrics from `edge.eval.scoring`.", ""]
    if shipped:
        L += [f"**Shipped model:** {shipped}", ""]
    if notes:
        L += [notes.strip(), ""]
    return L


def _int8_note(results: list[dict]) -> str:
    """What the int8 columns of the side-by-side table measured."""
    given = [r["int8"]["tflite"] for r in results if r.get("int8")]
    if given:
        return ("Sizes: `.keras` is the float file; int8 is the full-int8 model given with "
                "`--int8` (made by `python convert/quantize.py`: "
                f"{', '.join(f'`{Path(g).name}`' for g in given)}); agreement = same argmax as "
                "float on 3000 beats of the first six evaluated records; latency = one LiteRT "
                "interpreter thread on this workstation).")
    if any(r.get("int8_trial") for r in results):
        return ("Sizes: `.keras` is the float file; int8 is a trial full-int8 conversion "
                "(int8 input and output tensors, 500 calibration beats from DS1 records "
                f"{', '.join(CALIBRATION_RECORDS)}; agreement = same argmax as float on 3000 beats "
                "of the first six DS2 records; latency = one "
                "LiteRT interpreter thread on this workstation).")
    return ("Sizes: `.keras` is the float file; no int8 model was measured (pass the `.tflite` "
            "made by `python convert/quantize.py` with `--int8`).")


def _side_by_side(results: list[dict]) -> list[str]:
    L = [f"## Side by side ({_on(results)})", "",
         "| model | params | .keras KB | int8 KB | int8 agree | ms/beat int8 | mode | acc | "
         "macro F1 | S Se | S +P | S F1 | V Se | V +P | V F1 | F F1 |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        t8 = _int8(r)
        for mode in MODES:
            m = r[mode]
            pc = m["per_class"]
            L.append(f"| {r['kind'].upper()} ({r['model_version']}) | {r['params']} | "
                     f"{r['keras_bytes'] / 1024:.0f} | "
                     f"{t8.get('int8_bytes', float('nan')) / 1024:.0f} | "
                     f"{_pct(t8.get('agreement_with_float'))} | "
                     f"{t8.get('latency_ms_per_beat', float('nan')):.2f} | {mode} | "
                     f"{_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | "
                     f"{_pct(pc['S']['se'])} | {_pct(pc['S']['ppv'])} | {_pct(pc['S']['f1'])} | "
                     f"{_pct(pc['V']['se'])} | {_pct(pc['V']['ppv'])} | {_pct(pc['V']['f1'])} | "
                     f"{_pct(pc['F']['f1'])} |")
    return L + ["", _int8_note(results), ""]


def _ec57_section(results: list[dict]) -> list[str]:
    L = [f"## EC57 gross statistics (`bxb` rules, {_on(results)})", "",
         "The same predictions scored by the rules of ANSI/AAMI EC57 as PhysioNet's `bxb` "
         "applies them: a reference F or Q beat classified V is not a false VEB, a Q beat "
         "classified S not a false SVEB. Se is unchanged, +P and F1 can only rise. Every other "
         "figure of ours in this report (including the targets) is plain one-vs-rest: it "
         "counts those beats as false positives too and is the conservative one.", "",
         "| model | mode | S Se | S +P | S F1 | V Se | V +P | V F1 | false S (plain → EC57) | "
         "false V (plain → EC57) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for mode in MODES:
            pc, g = r[mode]["per_class"], r[mode]["ec57"]
            L.append(f"| {r['kind'].upper()} ({r['model_version']}) | {mode} | "
                     f"{_pct(g['S']['se'])} | {_pct(g['S']['ppv'])} | {_pct(g['S']['f1'])} | "
                     f"{_pct(g['V']['se'])} | {_pct(g['V']['ppv'])} | {_pct(g['V']['f1'])} | "
                     f"{pc['S']['fp']} → {g['S']['fp']} | {pc['V']['fp']} → {g['V']['fp']} |")
    return L + [""]


def _targets_section(results: list[dict]) -> list[str]:
    L = ["## Targets (reference positions, float model)", "",
         "| model | " + " | ".join(TARGETS) + " |", "|---|" + "---|" * len(TARGETS)]
    for r in results:
        tg = r["reference"]["targets"]
        L.append(f"| {r['kind'].upper()} | " + " | ".join(
            f"{tg[k]['value']:.3f} {'✓' if tg[k]['met'] else '✗'}" for k in TARGETS) + " |")
    return L


def _literature_section(results: list[dict]) -> list[str]:
    L = ["", "## Literature (inter-patient DS1→DS2, Se/+P %)", "",
         "| study | S Se | S +P | S F1 | V Se | V +P | V F1 |", "|---|---|---|---|---|---|---|"]
    for s in LITERATURE:
        f1 = {c: s.get(f"{c}_f1") or (2 * s[f"{c}_se"] * s[f"{c}_ppv"]
                                      / (s[f"{c}_se"] + s[f"{c}_ppv"])) for c in "SV"}
        L.append(f"| {s['study']} | {s.get('S_se', '–')} | {s.get('S_ppv', '–')} | "
                 f"{f1['S']:.1f} | {s.get('V_se', '–')} | {s.get('V_ppv', '–')} | "
                 f"{f1['V']:.1f} |")
    for r in results:
        pc = r["reference"]["per_class"]
        L.append(f"| **ours, {r['kind'].upper()}** (reference positions) | {_pct(pc['S']['se'])}"
                 f" | {_pct(pc['S']['ppv'])} | {_pct(pc['S']['f1'])} | {_pct(pc['V']['se'])} | "
                 f"{_pct(pc['V']['ppv'])} | {_pct(pc['V']['f1'])} |")
    for r in results:
        g = r["reference"]["ec57"]
        L.append(f"| ours, {r['kind'].upper()} (reference positions, EC57 `bxb` rules) | "
                 f"{_pct(g['S']['se'])} | {_pct(g['S']['ppv'])} | {_pct(g['S']['f1'])} | "
                 f"{_pct(g['V']['se'])} | {_pct(g['V']['ppv'])} | {_pct(g['V']['f1'])} |")
    L += ["", "F1 of the cited studies is computed from their Se/+P where only those are "
          "given. Figures near 99 % reported with intra-patient (beat-level random) splits "
          "are **not comparable**: there, beats of the same patient are in training and "
          "test.", ""]
    if _on(results) != "DS2":
        L += [f"Ours above are on {_on(results)}, not DS2: not comparable with the studies "
              "either.", ""]
    return L


def _training_section(tr: dict) -> list[str]:
    if tr.get("folds"):
        folds = " / ".join(", ".join(f) for f in tr["folds"])
        if tr.get("extra_folds"):
            folds += ("; with them the extra patient folds (member k also leaves out extra "
                      "fold k) " + " / ".join(", ".join(f) for f in tr["extra_folds"]))
        L = [f"Training: ensemble; DS1 folds {folds}"
             f"; best epochs {tr['best_epoch']} ({tr['epochs_run']} epochs in all); "
             f"{tr['seconds'] / 60:.1f} min on 2 CPU threads. Selection: {tr['selection']}.", ""]
        for key, name in (("ds1_crossval_members", "DS1"), ("svdb_crossval_members", "SVDB")):
            cv = tr.get(key)
            if not cv:
                continue
            pc = cv["per_class"]
            L += [f"{name} cross-validation (each member on its held-out fold, reference "
                  f"beats, float): accuracy "
                  f"{_pct(cv['accuracy'])} %, S Se/+P/F1 {_pct(pc['S']['se'])}/"
                  f"{_pct(pc['S']['ppv'])}/{_pct(pc['S']['f1'])}, V Se/+P/F1 "
                  f"{_pct(pc['V']['se'])}/{_pct(pc['V']['ppv'])}/{_pct(pc['V']['f1'])}.", ""]
        return L
    return [f"Training: records {', '.join(tr['records'])}; validation "
            f"{', '.join(tr['validation_records'])}; best epoch {tr['best_epoch']} of "
            f"{tr['epochs_run']}; {tr['seconds'] / 60:.1f} min. Selection: "
            f"{tr['selection']}.", ""]


def _mode_section(r: dict, mode: str) -> list[str]:
    m = r[mode]
    L = [f"### {r['kind'].upper()}, {mode.replace('_', '-')}", ""]
    if mode == "end_to_end":
        d = m["detection"]
        L += [f"Detection: Se {_pct(d['se'])} %, +P {_pct(d['ppv'])} % "
              f"({d['fn']} missed, {d['fp']} extra; `-` = no beat).", ""]
    L += ["| class | Se | +P | spec | F1 | TP | FP | FN |", "|---|---|---|---|---|---|---|---|"]
    for c, v in m["per_class"].items():
        L.append(f"| {c} | {_pct(v['se'])} | {_pct(v['ppv'])} | {_pct(v['spec'])} | "
                 f"{_pct(v['f1'])} | {v['tp']} | {v['fp']} | {v['fn']} |")
    L += ["", f"Accuracy {_pct(m['accuracy'])} %, macro F1 {_pct(m['macro_f1'])} %, "
          f"{m['n_beats']} beats.", "",
          f"![confusion]({r['plots'][mode + '_confusion']})", "",
          "Dominant confusions (reference → predicted: count; top records):", ""]
    for d in m["dominant_confusions"][:6]:
        tops = ", ".join(f"{t['record']} ({t['count']})" for t in d["top_records"])
        L.append(f"- {d['true']} → {d['pred']}: {d['count']} — {tops}")
    L += ["", "<details><summary>Per-record table</summary>", "",
          "| record | beats | acc | N | S | V | F | Q | S Se | S +P | V Se | V +P | errors |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in m["per_record"]:
        L.append(f"| {row['record']} | {row['beats']} | {_pct(row['accuracy'])} | "
                 f"{row['n_N']} | {row['n_S']} | {row['n_V']} | {row['n_F']} | "
                 f"{row['n_Q']} | {_pct(row['S_se'])} | {_pct(row['S_ppv'])} | "
                 f"{_pct(row['V_se'])} | {_pct(row['V_ppv'])} | {row['errors']} |")
    return L + ["", "</details>", ""]


def _strips_section(r: dict) -> list[str]:
    L = [f"### {r['kind'].upper()}: misclassified beats (reference positions)", "",
         "Strips: 3 s of conditioned ECG around the beat; dashed lines mark beats with "
         "`reference>predicted` labels (red = wrong).", ""]
    for key in ("S_FN", "S_FP", "V_FN", "V_FP"):
        if f"{key}_strips" in r["plots"]:
            L += [f"**{key.replace('_', ' ')}**", "",
                  f"![{key}]({r['plots'][key + '_strips']})", ""]
    return L


def write_report(results: list[dict], out_dir: Path, shipped: str | None = None,
                 notes: str | None = None) -> Path:
    """Write ``report.json`` and ``report.md`` for one or more evaluated models.

    Parameters
    ----------
    results : one :func:`training.evaluate.evaluate_model` result per model.
    out_dir : the report folder (created if missing); the PNGs the results name are expected
        there.
    shipped : a note on the shipped model for the header.
    notes : Markdown inserted after the header.

    Returns
    -------
    Path
        The written ``report.md``.
    """
    L = _header(shipped, notes, results)
    L += _side_by_side(results)
    L += _ec57_section(results)
    L += _targets_section(results)
    L += _literature_section(results)
    for r in results:
        L += [f"## {r['kind'].upper()}", ""]
        L += _training_section(r["training"])
        for mode in MODES:
            L += _mode_section(r, mode)
        L += _strips_section(r)
    out_dir.mkdir(parents=True, exist_ok=True)  # written once rendered: all or nothing new
    (out_dir / "report.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    path = out_dir / "report.md"
    path.write_text("\n".join(L) + "\n")
    return path


if __name__ == "__main__":
    from training.tool import no_command

    no_command("training.report",
               "re-render a report with python -m training.evaluate --from-json REPORT_JSON "
               "--out DIR")
