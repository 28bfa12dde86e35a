"""Pauses and asystole: the ``pause`` and ``asystole`` alerts against the reference beats.

    MITDB_DIR=... SVDB_DIR=... CUDB_DIR=... python benchmarks/bench_pauses.py \\
        [--sets ds1,ds2,svdb,cudb] [--jobs 2] [--set KEY=VALUE ...] [--baseline KEY=VALUE ...]
        [--records A,B] [--limit N] [--chunk-s S] [--out DIR]

Protocol
--------
Every record of a set is replayed through the daemon's per-device chain
(:class:`edge.runtime.device.DeviceStream`: settings as shipped plus ``--set``, the bundled
models, no strip) in 10-s chunks (``--chunk-s``; every stage is chunk-invariant), channel 0.

Reference pauses: two consecutive annotated beats (any beat symbol of the database) more than
``alerts.pause_s`` (2.5 s) apart, with no noise / unreadable mark (``~``, ``|``, ``U``) and no
ventricular flutter / fibrillation mark (``[``, ``!``, ``]``) between them and not inside a
``(VF``/``(VFL`` rhythm: a stretch without beats in VF is not a pause.

* ``pause`` (a warning raised at the beat that ends a trustworthy interval longer than
  ``pause_s``): a reference pause is found when a ``pause`` alert is dated from 0.2 s before
  its first beat to 0.2 s after its last; an alert that finds none is counted apart (mostly
  beats the detector missed, which only a second lead could tell from a pause).
* ``asystole`` (an alarm raised while no beat comes for ``alerts.asystole_s``, 4 s): a
  reference pause at least that long is found when an ``asystole`` onset lies inside it (to
  0.2 s after its last beat); an onset inside no reference pause of that length is counted
  apart.

Sets: ``ds1`` and ``ds2`` (MIT-BIH, de Chazal; 360 Hz; ``$MITDB_DIR``), ``svdb`` (39 records,
128 Hz, ``$SVDB_DIR``), ``cudb`` (35 records, 250 Hz, ``$CUDB_DIR``; VF episodes). Nothing of
the alerts was fitted on any of them; the quality stage's quiet floor
(``quality.quiet_hf_rms_mv``) was set on DS1's noisy windows. ``--baseline KEY=VALUE`` also
replays every record with those settings (e.g. ``quality.quiet_hf_rms_mv=0``, the grading
before the floor) and reports both, with the records whose alerts differ.

Writes ``benchmarks/results/pauses.{json,md}`` (``--out`` for another folder).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    add_replay_options,
    git_head,
    ignore_sigint,
    parse_sets,
    replay_alerts,
    replay_options,
    run_bench,
    worker_classifier,
    write_results,
)

SETS = ("ds1", "ds2", "svdb", "cudb")
_DATABASE = {"ds1": "mitdb", "ds2": "mitdb", "svdb": "svdb", "cudb": "cudb"}
#: Annotation symbols of beats (MIT-BIH / PhysioNet beat codes).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ")
_UNREADABLE = frozenset("~|U")
_VF_MARKS = frozenset("[!]")
TOL_S = 0.2


def set_records(name: str) -> tuple[Path, list[str]]:
    """The data folder and record names of a set."""
    from edge.io.records import find_data_dir
    from training.data import DS1, DS2

    d = find_data_dir(_DATABASE[name])
    if name in ("ds1", "ds2"):
        return d, list(DS1 if name == "ds1" else DS2)
    listing = d / "RECORDS"
    if not listing.is_file():
        from edge.errors import DataNotFoundError

        raise DataNotFoundError(f"{listing} not found (the {name} folder lists its records "
                                "in RECORDS)", path=str(listing))
    return d, listing.read_text().split()


def reference_pauses(sample_index, symbol, aux_note, fs_hz: float, pause_s: float
                     ) -> list[tuple[int, int]]:
    """``(first beat, last beat)`` sample pairs of the reference pauses (module docstring)."""
    out: list[tuple[int, int]] = []
    prev, blocked, in_vf = None, False, False
    for at, sym, aux in zip(sample_index, symbol, aux_note):
        if sym == "+":
            rhythm = (aux or "").strip("\x00").strip()
            in_vf = rhythm.startswith("(VF")
            blocked |= in_vf
        elif sym in _UNREADABLE or sym in _VF_MARKS:
            blocked = True
        elif sym in BEAT_SYMBOLS:
            if prev is not None and not blocked and not in_vf and (at - prev) / fs_hz > pause_s:
                out.append((int(prev), int(at)))
            prev, blocked = int(at), in_vf
    return out


def score(pauses: list[tuple[int, int]], pause_at: list[int], asystole_at: list[int],
          fs_hz: float, asystole_s: float) -> dict:
    """Found / unmatched counts of one record (module docstring)."""
    tol = int(round(TOL_S * fs_hz))
    long = [(a, b) for a, b in pauses if (b - a) / fs_hz >= asystole_s]
    found = sum(any(a - tol <= p <= b + tol for p in pause_at) for a, b in pauses)
    extra = sum(not any(a - tol <= p <= b + tol for a, b in pauses) for p in pause_at)
    a_found = sum(any(a <= p <= b + tol for p in asystole_at) for a, b in long)
    a_extra = sum(not any(a <= p <= b + tol for a, b in long) for p in asystole_at)
    return {"ref_pauses": len(pauses), "pauses_found": found, "pause_alerts": len(pause_at),
            "pause_alerts_unmatched": extra, "ref_long": len(long), "asystole_found": a_found,
            "asystole_alarms": len(asystole_at), "asystole_unmatched": a_extra}


def replay(job: tuple[str, str, tuple[str, ...], float]) -> dict:
    """One record's alerts and score."""
    path, name, settings, chunk_s = job
    import numpy as np

    from edge.io.records import read_annotations, read_record
    from edge.runtime.settings import load_config

    cfg = load_config(None, ['source.serial.port="x"', *settings])
    rec = read_record(path)
    ann = read_annotations(path)
    fs = float(rec.fs_hz)
    x = rec.signal_mv[:, :1].astype(np.float64)
    alerts, _ = replay_alerts(worker_classifier(), x, fs, chunk_s, settings)
    pause_at = [e.sample_index for e in alerts if e.kind == "pause"]
    asystole_at = [e.sample_index for e in alerts if e.kind == "asystole" and e.state == "onset"]
    ref = reference_pauses(ann.sample_index, ann.symbol, ann.aux_note, fs, cfg.alerts.pause_s)
    out = {"record": name, "hours": x.shape[0] / fs / 3600,
           "pauses_s": [round(e.sample_index / fs, 2) for e in alerts if e.kind == "pause"],
           "asystole_s": [round(t / fs, 2) for t in asystole_at]}
    out.update(score(ref, pause_at, asystole_at, fs, cfg.alerts.asystole_s))
    return out


_KEYS = ("ref_pauses", "pauses_found", "pause_alerts", "pause_alerts_unmatched", "ref_long",
         "asystole_found", "asystole_alarms", "asystole_unmatched")



def run_set(name: str, settings: tuple[str, ...], jobs: int, chunk_s: float,
            limit: int | None = None, only: list[str] | None = None) -> dict:
    d, names = set_records(name)
    names = [r for r in names if only is None or r in only]
    names = names[:limit] if limit else names
    work = [(str(d / r), r, settings, chunk_s) for r in names]
    if jobs > 1:
        with Pool(jobs, initializer=ignore_sigint) as pool:
            rows = pool.map(replay, work)
    else:
        rows = [replay(w) for w in work]
    total = {k: sum(r[k] for r in rows) for k in _KEYS}
    total["hours"] = round(sum(r["hours"] for r in rows), 2)
    return {"settings": list(settings), "total": total, "records": rows}


def _rate(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.1f} %)" if n else "0/0"


def markdown(res: dict) -> str:
    lines = ["# Pauses and asystole against the reference beats", "",
             f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']:.0f} s",
             f"- Command: `{res['command']}`",
             f"- Daemon chain (`DeviceStream`), {res['chunk_s']:g}-s chunks, channel 0; "
             f"reference pause: > {res['pause_s']:g} s between annotated beats (no noise or "
             f"VF mark between); long: >= {res['asystole_s']:g} s (`alerts.asystole_s`).",
             "", "| set | settings | hours | reference pauses | `pause` found | `pause` "
             "alerts without one | long pauses | `asystole` found | `asystole` alarms without "
             "one |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, run in res["runs"].items():
        t = run["total"]
        lines.append(f"| {key.split(' | ')[0]} | {' '.join(run['settings']) or 'as shipped'} "
                     f"| {t['hours']:.2f} | {t['ref_pauses']} | "
                     f"{_rate(t['pauses_found'], t['ref_pauses'])} | "
                     f"{t['pause_alerts_unmatched']} | {t['ref_long']} | "
                     f"{_rate(t['asystole_found'], t['ref_long'])} | {t['asystole_unmatched']} |")
    lines += ["", "## Records with a reference pause or an alert", "",
              "| set | settings | record | reference pauses | `pause` found | without one | "
              "long | `asystole` found | without one |", "|---|---|---|---:|---:|---:|---:|---:|"
              "---:|"]
    for key, run in res["runs"].items():
        for r in run["records"]:
            if r["ref_pauses"] or r["pause_alerts"] or r["asystole_alarms"]:
                lines.append(f"| {key.split(' | ')[0]} | "
                             f"{' '.join(run['settings']) or 'as shipped'} | {r['record']} | "
                             f"{r['ref_pauses']} | {r['pauses_found']} | "
                             f"{r['pause_alerts_unmatched']} | {r['ref_long']} | "
                             f"{r['asystole_found']} | {r['asystole_unmatched']} |")
    if res.get("differ"):
        lines += ["", "Records whose alerts differ from the baseline: "
                  + ", ".join(res["differ"]) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Protocol and sets: the module docstring.")
    ap.add_argument("--sets", default="ds1,ds2,svdb,cudb",
                    help="comma-separated: ds1, ds2, svdb, cudb")
    ap.add_argument("--chunk-s", type=float, default=10.0, help="chunk length (s, default 10)")
    add_replay_options(ap, "pauses")
    args = ap.parse_args(argv)
    names = parse_sets(ap, args.sets, SETS)
    if not (args.chunk_s == args.chunk_s and 0.001 <= args.chunk_s <= 3600):
        ap.error(f"--chunk-s: must lie in 0.001..3600 s, got {args.chunk_s}")
    only, settings, baseline = replay_options(ap, args)

    def job() -> int:
        from edge.runtime.settings import load_config

        listed = {n: set(set_records(n)[1]) for n in names}  # every folder before any work
        missing = sorted(set(only or ()).difference(*listed.values()))
        if missing:
            print(f"bench_pauses: error: --records: {', '.join(missing)} not in the sets "
                  f"{', '.join(names)}", file=sys.stderr)
            return 2
        cfg = load_config(None, ['source.serial.port="x"', *settings])
        t0 = time.time()
        res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "git": git_head(),
               "command": " ".join(["python benchmarks/bench_pauses.py",
                                    *(argv if argv is not None else sys.argv[1:])]),
               "chunk_s": args.chunk_s, "limit": args.limit,
               "records": only, "pause_s": cfg.alerts.pause_s,
               "asystole_s": cfg.alerts.asystole_s, "runs": {}}
        differ = []
        for n in names:
            if only is not None and not listed[n] & set(only):
                continue
            res["runs"][n] = now = run_set(n, settings, args.jobs, args.chunk_s, args.limit,
                                           only)
            print(f"{n}: {now['total']}", file=sys.stderr)
            if baseline is not None:
                res["runs"][f"{n} | baseline"] = before = run_set(n, baseline, args.jobs,
                                                                  args.chunk_s, args.limit,
                                                                  only)
                print(f"{n} baseline: {before['total']}", file=sys.stderr)
                differ += [f"{n} {a['record']}" for a, b in zip(now["records"],
                                                                 before["records"])
                           if (a["pauses_s"], a["asystole_s"]) != (b["pauses_s"],
                                                                  b["asystole_s"])]
        res["differ"] = differ
        res["wall_s"] = time.time() - t0
        print(write_results(args.out, "pauses", res, markdown))
        return 0

    return run_bench("bench_pauses", job, data_dir_option=False)


if __name__ == "__main__":
    sys.exit(main())
