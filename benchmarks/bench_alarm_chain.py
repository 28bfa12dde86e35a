"""Alarm chaining under ``vfib``: the lower alerts raised inside ventricular fibrillation with
and without the chain (:mod:`edge.runtime.chain`), and its chunk invariance.

    CUDB_DIR=... MITDB_DIR=... SVDB_DIR=... python benchmarks/bench_alarm_chain.py \
        [--sets cudb,ds1,svdb] [--chunks 0.02,1,10]

Protocol
--------
Every record of a set is replayed through the daemon's per-device chain
(:class:`edge.runtime.device.DeviceStream`, the bundled beat model and VF detector, no strip)
once with ``rhythm.alarm_chain = false`` at 1-s chunks and once with it on at each chunk size
(``--chunks``, default 0.02, 1 and 10 s). Counted per set, from the chain-off run: the
``vfib`` episodes and the onsets of the chained kinds dated inside one (from the sample the
``vfib`` onset was raised at to the sample its end was confirmed at: what a clinician at the
monitor was shown beside the VF alarm); from the chain-on runs: such onsets still raised
inside (should be none), the episodes held and never raised (dropped), those raised after the
``vfib`` end (``detail.chained_under``), and whether every alert (kind, state, sample, detail)
is the same at every chunk size. Sets: ``cudb`` (35 records, 250 Hz), ``ds1`` (MIT-BIH
DS1, 22 records, 360 Hz) and ``svdb`` (the 39 SVDB records of ``$SVDB_DIR``, 128 Hz, channel
0; their annotations hold no VF mark -- no ``[``, ``]``, ``!`` or ``(VF`` -- so every
``vfib`` there is false and what it holds back is the chain's cost); DS2 is left out
(nothing here is tuned, and it stays unlooked).
The VF detector is the bundled one, fitted on CUDB + DS1: the ``vfib`` episodes there are
in-sample, so this measures the alert burden around them, not VF detection
(``bench_ventricular.py`` does that out of fold).

Writes ``benchmarks/results/alarm_chain.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import math
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
    run_bench,
    write_results,
)
from edge.runtime.chain import CHAINED_KINDS  # noqa: E402
from training.data import DS1, SVDB  # noqa: E402
from training.ventricular import CUDB_RECORDS, record_signal  # noqa: E402

SETS = {"cudb": list(CUDB_RECORDS), "ds1": list(DS1), "svdb": list(SVDB)}


def signal(record: str) -> tuple:
    """The analysed channel (mV) and its rate: CUDB's only one, MIT-BIH's MLII, SVDB's
    channel 0 (``svdb/<record>``)."""
    if record.startswith("svdb/"):
        from training.dataset import record_signal as any_record_signal

        return any_record_signal(record)
    return record_signal(record)


def replay(classifier, record: str, chunk_s: float, chain: bool) -> tuple[list, object]:
    """Alert events of one record through :class:`DeviceStream`; and the stream."""
    x, fs = signal(record)
    return replay_alerts(classifier, x[:, None], fs, chunk_s,
                         [f"rhythm.alarm_chain={'true' if chain else 'false'}"])


def vfib_episodes(alerts) -> list[tuple[int, int]]:
    """``(raised at, end confirmed at)`` of each ``vfib`` episode."""
    out, start = [], None
    for e in alerts:
        if e.kind == "vfib" and e.state == "onset":
            start = e.sample_index
        elif e.kind == "vfib" and e.state == "end" and start is not None:
            out.append((start, e.sample_index))
            start = None
    return out


def inside(alerts, eps) -> Counter:
    """Onsets of chained kinds dated inside a ``vfib`` episode and not marked as raised
    after it, per kind (severity in the key)."""
    c: Counter = Counter()
    for e in alerts:
        if (e.kind in CHAINED_KINDS and e.state == "onset" and "chained_under" not in e.detail
                and any(a <= e.sample_index < b for a, b in eps)):
            c[(e.kind, e.severity)] += 1
    return c


def _key(e) -> tuple:
    return (e.kind, e.state, e.sample_index, json.dumps(e.detail, sort_keys=True, default=str))


def run_set(classifier, records: list[str], chunks: list[float]) -> dict:
    res = {"records": len(records), "vfib_episodes": 0, "vfib_s": 0.0,
           "inside_off": Counter(), "inside_on": Counter(), "dropped": Counter(),
           "raised_after": Counter(), "held": Counter(), "chunk_invariant": True,
           "differing_records": []}
    for r in records:
        off, _ = replay(classifier, r, 1.0, chain=False)
        eps = vfib_episodes(off)
        fs = off[0].fs_hz if off else 1.0
        res["vfib_episodes"] += len(eps)
        res["vfib_s"] += sum(b - a for a, b in eps) / fs
        res["inside_off"].update(inside(off, eps))
        ref = None
        for k, cs in enumerate(chunks):
            on, dev = replay(classifier, r, cs, chain=True)
            keys = sorted(map(_key, on))
            if ref is None:
                ref = keys
                res["inside_on"].update(inside(on, vfib_episodes(on)))
                res["dropped"].update(dev.chain.n_dropped)
                res["held"].update(dev.chain.n_held)
                res["raised_after"].update(e.kind for e in on
                                           if e.detail.get("chained_under") == "vfib")
            elif keys != ref:
                res["chunk_invariant"] = False
                res["differing_records"].append(f"{r}@{cs}s")
        print(f"{r}: {len(eps)} vfib episode(s)", flush=True)
    for k in ("inside_off", "inside_on"):
        res[k] = {f"{kind} ({sev})": n for (kind, sev), n in sorted(res[k].items())}
    for k in ("dropped", "raised_after", "held"):
        res[k] = dict(sorted(res[k].items()))
    res["vfib_s"] = round(res["vfib_s"], 1)
    return res


def markdown(res: dict) -> str:
    L = ["# Alarm chaining under `vfib`", "",
         f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']} s",
         "- Command: `CUDB_DIR=… MITDB_DIR=… SVDB_DIR=… python benchmarks/bench_alarm_chain.py` "
         "(protocol: the script's docstring)",
         f"- Chunk sizes with the chain: {', '.join(f'{c:g} s' for c in res['chunks_s'])}; "
         "without it: 1 s. Bundled models (the VF detector is in-sample on cudb and ds1; "
         "svdb has no VF: every `vfib` there is false).", "",
         "| set | records | vfib episodes (s) | lower onsets inside VF, chain off | "
         "… chain on | held | never raised | raised after the VF | alerts equal at every "
         "chunk size |", "|---|---:|---|---|---|---|---|---|---|"]

    def fmt(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) + f" (**{sum(d.values())}**)" \
            if d else "0"

    for name, s in res["sets"].items():
        L.append(f"| {name} | {s['records']} | {s['vfib_episodes']} ({s['vfib_s']}) | "
                 f"{fmt(s['inside_off'])} | {fmt(s['inside_on'])} | {fmt(s['held'])} | "
                 f"{fmt(s['dropped'])} | {fmt(s['raised_after'])} | "
                 f"{'yes' if s['chunk_invariant'] else 'no: ' + ', '.join(s['differing_records'])}"
                 " |")
    L += ["", "An onset counts as inside VF when it is dated from the `vfib` alarm to its "
          "confirmed end and was not raised after it (`detail.chained_under`). "
          "Held = onsets the chain kept back; never raised = held episodes that ended inside "
          "the VF (or with the stream inside it); raised after = held ones still open after "
          "the VF, announced then.", ""]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="cudb,ds1,svdb", help="comma-separated: cudb, ds1, svdb")
    ap.add_argument("--chunks", default="0.02,1,10",
                    help="chunk sizes (s) with the chain on; the first is counted")
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    names = parse_sets(ap, args.sets, SETS)
    try:
        chunks = [float(c) for c in args.chunks.split(",")]
    except ValueError:
        ap.error(f"--chunks: expected numbers, got {args.chunks!r}")
    if not chunks or not all(math.isfinite(c) and c > 0 for c in chunks):
        ap.error("--chunks: every chunk size must be a finite number > 0")
    return run_bench("bench_alarm_chain", lambda: _run(args, names, chunks),
                     data_dir_option=False)


def _run(args: argparse.Namespace, names: list[str], chunks: list[float]) -> int:
    for n in names:  # each set's folder, before any work: a missing one is one line
        signal(SETS[n][0])
    from edge.model.bundled import default_model_path
    from edge.model.classifier import BeatClassifier

    clf = BeatClassifier(default_model_path())
    t0 = time.time()
    res = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "git": git_head(), "chunks_s": chunks, "chained_kinds": list(CHAINED_KINDS),
           "sets": {n: run_set(clf, SETS[n], chunks) for n in names}}
    res["wall_s"] = round(time.time() - t0)
    print(write_results(args.out, "alarm_chain", res, markdown))
    return 0 if all(s["chunk_invariant"] for s in res["sets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
