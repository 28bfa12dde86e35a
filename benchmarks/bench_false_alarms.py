"""Alarms on patients and devices the VF detector never saw, where there is no VF to find.

    SVDB_DIR=... CINC2017_DIR=... python benchmarks/bench_false_alarms.py \\
        [--sets svdb,cinc] [--jobs 2] [--limit N]

Protocol
--------
Every recording of a set is replayed through the daemon's per-device chain
(:class:`edge.runtime.device.DeviceStream`: settings as shipped, the bundled beat model, AF
analyser and VF detector, alarm chain on; no strip) in 10-s chunks (every stage is
chunk-invariant: ``tests/``, ``bench_alarm_chain.py``). Counted per set: hours of signal, and
the alert onsets of severity *alarm* by kind -- how many, per hour, and in how many
recordings. For ``vfib``, also the onsets dated within the first 8 s of a recording (the VF
stage's earliest alarm is at 6 s: three 4-s windows stepped 1 s), the stream's start-up.

Sets:

* ``svdb``: the 39 records of ``$SVDB_DIR`` (MIT-BIH Supraventricular Arrhythmia Database,
  Holter, 128 Hz, channel 0); their annotations hold no VF mark (no ``[``, ``]``, ``!``,
  ``(VF``), so every ``vfib`` and ``vflutter`` is false.
* ``cinc``: the 5,970 recordings of ``$CINC2017_DIR`` (AliveCor handheld single lead, 300 Hz,
  9-61 s; CinC 2017 labels N, A, O, ``~``), counted by label too. The labels are rhythm
  classes without VF, and a person in VF cannot hold the device, so every ``vfib`` and
  ``vflutter`` is taken as false.

Neither set was used to fit or choose anything of the default (``monitor``) VF models, which
are fitted on CUDB and MIT-BIH DS1. The ``handheld`` models (``[rhythm.vf] models =
"handheld"``) add CinC's recordings as not-shockable examples, so CinC can score them only out
of fold: ``--cinc-folds DIR`` adds the row ``cinc out of fold, handheld recipe``, every
recording replayed with the trees and network of its CinC fold
(:func:`training.ventricular.cinc_records`), fitted without that fold (and without a fifth of
CUDB + DS1: the models of the record-wise CV) -- ``DIR/fold<k>.tflite`` from ``python -m
training.vf_net --cinc --cv DIR`` and ``python convert/vf_net.py --cv DIR``,
``DIR/vf_trees_fold<k>.json`` from ``python -m training.ventricular --cv --cinc-share 0.25
--save-folds DIR``. ``--handheld`` adds ``svdb, handheld models``: the bundled handheld pair on
SVDB, which it never saw.

``vt`` alarms are counted but not judged: CinC has no beat annotations, and SVDB's V runs
are not matched here (``bench_ventricular.py`` scores VT on MIT-BIH). ``--vt-alarm-min-beats
N`` adds every set replayed with ``[rhythm.vt] alarm_min_beats = N``: a ``vt`` run shorter than
N beats is then a warning (counted apart). ``--preset NAME`` adds every set replayed with
``[rhythm] preset = NAME`` (``handheld``: the handheld VF models, ``vflutter`` graded, ``vt`` an
alarm from 5 beats); its CinC row is out of fold (``--cinc-folds``: each recording's fold VF
models, with the preset's other settings), since the handheld VF models were fitted on CinC.

Writes ``benchmarks/results/false_alarms.{json,md}`` (``--out`` for another folder).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    git_head,
    output_dir,
    parse_sets,
    replay_alerts,
    worker_classifier,
    write_results,
)

#: ``vfib`` onsets dated before this (s from the recording's start) count as start-up ones.
START_S = 8.0
CHUNK_S = 10.0
SETS = ("svdb", "cinc")

def _data_dir(name: str) -> Path:
    """The set's folder, found as the training code finds it: SVDB by
    :func:`edge.io.records.find_data_dir` (``$SVDB_DIR``), CinC by
    :func:`training.rhythm.cinc_dir` (``$CINC2017_DIR``)."""
    if name == "svdb":
        from edge.io.records import find_data_dir

        return find_data_dir("svdb")
    from training.rhythm import cinc_dir

    return cinc_dir()


def recordings(name: str, limit: int | None = None) -> list[tuple[str, str]]:
    """``(record path, label)`` of a set; the label is CinC's class, or ``""``."""
    d = _data_dir(name)
    if name == "svdb":
        out = [(str(d / r), "") for r in (d / "RECORDS").read_text().split()]
    else:
        from training.rhythm import cinc_reference

        out = [(str(d / name), label) for name, label in cinc_reference(d)]
    return out[:limit] if limit else out


def alarms_of(job: str | tuple[str, tuple[str, ...]]) -> dict:
    """The replay of one recording (a path, or a path and ``key=value`` settings such as
    another VF model): its length, rate and alarm onsets (kind, time s)."""
    path, settings = (job, ()) if isinstance(job, str) else job
    import numpy as np

    from edge.io.records import read_record

    rec = read_record(path)
    x = rec.signal_mv[:, :1].astype(np.float64)
    fs = float(rec.fs_hz)
    alerts, _ = replay_alerts(worker_classifier(), x, fs, CHUNK_S, settings)
    onsets = [(e.kind, round(e.sample_index / fs, 2)) for e in alerts
              if e.state == "onset" and e.severity == "alarm"]
    graded = Counter(e.kind for e in alerts if e.kind in ("vflutter", "vt")
                     and e.state == "onset" and e.severity != "alarm")
    return {"path": path, "seconds": x.shape[0] / fs, "fs_hz": fs, "alarms": onsets,
            "vflutter_warnings": graded["vflutter"], "vt_warnings": graded["vt"]}


def summarise(runs: list[dict], labels: list[str]) -> dict:
    """Per-set counts of :func:`alarms_of` results (``labels`` in the same order)."""
    hours = sum(r["seconds"] for r in runs) / 3600
    n, recs, early = Counter(), Counter(), 0
    by_label: dict[str, Counter] = {}
    for r, lab in zip(runs, labels):
        kinds = Counter(k for k, _ in r["alarms"])
        n.update(kinds)
        recs.update(kinds.keys())
        early += sum(1 for k, t in r["alarms"] if k == "vfib" and t < START_S)
        if lab:
            by_label.setdefault(lab, Counter())
            by_label[lab]["recordings"] += 1
            by_label[lab]["hours"] += r["seconds"] / 3600
            by_label[lab].update({f"{k}": v for k, v in kinds.items()})
    return {"recordings": len(runs), "hours": round(hours, 2),
            "rates_hz": sorted({r["fs_hz"] for r in runs}),
            "alarms": {k: {"n": v, "per_hour": round(v / hours, 3) if hours else None,
                           "recordings": recs[k]} for k, v in sorted(n.items())},
            "vfib_within_start_s": early,
            "vflutter_warnings": sum(r.get("vflutter_warnings", 0) for r in runs),
            "vt_warnings": sum(r.get("vt_warnings", 0) for r in runs),
            "by_label": {lab: {k: (round(v, 2) if k == "hours" else v) for k, v in c.items()}
                         for lab, c in sorted(by_label.items())},
            "vfib_recordings": sorted(Path(r["path"]).name for r in runs
                                      if any(k == "vfib" for k, _ in r["alarms"]))}


def fold_settings(folds_dir: Path, names: list[str]) -> list[tuple[str, ...]]:
    """The VF model settings of each CinC recording ``names``: its fold's trees and network
    in ``folds_dir`` (see the module docstring)."""
    from training.ventricular import cinc_fold_of

    fold = cinc_fold_of()
    out = []
    for n in names:
        k = fold[n]
        out.append((f'rhythm.vf.model_path="{folds_dir / f"vf_trees_fold{k}.json"}"',
                    f'rhythm.vf.net_path="{folds_dir / f"fold{k}.tflite"}"'))
    return out


def check_folds_dir(folds_dir: Path) -> str | None:
    """Why ``folds_dir`` cannot serve ``--cinc-folds`` (None: it can)."""
    for k in range(5):
        for name in (f"vf_trees_fold{k}.json", f"fold{k}.tflite"):
            if not (folds_dir / name).is_file():
                return f"{folds_dir / name} not found (see the module docstring)"
    return None


def run_set(name: str, jobs: int, limit: int | None, folds_dir: Path | None = None,
            settings: tuple[str, ...] = ()) -> dict:
    """The set's recordings replayed (``folds_dir``: each CinC recording with its fold's VF
    models; ``settings``: the same overrides for every recording) and summarised."""
    recs = recordings(name, limit)
    paths: list = [p for p, _ in recs]
    if folds_dir is not None:
        paths = [(p, (*fs, *settings)) for p, fs in
                 zip(paths, fold_settings(folds_dir, [Path(p).name for p in paths]))]
    elif settings:
        paths = [(p, settings) for p in paths]
    t0 = time.time()
    if jobs == 1:
        runs = [alarms_of(p) for p in paths]
    else:
        import multiprocessing as mp
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
        with mp.get_context("spawn").Pool(processes=jobs) as pool:
            runs = pool.map(alarms_of, paths, chunksize=max(1, len(paths) // (jobs * 20)))
    print(f"{name}: {len(runs)} recordings in {time.time() - t0:.0f} s", flush=True)
    return summarise(runs, [lab for _, lab in recs])


def markdown(res: dict) -> str:
    L = ["# Alarms where there is no VF: other patients, other devices", "",
         f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']} s",
         f"- Command: `{res['command']}` (protocol: the script's docstring)",
         "- Daemon chain as shipped (bundled models, alarm chain on), 10-s chunks. Neither set "
         "was used to fit or choose anything of the default (`monitor`) VF models. The "
         "`handheld` recipe is fitted with CinC too: its CinC row is out of fold (each "
         "recording scored by the VF trees and network of its CinC fold, fitted without it); "
         "on SVDB it runs the bundled handheld pair.", "",
         "| set | recordings | hours | rate (Hz) | `vfib` (per h; recordings) | of which in the "
         f"first {START_S:g} s | `vflutter` | `vflutter` graded a warning | `vt` (not judged) "
         "| `vt` graded a warning | other alarms |",
         "|---|---:|---:|---|---|---:|---|---:|---|---:|---|"]

    def cell(a: dict, k: str) -> str:
        if k not in a:
            return "0"
        return f"{a[k]['n']} ({a[k]['per_hour']}/h; {a[k]['recordings']})"

    for name, s in res["sets"].items():
        a = s["alarms"]
        other = ", ".join(f"{k} {v['n']}" for k, v in a.items()
                          if k not in ("vfib", "vflutter", "vt")) or "none"
        L.append(f"| {name} | {s['recordings']} | {s['hours']} | "
                 f"{', '.join(f'{f:g}' for f in s['rates_hz'])} | {cell(a, 'vfib')} | "
                 f"{s['vfib_within_start_s']} | {cell(a, 'vflutter')} | "
                 f"{s.get('vflutter_warnings', 0)} | {cell(a, 'vt')} | "
                 f"{s.get('vt_warnings', 0)} | {other} |")
    for name, s in res["sets"].items():
        if not s["by_label"]:
            continue
        L += ["", f"## {name} by label", "",
              "| label | recordings | hours | `vfib` | `vflutter` | `vt` |",
              "|---|---:|---:|---:|---:|---:|"]
        for lab, c in s["by_label"].items():
            L.append(f"| {lab} | {c['recordings']} | {c['hours']} | {c.get('vfib', 0)} | "
                     f"{c.get('vflutter', 0)} | {c.get('vt', 0)} |")
    L += ["", "Recordings with a `vfib` alarm: "
          + "; ".join(f"{n}: {', '.join(s['vfib_recordings']) or 'none'}"
                      for n, s in res["sets"].items()), ""]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="svdb,cinc", help="comma-separated: svdb, cinc")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N recordings of each set (a quick look)")
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--cinc-folds", metavar="DIR", default=None,
                    help="also replay CinC out of fold with the handheld recipe's VF fold "
                         "models in DIR (see the module docstring)")
    ap.add_argument("--handheld", action="store_true",
                    help="also replay SVDB with the bundled handheld VF models")
    ap.add_argument("--vt-alarm-min-beats", type=int, default=None, metavar="N",
                    help="also replay every set with [rhythm.vt] alarm_min_beats = N (a vt "
                         "run shorter than N beats a warning)")
    ap.add_argument("--preset", default=None, metavar="NAME",
                    help="also replay every set with [rhythm] preset = NAME (CinC with "
                         "'handheld' only out of fold: needs --cinc-folds)")
    ap.add_argument("--flutter-both", action="store_true",
                    help="also replay every set with the other [rhythm.vflutter] confirm "
                         "setting (the vflutter alert graded by the VF stage, or not)")
    args = ap.parse_args(argv)
    names = parse_sets(ap, args.sets, SETS)
    folds_dir = Path(args.cinc_folds) if args.cinc_folds else None
    if folds_dir is not None:
        if "cinc" not in names:
            ap.error("--cinc-folds needs the cinc set")
        why = check_folds_dir(folds_dir)
        if why:
            ap.error(f"--cinc-folds: {why}")
    if args.jobs < 1:
        ap.error(f"--jobs: must be >= 1, got {args.jobs}")
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit: must be >= 1, got {args.limit}")
    if args.preset is not None:
        from edge.runtime.settings.config import PRESETS

        if args.preset not in PRESETS:
            ap.error(f"--preset: one of {', '.join(PRESETS)}, got {args.preset!r}")
        if "cinc" in names and folds_dir is None and \
                PRESETS[args.preset].get(("vf", "models"), "monitor") != "monitor":
            ap.error(f"--preset {args.preset}: its VF models were fitted on CinC; score CinC "
                     "out of fold with --cinc-folds DIR (or leave cinc out of --sets)")
    if args.vt_alarm_min_beats is not None:
        from edge.errors import ConfigError
        from edge.runtime.ventricular import VtConfig

        try:
            VtConfig(alarm_min_beats=args.vt_alarm_min_beats)
        except ConfigError as exc:
            ap.error(f"--vt-alarm-min-beats: {exc}")
    from edge.errors import DataNotFoundError

    for n in names:
        try:
            listing = _data_dir(n) / ("RECORDS" if n == "svdb" else "REFERENCE.csv")
        except DataNotFoundError as exc:
            ap.error(f"set {n}: {exc}")
        if not listing.is_file():
            ap.error(f"set {n}: {listing} not found (set "
                     f"{'SVDB_DIR' if n == 'svdb' else 'CINC2017_DIR'})")
    t0 = time.time()
    res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "git": git_head(),
           "command": " ".join(["python benchmarks/bench_false_alarms.py",
                                *(argv if argv is not None else sys.argv[1:])]),
           "limit": args.limit,
           "sets": {n: run_set(n, args.jobs, args.limit) for n in names}}
    if folds_dir is not None:
        res["sets"]["cinc out of fold, handheld recipe"] = run_set("cinc", args.jobs,
                                                                   args.limit, folds_dir)
        res["cinc_folds"] = str(folds_dir)
    if args.handheld and "svdb" in names:
        res["sets"]["svdb, handheld models"] = run_set("svdb", args.jobs, args.limit,
                                                       settings=('rhythm.vf.models="handheld"',))
    if args.flutter_both:
        from edge.runtime.ventricular import FlutterConfirmConfig

        other = not FlutterConfirmConfig().confirm
        tag = "vflutter graded by the VF stage" if other else "vflutter not graded"
        for n in names:
            res["sets"][f"{n}, {tag}"] = run_set(
                n, args.jobs, args.limit,
                settings=(f"rhythm.vflutter.confirm={str(other).lower()}",))
    if args.vt_alarm_min_beats is not None:
        k = args.vt_alarm_min_beats
        for n in names:
            res["sets"][f"{n}, vt an alarm from {k} beats"] = run_set(
                n, args.jobs, args.limit, settings=(f"rhythm.vt.alarm_min_beats={k}",))
    if args.preset is not None:
        preset = (f'rhythm.preset="{args.preset}"',)
        for n in names:
            if n == "cinc" and folds_dir is not None:
                res["sets"][f"cinc out of fold, preset {args.preset}"] = run_set(
                    "cinc", args.jobs, args.limit, folds_dir, settings=preset)
            else:
                res["sets"][f"{n}, preset {args.preset}"] = run_set(
                    n, args.jobs, args.limit, settings=preset)
    res["wall_s"] = round(time.time() - t0)
    print(write_results(args.out, "false_alarms", res, markdown))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench_false_alarms: interrupted; nothing written", file=sys.stderr)
        sys.exit(130)
