"""The ``vflutter`` alert graded by the VF stage (``[rhythm.vflutter] confirm``): what it keeps
and what it costs in alarm latency, out of fold, on CUDB and MIT-BIH DS1.

    MITDB_DIR=... NSTDB_DIR=... CUDB_DIR=... ECG_EDGE_CACHE=... \\
        python benchmarks/bench_flutter_grading.py [--skip-noise] [--lookback-s L] [--hold-s H]

Protocol
--------
* Records: CUDB's 35 and MIT-BIH DS1's 22 (207 holds DS1's ventricular flutter), each
  replayed through the daemon's per-device chain (:class:`edge.runtime.device.DeviceStream`,
  1-s chunks, alarm chain off: ``bench_ventricular.daemon_alerts``, so every onset is seen
  where it was raised) with the VF trees and network of its record-wise CV fold
  (``bench_ventricular.fold_models`` / ``fold_nets``: fitted without the record). MIT-BIH DS2
  is never read. Each record twice: ``confirm`` off (every ``vflutter`` an alarm at its
  onset, as before 2026-12-02) and on (``lookback_s`` / ``hold_s`` as given, default the
  shipped ones); clean and, unless ``--skip-noise``, with NSTDB ``em`` at 6 dB
  (``training.ventricular.noisy_signal``).
* Counted: ``vflutter`` onsets, those raised as alarms, split into those inside a reference
  VF/VFL episode (CUDB ``[`` ... ``]``, MIT-BIH ``(VFL`` / ``(VF``) or at most 2 s before one,
  and the rest; the reference episodes found by the first alarm of ``vfib`` or an
  alarm-grade ``vflutter`` overlapping them, with its latency (from the reference onset to
  the alarm's ``sample_index``: when the device raised it; episodes that start within a
  record's first 4 s have none), and the same for ``vfib`` alone.

``--folds-dir DIR`` replays with another recipe's fold models (``DIR/vf_trees_fold<k>.json``,
``DIR/fold<k>.tflite``, the same record-wise folds), e.g. the handheld recipe's CV
(``python -m training.vf_net --cinc --cv DIR``, ``python convert/vf_net.py --cv DIR``,
``python -m training.ventricular --cv --cinc-share 0.25 --save-folds DIR``): the first VF alarm
with ``[rhythm] preset = "handheld"``'s VF models and grading.

Writes ``benchmarks/results/flutter_grading.{json,md}``; the replays are cached under
``$ECG_EDGE_CACHE`` (as ``bench_ventricular.py``'s).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_false_alarms import check_folds_dir  # noqa: E402
from benchmarks.bench_ventricular import (  # noqa: E402
    N_FOLDS,
    daemon_alerts,
    episodes_of,
    fold_models,
    fold_nets,
    score_episodes,
)
from benchmarks.common import git_head, output_dir, write_results  # noqa: E402
from training.data import DS1  # noqa: E402
from training.ventricular import CUDB_RECORDS, TRAIN_RECORDS, episodes, folds  # noqa: E402

#: A ``vflutter`` onset this close before a reference episode counts as inside it (s).
BEFORE_S = 2.0
SETS = {"cudb": CUDB_RECORDS, "mitdb_ds1": DS1}


def dir_models(folds_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """record -> (trees, network) of its record-wise CV fold in ``folds_dir`` (``--folds-dir``:
    ``vf_trees_fold<k>.json`` from ``training.ventricular --cv --save-folds DIR``; the
    networks and their folds checked by ``bench_ventricular.fold_nets``)."""
    nets = fold_nets(folds_dir)
    f = folds(TRAIN_RECORDS, N_FOLDS)
    return {r: str(folds_dir / f"vf_trees_fold{f[r]}.json") for r in TRAIN_RECORDS}, nets


def score_record(d: dict, shockable: list[tuple[int, int]]) -> dict:
    """One replay's counts (see the module docstring)."""
    fs = d["fs_hz"]
    alerts = d["alerts"]
    onsets = [a for a in alerts if a["kind"] == "vflutter" and a["state"] == "onset"]
    inside = [a for a in onsets
              if any(s - BEFORE_S * fs <= a["detail"].get("onset_index", a["sample_index"]) <= e
                     for s, e in shockable)]
    alarm = [a for a in alerts if a["kind"] == "vfib" or a["severity"] == "alarm"]
    first = score_episodes(shockable, episodes_of(alarm, ("vfib", "vflutter"),
                                                  d["n_samples"]), fs)
    vf = score_episodes(shockable, episodes_of(alerts, ("vfib",), d["n_samples"]), fs)
    return {"vflutter": len(onsets),
            "vflutter_alarm": sum(a["severity"] == "alarm" for a in onsets),
            "inside": len(inside), "inside_alarm": sum(a["severity"] == "alarm" for a in inside),
            "ref": first["ref"], "found": first["ref_found"], "latency_s": first["latency_s"],
            "vfib_found": vf["ref_found"], "vfib_latency_s": vf["latency_s"]}


def summarise(rows: list[dict]) -> dict:
    import numpy as np

    def lat(key: str) -> dict:
        v = [x for r in rows for x in r[key]]
        return {"median_s": round(float(np.median(v)), 2) if v else None,
                "worst_s": round(float(np.max(v)), 2) if v else None, "n": len(v)}

    n = {k: sum(r[k] for r in rows) for k in ("vflutter", "vflutter_alarm", "inside",
                                              "inside_alarm", "ref", "found", "vfib_found")}
    return {**n, "outside": n["vflutter"] - n["inside"],
            "outside_alarm": n["vflutter_alarm"] - n["inside_alarm"],
            "first_alarm_latency": lat("latency_s"), "vfib_latency": lat("vfib_latency_s")}


def markdown(res: dict) -> str:
    c = res["confirm"]
    L = ["# `vflutter` graded by the VF stage (`[rhythm.vflutter] confirm`)", "",
         f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']} s",
         f"- Command: `{res['command']}` (protocol: the script's docstring)",
         f"- Confirmed: a shockable window (P >= p_shockable, not vetoed) ending from "
         f"{c['lookback_s']:g} s before to {c['hold_s']:g} s after the onset. Every record is "
         "scored by the VF models of its record-wise CV fold (out of fold); MIT-BIH DS2 is "
         "not read." + (f" Fold models: `{res['folds_dir']}` (`--folds-dir`)."
                        if res.get("folds_dir") else ""), "",
         "| set | signal | confirm | `vflutter` onsets | alarms | inside VF: alarms / onsets "
         "| outside VF: alarms / onsets | VF episodes found (first alarm) | first alarm "
         "latency median / worst (n) | `vfib` alone: found, latency median / worst |",
         "|---|---|---|---:|---:|---|---|---|---|---|"]
    for row in res["rows"]:
        s = row["summary"]
        fa, va = s["first_alarm_latency"], s["vfib_latency"]
        L.append(f"| {row['set']} | {row['signal']} | {'on' if row['confirm'] else 'off'} | "
                 f"{s['vflutter']} | {s['vflutter_alarm']} | {s['inside_alarm']} / "
                 f"{s['inside']} | {s['outside_alarm']} / {s['outside']} | {s['found']} / "
                 f"{s['ref']} | {fa['median_s']} / {fa['worst_s']} s ({fa['n']}) | "
                 f"{s['vfib_found']} / {s['ref']}, {va['median_s']} / {va['worst_s']} s |")
    return "\n".join(L + [""])


def main(argv: list[str] | None = None) -> int:
    from edge.runtime.ventricular import FlutterConfirmConfig

    d = FlutterConfirmConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--skip-noise", action="store_true", help="leave out the em 6 dB replays")
    ap.add_argument("--lookback-s", type=float, default=d.lookback_s)
    ap.add_argument("--hold-s", type=float, default=d.hold_s)
    ap.add_argument("--folds-dir", default=None, metavar="DIR",
                    help="the VF fold models of another recipe: DIR/vf_trees_fold<k>.json and "
                         "DIR/fold<k>.tflite, e.g. the handheld recipe's CV (see the module "
                         "docstring); default: the shipped (monitor) recipe's")
    args = ap.parse_args(argv)
    from edge.errors import ConfigError, EdgeError

    try:
        FlutterConfirmConfig(confirm=True, lookback_s=args.lookback_s, hold_s=args.hold_s)
    except ConfigError as exc:
        ap.error(str(exc))
    if args.folds_dir is not None:
        why = check_folds_dir(Path(args.folds_dir))
        if why:
            ap.error(f"--folds-dir: {why}")
    t0 = time.time()
    try:
        models, nets = (dir_models(Path(args.folds_dir)) if args.folds_dir
                        else (fold_models(), fold_nets()))
    except EdgeError as exc:  # fold networks missing, or made with other folds
        print(f"bench_flutter_grading: error: {exc}", file=sys.stderr)
        return 2
    on = ("rhythm.vflutter.confirm=true", f"rhythm.vflutter.lookback_s={args.lookback_s}",
          f"rhythm.vflutter.hold_s={args.hold_s}")
    res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git": git_head(),
           "command": " ".join(["python benchmarks/bench_flutter_grading.py",
                                *(argv if argv is not None else sys.argv[1:])]),
           "confirm": {"lookback_s": args.lookback_s, "hold_s": args.hold_s},
           "folds_dir": args.folds_dir, "rows": []}
    for noisy in (False, True)[:1 if args.skip_noise else 2]:
        for name, records in SETS.items():
            for confirm in (False, True):
                settings = on if confirm else ()  # bench_ventricular's replays: ungraded
                per = {}
                for r in records:
                    d = daemon_alerts(r, models[r], noisy, nets[r], settings)
                    per[r] = score_record(d, list(episodes(r).shockable))
                row = {"set": name, "signal": "em 6 dB" if noisy else "clean",
                       "confirm": confirm, "summary": summarise(list(per.values())),
                       "per_record": per}
                print(row["set"], row["signal"], confirm, row["summary"], flush=True)
                res["rows"].append(row)
    res["wall_s"] = round(time.time() - t0)
    print(write_results(args.out, "flutter_grading", res, markdown))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench_flutter_grading: interrupted; nothing written", file=sys.stderr)
        sys.exit(130)
