"""Size versus accuracy of the beat classifier (issue 16): int8 file bytes against accuracy on
patients the model never saw, from design data only (DS2 is not read).

Usage::

    python benchmarks/bench_size_curve.py MODEL.tflite [MODEL.tflite ...] \\
        [--member FILE.tflite=ENSEMBLE.tflite:K ...] [--out-stem benchmarks/results/size_curve]

Each ``MODEL.tflite`` is a full-int8 file made by ``python convert/quantize.py`` from a model
trained by ``python -m training.train --svdb`` (any ``--width``; ``--fold K`` for a single
member). Its embedded contract holds what this table reports:

* bytes: the file, and the contract JSON embedded in it (the rest is the graph and weights);
* **SVDB out of fold**: each ensemble member scored (float, reference beats) on the SVDB
  patient fold it never saw -- neither trained nor early-stopped on it -- as stored by the
  training run (``svdb_crossval_members``); the fold-0 column compares every model on the same
  13 patients, the pooled column (ensembles) all 39;
* DS1 cross-validation of the members: on the DS1 fold each member was early-stopped on, so
  it flatters (shown for completeness, not for choosing).

``--member FILE=ENSEMBLE:K``: ``FILE`` was quantized from member ``K`` of ``ENSEMBLE`` (whose
contract holds that member's out-of-fold scores); its bytes are measured, its scores read from
the ensemble.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.errors import EdgeError
from edge.model.tflite_meta import read_contract

ROOT = Path(__file__).resolve().parents[1]


def _contract(path: Path) -> dict:
    return read_contract(path.read_bytes())


def _f1(metrics: dict | None, cls: str) -> float | None:
    return None if not metrics else float(metrics["per_class"][cls]["f1"])


def model_row(path: Path, member_of: tuple[Path, int] | None = None) -> dict:
    """Bytes and design-data scores of one int8 model (see the module docstring)."""
    c = _contract(path)
    tr = c.get("training", {})
    cfg = c["model"].get("config", {})
    row = {"file": path.name, "model_version": c["model_version"], "bytes": path.stat().st_size,
           "contract_bytes": len(json.dumps(c, sort_keys=True, separators=(",", ":"))),
           "params": c["model"].get("params"),
           "width": float(tr.get("train_config", {}).get("width", cfg.get("width", 1.0))),
           "members": int(cfg.get("ensemble", 1) or 1)}
    src = _contract(member_of[0]) if member_of else c
    k = member_of[1] if member_of else None
    xcv = src.get("training", {}).get("svdb_crossval_members")
    if not xcv:
        raise EdgeError(f"{path}: its contract has no SVDB out-of-fold scores (train with --svdb, "
                        "or name the ensemble it came from with --member)")
    members = xcv["members"]
    folds = src["training"].get("extra_folds") or []
    fold0 = set(folds[0]) if folds else set()
    m0 = members[k] if k is not None else next(
        (m for m in members if set(m["records"]) == fold0), None)
    row["svdb_fold0_f1"] = None if m0 is None or set(m0["records"]) != fold0 else {
        c_: round(float(m0["f1"][c_]), 3) for c_ in ("S", "V")}
    pooled = k is None and len(members) == len(folds) > 1
    row["svdb_pooled_f1"] = {c_: round(_f1(xcv, c_), 3) for c_ in ("S", "V")} if pooled else None
    tc = (src if member_of else c).get("training", {}).get("train_config", {})
    row["recipe"] = training_command(tc, row["members"], k, row["model_version"])
    ds1 = None if k is not None else tr.get("ds1_crossval_members")
    row["ds1_cv_f1"] = {c_: round(_f1(ds1, c_), 3) for c_ in ("S", "V")} if ds1 else None
    return row


def training_command(tc: dict, members: int, member: int | None, version: str) -> str:
    """The ``training.train`` command line a contract's ``train_config`` describes."""
    if not tc:
        return "(no training configuration in the contract)"
    parts = ["python -m training.train --model", str(tc.get("kind", "cnn")), "--svdb",
             "--n-augment", str(tc.get("n_augment"))]
    if tc.get("device_rates_hz"):
        parts += ["--device-rates", *[f"{r:g}" for r in tc["device_rates_hz"]]]
    if tc.get("other_lead_period"):
        parts += ["--other-lead-period", str(tc["other_lead_period"])]
    if tc.get("invert_probability"):
        parts += ["--invert-probability", f"{tc['invert_probability']:g}"]
    parts += ["--min-epochs", str(tc.get("min_epochs", 1)), "--seed", str(tc.get("seed"))]
    if tc.get("width", 1.0) != 1.0:
        parts += ["--width", f"{tc['width']:g}"]
    if members == 1 and member is None and "fold" in version:
        parts += ["--fold", version.rsplit("fold", 1)[1]]
    text = " ".join(parts)
    return text + (f" (member {member} of that ensemble)" if member is not None else "")


def render(rows: list[dict], command: str) -> str:
    def f(d, c):
        return "–" if not d else f"{d[c]:.3f}"
    L = ["# Beat classifier: size versus accuracy (design data only)", "",
         f"Reproduce: `{command}` (reads the contracts embedded in the int8 files; DS2 is not "
         "read). How each model was trained: the module docstring of "
         "`benchmarks/bench_size_curve.py` and the README section \"New patients and new "
         "devices\".", "",
         "| model | members × width | params | int8 bytes | of which contract | SVDB fold 0: S F1 "
         "| SVDB fold 0: V F1 | SVDB 3 folds: S F1 | SVDB 3 folds: V F1 | DS1 CV (flatters): "
         "S / V F1 |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: r["bytes"]):
        ds1 = "–" if not r["ds1_cv_f1"] else f"{f(r['ds1_cv_f1'], 'S')} / {f(r['ds1_cv_f1'], 'V')}"
        L.append(f"| `{r['file']}` ({r['model_version']}) | {r['members']} × {r['width']:g} | "
                 f"{r['params']:,} | {r['bytes']:,} | {r['contract_bytes']:,} | "
                 f"{f(r['svdb_fold0_f1'], 'S')} | {f(r['svdb_fold0_f1'], 'V')} | "
                 f"{f(r['svdb_pooled_f1'], 'S')} | {f(r['svdb_pooled_f1'], 'V')} | "
                 f"{ds1} |")
    L += ["", "SVDB fold 0 is 13 patients (one held-out member per model); the 3-fold columns pool "
          "every member on its own held-out SVDB fold (ensembles only). Float members, reference "
          "beats, strict one-vs-rest F1, as stored by `training.train`.", "",
          "How each model was made (from its contract), then `python convert/quantize.py "
          "--model DIR --out FILE.tflite`:", ""]
    L += [f"- `{r['file']}`: `{r['recipe']}`" for r in sorted(rows, key=lambda r: r["bytes"])]
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import output_stem  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python benchmarks/bench_size_curve.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path, help="int8 .tflite files")
    p.add_argument("--member", action="append", default=[], metavar="FILE=ENSEMBLE:K",
                   help="FILE was quantized from member K of ENSEMBLE (scores read from it)")
    p.add_argument("--out-stem", type=output_stem, default=ROOT / "benchmarks/results/size_curve")
    a = p.parse_args(argv)
    member_of: dict[str, tuple[Path, int]] = {}
    for spec in a.member:
        try:
            file, rest = spec.split("=", 1)
            ens, k = rest.rsplit(":", 1)
            member_of[Path(file).resolve().as_posix()] = (Path(ens), int(k))
        except ValueError:
            p.error(f"--member {spec!r}: expected FILE=ENSEMBLE.tflite:K")
    rows = []
    for path in a.models:
        if not path.is_file():
            p.error(f"{path}: no such file")
        try:
            rows.append(model_row(path, member_of.get(path.resolve().as_posix())))
        except (EdgeError, KeyError, ValueError, OSError) as exc:
            print(f"{p.prog}: error: {path}: {exc}", file=sys.stderr)
            return 2
    command = "python benchmarks/bench_size_curve.py " + " ".join(
        [str(m) for m in a.models] + [f"--member {s}" for s in a.member])
    a.out_stem.parent.mkdir(parents=True, exist_ok=True)
    a.out_stem.with_suffix(".json").write_text(json.dumps({"command": command, "models": rows},
                                                          indent=1) + "\n")
    a.out_stem.with_suffix(".md").write_text(render(rows, command))
    print(render(rows, command))
    return 0


if __name__ == "__main__":  # an unwritable output or Ctrl-C: one line, not a traceback
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import run_bench  # noqa: E402

    sys.exit(run_bench("bench_size_curve", main))
