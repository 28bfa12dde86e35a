"""Device efficiency: CPU per hour of ECG for the whole device pipeline and each stage, as a
ratio to ``gqrs`` measured in the same run; memory and start-up.

    MITDB_DIR=... python benchmarks/bench_efficiency.py [--records 100 103 ...]
        [--chunks-s 0.02 0.1 1 10] [--no-daemon] [--out-stem efficiency]

1. ``gqrs`` (``wfdb.processing.gqrs_detect``, QRS detection only) on each record, CPU seconds
   (``time.process_time``) around the call, after one untimed warm-up call.
2. The device pipeline, exactly what the daemon runs per wearer (:class:`DeviceStream`:
   conditioning, R-peak detection, beat windows, features, int8 classification, signal quality,
   ECG strip, beat and alert events, the rhythm analyser and the ventricular stage; no sinks),
   fed the record in chunks of each ``--chunks-s`` size: process CPU seconds per hour of ECG,
   per stage (the stream's :class:`StageTimer`), and the events' fingerprint -- the outputs must
   not depend on the chunk size, and the run fails loudly if they do.
3. ``ecg-edge annotate --rhythm`` in-process on each record (reading, the pipeline, the rhythm
   analyser, the VF detector, writing the annotation file; the interpreter start-up excluded
   after one warm-up record).
4. Per-beat microseconds of features, classifier and rhythm analyser and per-window
   microseconds of the VF stage, from the 1-s-chunk stage times.
5. Without ``--no-daemon``: peak RSS of ``ecg-edge run --port`` on the simulated wearable's pty,
   start-up to the first processed sample, RSS per component (``efficiency_memory``).

Everything runs single-threaded in this process (pinned to one core when the OS allows).
Writes ``benchmarks/results/<out-stem>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Ten MIT-BIH records: sinus with APCs, noisy (105), AF (201, 203, 210), ventricular flutter
#: (207), PVC-dense (208, 233), about five hours of ECG.
DEFAULT_RECORDS = ("100", "103", "105", "119", "201", "203", "207", "208", "210", "233")
DEFAULT_CHUNKS_S = (0.02, 0.1, 1.0, 10.0)
#: Stages of the device pipeline, in order (StageTimer names).
STAGES = ("preprocess", "detect", "window", "featurize", "classify", "quality", "strip",
          "events", "rhythm", "ventricular", "alerts")


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def read_record(data_dir: str, record: str) -> tuple[np.ndarray, float, dict]:
    """Channel 0 in mV, its rate, and the ADC gain and zero ``gqrs`` takes."""
    from edge.io.records import read_record as read_wfdb

    rec = read_wfdb(record, channels=[0], data_dir=data_dir)
    x_mv = np.ascontiguousarray(rec.signal_mv[:, 0], dtype=np.float64)
    return x_mv, rec.fs_hz, {"adc_gain": rec.adc_gain[0], "adc_zero": rec.baseline[0]}


def gqrs_cpu_s(x_mv: np.ndarray, fs_hz: float, meta: dict) -> tuple[float, int]:
    """CPU seconds of ``gqrs_detect`` on the whole record, and its detection count."""
    import wfdb.processing as wp

    t0 = time.process_time()
    peaks = wp.gqrs_detect(x_mv, fs_hz, adc_gain=meta["adc_gain"], adc_zero=meta["adc_zero"])
    return time.process_time() - t0, int(len(peaks))


def _unstamped(events) -> list[str]:
    """Each event as sorted-key JSON, its time stamp and sequence number left out (they
    differ from run to run), in emission order."""
    from edge.events.model import event_to_dict

    lines = []
    for e in events:
        d = event_to_dict(e)
        for k in ("time_s", "seq"):
            d.pop(k, None)
        lines.append(json.dumps(d, sort_keys=True, default=str))
    return lines


def _fingerprint(events) -> str:
    """Hash of the events' content, time stamps and sequence numbers left out; the order
    across kinds depends on where chunks end (events are in time order per kind), so the
    lines are sorted."""
    return hashlib.sha256("\n".join(sorted(_unstamped(events))).encode()).hexdigest()[:16]


def _call_fingerprint(calls: list[list]) -> str:
    """Hash of every call's events in emission order (stamps left out): which call each
    event left in, not only what was emitted."""
    h = hashlib.sha256()
    for k, events in enumerate(calls):
        for line in _unstamped(events):
            h.update(f"{k}:{line}\n".encode())
    return h.hexdigest()[:16]


def stream_cost(classifier, config, x_mv: np.ndarray, fs_hz: float, chunk_s: float,
                *, lazy_blocks: bool = True, per_call: bool = False) -> dict:
    """Run one record through a :class:`DeviceStream` in chunks of ``chunk_s`` seconds
    (``lazy_blocks=False``: every ``min_block_ms`` block processed, idle or not;
    ``per_call``: also the fingerprint of which call each event left in)."""
    from edge.runtime.device import DeviceStream

    stream = DeviceStream(classifier, config, device_id=1, fs_hz=fs_hz,
                          lazy_blocks=lazy_blocks)
    step = max(1, int(round(chunk_s * fs_hz)))
    x2 = x_mv.reshape(-1, 1)
    calls = []
    c0 = time.process_time()
    for i in range(0, x2.shape[0], step):
        calls.append(stream.process(i, x2[i:i + step]))
    calls.append(stream.flush())
    cpu = time.process_time() - c0
    events = [e for c in calls for e in c]
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.type] = kinds.get(e.type, 0) + 1
    vf = stream.ventricular.detector if stream.ventricular is not None else None
    return {"cpu_s": cpu,
            "vf_windows": ({"windows": vf.windows.n_windows, "screened": vf.n_screened,
                            "vetoed_first": vf.n_vetoed_unscored} if vf is not None else {}),
            "stages": {k: stream.timer.seconds.get(k, 0.0) for k in STAGES},
            "calls": dict(stream.timer.calls), "beats": stream.n_beats, "events": kinds,
            "fingerprint": _fingerprint(events), "chunks": -(-x2.shape[0] // step),
            "blocks_held": stream.n_blocks_held,
            **({"call_fingerprint": _call_fingerprint(calls)} if per_call else {})}


def annotate_cpu_s(record: str, data_dir: str, out_dir: str,
                   chunk_s: float | None = None) -> float:
    """CPU seconds of ``ecg-edge annotate --rhythm`` on one record, in-process (``chunk_s``:
    its ``--chunk-s``; ``None``: the command's default)."""
    from edge.cli.main import main as cli_main

    extra = [] if chunk_s is None else ["--chunk-s", str(chunk_s)]
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli_main(["annotate", record, "--rhythm", "--data-dir", data_dir,
                       "--out-dir", out_dir, *extra])
    if rc not in (0, None):
        raise RuntimeError(f"ecg-edge annotate {record} failed (rc {rc})")
    return time.process_time() - t0


def measure(records: list[str], chunks_s: list[float], data_dir: str, repeat: int = 1) -> dict:
    """Every CPU figure is the least of ``repeat`` runs (per record and chunk size; gqrs and
    annotate alike): the machine's noise only ever adds time. The runs must give the same
    events."""
    from edge.cli.annotate import DEFAULT_CHUNK_S
    from edge.model.bundled import default_model_path
    from edge.model.classifier import BeatClassifier
    from edge.runtime.settings import load_config

    _pin_one_core()
    clf = BeatClassifier(default_model_path())
    cfg = load_config(None, ['source.serial.port="x"'])
    signals = {r: read_record(data_dir, r) for r in records}
    hours = {r: s[0].size / s[1] / 3600.0 for r, s in signals.items()}
    total_h = sum(hours.values())
    # warm-up: one short stream and one gqrs call (imports, interpreter allocation)
    x0, fs0, m0 = signals[records[0]]
    n_warm = int(60 * fs0)
    stream_cost(clf, cfg, x0[:n_warm], fs0, 1.0)
    gqrs_cpu_s(x0[:n_warm], fs0, m0)

    per_record: dict[str, dict] = {}
    gq_total = 0.0
    for r in records:
        x, fs, meta = signals[r]
        cpu, n = min(gqrs_cpu_s(x, fs, meta) for _ in range(repeat))
        gq_total += cpu
        per_record[r] = {"hours": round(hours[r], 4), "gqrs_cpu_s": round(cpu, 4),
                         "gqrs_beats": n, "chunks": {}}
        print(f"{r}: gqrs {cpu:.3f} s", flush=True)
    chunk_rows = {}
    for c in chunks_s:
        tot = {"cpu_s": 0.0, "stages": dict.fromkeys(STAGES, 0.0), "beats": 0, "windows": 0,
               "calls": {}, "vf": {}}
        for r in records:
            x, fs, _ = signals[r]
            runs = [stream_cost(clf, cfg, x, fs, c) for _ in range(repeat)]
            if len({run["fingerprint"] for run in runs}) > 1:
                raise RuntimeError(f"{r}: chunk {c} s: the repeated runs gave other events")
            res = min(runs, key=lambda run: run["cpu_s"])
            for k, v in res["calls"].items():
                tot["calls"][k] = tot["calls"].get(k, 0) + v
            for k, v in res["vf_windows"].items():
                tot["vf"][k] = tot["vf"].get(k, 0) + v
            per_record[r]["chunks"][str(c)] = {"cpu_s": round(res["cpu_s"], 4),
                                               "fingerprint": res["fingerprint"],
                                               "beats": res["beats"],
                                               "events": res["events"]}
            tot["cpu_s"] += res["cpu_s"]
            tot["beats"] += res["beats"]
            tot["windows"] += int(round(x.size / fs))
            for k in STAGES:
                tot["stages"][k] += res["stages"][k]
            print(f"{r}: chunk {c} s: {res['cpu_s']:.3f} s, {res['beats']} beats", flush=True)
        chunk_rows[str(c)] = {
            "cpu_s_per_h": round(tot["cpu_s"] / total_h, 4),
            "ratio_to_gqrs": round(tot["cpu_s"] / gq_total, 4),
            "stages_s_per_h": {k: round(v / total_h, 4) for k, v in tot["stages"].items()},
            "beats": tot["beats"], "windows": tot["windows"],
            "stage_calls": tot["calls"], "vf_windows": tot["vf"]}
    # idle blocks held back (DeviceStream.lazy_blocks) against every block processed, at the
    # smallest chunk: the raw per-call cost, and the calls the events left in (must be equal)
    eager = None
    small = min(chunks_s)
    if small * 1000.0 < cfg.pipeline.min_block_ms:
        tot = {"cpu_s": 0.0, "stages": dict.fromkeys(STAGES, 0.0), "calls": {}}
        same_calls = []
        held = 0
        for r in records:
            x, fs, _ = signals[r]
            res = {lazy: stream_cost(clf, cfg, x, fs, small, lazy_blocks=lazy, per_call=True)
                   for lazy in (False, True)}
            same_calls.append(res[False]["call_fingerprint"] == res[True]["call_fingerprint"])
            held += res[True]["blocks_held"]
            per_record[r]["eager"] = {"cpu_s": round(res[False]["cpu_s"], 4),
                                      "same_calls": same_calls[-1]}
            tot["cpu_s"] += res[False]["cpu_s"]
            for k in STAGES:
                tot["stages"][k] += res[False]["stages"][k]
                tot["calls"][k] = tot["calls"].get(k, 0) + res[False]["calls"].get(k, 0)
            print(f"{r}: chunk {small} s, every block: {res[False]['cpu_s']:.3f} s; same calls "
                  f"{same_calls[-1]}", flush=True)
        eager = {"chunk_s": small, "cpu_s_per_h": round(tot["cpu_s"] / total_h, 4),
                 "ratio_to_gqrs": round(tot["cpu_s"] / gq_total, 4),
                 "stages_s_per_h": {k: round(v / total_h, 4) for k, v in tot["stages"].items()},
                 "stage_us_per_call": {k: round(1e6 * v / max(1, tot["calls"].get(k, 0)), 2)
                                       for k, v in tot["stages"].items()},
                 "stage_calls": tot["calls"], "blocks_held_lazy": held,
                 "same_calls_all_records": all(same_calls)}
    # outputs must not depend on the chunk size
    mismatched = [r for r in records
                  if len({v["fingerprint"] for v in per_record[r]["chunks"].values()}) > 1]
    ref = chunk_rows[str(1.0)] if str(1.0) in chunk_rows else next(iter(chunk_rows.values()))
    st = ref["stages_s_per_h"]
    beats_h = ref["beats"] / total_h
    windows_h = ref["windows"] / total_h
    per_unit = {"featurize_us_per_beat": round(1e6 * st["featurize"] / beats_h, 2),
                "classify_us_per_beat": round(1e6 * st["classify"] / beats_h, 2),
                "rhythm_us_per_beat": round(1e6 * st["rhythm"] / beats_h, 2),
                "ventricular_us_per_s_of_ecg": round(1e6 * st["ventricular"] / windows_h, 2)}
    # annotate in-process (warm-up on the first record), as users run it (the default
    # --chunk-s) and at 10-s chunks (the default before 2026-12-01), alternately per record
    ann_total = ann10_total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        annotate_cpu_s(records[0], data_dir, tmp)
        for r in records:
            cpu = min(annotate_cpu_s(r, data_dir, tmp) for _ in range(repeat))
            cpu10 = min(annotate_cpu_s(r, data_dir, tmp, chunk_s=10.0) for _ in range(repeat))
            per_record[r]["annotate_cpu_s"] = round(cpu, 4)
            per_record[r]["annotate_10s_cpu_s"] = round(cpu10, 4)
            ann_total += cpu
            ann10_total += cpu10
            print(f"{r}: annotate {cpu:.3f} s (10-s chunks {cpu10:.3f} s)", flush=True)
    return {"records": records, "hours": round(total_h, 4),
            "gqrs_cpu_s_per_h": round(gq_total / total_h, 4),
            "chunks": chunk_rows, "chunk_invariant": not mismatched, "every_block": eager,
            "chunk_mismatch_records": mismatched,
            "annotate_cpu_s_per_h": round(ann_total / total_h, 4),
            "annotate_ratio_to_gqrs": round(ann_total / gq_total, 4),
            "annotate_chunk_s": DEFAULT_CHUNK_S,
            "annotate_10s_cpu_s_per_h": round(ann10_total / total_h, 4),
            "annotate_10s_ratio_to_gqrs": round(ann10_total / gq_total, 4),
            "per_unit": per_unit, "per_record": per_record}


def device_memory() -> dict:
    """RSS, start-up (see efficiency_memory); empty when that module is absent."""
    try:
        import efficiency_memory as em  # type: ignore[import-not-found]
    except ImportError:
        return {}
    startup = em.startup_s()
    start_cpu = float(startup["cpu_s_at_first_sample"]["median"])
    return {"import_rss_mb": em.import_rss_mb(),
            # the whole record as fast as the pty carries it (as bench_daemon measured the
            # 126.5/128.4 MB before issue 18), and 20 s at real time with the wearable's frames
            "daemon_peak_rss_mb_whole_record_max_speed": em.daemon_peak_rss_mb(1800, speed=None),
            "daemon_peak_rss_mb_real_time_20s": em.daemon_peak_rss_mb(20),
            "startup_s": startup,
            # process start-up is inside daemon_cpu_s; cpu_percent_without_startup takes the
            # median CPU at the first processed sample off
            "daemon_1x": [em.daemon_cpu_1x(60.0, n, startup_cpu_s=start_cpu) for n in (36, 7)]}


def git_revision() -> str:
    """Short hash of the checked-out commit ("unknown" outside a git tree)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _before_summary(b: dict, res: dict, path: Path) -> dict:
    """What the report shows of a previous run, and whether every event fingerprint it shares
    with this run (record, chunk size) is the same."""
    pairs = [(rec["chunks"][c]["fingerprint"], res["per_record"][r]["chunks"][c]["fingerprint"])
             for r, rec in b["per_record"].items() if r in res["per_record"]
             for c in rec["chunks"] if c in res["per_record"][r]["chunks"]]
    return {"file": path.name, "git": b.get("git", "?"), "date": b.get("date", "?"),
            "command": b.get("command", "?"), "gqrs_cpu_s_per_h": b["gqrs_cpu_s_per_h"],
            "chunks": b["chunks"], "annotate_cpu_s_per_h": b["annotate_cpu_s_per_h"],
            "annotate_ratio_to_gqrs": b["annotate_ratio_to_gqrs"],
            "same_events": bool(pairs) and all(x == y for x, y in pairs),
            "compared": len(pairs)}


def render(res: dict) -> str:
    lines = ["# Device efficiency", "",
             f"- Date: {res['date']}; code: git {res['git']}; wall time {res['wall_s']:.0f} s",
             f"- Command: `{res['command']}`",
             f"- Machine: {res['machine']}; one core (pinned); CPU = `time.process_time`"
             + (f", the least of {res['repeat']} runs of each stream, gqrs and annotate"
                if res.get("repeat", 1) > 1 else ""),
             f"- Records: {', '.join(res['records'])} (MIT-BIH, channel 0, 360 Hz), "
             f"{res['hours']:.2f} h of ECG", ""]
    g = res["gqrs_cpu_s_per_h"]
    lines += ["## Whole device pipeline against gqrs (same records, same run)", "",
              f"`gqrs` (`wfdb.processing.gqrs_detect`, detection only): **{g:.3f} CPU s per "
              "hour of ECG**.", "",
              "| chunk | CPU s / h ECG | × gqrs | " + " | ".join(STAGES) + " |",
              "|---|---:|---:|" + "---:|" * len(STAGES)]
    for c, row in res["chunks"].items():
        st = row["stages_s_per_h"]
        lines.append(f"| {float(c) * 1000:.0f} ms | {row['cpu_s_per_h']:.3f} | "
                     f"{row['ratio_to_gqrs']:.3f} | "
                     + " | ".join(f"{st[k]:.3f}" for k in STAGES) + " |")
    lines += ["", "Stage columns: seconds per hour of ECG by the stream's stage timer "
              "(`time.perf_counter`); the total is process CPU and also holds the glue between "
              "stages (gap handling, hr pieces, event objects).", ""]
    chunks = res["chunks"]
    if "0.02" in chunks and "10.0" in chunks:
        r = chunks["0.02"]["cpu_s_per_h"] / chunks["10.0"]["cpu_s_per_h"]
        lines.append(f"20-ms chunks cost **{r:.2f}×** the 10-s-chunk cost.")
    for c, row in chunks.items():
        calls, vf = row.get("stage_calls") or {}, row.get("vf_windows") or {}
        if not calls or not vf:
            continue
        lines.append(f"At {float(c) * 1000:.0f}-ms chunks the detector ran in "
                     f"{calls.get('detect', 0)} of {calls.get('preprocess', 0)} processed blocks "
                     "(the others were conditioned for the strip or quality alone: "
                     "`DeviceStream.next_detection_index`); of the VF stage's "
                     f"{vf['windows']} windows, {vf['vetoed_first']} were vetoed (organised "
                     f"rhythm) before any feature and {vf['screened']} screened.")
        break
    lines.append("Outputs identical at every chunk size (event fingerprints): "
                 + ("**yes**" if res["chunk_invariant"] else
                    f"**NO** ({', '.join(res['chunk_mismatch_records'])})"))
    eb = res.get("every_block")
    if eb:
        st = eb["stages_s_per_h"]
        us = eb["stage_us_per_call"]
        lines += ["", f"Idle blocks: at {eb['chunk_s'] * 1000:.0f}-ms chunks the stream "
                  "processes a 100-ms block only when some stage can emit by its end "
                  "(`DeviceStream.next_due_index`; the rows above); processing every block "
                  f"instead (`lazy_blocks=False`) costs **{eb['cpu_s_per_h']:.3f} CPU s / h** "
                  f"({eb['ratio_to_gqrs']:.3f}× gqrs). Blocks held back: "
                  f"{eb['blocks_held_lazy']}. Every event left in the same call either way "
                  "(per-call fingerprints, all records): "
                  + ("**yes** — no added latency" if eb["same_calls_all_records"] else "**NO**"),
                  "", "| every block | " + " | ".join(STAGES) + " |",
                  "|---|" + "---:|" * len(STAGES),
                  "| CPU s / h | " + " | ".join(f"{st[k]:.3f}" for k in STAGES) + " |",
                  "| µs per call | " + " | ".join(f"{us[k]:.1f}" for k in STAGES) + " |",
                  "| calls | " + " | ".join(str(eb["stage_calls"].get(k, 0)) for k in STAGES)
                  + " |"]
    lines += ["", f"`ecg-edge annotate --rhythm` in-process (read, pipeline, rhythm, VF, write; "
              f"its default `--chunk-s {res.get('annotate_chunk_s', 10.0):g}`): "
              f"**{res['annotate_cpu_s_per_h']:.3f} CPU s / h**, "
              f"**{res['annotate_ratio_to_gqrs']:.3f}× gqrs**."]
    if "annotate_10s_cpu_s_per_h" in res:
        lines += [f"The same with `--chunk-s 10` (the default before 2026-12-01; the same files): "
                  f"{res['annotate_10s_cpu_s_per_h']:.3f} CPU s / h, "
                  f"{res['annotate_10s_ratio_to_gqrs']:.3f}× gqrs."]
    lines += [""]
    pu = res["per_unit"]
    lines += ["## Per beat / per second (1-s chunks)", "",
              f"- features {pu['featurize_us_per_beat']} µs/beat, classifier "
              f"{pu['classify_us_per_beat']} µs/beat, rhythm analyser "
              f"{pu['rhythm_us_per_beat']} µs/beat",
              f"- ventricular stage {pu['ventricular_us_per_s_of_ecg']} µs per second of ECG "
              "(one 4-s window per second)", ""]
    before = ROOT / "benchmarks" / "results" / "efficiency_before_0ee91a7.json"
    if before.exists():
        b = json.loads(before.read_text())
        lines += ["## Before issue 18 (main 0ee91a7, the same command, same machine, same day)",
                  "", f"`{b['command']}` (`--chunks-s 0.1 1 10 --no-daemon`; that code was "
                  "not chunk-invariant: its `vflutter` dates and beat quality flags moved with "
                  "the chunk size); gqrs in that run: "
                  f"{b['gqrs_cpu_s_per_h']:.3f} CPU s / h; `efficiency_before_0ee91a7.md`.", "",
                  "| chunk | before: CPU s / h | × gqrs | now: CPU s / h | × gqrs |",
                  "|---|---:|---:|---:|---:|"]
        for c, row in b["chunks"].items():
            now = res["chunks"].get(c)
            lines.append(f"| {float(c) * 1000:.0f} ms | {row['cpu_s_per_h']:.3f} | "
                         f"{row['ratio_to_gqrs']:.3f} | "
                         + (f"{now['cpu_s_per_h']:.3f} | {now['ratio_to_gqrs']:.3f} |"
                            if now else "– | – |"))
        lines += [f"| annotate --rhythm | {b['annotate_cpu_s_per_h']:.3f} | "
                  f"{b['annotate_ratio_to_gqrs']:.3f} | {res['annotate_cpu_s_per_h']:.3f} | "
                  f"{res['annotate_ratio_to_gqrs']:.3f} |", ""]
    b = res.get("before")
    if b:
        lines += [f"## Before this change (git {b['git']}, `{b['file']}`)", "",
                  f"`{b['command']}`, run on this machine on {b['date']}; gqrs in that run: "
                  f"{b['gqrs_cpu_s_per_h']:.3f} CPU s / h (ratios to each run's own gqrs are "
                  "the comparable figures).", "",
                  "| chunk | before: CPU s / h | × gqrs | now: CPU s / h | × gqrs | "
                  "before: VF | now: VF | before: rhythm | now: rhythm |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c, row in b["chunks"].items():
            now = res["chunks"].get(c)
            if now is None:
                continue
            lines.append(f"| {float(c) * 1000:.0f} ms | {row['cpu_s_per_h']:.3f} | "
                         f"{row['ratio_to_gqrs']:.3f} | {now['cpu_s_per_h']:.3f} | "
                         f"{now['ratio_to_gqrs']:.3f} | "
                         f"{row['stages_s_per_h']['ventricular']:.3f} | "
                         f"{now['stages_s_per_h']['ventricular']:.3f} | "
                         f"{row['stages_s_per_h']['rhythm']:.3f} | "
                         f"{now['stages_s_per_h']['rhythm']:.3f} |")
        if "0.02" in b["chunks"] and "10.0" in b["chunks"]:
            ratio = b["chunks"]["0.02"]["cpu_s_per_h"] / b["chunks"]["10.0"]["cpu_s_per_h"]
            lines += ["", f"20 ms against 10 s before: {ratio:.2f}×."]
        same = b.get("same_events")
        if same is not None:
            lines += ["", "Events identical to the before run's (per record and chunk size, "
                      f"event fingerprints): **{'yes' if same else 'NO'}**"]
        lines += ["", f"annotate --rhythm: before {b['annotate_cpu_s_per_h']:.3f} CPU s / h "
                  f"({b['annotate_ratio_to_gqrs']:.3f}× gqrs), now "
                  f"{res['annotate_cpu_s_per_h']:.3f} ({res['annotate_ratio_to_gqrs']:.3f}×).",
                  ""]
    mem = res.get("memory") or {}
    if mem:
        rss = mem["import_rss_mb"]
        st = mem["startup_s"]
        lines += ["## Memory and start-up", "",
                  "| what | measured |", "|---|---|",
                  "| daemon peak RSS, `ecg-edge run --port` on the simulated wearable's pty, "
                  "record 233 whole at max speed | "
                  f"**{mem['daemon_peak_rss_mb_whole_record_max_speed']['peak_rss_mb']} MB** |",
                  "| the same, 20 s at 1× | "
                  f"{mem['daemon_peak_rss_mb_real_time_20s']['peak_rss_mb']} MB |",
                  "| RSS after imports (cumulative) | "
                  + ", ".join(f"{k} {v}" for k, v in rss.items()) + " MB |",
                  "| start-up: launch of `ecg-edge run --port PTY --json` → first processed "
                  "sample (first `strip` event) | "
                  f"median **{st['first_sample_s']['median']} s**, worst "
                  f"{st['first_sample_s']['worst']} s (CPU at that point "
                  f"{st['cpu_s_at_first_sample']['median']} s; load "
                  f"{st['load_average_1min']}) |"]
        for d in mem.get("daemon_1x", []):
            lines.append(f"| daemon at 1× real time, {d['frame_ms']}-ms frames, {d['seconds']:.0f}"
                         f" s of 233 (own process) | {d['cpu_percent_of_stream']} % of a core "
                         f"({d.get('cpu_percent_without_startup', '–')} % without start-up) |")
        lines.append("")
    lines += ["## Per record (CPU s)", "",
              "| record | h | gqrs | " + " | ".join(f"{float(c) * 1000:.0f} ms"
                                                   for c in res["chunks"]) + " | annotate |",
              "|---|---:|---:|" + "---:|" * (len(res["chunks"]) + 1)]
    for r, row in res["per_record"].items():
        lines.append(f"| {r} | {row['hours']:.3f} | {row['gqrs_cpu_s']:.3f} | "
                     + " | ".join(f"{v['cpu_s']:.3f}" for v in row["chunks"].values())
                     + f" | {row.get('annotate_cpu_s', float('nan')):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import results_stem  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", nargs="+", default=list(DEFAULT_RECORDS))
    ap.add_argument("--chunks-s", nargs="+", type=float, default=list(DEFAULT_CHUNKS_S))
    ap.add_argument("--data-dir", default=os.environ.get("MITDB_DIR"))
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run every stream, gqrs and annotate N times and keep the least CPU "
                    "(default 1; noise only adds time)")
    ap.add_argument("--no-daemon", action="store_true",
                    help="skip the daemon memory and start-up measurements")
    ap.add_argument("--out-stem", type=results_stem, default="efficiency",
                    help="output name in benchmarks/results (or an absolute path without "
                         "suffix)")
    ap.add_argument("--before", type=Path,
                    help="a previous run's .json (other code, same command): shown side by "
                         "side, and its events compared with this run's")
    args = ap.parse_args(argv)
    before = None
    if args.before is not None:
        try:
            before = json.loads(args.before.read_text())
        except (OSError, ValueError) as exc:
            ap.error(f"--before: cannot read {args.before} ({type(exc).__name__})")
        keys = ("chunks", "per_record", "gqrs_cpu_s_per_h", "annotate_cpu_s_per_h",
                "annotate_ratio_to_gqrs")
        if not isinstance(before, dict) or any(k not in before for k in keys):
            ap.error(f"--before: {args.before} is not a bench_efficiency result")
    if not args.data_dir or not Path(args.data_dir).is_dir():
        ap.error("set MITDB_DIR or --data-dir to the MIT-BIH directory")
    if args.repeat < 1:
        ap.error(f"--repeat: must be >= 1, got {args.repeat}")
    if any(not (c > 0) for c in args.chunks_s):
        ap.error("--chunks-s: every chunk size must be > 0")
    missing = [r for r in args.records if not (Path(args.data_dir) / f"{r}.hea").exists()]
    if missing:
        ap.error(f"--records: no such record in {args.data_dir}: {', '.join(missing)}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    w0 = time.perf_counter()
    res = measure(args.records, args.chunks_s, args.data_dir, repeat=args.repeat)
    res["repeat"] = args.repeat
    if not args.no_daemon:
        res["memory"] = device_memory()
    if before is not None:
        res["before"] = _before_summary(before, res, args.before)
    res.update(date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), git=git_revision(),
               wall_s=time.perf_counter() - w0,
               command="python benchmarks/bench_efficiency.py " + " ".join(argv or sys.argv[1:]),
               machine=f"{platform.processor() or platform.machine()}, "
                       f"{os.cpu_count()} logical CPUs; python {platform.python_version()}, "
                       f"numpy {np.__version__}")
    stem = Path(args.out_stem)
    if not stem.is_absolute():
        stem = ROOT / "benchmarks" / "results" / stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render(res))
    print(render(res))
    eb = res.get("every_block")
    same_before = (res.get("before") or {}).get("same_events", True)
    return 0 if (res["chunk_invariant"] and (not eb or eb["same_calls_all_records"])
                 and same_before) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench_efficiency: interrupted; nothing written", file=sys.stderr)
        sys.exit(130)
