"""Frame loss on the link: beats, beat classes and alerts when a wearable's frames go missing.

    MITDB_DIR=... SVDB_DIR=... python benchmarks/bench_link_loss.py \\
        [--sets ds1,ds2,svdb] [--loss 0,1,5,10,25] [--frame-ms 100] [--max-s 600]
        [--baseline KEY=VALUE ...] [--jobs 2] [--records A,B] [--limit N] [--out DIR]

Protocol
--------
The first ``--max-s`` seconds of every record of a set (channel 0) are cut into frames of
``--frame-ms`` (100 ms, a wearable's notification) and fed to the daemon's per-device chain
(:class:`edge.runtime.device.DeviceStream`: settings as shipped, the bundled models, no strip);
each frame but the first is lost with probability ``loss`` (independent draws, seeded by the
record's name, the same frames lost for every setting). A lost frame is a link gap the daemon
fills (``pipeline.max_gap_fill_s``).

* Beats: a reference beat (any annotated beat) whose R peak lies in a received frame is found
  when a beat event lies within 150 ms of it; a beat event within 150 ms of no reference beat
  (received or not) is a false one. Se and +P as EC57 counts them.
* Classes: over the found beats, the AAMI class of each against its reference's (N, S, V, F,
  Q); V and S sensitivity and +P, and the share of beats labelled Q (unclassifiable: the
  window holds invalid samples).
* Alerts: onsets (and single events) per kind, next to the same set without loss.
* Heart rate: each ``hr`` event's rate against the reference's over the same window (the
  annotated beats' intervals ending in the event's ``window_s`` before it, the daemon's own
  estimator: beats over their intervals' time): bias (mean signed error, bpm), mean absolute
  error, the share of events more than 5 bpm off, and the share of events without a rate
  when the reference has one.

``--baseline KEY=VALUE`` also runs every record with those settings, e.g.
``pipeline.bridge_gaps=false`` (gaps blanked, as before 2026-12-03). Choose on ``ds1``; ``ds2``
is the inter-patient test set (list every look); ``svdb`` is 128 Hz (the resampled path).

Writes ``benchmarks/results/link_loss.{json,md}`` (``--out`` for another folder).
"""
from __future__ import annotations

import argparse
import sys
import time
import zlib
from datetime import datetime, timezone
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pauses import set_records  # noqa: E402
from benchmarks.common import (  # noqa: E402
    add_replay_options,
    finite_float,
    git_head,
    ignore_sigint,
    parse_sets,
    replay_options,
    run_bench,
    worker_classifier,
    write_results,
)

SETS = ("ds1", "ds2", "svdb")
TOL_S = 0.15
CLASSES = "NSVFQ"
ALERT_KINDS = ("vt", "v_run", "bigeminy", "trigeminy", "svt", "afib", "aflutter", "pause",
               "asystole", "vfib", "vflutter", "bradycardia", "tachycardia")

def lost_frames(name: str, n_frames: int, loss: float, seed: int = 0):  # noqa: ANN201
    """bool (n_frames,): which frames are lost (never the first)."""
    import numpy as np

    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])
    out = rng.random(n_frames) < loss
    out[:1] = False
    return out


def score(ref_at, ref_label, lost, beat_at, beat_label, fs_hz: float) -> dict:  # noqa: ANN001
    """Counts of one record (module docstring); ``lost`` is the per-sample loss mask."""
    import numpy as np

    tol = int(round(TOL_S * fs_hz))
    ref_at = np.asarray(ref_at, dtype=np.int64)
    beat_at = np.asarray(beat_at, dtype=np.int64)
    out = {"ref": int((~lost[ref_at]).sum()) if ref_at.size else 0, "found": 0, "false": 0,
           "confusion": {}}
    if beat_at.size == 0 or ref_at.size == 0:
        out["false"] = int(beat_at.size)
        return out
    j = np.searchsorted(beat_at, ref_at)
    near = np.minimum(np.abs(beat_at[np.clip(j, 0, beat_at.size - 1)] - ref_at),
                      np.abs(beat_at[np.clip(j - 1, 0, beat_at.size - 1)] - ref_at))
    out["found"] = int(((near <= tol) & ~lost[ref_at]).sum())
    k = np.searchsorted(ref_at, beat_at)
    lo, hi = np.clip(k - 1, 0, ref_at.size - 1), np.clip(k, 0, ref_at.size - 1)
    nearest = np.where(np.abs(ref_at[lo] - beat_at) <= np.abs(ref_at[hi] - beat_at), lo, hi)
    dist = np.abs(ref_at[nearest] - beat_at)
    out["false"] = int((dist > tol).sum())
    conf: dict[str, int] = {}
    for i in np.flatnonzero(dist <= tol).tolist():
        key = f"{ref_label[nearest[i]]}{beat_label[i]}"
        conf[key] = conf.get(key, 0) + 1
    out["confusion"] = conf
    return out


def hr_errors(ref_at, hr_events, fs_hz: float) -> dict:  # noqa: ANN001
    """Sums of one record's heart-rate errors (module docstring) over its ``hr`` events."""
    import numpy as np

    ref_at = np.asarray(ref_at, dtype=np.int64)
    rr = np.diff(ref_at) / fs_hz
    end = ref_at[1:]
    out = {"hr_n": 0, "hr_err": 0.0, "hr_abs": 0.0, "hr_big": 0, "hr_none": 0, "hr_ref": 0}
    for e in hr_events:
        lo = np.searchsorted(end, e.sample_index - e.window_s * fs_hz, side="right")
        hi = np.searchsorted(end, e.sample_index, side="right")
        if hi - lo < 2:
            continue
        ref = 60.0 * (hi - lo) / float(rr[lo:hi].sum())
        out["hr_ref"] += 1
        if e.hr_bpm is None:
            out["hr_none"] += 1
            continue
        err = float(e.hr_bpm) - ref
        out["hr_n"] += 1
        out["hr_err"] += err
        out["hr_abs"] += abs(err)
        out["hr_big"] += int(abs(err) > 5.0)
    return out


def replay(job: tuple) -> dict:
    """One record at one loss rate with one group of settings."""
    path, name, settings, loss, frame_ms, max_s = job
    import logging

    import numpy as np

    from edge.aami import AAMI_MAP
    from edge.io.records import read_annotations, read_record
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    logging.getLogger("edge.runtime.device").setLevel(logging.ERROR)  # a line per gap
    rec = read_record(path)
    fs = float(rec.fs_hz)
    x = rec.signal_mv[:int(round(max_s * fs)), :1].astype(np.float64)
    ann = read_annotations(path)
    keep = [(int(i), AAMI_MAP[s]) for i, s in zip(ann.sample_index, ann.symbol)
            if s in AAMI_MAP and i < x.shape[0]]
    ref_at = np.array([k[0] for k in keep], dtype=np.int64)
    ref_label = [k[1] for k in keep]
    frame = max(1, int(round(frame_ms * fs / 1000.0)))
    starts = range(0, x.shape[0], frame)
    drop = lost_frames(name, len(starts), loss)
    lost = np.zeros(x.shape[0], dtype=bool)
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false", *settings])
    dev = DeviceStream(worker_classifier(), cfg, device_id=1, fs_hz=fs)
    events = []
    for k, i in enumerate(starts):
        if drop[k]:
            lost[i:i + frame] = True
            continue
        events += dev.process(i, x[i:i + frame])
    events += dev.flush()
    beats = [e for e in events if e.type == "beat"]
    out = score(ref_at, ref_label, lost, [e.sample_index for e in beats],
                [e.label for e in beats], fs)
    alerts: dict[str, int] = {}
    for e in events:
        if e.type == "alert" and e.state in ("onset", "event"):
            alerts[e.kind] = alerts.get(e.kind, 0) + 1
    out.update(hr_errors(ref_at, [e for e in events if e.type == "hr"], fs))
    out.update(record=name, hours=x.shape[0] / fs / 3600, alerts=alerts,
               lost_share=float(lost.mean()), gaps=dev.n_gaps)
    return out


def totals(rows: list[dict]) -> dict:
    """A set's sums and rates."""
    t = {k: sum(r[k] for r in rows) for k in ("ref", "found", "false")}
    t.update({k: sum(r.get(k, 0) for r in rows)  # rows of runs before the heart-rate scoring
              for k in ("hr_n", "hr_err", "hr_abs", "hr_big", "hr_none", "hr_ref")})
    n = t["hr_n"]
    t["hr_bias_bpm"] = round(t["hr_err"] / n, 3) if n else None
    t["hr_mae_bpm"] = round(t["hr_abs"] / n, 3) if n else None
    t["hr_big_share"] = t["hr_big"] / n if n else None
    t["hr_none_share"] = t["hr_none"] / t["hr_ref"] if t["hr_ref"] else None
    conf: dict[str, int] = {}
    alerts: dict[str, int] = {}
    for r in rows:
        for k, v in r["confusion"].items():
            conf[k] = conf.get(k, 0) + v
        for k, v in r["alerts"].items():
            alerts[k] = alerts.get(k, 0) + v
    t["se"] = t["found"] / t["ref"] if t["ref"] else None
    matched = sum(conf.values())
    t["ppv"] = matched / (matched + t["false"]) if matched + t["false"] else None
    t["q_share"] = (sum(v for k, v in conf.items() if k[1] == "Q") / matched if matched
                    else None)
    for c in "VS":
        tp = conf.get(c + c, 0)
        fn = sum(v for k, v in conf.items() if k[0] == c and k[1] != c)
        fp = sum(v for k, v in conf.items() if k[1] == c and k[0] != c)
        t[f"{c}_se"] = tp / (tp + fn) if tp + fn else None
        t[f"{c}_ppv"] = tp / (tp + fp) if tp + fp else None
    t["confusion"] = dict(sorted(conf.items()))
    t["alerts"] = dict(sorted(alerts.items()))
    hours = sum(r["hours"] for r in rows)
    t["hours"] = round(hours, 3)
    t["lost_share"] = sum(r["lost_share"] * r["hours"] for r in rows) / hours if hours else 0.0
    return t


def _pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}"


def _bpm(v: float | None, sign: str = "+") -> str:
    return "–" if v is None else f"{v:{sign}.2f}"


def markdown(res: dict) -> str:
    lines = ["# Frame loss on the link: beats, classes and alerts", "",
             f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']:.0f} s",
             f"- Command: `{res['command']}`",
             f"- Daemon chain (`DeviceStream`), {res['frame_ms']:g}-ms frames, each lost with "
             f"the given probability (seeded by record); the first {res['max_s']:g} s of each "
             "record, channel 0. Beats within 150 ms; Se over the reference beats received; "
             "classes over the beats found (Q: unclassifiable, a window with invalid "
             "samples). Heart rate: each `hr` event against the reference beats' rate over "
             "the same window (bias = mean signed error; > 5: share of events more than "
             "5 bpm off; none: events without a rate where the reference has one).", "",
             "| set | settings | frames lost | hours | beats Se | beats +P | Q share | "
             "V Se / +P | S Se / +P | HR bias / MAE (bpm) | HR > 5 / none (%) | "
             "alert onsets |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for run in res["runs"]:
        t = run["total"]
        alerts = ", ".join(f"{k} {v}" for k, v in t["alerts"].items()) or "none"
        lines.append(f"| {run['set']} | {' '.join(run['settings']) or 'as shipped'} | "
                     f"{100 * t['lost_share']:.1f} % | {t['hours']:.2f} | {_pct(t['se'])} | "
                     f"{_pct(t['ppv'])} | {_pct(t['q_share'])} | {_pct(t['V_se'])} / "
                     f"{_pct(t['V_ppv'])} | {_pct(t['S_se'])} / {_pct(t['S_ppv'])} | "
                     f"{_bpm(t.get('hr_bias_bpm'))} / {_bpm(t.get('hr_mae_bpm'), '')} | "
                     f"{_pct(t.get('hr_big_share'), 1)} / {_pct(t.get('hr_none_share'), 1)} | "
                     f"{alerts} |")
    return "\n".join(lines) + "\n"


def _losses(text: str) -> list[float]:
    out = []
    for part in text.split(","):
        v = finite_float(part.strip())
        if not 0.0 <= v < 100.0:
            raise argparse.ArgumentTypeError(f"a loss is a percentage in [0, 100), got {v:g}")
        out.append(v / 100.0)
    if not out:
        raise argparse.ArgumentTypeError("no loss rate given")
    return sorted(set(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Protocol and sets: the module docstring.")
    ap.add_argument("--sets", default="ds1,ds2,svdb", help="comma-separated: ds1, ds2, svdb")
    ap.add_argument("--loss", type=_losses, default=[0.0, 0.01, 0.05, 0.10, 0.25],
                    metavar="P,P", help="frame loss rates in percent (default 0,1,5,10,25)")
    ap.add_argument("--frame-ms", type=finite_float, default=100.0,
                    help="frame length (ms, default 100)")
    ap.add_argument("--max-s", type=finite_float, default=600.0,
                    help="seconds of each record (default 600)")
    add_replay_options(ap, "link_loss")
    args = ap.parse_args(argv)
    names = list(dict.fromkeys(parse_sets(ap, args.sets, SETS)))  # each set once
    if not 1.0 <= args.frame_ms <= 10_000.0:
        ap.error(f"--frame-ms: must lie in 1..10000 ms, got {args.frame_ms:g}")
    if not 1.0 <= args.max_s <= 86_400.0:
        ap.error(f"--max-s: must lie in 1..86400 s, got {args.max_s:g}")
    only, settings, baseline = replay_options(ap, args)
    groups = [settings] + ([baseline] if baseline is not None else [])

    def job() -> int:
        listed = {n: set_records(n) for n in names}  # every folder before any work
        missing = sorted(set(only or ()).difference(*(set(v[1]) for v in listed.values())))
        if missing:
            print(f"bench_link_loss: error: --records: {', '.join(missing)} not in the sets "
                  f"{', '.join(names)}", file=sys.stderr)
            return 2
        t0 = time.time()
        res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "git": git_head(),
               "command": " ".join(["python benchmarks/bench_link_loss.py",
                                    *(argv if argv is not None else sys.argv[1:])]),
               "frame_ms": args.frame_ms, "max_s": args.max_s, "loss": args.loss,
               "records": only, "runs": []}
        work = []
        for n in names:
            d, recs = listed[n]
            recs = [r for r in recs if only is None or r in only]
            recs = recs[:args.limit] if args.limit else recs
            for settings in groups:
                for loss in args.loss:
                    work.append((n, settings, loss, [(str(d / r), r, settings, loss,
                                                      args.frame_ms, args.max_s)
                                                     for r in recs]))
        flat = [j for _, _, _, jobs in work for j in jobs]
        if args.jobs > 1:
            with Pool(args.jobs, initializer=ignore_sigint) as pool:
                rows = pool.map(replay, flat)
        else:
            rows = [replay(j) for j in flat]
        pos = 0
        for n, settings, loss, jobs in work:
            part = rows[pos:pos + len(jobs)]
            pos += len(jobs)
            if not part:
                continue
            res["runs"].append({"set": n, "settings": list(settings), "loss": loss,
                                "total": totals(part), "records": part})
        res["wall_s"] = time.time() - t0
        print(write_results(args.out, "link_loss", res, markdown))
        return 0

    return run_bench("bench_link_loss", job, data_dir_option=False)


if __name__ == "__main__":
    sys.exit(main())
