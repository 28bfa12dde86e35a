"""Patient adaptation on DS2 by the patient-specific protocol, int8, at reference beats.

For every DS2 record the first 5 minutes (reference labels) fit a wearer head
(:func:`edge.model.adapt.fit_head` on the two-output int8 model
``edge/models/default_embed.tflite``);
only the remaining 25 minutes are scored, at the reference beat positions, next to the
inter-patient base model on the same 25 minutes and the literature
(:func:`training.adapt_tuning.protocol`). Beat inputs come from
:func:`training.dataset.build_record` (the device's own DSP code, cached). The adaptation time
per wearer is measured on the real path (:func:`edge.model.adapt.adapt_recording`: read, condition
and classify the first 5 minutes, fit) in one process pinned to one thread; the device path is
also scored end to end (``ecg-edge adapt`` then ``ecg-edge annotate --adapted``).

Hyper-parameters: ``--tune-ds1`` first runs :func:`training.adapt_tuning.tune_ds1`, the DS1
tuning of the defaults of :class:`edge.model.adapt.AdaptConfig` (the same protocol on DS1 over a
grid, held-out ensemble members, five stages; see that module), and scores DS2 with its choice;
DS2 is never used to choose them. This file only runs the stages and writes the results.

    MITDB_DIR=... python benchmarks/bench_adapt.py [--tune-ds1] [--records 100,233]
    python benchmarks/bench_adapt.py --from-json benchmarks/results/adapt.json --out DIR

Writes ``benchmarks/results/adapt.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    check_records,
    output_dir,
    parse_names,
    read_json,
    run_bench,
)
from edge.errors import ModelError  # noqa: E402
from edge.eval.scoring import ec57_gross  # noqa: E402
from edge.io.records import read_annotations, read_record  # noqa: E402
from edge.model.adapt import AdaptConfig, WearerHead, adapt_recording  # noqa: E402
from edge.model.classifier import BeatClassifier  # noqa: E402
from training.adapt_tuning import (  # noqa: E402
    ECTOPIC_TOLERANCE,
    GRID,
    NOVELTY_TOLERANCE,
    TEMPLATE_GRID,
    TIE_PREFERENCE,
    grid_config,
    protocol,
    rank,
    record_outputs,
    template_fields,
    tune_ds1,
    window_head,
)
from training.data import DS2  # noqa: E402

logger = logging.getLogger("bench_adapt")

MODEL = ROOT / "edge" / "models" / "default_embed.tflite"
LITERATURE = {
    "Kiranyaz et al. 2016 (patient-specific 1-D CNN)": {"S": (64.6, 62.1), "V": (95.0, 89.5)},
    "open reproduction, 5-minute fine-tuning": {"S": (75.1, 91.1), "V": (96.5, 95.2)},
}#: Every DS2 scoring so far (kept here so the report carries it).
DS2_LOOKS = (
    ("issue-9 first design (weight_l2=3, bias_l2=3e-4, class_balance=0.5, min_beats 5 for every "
     "class, no fallback cap): acc 97.27 %, SVEB F1 0.863, VEB F1 0.936 (Se 96.8, +P 90.7)."),
    ("this change, DS1-selected (`--tune-ds1`, 1080 configurations): weight_l2=3, "
     "bias_l2=3e-4, class_balance=0.5, class_min_beats={F: 20}, max_fallback_gain=0 (tie-"
     "break): acc 97.31 %, SVEB F1 0.863 (Se 81.3, +P 91.9), VEB F1 0.939 (Se 97.4, +P 90.7) "
     "-- VEB target still NOT met; not iterated further on DS2."),
    ("wearer-template vote (stage 2 on DS1, 361 configurations; its grid was widened three "
     "times on DS1 -- weight to 4 and floor to 1.0, then weight 8, then 16 -- until the best "
     "was interior, all before this look), "
     "plus EC57 gross statistics reported next to the strict ones: template_k=15, "
     "template_weight=8, template_floor=0.5, classes V: acc 97.51 %, SVEB F1 0.862 (Se 81.3, "
     "+P 91.7), VEB F1 0.956 (Se 96.8, +P 94.4); EC57 VEB F1 0.960. Both targets met; the "
     "design was frozen before this look."),
    ("novelty guard on the template vote (stage 3 on DS1; rule fixed before this look: the "
     "most protective guard within 0.002 of the best DS1 criterion -> template_novelty=1.0), "
     "shipped by that rule whatever DS2 said: acc 97.37 %, SVEB F1 0.863 (Se 81.3, +P 91.9), "
     "VEB F1 0.946 (Se 97.1, +P 92.2); EC57 VEB F1 0.9499 -- the VEB target is NOT met again "
     "(record 105's noise beats are 'new' to the wearer and escape the veto). Not reverted: "
     "choosing look 3's design now would be choosing on DS2; the DS1 safety check (PVCs of "
     "an unseen morphology called V: 74.8 % with the guard, 68.5 % without, 77.5 % base) is "
     "why the guard is there."),
    ("the guard's timing condition (stage 4, on DS1 with NSTDB em/ma noise added by the NST "
     "protocol at 6 and 0 dB; rule fixed before this look: the highest DS1 safety share among "
     "the values within 0.001 of the best mean noisy VEB F1 -> novel_ectopic_log=0.1; code and "
     "default committed before this look): acc 97.51 %, SVEB F1 0.863 (Se 81.3, +P 91.9), VEB "
     "F1 0.956 (Se 97.1, +P 94.2); EC57 VEB F1 0.960 -- both targets met. Disclosure: the "
     "direction of this change (noise-deformed beats escaping the guard) came from look 4's "
     "per-record result (record 105); the mechanism and its parameter were chosen on DS1 and "
     "NSTDB only, and DS1 shows what it costs: unseen-morphology PVCs called V 74.0 % (74.8 % "
     "with the plain guard)."),
    ("look 5's design unchanged, scored end to end on the device path (`ecg-edge annotate "
     "--adapted` at detected beats, EC57 matcher), reported only: acc 97.38 %, SVEB F1 0.861, "
     "VEB F1 0.944 (Se 95.8, +P 93.0); EC57 VEB F1 0.949. Nothing was chosen on it."),
    ("exact V fallback (stage 1b on DS1; prompted by a DS1 safety check: on wearers whose "
     "window had no PVC, an N-only head let 47 % of foreign PVCs be called V, base 84 %): acc "
     "97.38 %, SVEB F1 0.862 (Se 80.7, +P 92.6), VEB F1 0.942 (Se 97.2, +P 91.3); EC57 VEB F1 "
     "0.946 -- the VEB target is NOT met (the base model's false V on wearers without PVCs are "
     "back); end to end: VEB F1 0.931, SVEB F1 0.858. Shipped regardless of DS2 by the DS1 "
     "rule, then followed by stage 5."),
    ("the templates' vote on a non-adapted V (stage 5 on DS1, criterion rule; design frozen "
     "before this look), the shipped design: acc 97.39 %, SVEB F1 0.862 (Se 80.7, +P 92.6), "
     "VEB F1 0.942 (Se 97.2, +P 91.4); EC57 VEB F1 0.946 -- the VEB target is NOT met. End to "
     "end: VEB F1 0.932, SVEB F1 0.858. Looks 5-6 met it with a head that suppressed a "
     "wearer's first PVCs (DS1 records whose window had too few PVCs to adapt V: 201, 198 "
     "later PVCs, base model 177 called V, that design 0, this one 164; 124: 30 / 1 / 25; "
     "108: 9 / 0 / 9); DS2 stops here for issue 9."),
    ("issue 15: look 8's design unchanged, re-measured with the rhythm context (each model's "
     "calls read in the rhythm the AF analyser had confirmed at that beat: an S in AF/AFL is N; "
     "the analyser and the rule were fixed on DS1, CinC and SVDB before this look): the "
     "'rhythm context' rows of the run of look 9. Nothing was chosen on it."),
    ("issue 16's beat model (cnnx3-1.1.0, DS1 + SVDB in training, its `default_embed.tflite` "
     "regenerated) under look 8's adaptation design and look 9's rhythm context, with the AF "
     "window model refitted on the new model's labels; no hyper-parameter re-tuned, nothing "
     "chosen on it: benchmarks/results/adapt_cnnx3-1.1.0.md (adapted + rhythm context SVEB "
     "F1 0.876, VEB F1 0.930; the figures of the adapt.md run are the previous model's)."),
    ("cnnx3-1.2.0 (the cnnx3-1.1.0 recipe plus polarity-inversion augmentation, chosen on DS1 "
     "and SVDB out-of-fold design data; its `default_embed.tflite` regenerated), look 8's "
     "adaptation design and look 9's rhythm context, the AF window model refitted on its "
     "labels; no hyper-parameter re-tuned, nothing chosen on it: "
     "benchmarks/results/adapt_cnnx3-1.2.0.md."),
    ("(2026-11-30 17:52 UTC) look 11's models and adaptation design with supraventricular runs "
     "in the rhythm context (`edge.rhythm.svt_run_calls` before the AF rule, as the device "
     "reports beats; chosen on DS1 and SVDB out of fold: benchmarks/results/rhythm.md look 8); "
     "nothing chosen on it: benchmarks/results/adapt_cnnx3-1.2.0.md."),
)


def adapt_wearer(clf: BeatClassifier, rec: str, config: AdaptConfig, out_dir: Path,
                 data_dir=None):
    """What ``ecg-edge adapt`` does for one record (its MLII channel, else channel 0; the
    reference labels): read, adapt on the first ``config.adapt_s``, save ``out_dir/<rec>.npz``.
    Returns the file, the record's rate, the channel and the annotations read."""
    r = read_record(rec, data_dir=data_dir)
    ann = read_annotations(rec, data_dir=data_dir)
    ch = r.sig_names.index("MLII") if "MLII" in r.sig_names else 0
    n = int(round((config.adapt_s + 5.0) * r.fs_hz))
    res = adapt_recording(clf, r.signal_mv[:n, ch], r.fs_hz, ann.sample_index, ann.symbol,
                          config, name=rec)
    return res.head.save(Path(out_dir) / f"{rec}.npz"), r.fs_hz, ch, ann


def time_adaptation(model: Path, records, config: AdaptConfig, data_dir=None) -> dict:
    """CPU seconds of :func:`adapt_wearer` per wearer (read record + condition + classify the
    adaptation window + fit + save), and the adapted file size."""
    clf = BeatClassifier(model, num_threads=1)
    cpu, wall, sizes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            t0, w0 = time.process_time(), time.perf_counter()
            path = adapt_wearer(clf, rec, config, Path(tmp), data_dir)[0]
            cpu.append(time.process_time() - t0)
            wall.append(time.perf_counter() - w0)
            sizes.append(path.stat().st_size)
            WearerHead.load(path)
    return {"cpu_s_max": max(cpu), "cpu_s_mean": float(np.mean(cpu)),
            "wall_s_max": max(wall), "file_bytes_max": max(sizes),
            "model_extra_bytes": model.stat().st_size}


def end_to_end(model: Path, records, config: AdaptConfig, data_dir=None) -> dict:
    """The device path on each record: adapt on the first ``adapt_s`` (reference labels, as
    ``ecg-edge adapt``), then ``ecg-edge annotate --adapted`` over the whole record at the
    beats its own streaming detector finds; scored against the reference on the rest with the
    EC57 matcher (150 ms; missed beats are false negatives, extra detections false positives of
    the class they got). The base model runs the same way (``ecg-edge annotate --model``)."""
    import contextlib
    import io

    import wfdb

    from benchmarks.bench_annotate import CLASSES as D_CLASSES
    from benchmarks.bench_annotate import detection_confusion, detection_metrics
    from edge.cli.main import main as cli_main
    from training.data import aami_beats

    clf = BeatClassifier(model, num_threads=1)
    cms = {"base": 0, "adapted": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for rec in records:
            path, fs_hz, ch, ann = adapt_wearer(clf, rec, config, Path(tmp), data_dir)
            ref = aami_beats(ann, rec)
            for name, extra in (("base", []), ("adapted", ["--adapted", str(path)])):
                argv = ["annotate", rec, "--model", str(model), "--channel", str(ch),
                        "--out-dir", tmp, "--ext", name[:3], *extra] + (
                    ["--data-dir", data_dir] if data_dir else [])
                with contextlib.redirect_stdout(io.StringIO()):
                    if cli_main(argv) != 0:
                        raise SystemExit(f"ecg-edge {' '.join(argv)} failed")
                got = wfdb.rdann(str(Path(tmp) / rec), name[:3])
                cms[name] = cms[name] + detection_confusion(
                    ref.sample_index, ref.aami, np.asarray(got.sample, dtype=np.int64),
                    np.asarray(got.symbol, dtype=object), fs_hz,
                    start=int(round(config.adapt_s * fs_hz)))
            logger.info("end to end %s", rec)
    out = {}
    for name, cm in cms.items():
        m = detection_metrics(cm)
        out[name] = {**m, "confusion": cm.tolist(), "classes": list(D_CLASSES),
                     "ec57": ec57_gross(cm, tuple(D_CLASSES)),
                     "missed": int(cm[:5, 5].sum()), "extra": int(cm[5, :5].sum())}
    return out


def head_cost(outputs: dict, config: AdaptConfig, repeats: int = 5) -> dict:
    """CPU microseconds per beat of the head alone (:meth:`WearerHead.apply`: linear head +
    template vote) on each record's scored beats, best of ``repeats``, one thread (the
    process pins BLAS to one thread at import)."""
    per_beat, n_templates = [], []
    for d in outputs.values():
        head, _, t = window_head(d, config)
        x = head.inputs(d["e"][t], d["f"][t])
        best = float("inf")
        for _ in range(repeats):
            t0 = time.process_time()
            head.apply(d["p"][t], x, d["r"][t])
            best = min(best, time.process_time() - t0)
        per_beat.append(1e6 * best / max(1, int(t.sum())))
        n_templates.append(0 if head.templates is None else len(head.template_labels))
    return {"head_us_per_beat_median": float(np.median(per_beat)),
            "head_us_per_beat_max": float(np.max(per_beat)),
            "templates_max": int(np.max(n_templates))}


def _row(name: str, m: dict) -> str:
    s, v = m["per_class"]["S"], m["per_class"]["V"]
    row = (f"| {name} | {100 * m['accuracy']:.2f} | {100 * s['se']:.1f} | {100 * s['ppv']:.1f} "
           f"| {100 * s['f1']:.1f} | {100 * v['se']:.1f} | {100 * v['ppv']:.1f} | "
           f"{100 * v['f1']:.1f} |")
    if "ec57" in m:
        es, ev = m["ec57"]["S"], m["ec57"]["V"]
        row += (f" {100 * es['ppv']:.1f} | {100 * es['f1']:.2f} | {100 * ev['ppv']:.1f} | "
                f"{100 * ev['f1']:.2f} |")
    return row


def _met(x: float, target: float) -> str:
    return "met" if x >= target else "NOT met"


def _summary_markdown(res: dict) -> list[str]:
    """Title, the DS2 table next to the literature, cost and targets, end to end, the
    configuration and the per-record table."""
    cfg = res["config"]
    ctx = res.get("rhythm_context")
    a = ctx["adapted"] if ctx else res["adapted"]  # what the device reports
    tmpl = (f" + wearer-template vote ({cfg['template_k']} nearest of the window's labelled "
            f"beats, classes {''.join(cfg['template_classes'])}, novelty guard "
            f"{cfg.get('template_novelty')}"
            + (f" sparing new beats with ectopic timing, log ratio {cfg['novel_ectopic_log']}"
               if cfg.get("novel_ectopic_log") is not None else "")
            + ("; the templates also vote on a V that was not adapted"
               if cfg.get("template_vote_unadapted") else "") + ")"
            if cfg.get("template_k") else "")
    recs = list(res.get("records") or DS2)
    where = ("DS2" if set(recs) == set(DS2) else "DS2 records " + ", ".join(recs)
             if set(recs) <= set(DS2) else "records " + ", ".join(recs[:8])
             + (" ..." if len(recs) > 8 else "") + " (not DS2: the targets below do not apply)")
    lines = [f"# Patient adaptation on {where} (int8, reference beats, last 25 minutes)", "",
             f"Model `{Path(res['model']).name}`; head: residual multinomial logistic "
             f"regression over [int8 embedding, standardised RR features] on the first "
             f"{cfg['adapt_s'] / 60:g} minutes of each record{tmpl}; {res['n_scored']} beats "
             f"scored. Reproduce: `{res['command']}`", "",
             "Strict columns count every wrong label as an error (one-vs-rest). EC57 columns "
             "use the ANSI/AAMI EC57 gross statistics as PhysioNet's `bxb` computes them: a "
             "reference F or Q beat called V is not a false VEB, a Q beat called S not a false "
             "SVEB (`edge.eval.scoring.ec57_gross`); sensitivities are the same."
             + (" 'Rhythm context': each call read in the rhythm the AF analyser had confirmed "
                "at that beat (an S inside confirmed AF/AFL is N, `edge.rhythm.context`), as "
                "`ecg-edge annotate` and the daemon report beats." if ctx else ""), "",
             "| model | acc % | SVEB Se | SVEB +P | SVEB F1 | VEB Se | VEB +P | VEB F1 "
             "| EC57 SVEB +P | EC57 SVEB F1 | EC57 VEB +P | EC57 VEB F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|",
             _row("inter-patient base (same 25 min)", res["base"]),
             _row("adapted, the model's calls" if ctx else "**adapted (this work)**",
                  res["adapted"])]
    if ctx:
        lines += [_row("inter-patient base + rhythm context", ctx["base"]),
                  _row("**adapted + rhythm context (this work, as the device reports)**", a)]
    for name, lit in LITERATURE.items():
        (sse, sp), (vse, vp) = lit["S"], lit["V"]
        lines.append(f"| {name} (as published) | | {sse} | {sp} | "
                     f"{200 * sse * sp / (sse + sp) / 100:.1f} | {vse} | {vp} | "
                     f"{200 * vse * vp / (vse + vp) / 100:.1f} | | | | |")
    t = res["timing"]
    sf, vf = a["per_class"]["S"]["f1"], a["per_class"]["V"]["f1"]
    lines += ["", f"Adaptation per wearer (read + condition + classify 5 min + fit, one thread):"
              f" max {t['cpu_s_max']:.2f} CPU s, mean {t['cpu_s_mean']:.2f} CPU s (target < 10 s)."
              f" Adapted file: max {t['file_bytes_max']} bytes; the two-output model adds "
              f"{t['model_extra_bytes']} bytes (target < 1 MB)."
              + (f" Scoring cost of the head (linear head + template vote, one thread): median "
                 f"{t['head_us_per_beat_median']:.1f} µs per beat, max "
                 f"{t['head_us_per_beat_max']:.1f} (up to {t['templates_max']} templates)."
                 if "head_us_per_beat_median" in t else ""), "",
              f"Targets, strict: SVEB F1 >= 0.75 -> **{_met(sf, 0.75)}**; VEB F1 >= 0.95 -> "
              f"**{_met(vf, 0.95)}**."]
    if "ec57" in a:
        es, ev = a["ec57"]["S"]["f1"], a["ec57"]["V"]["f1"]
        lines.append(f"Targets, EC57 gross statistics: SVEB F1 >= 0.75 -> **{_met(es, 0.75)}**; "
                     f"VEB F1 >= 0.95 -> **{_met(ev, 0.95)}**.")
    if "end_to_end" in res:
        e = res["end_to_end"]
        lines += ["", "End to end, the device path (reported, not used to choose anything): "
                  "`ecg-edge annotate --adapted` (rhythm-aware calls, its default) at the beats "
                  "the streaming detector finds, "
                  "scored on the same 25 minutes with the EC57 matcher (150 ms; a missed "
                  "reference beat is a false negative of its class, an extra detection a false "
                  "positive of the class it got); the base model the same way:", "",
                  "| model | acc % | SVEB Se | SVEB +P | SVEB F1 | VEB Se | VEB +P | VEB F1 "
                  "| EC57 SVEB +P | EC57 SVEB F1 | EC57 VEB +P | EC57 VEB F1 | missed | extra |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, label in (("base", "inter-patient base, detected beats"),
                            ("adapted", "**adapted, detected beats**")):
            lines.append(_row(label, e[name]) + f" {e[name]['missed']} | {e[name]['extra']} |")
    lines += ["", f"Configuration (chosen on DS1, never on DS2): `{json.dumps(cfg)}`", "",
              "| record | adapted | fallback | base acc | adapted acc |", "|---|---|---|---|---|"]
    for rec, r in res["per_record"].items():
        lines.append(f"| {rec} | {r['adapted']} | {r['fallback']} | {100 * r['base_acc']:.1f} |"
                     f" {100 * r['adapted_acc']:.1f} |")
    return lines


def _head_markdown(t: dict) -> list[str]:
    """Stages 1 and 1b of the DS1 tuning."""
    b = t["best"]
    lines = ["", f"DS1 tuning ({t['view']}; base there: SVEB F1 {t['base']['S_f1']:.3f}, "
             f"VEB F1 {t['base']['V_f1']:.3f}). Stage 1, the head: {len(t['grid'])} "
             f"configurations over {', '.join(GRID)}; selection: highest mean(SVEB F1, "
             f"VEB F1), exact ties broken by {TIE_PREFERENCE} then grid order (rule fixed "
             "before the DS2 run; on DS1 the cap never changes a prediction, so it is "
             "chosen by this rule, not by data); best "
             + ", ".join(f"{k}={b[k]}" for k in GRID)
             + f" (SVEB F1 {b['S_f1']:.3f}, VEB F1 {b['V_f1']:.3f}, accuracy "
             f"{b['accuracy']:.3f}).", "",
             "Best DS1 row per design option (the rest of its hyper-parameters tuned):", "",
             "| option | value | SVEB F1 | VEB F1 | criterion |", "|---|---|---|---|---|"]
    for k in ("min_beats_F", "min_beats_V", "max_fallback_gain"):
        for v in GRID[k]:
            r = max((r for r in t["grid"] if r[k] == v), key=rank)
            lines.append(f"| {k} | {v} | {r['S_f1']:.4f} | {r['V_f1']:.4f} | "
                         f"{r['criterion']:.4f} |")
    if t.get("exact_fallback_grid"):
        lines += ["", "Stage 1b, on the stage-1 head: non-adapted classes that keep exactly "
                  "the base model's probability (the adapted classes share the rest); same "
                  "criterion, first maximum in grid order (none first):", "",
                  "| exact_fallback | SVEB F1 | VEB F1 | VEB Se | VEB +P | criterion |",
                  "|---|---|---|---|---|---|"]
        for r in t["exact_fallback_grid"]:
            lines.append(f"| {''.join(r['exact_fallback']) or 'none'} | {r['S_f1']:.4f} | "
                         f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_ppv']:.4f} | "
                         f"{r['criterion']:.4f} |")
    return lines


def _template_markdown(t: dict) -> list[str]:
    """Stage 2 of the DS1 tuning: best row per template option."""
    rows = t["template_grid"]
    lines = ["", f"Stage 2, the wearer-template vote on the stage-1 head: {len(rows)} "
             f"configurations ({', '.join(TEMPLATE_GRID)}, plus off); same "
             "criterion, first maximum in grid order (off first). Best per option:",
             "", "| option | value | SVEB F1 | VEB F1 | EC57 VEB F1 | criterion |",
             "|---|---|---|---|---|---|"]
    off = rows[0]
    lines.append(f"| template vote | off | {off['S_f1']:.4f} | {off['V_f1']:.4f} | "
                 f"{off['V_f1_ec57']:.4f} | {off['criterion']:.4f} |")
    for k, values in TEMPLATE_GRID.items():
        for v in values:
            v = list(v) if isinstance(v, tuple) else v
            r = max((r for r in rows[1:] if r[k] == v),
                    key=lambda r: round(r["criterion"], 12))
            lines.append(f"| {k} | {''.join(v) if isinstance(v, list) else v} | "
                         f"{r['S_f1']:.4f} | {r['V_f1']:.4f} | {r['V_f1_ec57']:.4f} "
                         f"| {r['criterion']:.4f} |")
    return lines


def _novelty_markdown(t: dict) -> list[str]:
    """Stage 3 of the DS1 tuning."""
    if not t.get("novelty_grid"):
        return []
    lines = ["", "Stage 3, the novelty guard (a beat farther from every template than "
             "this multiple of the templates' largest nearest-neighbour distance is "
             "not voted on): rule fixed beforehand -- the smallest multiple whose "
             f"criterion is within {NOVELTY_TOLERANCE} of the best.", "",
             "| template_novelty | SVEB F1 | VEB F1 | VEB Se | EC57 VEB F1 | "
             "criterion |", "|---|---|---|---|---|---|"]
    for r in t["novelty_grid"]:
        lines.append(f"| {r['template_novelty']} | {r['S_f1']:.4f} | "
                     f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_f1_ec57']:.4f} | "
                     f"{r['criterion']:.4f} |")
    return lines


def _ectopic_markdown(t: dict) -> list[str]:
    """Stage 4 of the DS1 tuning."""
    if not t.get("ectopic_grid"):
        return []
    conds = list(t["ectopic_grid"][0]["noisy_V_f1"])
    lines = ["", "Stage 4, the guard's timing condition (a new beat is spared the "
             "vote only if premature against the local or long-term mean RR, or "
             "followed by a pause, by more than this natural-log ratio; None = "
             "every new beat spared). Judged on DS1 with Noise Stress Test noise "
             "added to the scored part by the NST protocol (from minute 5, 2-minute "
             "noisy segments alternating with 2 clean ones; NST SNR convention); "
             "rule: the highest safety share (PVCs of an unseen morphology still "
             "called V, see below) among the values whose mean noisy VEB F1 is "
             f"within {ECTOPIC_TOLERANCE} of the best. The last row (templates "
             "without the guard) is for reference, not a candidate.", "",
             "| novel_ectopic_log | clean SVEB F1 | clean VEB F1 | "
             + " | ".join(f"VEB F1, {c}" for c in conds)
             + " | noisy mean | unseen-morphology V called V |",
             "|---" * (5 + len(conds)) + "|"]
    for r in t["ectopic_grid"]:
        lines.append(f"| {r['novel_ectopic_log']} | {r['S_f1']:.4f} | "
                     f"{r['V_f1']:.4f} | "
                     + " | ".join(f"{r['noisy_V_f1'][c]:.4f}" for c in conds)
                     + f" | {r['noisy_V_f1_mean']:.4f} | {100 * r['safety']:.1f} % |")
    return lines


def _unadapted_vote_markdown(t: dict) -> list[str]:
    """Stage 5 of the DS1 tuning."""
    if not t.get("unadapted_vote_grid"):
        return []
    lines = ["", "Stage 5, the templates' vote on a V that was not adapted (a "
             "wearer whose window had no PVC: a beat matching the wearer's own "
             "templates loses its V score, a new ectopic beat keeps the base "
             "model's); same criterion, first maximum in grid order (off first); "
             "the mean VEB F1 on the noisy DS1 of stage 4 and the first-PVC safety "
             "check (below) next to it:", "",
             "| template_vote_unadapted | SVEB F1 | VEB F1 | VEB Se | VEB +P | "
             "criterion | noisy mean VEB F1 | first PVCs called V |",
             "|---|---|---|---|---|---|---|---|"]
    for r in t["unadapted_vote_grid"]:
        noisy_f1 = (f"{r['noisy_V_f1_mean']:.4f}" if "noisy_V_f1_mean" in r
                    else "")
        lines.append(f"| {r['template_vote_unadapted']} | {r['S_f1']:.4f} | "
                     f"{r['V_f1']:.4f} | {r['V_se']:.4f} | {r['V_ppv']:.4f} | "
                     f"{r['criterion']:.4f} | {noisy_f1} | "
                     f"{100 * r['first_pvcs']:.1f} % |")
    return lines


def _safety_markdown(t: dict) -> list[str]:
    """The unseen-morphology and first-PVC safety checks of the chosen configuration."""
    if not t.get("unseen_morphology_v"):
        return []
    sm = t["unseen_morphology_v"]
    lines = ["", "Safety check on DS1 (`unseen_morphology_v`): PVCs of a morphology "
             "the wearer's window never showed -- V beats of the other patients of "
             f"the same fold, {sm['n_beats']} in all, scored after each V-adapted "
             "DS1 wearer's adaptation -- share still called V:", "",
             "| model | called V |", "|---|---|"]
    for k, v in sm["called_v"].items():
        lines.append(f"| {k} | {100 * v:.1f} % |")
    if sm.get("first_pvcs"):
        fp = sm["first_pvcs"]
        lines += ["", "The same check on the wearers whose window had too few V "
                  "beats to adapt V (V beats of the other patients of the fold as "
                  f"their first PVCs, {fp['n_beats']} in all), share called V:", "",
                  "| model | called V |", "|---|---|"]
        for k, v in fp["called_v"].items():
            lines.append(f"| {k} | {100 * v:.1f} % |")
    return lines


def _tuning_markdown(t: dict) -> list[str]:
    """The DS1 tuning, stage by stage, and the chosen template fields."""
    lines = _head_markdown(t)
    if "template_grid" in t:
        tb = t["template_best"]
        lines += _template_markdown(t) + _novelty_markdown(t) + _ectopic_markdown(t)
        lines += _unadapted_vote_markdown(t) + _safety_markdown(t)
        lines += ["", "Chosen: " + ", ".join(f"{k}={tb[k]}" for k in tb if
                                              k.startswith(("template", "novel")))
                  + f" (DS1 SVEB F1 {tb['S_f1']:.3f}, VEB F1 {tb['V_f1']:.3f})."]
    return lines


def markdown(res: dict) -> str:
    """``adapt.md`` of a result (see :func:`main`)."""
    lines = _summary_markdown(res)
    if "tuning" in res:
        lines += _tuning_markdown(res["tuning"])
    lines += ["", "DS2 looks (each a full DS2 scoring of a design fixed on DS1 beforehand; "
              "DS2 never chose anything):", ""] + [f"{i}. {look}" for i, look in
                                                   enumerate(DS2_LOOKS, 1)]
    return "\n".join(lines) + "\n"


def tuned_config(tuning: dict, base: AdaptConfig | None = None) -> AdaptConfig:
    """The :class:`AdaptConfig` a :func:`training.adapt_tuning.tune_ds1` result chose."""
    config = grid_config({k: tuning["best"][k] for k in GRID}, base or AdaptConfig())
    return replace(config, **template_fields(tuning["template_best"]),
                   exact_fallback=tuple(tuning["exact_fallback"]))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(MODEL), help="two-output int8 model (.tflite)")
    ap.add_argument("--records", default=",".join(DS2),
                    help="comma-separated records to score (default: all of DS2)")
    ap.add_argument("--tune-ds1", action="store_true", help="choose hyper-parameters on DS1")
    ap.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--from-json", type=Path, default=None, metavar="ADAPT_JSON",
                    help="re-render the Markdown of a stored result (no model is run)")
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.from_json is not None:
        res = read_json(ap, "--from-json", args.from_json, "an adapt.json of this benchmark")
        try:  # rendered before anything is written: a file of another kind is one line
            res["ds2_looks"] = list(DS2_LOOKS)
            markdown(res)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            ap.error(f"--from-json {args.from_json}: not an adapt.json of this benchmark "
                     f"({type(exc).__name__}: {exc})")
        return run_bench("bench_adapt", lambda: write_results(res, Path(args.out), echo=False))
    records = parse_names(ap, "--records", args.records)
    return run_bench("bench_adapt", lambda: _run(args, records))


def _run(args: argparse.Namespace, records: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    clf = BeatClassifier(args.model)
    if not clf.embedding_size:
        raise ModelError("no embedding output: adaptation needs the two-output model "
                         "(python convert/quantize.py --embedding)", args.model)
    check_records(records, data_dir=args.data_dir)  # before any work
    config = AdaptConfig()
    res: dict = {"model": args.model}
    if args.tune_ds1:
        res["tuning"] = tune_ds1(data_dir=args.data_dir)
        config = tuned_config(res["tuning"], config)
    outs = record_outputs(clf, records, args.data_dir)
    res.update(protocol(outs, config))
    ctx = protocol(outs, config, rhythm_context=True)
    res["rhythm_context"] = {k: ctx[k] for k in ("base", "adapted", "n_scored")}
    res["config"] = config.to_dict()
    res["records"] = records
    res["literature"] = LITERATURE
    res["ds2_looks"], res["tie_preference"] = list(DS2_LOOKS), TIE_PREFERENCE
    res["timing"] = time_adaptation(Path(args.model), records, config, args.data_dir)
    res["timing"].update(head_cost(outs, config))
    res["end_to_end"] = end_to_end(Path(args.model), records, config, args.data_dir)
    res["command"] = "python benchmarks/bench_adapt.py" + (" --tune-ds1" if args.tune_ds1
                                                           else "")
    return write_results(res, Path(args.out))


def write_results(res: dict, out: Path, *, echo: bool = True) -> int:
    """Write ``adapt.json`` and ``adapt.md`` into ``out`` (print the Markdown if ``echo``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapt.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    md = markdown(res)
    (out / "adapt.md").write_text(md)
    if echo:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
