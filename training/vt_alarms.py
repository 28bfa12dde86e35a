"""Design numbers of the beat-based ventricular alarms (issue 17): the learning period and the
``vt`` evidence gate, on MIT-BIH DS1 only (DS2 records are refused).

    MITDB_DIR=... NSTDB_DIR=... ECG_EDGE_CACHE=... python -m training.vt_alarms \\
        [--starts] [--gate] [--grade] [--variants clean,em12,em6]

``--starts``: every DS1 record is streamed from every ``STEP_S`` (120 s) for ``LEN_S`` (60 s)
through :class:`edge.pipeline.BeatPipeline` (1-s chunks); prints, by beat position in the
stream, how often a non-V reference beat is called V, then the alarm-level ``vt`` / ``v_run``
onsets whose first beat is not a reference V (all, and dated in the first 10 beats) for
several learning lengths, with and without the evidence gate, and the longest hold.

``--gate``: each DS1 record (clean, and with NSTDB noise at the variants' SNR) is replayed
through the daemon's per-device chain (:class:`edge.runtime.device.DeviceStream`, 1-s chunks)
and the beats it gives the VT tracker are kept; :class:`edge.runtime.ventricular.VtTracker`
is then run on them for several ``min_v_evidence``: false ``vt`` alarms on the DS1 records
without VT/VFL/VF (per hour) and the DS1 ``(VT`` episodes an alarm overlaps.

``--grade``: the same replays, :class:`~edge.runtime.ventricular.VtTracker` run with
``alarm_min_beats`` 3-6 (a run shorter than it is a ``warning``): alarm-grade and warning
``vt`` onsets on the DS1 records without VT/VFL/VF, the DS1 ``(VT`` episodes found by an
alarm-grade ``vt`` and by either grade, those holding >= 5 reference V beats found by an alarm,
and how much later their alarm is raised than with ``alarm_min_beats`` 3 (s, from the beat that
raised it); ``--cudb`` adds CUDB's records (no beat annotations there: the run lengths of its
``(VT`` episodes are not known).

All three cache under ``$ECG_EDGE_CACHE`` (``vt_alarms_*``).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from training.data import DS1, DS2, reference_beats
from training.dataset import cache_dir
from training.tool import env_only
from training.ventricular import (
    episodes,
    interval_overlap,
    noisy_signal,
    parse_variant,
    record_signal,
)

STEP_S, LEN_S = 120, 60
LEARNING = (0, 5, 10, 15, 20)
EVIDENCE = (0.0, 0.5, 0.7, 0.9, 1.1)
MATCH_S = 0.15


def _design_only(record: str) -> None:
    if record in DS2:
        raise SystemExit(f"{record} is a DS2 (test) record: design numbers use DS1 only")


def _classifier():
    from edge.model.bundled import default_model_path
    from edge.model.classifier import BeatClassifier

    return BeatClassifier(default_model_path())


def _ref_labels(record: str, at: np.ndarray, fs: float) -> np.ndarray:
    """The reference AAMI class of each detected beat (``-``: none matched), by the EC57
    matcher :func:`edge.eval.scoring.match_beats` (``MATCH_S`` window)."""
    from edge.eval.scoring import match_beats

    ref = reference_beats(record)
    out = np.full(at.size, "-", dtype=object)
    order = np.argsort(ref.sample_index, kind="stable")
    _, det_to_ref = match_beats(ref.sample_index, at, fs, window_ms=1000.0 * MATCH_S)
    hit = det_to_ref >= 0
    det_order = np.argsort(at, kind="stable")
    out[det_order[hit]] = np.asarray(ref.aami, dtype=object)[order[det_to_ref[hit]]]
    return out


def start_streams(record: str, classifier=None) -> dict:  # noqa: ANN001
    """Beats of the streams that start every ``STEP_S`` in a DS1 record (cached)."""
    _design_only(record)
    path = cache_dir() / f"vt_alarms_starts_{record}_{STEP_S}_{LEN_S}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=True)
        return {k: z[k] for k in z.files}
    from edge.pipeline import BeatPipeline, ClassifiedBeats

    clf = classifier or _classifier()
    x, fs = record_signal(record)
    step, n = int(fs), int(LEN_S * fs)
    cols: dict[str, list] = {k: [] for k in ("seg", "pos", "at", "label", "p_v")}
    iv = list(clf.classes).index("V")
    for seg, off in enumerate(range(0, x.size - n, int(STEP_S * fs))):
        pipe = BeatPipeline(clf, fs)
        xs = x[off:off + n]
        parts = [pipe.process(xs[i:i + step]) for i in range(0, xs.size, step)]
        b = ClassifiedBeats.concatenate(parts + [pipe.flush()])
        cols["seg"] += [seg] * len(b)
        cols["pos"] += list(range(len(b)))
        cols["at"] += (b.sample_index + off).tolist()
        cols["label"] += [str(v) for v in b.label]
        cols["p_v"] += b.proba[:, iv].tolist()
    out = {k: np.asarray(v) for k, v in cols.items()}
    out["ref"] = _ref_labels(record, out["at"], fs).astype(str)
    out["fs"] = np.float64(fs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def _streams(d: dict):
    """The beat rows of each stream of a :func:`start_streams` result."""
    seg = d["seg"]
    for s in np.unique(seg):
        yield np.flatnonzero(seg == s)


def learning_table(records=DS1) -> None:
    """Print the start-of-stream numbers (``--starts``)."""
    from edge.runtime.alerts import AlertConfig, BeatInfo, RhythmMonitor
    from edge.runtime.ventricular import VtConfig, VtTracker

    clf = _classifier()
    data = {r: start_streams(r, clf) for r in records}
    pos = np.concatenate([d["pos"] for d in data.values()])
    lab = np.concatenate([d["label"] for d in data.values()])
    ref = np.concatenate([d["ref"] for d in data.values()])
    non_v = (ref != "-") & (ref != "V") & (ref != "Q")
    n_streams = sum(len(list(_streams(d))) for d in data.values())
    print(f"{n_streams} streams of {LEN_S} s (every {STEP_S} s of {len(records)} records)")
    print("beat position | non-V reference beats | called V")
    for lo, hi in ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 10), (10, 12), (12, 20),
                   (20, 10 ** 6)):
        m = non_v & (pos >= lo) & (pos < hi)
        print(f"{lo}-{min(hi - 1, 999)} | {m.sum()} | {100 * np.mean(lab[m] == 'V'):.2f} %")
    print("learning beats, min_v_evidence | false onsets (first beat not reference V): "
          "vt all / dated in beats 0-9, v_run(vt) all / 0-9 | runs raised when learning "
          "ended, longest hold (s)")
    for n_learn in LEARNING:
        for ev in (0.0, VtConfig().min_v_evidence):
            false = {"vt": [0, 0], "v_run": [0, 0]}
            holds: list[float] = []
            for d in data.values():
                fs = float(d["fs"])
                for rows in _streams(d):
                    mon = RhythmMonitor(AlertConfig(learning_beats=n_learn), fs_hz=fs)
                    vt = VtTracker(VtConfig(learning_beats=n_learn, min_v_evidence=ev),
                                   fs_hz=fs)
                    at = d["at"][rows]
                    where = {int(a): k for k, a in enumerate(at)}
                    for k, i in enumerate(rows):
                        rr = (at[k] - at[k - 1]) / fs if k else math.nan
                        b = BeatInfo(int(at[k]), str(d["label"][i]), rr, k > 0,
                                     float(d["p_v"][i]))
                        for e in mon.process([b]) + vt.process([b]):
                            if e.state != "onset" or e.kind not in false:
                                continue
                            if e.kind == "v_run" and not e.detail["vt"]:
                                continue
                            first = where[int(e.sample_index)]
                            if e.detail.get("learning_held") and e.kind == "vt":
                                holds.append((at[k] - e.sample_index) / fs)
                            if d["ref"][rows[first]] != "V":
                                false[e.kind][0] += 1
                                false[e.kind][1] += first < 10
            print(f"{n_learn}, {ev} | vt {false['vt'][0]} / {false['vt'][1]}, v_run "
                  f"{false['v_run'][0]} / {false['v_run'][1]} | {len(holds)}, "
                  f"{max(holds) if holds else 0.0:.2f}")


def replay_beats(record: str, variant: str, classifier=None) -> dict:  # noqa: ANN001
    """The beats :class:`DeviceStream` gives the VT tracker for a DS1 record (cached)."""
    _design_only(record)
    path = cache_dir() / f"vt_alarms_replay_{record}_{variant}.npz"
    if path.is_file():
        z = np.load(path)
        return {k: z[k] for k in z.files}
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    x, fs = record_signal(record)
    noise = parse_variant(variant)
    if noise is not None:
        x = noisy_signal(record, x, fs, snr_db=noise[1], noise=noise[0])
    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false"])
    dev = DeviceStream(classifier or _classifier(), cfg, device_id=1, fs_hz=fs)
    fed: list = []
    vent = dev.ventricular
    beats = vent.beats

    def record_beats(infos):  # noqa: ANN001, ANN202 - keeps what the daemon feeds
        fed.extend(infos)
        return beats(infos)

    vent.beats = record_beats
    step = int(fs)
    for i in range(0, x.size, step):
        dev.process(i, x[i:i + step, None])
    dev.flush()
    out = {"at": np.array([b.sample_index for b in fed], dtype=np.int64),
           "label": np.array([b.label for b in fed]),
           "rr": np.array([b.rr_pre_s for b in fed]),
           "clean": np.array([b.clean for b in fed]),
           "p_v": np.array([b.p_v for b in fed]),
           "fs": np.float64(fs), "n": np.int64(x.size)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def vt_episodes(d: dict, config) -> list[tuple[int, int, str, int]]:  # noqa: ANN001
    """``vt`` episodes of replayed beats under a VT config: (onset index, end index,
    severity, index of the beat whose arrival raised the onset; the end of the stream: the
    record's length)."""
    from edge.runtime.alerts import BeatInfo
    from edge.runtime.ventricular import VtTracker

    t = VtTracker(config, fs_hz=float(d["fs"]))
    raised: list[tuple[object, int]] = []
    for a, lab, rr, c, p in zip(d["at"], d["label"], d["rr"], d["clean"], d["p_v"]):
        raised += [(e, int(a)) for e in t.process([BeatInfo(int(a), str(lab), float(rr),
                                                            bool(c), float(p))])]
    raised += [(e, int(d["n"])) for e in t.flush()]
    out, start = [], None
    for e, at in raised:
        if e.state == "onset":
            start = (e.sample_index, e.severity, at)
        elif start is not None:
            out.append((start[0], max(e.sample_index, start[0] + 1), start[1], start[2]))
            start = None
    return out


def vt_runs(d: dict, config) -> list[tuple[int, int]]:  # noqa: ANN001
    """``vt`` episodes (onset index, end index) of replayed beats under a VT config."""
    return [(s, e) for s, e, _, _ in vt_episodes(d, config)]


def gate_table(variants: tuple[str, ...], records=DS1) -> None:
    """Print the evidence-gate numbers (``--gate``)."""
    from edge.runtime.ventricular import VtConfig

    clf = _classifier()
    eps = {r: episodes(r) for r in records}  # each reads the record's annotation file
    with_vt = [r for r in records if eps[r].vt or eps[r].shockable]
    quiet = [r for r in records if r not in with_vt]
    hours = sum(eps[r].n_samples / eps[r].fs_hz for r in quiet) / 3600
    print(f"DS1: {len(quiet)} records without VT/VFL/VF ({hours:.2f} h); "
          f"{sum(len(eps[r].vt) for r in with_vt)} (VT episodes in {with_vt}")
    print("variant | min_v_evidence | false vt (per hour) | (VT episodes found | lost vs 0")
    for v in variants:
        data = {r: replay_beats(r, v, clf) for r in records}
        base: set = set()
        for ev in EVIDENCE:
            cfg = replace(VtConfig(), min_v_evidence=ev)
            n_false = sum(len(vt_runs(data[r], cfg)) for r in quiet)
            found = set()
            for r in with_vt:
                runs = vt_runs(data[r], cfg)
                for s, e in eps[r].vt:
                    if any(interval_overlap((s, e), a) for a in runs):
                        found.add((r, s))
            if ev == 0.0:
                base = found
            lost = sorted((r, round(s / float(data[r]["fs"]), 1)) for r, s in base - found)
            print(f"{v} | {ev} | {n_false} ({n_false / hours:.2f}/h) | "
                  f"{len(found)} | {lost}")


GRADES = (3, 4, 5, 6)
#: (VT episodes with at least this many reference V beats are the ones a V-Tach alarm is for.
LONG_RUN_BEATS = 5


def grade_table(variants: tuple[str, ...], records=DS1, name: str = "DS1") -> None:
    """Print the ``vt`` severity-by-run-length numbers (``--grade``) of ``records``."""
    from edge.runtime.ventricular import VtConfig

    clf = _classifier()
    eps = {r: episodes(r) for r in records}
    with_vt = [r for r in records if eps[r].vt]
    quiet = [r for r in records if not (eps[r].vt or eps[r].shockable)]
    hours = sum(eps[r].n_samples / eps[r].fs_hz for r in quiet) / 3600
    long_runs = set()
    for r in with_vt:
        if r.startswith("cu"):  # CUDB has no beat annotations: its runs' length is not known
            continue
        ref = reference_beats(r)
        v = ref.sample_index[ref.aami == "V"]
        long_runs |= {(r, s) for s, e in eps[r].vt
                      if np.sum((v >= s) & (v <= e)) >= LONG_RUN_BEATS}
    n_vt = sum(len(eps[r].vt) for r in with_vt)
    print(f"{name}: {len(quiet)} records without VT/VFL/VF ({hours:.2f} h); {n_vt} (VT episodes, "
          f"{len(long_runs)} of >= {LONG_RUN_BEATS} reference V beats")
    print("variant | alarm_min_beats | false alarms (per hour) | false warnings | (VT found by "
          f"an alarm | by either | >= {LONG_RUN_BEATS} V found by an alarm | their alarm later "
          "than at 3: median / worst s | lost")
    for var in variants:
        data = {r: replay_beats(r, var, clf) for r in records}
        base_found: set = set()
        base_at: dict = {}
        for k in GRADES:
            cfg = replace(VtConfig(), alarm_min_beats=k)
            n_alarm = n_warn = 0
            for r in quiet:
                sev = [g for _, _, g, _ in vt_episodes(data[r], cfg)]
                n_alarm += sev.count("alarm")
                n_warn += sev.count("warning")
            alarm_found, any_found, at = set(), set(), {}
            for r in with_vt:
                runs = vt_episodes(data[r], cfg)
                for s, e in eps[r].vt:
                    hit = [x for x in runs if interval_overlap((s, e), x[:2])]
                    if hit:
                        any_found.add((r, s))
                    alarms = [x for x in hit if x[2] == "alarm"]
                    if alarms:
                        alarm_found.add((r, s))
                        at[(r, s)] = min(x[3] for x in alarms) / float(data[r]["fs"])
            if k == GRADES[0]:
                base_found, base_at = alarm_found, at
            long_found = long_runs & alarm_found
            later = [at[x] - base_at[x] for x in long_found if x in base_at]
            lost = sorted((r, round(s / float(data[r]["fs"]), 1))
                          for r, s in (base_found - any_found)
                          | ((base_found & long_runs) - alarm_found))
            delay = (f"{np.median(later):.2f} / {max(later):.2f}" if later else "-")
            print(f"{var} | {k} | {n_alarm} ({n_alarm / hours:.2f}/h) | {n_warn} | "
                  f"{len(alarm_found)} | {len(any_found)} | {len(long_found)} | {delay} | "
                  f"{lost}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", action="store_true", help="the learning-period numbers")
    ap.add_argument("--gate", action="store_true", help="the vt evidence-gate numbers")
    ap.add_argument("--grade", action="store_true",
                    help="the vt severity-by-run-length numbers (alarm_min_beats)")
    ap.add_argument("--cudb", action="store_true",
                    help="--grade also on CUDB's 35 records (their (VT episodes; CUDB has no "
                         "beat annotations)")
    ap.add_argument("--variants", default="clean,em12,em6",
                    help="signal variants for --gate (clean, em6, em12, ma6, ...)")
    args = ap.parse_args(argv)
    try:
        variants = tuple(v for v in args.variants.split(",") if v)
        for v in variants:
            parse_variant(v)
    except ValueError as exc:
        ap.error(str(exc))
    if not (args.starts or args.gate or args.grade):
        ap.error("choose --starts, --gate and/or --grade")
    try:
        if args.starts:
            learning_table()
        if args.gate:
            gate_table(variants)
        if args.grade:
            grade_table(variants)
            if args.cudb:
                from training.ventricular import CUDB_RECORDS

                grade_table(variants, CUDB_RECORDS, "CUDB")
    except EdgeError as exc:  # a missing or damaged database: its variable named
        print(f"python -m training.vt_alarms: {env_only(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m training.vt_alarms: interrupted (replays already cached stay in "
              "$ECG_EDGE_CACHE)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
