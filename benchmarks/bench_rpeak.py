"""R-peak detection benchmark: our streaming detector next to WFDB and NeuroKit2 detectors.

What it measures
----------------
In one run, on the same records and the same input (first channel, physical units in mV, native
360 Hz), for every detector:

* **Accuracy**, ANSI/AAMI EC57 beat-by-beat (``edge.eval.scoring.score_detection``, 150 ms matching
  window). Every AAMI beat annotation is a reference beat (``training.data.reference_beats``:
  N L R e j A a J S V E F / f Q). Gross Se, +P and F1 over the 48 MIT-BIH Arrhythmia records,
  under two protocols:

  1. **all beats, no exclusions** (primary);
  2. **EC57: ventricular flutter episodes excluded** -- reference and detected beats inside the
     MIT-BIH ``[`` ... ``]`` episodes (``edge.eval.scoring.vf_episodes``; only record 207 has them)
     are dropped from both sides before matching.

* **CPU seconds per hour of ECG**: ``time.process_time()`` around the detector call only (not file
  reading, not scoring), summed over records and divided by the hours of signal processed. Each
  worker process runs one untimed warm-up call per detector on 20 s of signal first, so one-off
  lazy imports do not land in the first record's time. BLAS/OpenMP pools are limited to one
  thread per worker, so process time is the detector's own single-core cost.
  Ours is timed with three streaming chunk sizes (1 s, the reference run, plus 10 s and 0.1 s);
  their detections are asserted identical (every stage is chunk-invariant by design).

* **A low sample rate**: the MIT-BIH Supraventricular Arrhythmia Database (SVDB, 128 Hz, every
  ``*.hea`` record in its folder: 39 in ``../shared/data/svdb``, 78 in the full database), first
  channel at its native rate, reference ``atr``, every AAMI beat a reference beat; gross Se, +P,
  F1 for ours (which resamples to its 360 Hz processing rate itself), ``gqrs`` and NeuroKit2's
  Pan-Tompkins (``SVDB_DETECTORS``; the other peers are not run there).

* **Noise robustness** on the MIT-BIH Noise Stress Test Database: F1 per SNR (24, 18, 12, 6, 0,
  -6 dB) for records 118e* and 119e*, all beats of each record, reference ``atr`` annotations of
  the NSTDB folder. (The 119e* annotations follow MIT-BIH 119's older annotation file; a few V
  beats sit 10-30 samples away from today's 119.atr, still inside the 150 ms window.)

Detectors
---------
``ours``                 ``edge.dsp.detection.detect_signal(x_mv, fs_hz, chunk_s=...,
                         flutter_beats=True)`` (streaming; the beats the beat stream takes)
``xqrs``                 ``wfdb.processing.xqrs_detect(x_mv, fs, verbose=False)``
``gqrs``                 ``wfdb.processing.gqrs_detect(x_mv, fs, adc_gain=..., adc_zero=...)``
``nk_pantompkins1985``   ``nk.ecg_clean(method=m)`` then ``nk.ecg_peaks(method=m)`` --
``nk_neurokit``          the same for the other NeuroKit2 methods; cleaning with the method's own
``nk_hamilton2002``      ``ecg_clean`` method is part of the timed call (it is part of the
``nk_elgendi2010``       detector as NeuroKit2 defines it).

A peer that raises on a record is caught: the error is recorded, the record counts as zero
detections (all its reference beats missed), and the tables say so.

How to run
----------
From the repository root::

    python benchmarks/bench_rpeak.py --jobs 2                    # everything (5-16 min)
    python benchmarks/bench_rpeak.py --records 100,101 --detectors ours,gqrs --no-nstdb
    python benchmarks/bench_rpeak.py --records 100,207 --nstdb-records 118e06,119e00 --out /tmp/r
    python benchmarks/bench_rpeak.py --records 100 --no-nstdb --svdb-records 865,848

Data directories: ``--data-dir`` (MIT-BIH; ``--mitdb-dir`` is the same) / ``--nstdb-dir``,
else ``$MITDB_DIR`` / ``$NSTDB_DIR``; a missing one is a one-line error (exit 2). SVDB:
``--svdb-dir``, else ``$SVDB_DIR``, else ``svdb`` next to the MIT-BIH folder; when none of these
holds it the SVDB section is skipped with a note (``--svdb-dir`` given and wrong, or
``--svdb-records`` without any folder, is an error, exit 2). Outputs
(``--out``, default ``benchmarks/results``): ``rpeak.json`` (per-record counts and CPU per
detector, gross totals for both protocols, NSTDB per SNR, machine info, the exact command) and
``rpeak.md`` (the tables, also printed at the end). Work is spread over a ``multiprocessing``
pool (``--jobs``, default 2) of (detector, record) tasks. The workers import ``edge``/``training``
from a snapshot copied when the run starts, so edits to the working tree during a run cannot mix
code versions; the git commit, uncommitted changes and sha256 of the sources under test are
recorded with the results. The exit status is 1 when ours' detections differ between chunk
sizes.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import sys
import time
import traceback
import warnings
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Workers import the project's code from a snapshot of edge/ and training/ taken when the run
#: starts (main() sets this variable), so edits to the working tree during a run cannot mix
#: versions. Imported directly, the module uses the repository itself.
_SNAPSHOT_ENV = "BENCH_RPEAK_CODE_ROOT"
CODE_ROOT = Path(os.environ.get(_SNAPSHOT_ENV) or REPO_ROOT)
if str(CODE_ROOT) not in sys.path:
    sys.path.insert(0, str(CODE_ROOT))

import numpy as np  # noqa: E402

from edge.errors import DataNotFoundError, EdgeError  # noqa: E402
from edge.eval.scoring import DetectionScore, score_detection, vf_episodes  # noqa: E402
from edge.io.records import find_data_dir, read_annotations, read_record  # noqa: E402
from training.data import ALL_RECORDS, reference_beats  # noqa: E402

__all__ = ["DETECTORS", "OURS_CHUNKS", "NSTDB_RECORDS", "SNRS_DB", "run_detector", "main"]

#: Detector names accepted by ``--detectors`` (``ours`` runs all of OURS_CHUNKS).
DETECTORS = ("ours", "xqrs", "gqrs", "nk_pantompkins1985", "nk_neurokit", "nk_hamilton2002",
             "nk_elgendi2010")
#: Streaming chunk sizes (s) ours is timed with; the first is the reference run.
OURS_CHUNKS = (1.0, 10.0, 0.1)
#: NSTDB SNR suffixes and their value in dB.
SNRS_DB = {"24": 24, "18": 18, "12": 12, "06": 6, "00": 0, "_6": -6}
NSTDB_RECORDS = tuple(f"{base}e{s}" for base in ("118", "119") for s in SNRS_DB)
#: Detectors run on SVDB (ours at every chunk size of OURS_CHUNKS).
SVDB_DETECTORS = ("ours", "gqrs", "nk_pantompkins1985")
WINDOW_MS = 150.0
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _load(database: str, record: str, data_dir: str):
    rec = read_record(record, channels=[0], database=database, data_dir=data_dir)
    x = np.ascontiguousarray(rec.signal_mv[:, 0], dtype=np.float64)
    return x, rec.fs_hz, rec.adc_gain[0], rec.baseline[0]


def _detector_fn(variant: str, fs: float, adc_gain: float, adc_zero: int):
    """A callable x_mv -> detections for a detector variant (``ours@1.0``, ``xqrs``, ...)."""
    if variant.startswith("ours@"):
        from edge.dsp.detection import detect_signal
        chunk = float(variant.split("@", 1)[1])
        # the beats the device's beat stream takes (regular flutter stretches included)
        return lambda x: detect_signal(x, fs, chunk_s=chunk, flutter_beats=True)
    if variant == "xqrs":
        from wfdb import processing as wp
        return lambda x: wp.xqrs_detect(x, fs, verbose=False)
    if variant == "gqrs":
        from wfdb import processing as wp
        return lambda x: wp.gqrs_detect(x, fs, adc_gain=adc_gain, adc_zero=adc_zero)
    if variant.startswith("nk_"):
        import neurokit2 as nk
        method = variant[3:]
        sr = int(round(fs))

        def run(x):
            cleaned = nk.ecg_clean(x, sampling_rate=sr, method=method)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=sr, method=method)
            return info["ECG_R_Peaks"]
        return run
    raise ValueError(f"unknown detector {variant!r}")


_WARMED: set[str] = set()
_WORKER_CODE: str | None = None

#: Source files of the code under test (our detector and the shared data/scoring layer).
CODE_FILES = ("edge/dsp/detection.py", "edge/dsp/preprocess.py", "edge/dsp/rpeak.py",
              "edge/dsp/filters.py", "edge/dsp/resample.py", "edge/io/records.py",
              "edge/eval/scoring.py", "training/data.py")


def source_hashes(root: Path = REPO_ROOT) -> dict:
    """sha256 (first 16 hex digits) of every file in CODE_FILES under ``root``, as now on disk."""
    import hashlib
    out = {}
    for rel in CODE_FILES:
        try:
            out[rel] = hashlib.sha256((Path(root) / rel).read_bytes()).hexdigest()[:16]
        except OSError:
            out[rel] = None
    return out


def _combined(hashes: dict) -> str:
    import hashlib
    text = "\n".join(f"{k}={v}" for k, v in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _worker_code() -> str:
    """Import our detector once per worker and hash its sources right then, so the parent can
    tell whether every worker ran the same code."""
    global _WORKER_CODE
    if _WORKER_CODE is None:
        try:
            import edge.dsp.detection  # noqa: PLC0415
            # <root>/edge/dsp/detection.py -> <root> (the snapshot, or the repository)
            root = Path(edge.dsp.detection.__file__).resolve().parents[2]
            _WORKER_CODE = f"{_combined(source_hashes(root))} @ {root}"
        except Exception as exc:  # ours then fails on every record, peers still run
            _WORKER_CODE = f"import of edge.dsp.detection failed: {type(exc).__name__}: {exc}"
    return _WORKER_CODE


def run_detector(task: tuple[str, str, str, str]) -> dict:
    """Run one detector variant on one record; returns detections, CPU time and any error."""
    variant, database, record, data_dir = task
    out = {"variant": variant, "database": database, "record": record, "error": None,
           "warnings": [], "det": None, "cpu_s": None, "code": _worker_code()}
    try:
        x, fs, gain, zero = _load(database, record, data_dir)
    except Exception as exc:  # data problems are fatal for every detector: report, go on
        out["error"] = f"read failed: {type(exc).__name__}: {exc}"
        return out
    out.update(fs_hz=fs, n_samples=int(x.size))
    try:
        fn = _detector_fn(variant, fs, gain, zero)
        if variant not in _WARMED:  # untimed warm-up on 20 s (lazy imports, caches)
            _WARMED.add(variant)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fn(x[: int(20 * fs)].copy())
                except Exception:
                    pass
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.process_time()
            det = fn(x)
            cpu = time.process_time() - t0
        det = np.asarray(det, dtype=np.int64).ravel()
        out["det"] = np.sort(det)
        out["cpu_s"] = cpu
        msgs = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
                       for w in caught})
        out["warnings"] = msgs
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}" \
                       f"{where}"
    return out


# --------------------------------------------------------------------------------------------
# Parent side: scoring, aggregation, reporting
# --------------------------------------------------------------------------------------------

def _variants(detectors: list[str]) -> list[str]:
    out = []
    for d in detectors:
        if d == "ours":
            out.extend(f"ours@{c:g}" for c in OURS_CHUNKS)
        else:
            out.append(d)
    return out


def _label(variant: str) -> str:
    if variant.startswith("ours@"):
        return f"ours (chunk {variant.split('@')[1]} s)"
    return variant


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def _score_dict(s: DetectionScore) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in s.to_dict().items()}


def _machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("scipy", "wfdb", "neurokit2", "pandas"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception as exc:  # pragma: no cover
            versions[mod] = f"unavailable ({exc})"
    return {"cpu_model": cpu, "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "versions": versions}


def _git_state() -> dict:
    """Commit and uncommitted changes of the repository (read-only git calls, no index lock)."""
    import subprocess
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*a):
        try:
            return subprocess.run(["git", "-C", str(REPO_ROOT), *a], capture_output=True,
                                  text=True, timeout=20, env=env).stdout.rstrip("\n")
        except Exception:
            return ""
    return {"head": git("rev-parse", "HEAD") or None,
            "head_subject": git("log", "-1", "--format=%s") or None,
            "uncommitted": [ln[3:] for ln in git("status", "--porcelain", "--", *CODE_FILES)
                            .splitlines() if ln.strip()]}


def _resolve_dir(cli: str | None, database: str) -> str:
    """The data directory of ``database``: the command-line option, else ``$MITDB_DIR`` /
    ``$NSTDB_DIR`` (:func:`edge.io.records.find_data_dir`, which raises
    :class:`~edge.errors.DataNotFoundError` saying how to point at one, with this script's
    option for it: ``--nstdb-dir`` for the noise records)."""
    try:
        return str(find_data_dir(database, cli))
    except DataNotFoundError as exc:
        if database == "mitdb":
            raise
        raise DataNotFoundError(str(exc).replace("--data-dir", f"--{database}-dir")) from None


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    from benchmarks.common import output_dir  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="bench_rpeak.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", default=None,
                   help="comma-separated MIT-BIH records (default: all 48)")
    p.add_argument("--detectors", default=",".join(DETECTORS),
                   help=f"comma-separated subset of {','.join(DETECTORS)} (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--out", type=output_dir, default=str(REPO_ROOT / "benchmarks" / "results"),
                   help="output folder for rpeak.json / rpeak.md")
    p.add_argument("--data-dir", "--mitdb-dir", dest="mitdb_dir", default=None,
                   help="MIT-BIH Arrhythmia DB folder (default $MITDB_DIR)")
    p.add_argument("--nstdb-dir", default=None,
                   help="Noise Stress Test DB folder (default $NSTDB_DIR)")
    p.add_argument("--nstdb-records", default=None,
                   help=f"comma-separated subset of {','.join(NSTDB_RECORDS)} (default: all)")
    p.add_argument("--no-nstdb", action="store_true", help="skip the noise stress test")
    p.add_argument("--svdb-dir", default=None,
                   help="SVDB folder (default $SVDB_DIR, else svdb next to the MIT-BIH folder)")
    p.add_argument("--svdb-records", default=None,
                   help="comma-separated SVDB records (default: every *.hea in its folder)")
    p.add_argument("--no-svdb", action="store_true", help="skip the SVDB (128 Hz) section")
    return p


def _parse_args(argv):
    p = build_parser()
    a = p.parse_args(argv)
    for option in ("detectors", "records", "nstdb_records", "svdb_records"):
        text = getattr(a, option)
        if text is not None and not _split(text):  # "," or "": nothing to run, not "all"
            p.error(f"--{option.replace('_', '-')}: expected comma-separated names, got "
                    f"{text!r}")
    dets = _split(a.detectors)
    bad = [d for d in dets if d not in DETECTORS]
    if bad:
        p.error(f"unknown detector(s) {bad}; choose from {list(DETECTORS)}")
    if a.jobs < 1:
        p.error(f"--jobs: must be >= 1, got {a.jobs}")
    a.detectors = dets
    a.records = _split(a.records) if a.records is not None else list(ALL_RECORDS)
    nst = _split(a.nstdb_records) if a.nstdb_records is not None else list(NSTDB_RECORDS)
    bad = [r for r in nst if r not in NSTDB_RECORDS]
    if bad:
        p.error(f"--nstdb-records: unknown {bad}; choose from {list(NSTDB_RECORDS)}")
    a.nstdb_records = [] if a.no_nstdb else [r for r in NSTDB_RECORDS if r in nst]
    if a.no_svdb and (a.svdb_records or a.svdb_dir):
        p.error("--no-svdb contradicts --svdb-records / --svdb-dir")
    a.svdb_records = _split(a.svdb_records) if a.svdb_records else None
    return a


def _svdb_dir(cli: str | None, mit_dir: str, required: bool) -> str | None:
    """The SVDB folder: ``--svdb-dir``, else ``$SVDB_DIR``, else ``svdb`` beside the MIT-BIH
    folder. None when the last two do not hold it and nothing asked for it (``required``
    False); otherwise a missing folder raises :class:`~edge.errors.DataNotFoundError`."""
    if cli is not None:
        return _resolve_dir(cli, "svdb")
    if os.environ.get("SVDB_DIR"):
        return _resolve_dir(None, "svdb")
    beside = Path(mit_dir).parent / "svdb"
    if any(beside.glob("*.hea")):
        return str(beside)
    if required:
        return _resolve_dir(None, "svdb")
    return None


def _score_database(results, refs, excl, variants):
    """Per-record and gross scores. Failed runs count as zero detections."""
    per_record, gross = {}, {}
    for v in variants:
        gross[v] = {"all": DetectionScore(), "ec57": DetectionScore(), "cpu_s": 0.0,
                    "seconds": 0.0, "failed": []}
    for rec, ref in refs.items():
        per_record[rec] = {}
        for v in variants:
            r = results[(v, rec)]
            fs = r.get("fs_hz") or ref["fs_hz"]
            det = r["det"] if r["det"] is not None else np.zeros(0, dtype=np.int64)
            s_all = score_detection(ref["idx"], det, fs, window_ms=WINDOW_MS)
            entry = {"n_ref": int(ref["idx"].size), "n_det": int(det.size),
                     "all": _score_dict(s_all), "cpu_s": r["cpu_s"], "error": r["error"],
                     "warnings": r["warnings"],
                     "duration_s": (r["n_samples"] / fs) if r.get("n_samples") else None}
            g = gross[v]
            g["all"] = g["all"] + s_all
            if excl is not None:
                s_ec = score_detection(ref["idx"], det, fs, window_ms=WINDOW_MS,
                                       exclude=excl[rec] or None)
                entry["ec57"] = _score_dict(s_ec)
                g["ec57"] = g["ec57"] + s_ec
            if r["error"] is None:
                g["cpu_s"] += r["cpu_s"]
                g["seconds"] += r["n_samples"] / fs
            else:
                g["failed"].append(rec)
            per_record[rec][v] = entry
    return per_record, gross


def _cpu_per_hour(g) -> float | None:
    return g["cpu_s"] / (g["seconds"] / 3600.0) if g["seconds"] else None


def _md_header(report: dict, records) -> list[str]:
    m = report["machine"]
    c = report["code"]
    L = ["# R-peak detection benchmark", "",
         f"- Date: {report['date']}; wall time {report['wall_s'] / 60:.1f} min "
         f"with `--jobs {report['jobs']}`",
         f"- Command: `{report['command']}`"]
    dirty = (f" + uncommitted changes in {', '.join(c['git']['uncommitted'])}"
             if c["git"]["uncommitted"] else "")
    L.append(f"- Code under test: git {str(c['git']['head'])[:7]}{dirty}, as on disk when "
             f"the run started (workers import a snapshot taken then); sources sha256 "
             f"{c['snapshot']} (detector + data/scoring files)")
    if not c["consistent"]:
        L.append(f"- **WARNING: workers did not all run the snapshot** (snapshot "
                 f"{c['snapshot']}, workers {', '.join(c['workers'])}); results may mix "
                 f"versions.")
    if c["tree_changed_during_run"]:
        changed = [k for k, v in c["tree_files_end"].items() if v != c["files"].get(k)]
        L.append(f"- Note: {', '.join(changed)} changed in the working tree during the run; "
                 f"these results are for the snapshot above, not for the files now on disk.")
    L.append(f"- Machine: {m['cpu_model']} ({m['logical_cpus']} logical CPUs, shared); "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    L.append(f"- MIT-BIH Arrhythmia DB: {len(records)} records, channel 0 at 360 Hz, "
             f"EC57 beat-by-beat matching, {WINDOW_MS:.0f} ms window; every AAMI beat "
             f"annotation (N L R e j A a J S V E F / f Q) is a reference beat. Gross statistics "
             f"(counts summed over records).")
    L.append("- CPU s/h: `time.process_time()` around the detector call only, per hour of ECG, "
             "single-threaded worker, after one untimed warm-up call per worker. NeuroKit2 "
             "times include its `ecg_clean` with the same method.")
    return L + [""]


def _md_gross(mit_gross: dict, variants, proto: str, title: str,
              note: str | None = None) -> list[str]:
    """One gross table of the MIT-BIH run (``proto`` "all" or "ec57")."""
    L = [f"## {title}", ""]
    if note:
        L += [note, ""]
    L += ["| Detector | Se % | +P % | F1 % | TP | FP | FN | CPU s / h ECG |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in variants:
        g = mit_gross[v]
        s = g[proto]
        cph = _cpu_per_hour(g)
        mark = f" † (failed on {', '.join(g['failed'])})" if g["failed"] else ""
        L.append(f"| {_label(v)}{mark} | {_pct(s.se)} | {_pct(s.ppv)} | {_pct(s.f1)} | "
                 f"{s.tp} | {s.fp} | {s.fn} | "
                 f"{'n/a' if cph is None else f'{cph:.2f}'} |")
    return L + [""]


def _md_invariance(chk: dict | None) -> list[str]:
    """Whether ours' detections are identical for every chunk size."""
    if chk is None:
        return []
    if not chk["mismatches"]:
        return [f"Ours with chunk 1 s, 10 s and 0.1 s: detections identical on all "
                f"{chk['compared']} records (MIT-BIH + NSTDB + SVDB; asserted), so only "
                f"their CPU columns differ.", ""]
    L = ["## ASSERTION FAILED: ours is not chunk-size invariant", "",
         f"Ours' detections with chunk 1 s, 10 s and 0.1 s are identical on "
         f"{chk['identical']} of {chk['compared']} records (MIT-BIH + "
         f"NSTDB + SVDB) and differ on {len(chk['mismatches'])}: "
         f"{', '.join(m['db'] + ' ' + m['record'] for m in chk['mismatches'])}."
         f" The script exits with status 1. Per differing record (protocol 1 "
         f"counts; \"+only / -only\" = detections present only in this run / only "
         f"in the chunk-1 s run):", "",
         "| Record | Chunk | Detections | TP | FP | FN | +only | -only "
         "| First differing sample indices |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in chk["mismatches"]:
        for c, d in m["runs"].items():
            first = ", ".join(str(i) for i in sorted(d["only_here"][:4]
                                                     + d["only_in_ref_run"][:4])[:6])
            L.append(f"| {m['db']} {m['record']} | {c} s | {d['n_det']} | {d['tp']} "
                     f"| {d['fp']} | {d['fn']} | {d['n_only_here']} "
                     f"| {d['n_only_in_ref_run']} | {first} |")
    return L + [""]


def _md_mitdb(report: dict, variants, mit_gross: dict) -> list[str]:
    if not mit_gross:
        return []
    ex = report["mitdb"]["vf_exclusion"]
    return (_md_gross(mit_gross, variants, "all",
                      "MIT-BIH, protocol 1: all beats, no exclusions (primary)")
            + _md_gross(mit_gross, variants, "ec57",
                        "MIT-BIH, protocol 2: EC57, ventricular flutter episodes excluded",
                        note=(f"Reference and detected beats inside the `[` ... `]` episodes "
                              f"are dropped: {ex['n_episodes']} episodes in record(s) "
                              f"{', '.join(ex['records']) or 'none'}, {ex['seconds']:.1f} s, "
                              f"{ex['ref_beats_excluded']} reference beats excluded."))
            + _md_invariance(report.get("ours_chunk_invariance")))


def _md_nstdb(variants, nst_per: dict, nst_records) -> list[str]:
    """F1 per SNR (gross, then per record) on the Noise Stress Test DB."""
    if not nst_per:
        return []
    snrs = list(SNRS_DB)
    L = ["## Noise Stress Test DB: F1 % per SNR (118e* + 119e*, gross; all beats)", "",
         "| Detector | " + " | ".join(f"{SNRS_DB[s]} dB" for s in snrs) + " |",
         "|---|" + "---:|" * len(snrs)]
    for v in variants:
        cells = []
        for s in snrs:
            recs = [r for r in nst_records if r.endswith("e" + s)]
            tot = DetectionScore()
            failed = []
            for r in recs:
                e = nst_per[r][v]
                tot = tot + DetectionScore(e["all"]["tp"], e["all"]["fp"], e["all"]["fn"])
                if e["error"]:
                    failed.append(r)
            cells.append(_pct(tot.f1) + (" †" if failed else "") if recs else "–")
        L.append(f"| {_label(v)} | " + " | ".join(cells) + " |")
    L += ["", "Per record (F1 %, 118 / 119):", "",
          "| Detector | " + " | ".join(f"{SNRS_DB[s]} dB" for s in snrs) + " |",
          "|---|" + "---:|" * len(snrs)]
    for v in variants:
        cells = []
        for s in snrs:
            parts = []
            for base in ("118", "119"):
                r = f"{base}e{s}"
                if r in nst_per:
                    e = nst_per[r][v]
                    parts.append(_pct(e["all"]["f1"] if e["all"]["f1"] is not None
                                      else float("nan")) + (" †" if e["error"] else ""))
                else:
                    parts.append("–")
            cells.append(" / ".join(parts))
        L.append(f"| {_label(v)} | " + " | ".join(cells) + " |")
    return L + ["", "The 119e* reference annotations follow MIT-BIH 119's older annotation file "
                "(a few V beats 10-30 samples off today's 119.atr, inside the window). Noise "
                "is added in alternating 2-min segments from minute 5 (PhysioNet's nstdb "
                "description); scores cover the whole 30-min record.", ""]


def _md_svdb(variants, gross: dict, per: dict) -> list[str]:
    """Gross table on SVDB (128 Hz) and the records where ours misses most."""
    if not gross:
        return []
    L = _md_gross(gross, variants, "all",
                  f"SVDB (MIT-BIH Supraventricular Arrhythmia DB, 128 Hz): {len(per)} records, "
                  f"all beats")
    L[2:2] = ["Channel 0 at its native 128 Hz; every AAMI beat annotation of `atr` is a "
              "reference beat; EC57 matching, 150 ms window. Ours resamples to its 360 Hz "
              "processing rate; gqrs and NeuroKit2 run at 128 Hz.", ""]
    ours = next((v for v in variants if v.startswith("ours@")), None)
    if ours is None:
        return L
    worst = sorted(per, key=lambda r: (-per[r][ours]["all"]["fn"], r))[:8]
    L += ["Records where ours misses most (FN / FP per detector):", "",
          "| Record | Beats | " + " | ".join(_label(v) for v in variants
                                             if not v.startswith("ours@") or v == ours) + " |",
          "|---|---:|" + "---:|" * len([v for v in variants
                                        if not v.startswith("ours@") or v == ours])]
    for r in worst:
        cells = [f"{per[r][v]['all']['fn']} / {per[r][v]['all']['fp']}"
                 for v in variants if not v.startswith("ours@") or v == ours]
        L.append(f"| {r} | {per[r][ours]['n_ref']} | " + " | ".join(cells) + " |")
    return L + [""]


def _md_worst(report: dict, variants, mit_gross: dict) -> list[str]:
    """The ten MIT-BIH records where ours has the lowest F1, with the peers' F1."""
    ref_v = f"ours@{OURS_CHUNKS[0]:g}"
    if not mit_gross or ref_v not in variants:
        return []
    per = report["mitdb"]["per_record"]
    peers = [v for v in variants if not v.startswith("ours@")]
    rows = sorted(per, key=lambda r: (per[r][ref_v]["all"]["f1"] or 0.0,
                                      -(per[r][ref_v]["all"]["fp"]
                                        + per[r][ref_v]["all"]["fn"])))[:10]
    head = "| Record | Ref beats | TP | FP | FN | Se % | +P % | F1 % | EC57 F1 % |"
    head += "".join(f" {_label(p)} F1 % |" for p in peers)
    L = ["## Worst MIT-BIH records for ours (protocol 1, by F1)", "", head,
         "|---|" + "---:|" * (8 + len(peers))]
    for r in rows:
        e = per[r][ref_v]
        a = e["all"]
        ec = e.get("ec57", {}).get("f1")
        line = (f"| {r} | {e['n_ref']} | {a['tp']} | {a['fp']} | {a['fn']} | "
                f"{_pct(a['se'])} | {_pct(a['ppv'])} | {_pct(a['f1'])} | "
                f"{_pct(ec if ec is not None else float('nan'))} |")
        for p in peers:
            pe = per[r][p]
            f1 = pe["all"]["f1"]
            line += f" {_pct(f1 if f1 is not None else float('nan'))}" \
                    f"{' †' if pe['error'] else ''} |"
        L.append(line)
    return L + [""]


def _md_failures(report: dict, variants, mit_gross: dict, nst_per: dict) -> list[str]:
    """The detectors that raised, and on which records (the † of the tables)."""
    failed_any = any(mit_gross[v]["failed"] for v in mit_gross) or any(
        nst_per[r][v]["error"] for r in nst_per for v in variants)
    errors = report.get("errors", [])
    if not (failed_any or errors):
        return []
    L = ["## Failures", "",
         "† A detector raised on these records; the record counts as zero detections "
         "(all its reference beats are missed, FN) and its CPU time is left out.", ""]
    L += [f"- {e['detector']} on {e['database']} {e['record']}: `{e['error']}`" for e in errors]
    return L + [""]


def _markdown(report, variants, mit_gross, nst_per, records, nst_records,
              svdb_variants=(), svdb_gross=None, svdb_per=None) -> str:
    """``rpeak.md``: header, MIT-BIH tables, chunk invariance, NSTDB, SVDB, worst records,
    failures."""
    L = _md_header(report, records)
    L += _md_mitdb(report, variants, mit_gross)
    L += _md_nstdb(variants, nst_per, nst_records)
    L += _md_svdb(svdb_variants, svdb_gross or {}, svdb_per or {})
    L += _md_worst(report, variants, mit_gross)
    L += _md_failures(report, variants, mit_gross, nst_per)
    return "\n".join(L)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

def _references(records, nst_records, mit_dir: str, nst_dir: str | None):
    """Reference beats (and the MIT-BIH ventricular flutter episodes), parent side, untimed."""
    mit_refs, mit_excl = {}, {}
    for rec in records:
        b = reference_beats(rec, database="mitdb", data_dir=mit_dir)
        ann = read_annotations(rec, database="mitdb", data_dir=mit_dir)
        mit_refs[rec] = {"idx": b.sample_index, "fs_hz": b.fs_hz}
        mit_excl[rec] = vf_episodes(ann.sample_index, ann.symbol)
    nst_refs = {}
    for rec in nst_records:
        b = reference_beats(rec, database="nstdb", data_dir=nst_dir)
        nst_refs[rec] = {"idx": b.sample_index, "fs_hz": b.fs_hz}
    return mit_refs, mit_excl, nst_refs


def _svdb_references(records, svdb_dir: str) -> dict:
    out = {}
    for rec in records:
        b = reference_beats(rec, database="svdb", data_dir=svdb_dir)
        out[rec] = {"idx": b.sample_index, "fs_hz": b.fs_hz}
    return out


def _snapshot() -> Path:
    """Copy edge/ and training/ to a temporary folder the workers import from."""
    import shutil
    import tempfile
    snap = Path(tempfile.mkdtemp(prefix="bench_rpeak_code_"))
    for pkg in ("edge", "training"):
        shutil.copytree(REPO_ROOT / pkg, snap / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return snap


def _ignore_sigint() -> None:
    """A worker leaves Ctrl-C to the parent (which ends the pool and says so in one line).
    Not :func:`benchmarks.common.ignore_sigint`: importing that module in a spawned worker
    puts the repository before the code snapshot on ``sys.path``."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_tasks(tasks, jobs: int, refs_of: dict) -> tuple[dict, float]:
    """Run every (variant, database, record, dir) task on a spawn pool of ``jobs`` workers with
    one BLAS/OpenMP thread each; print one progress line per task. Returns the results keyed
    by (database, variant, record) and the wall time (s)."""
    import multiprocessing as mp
    for var in _THREAD_VARS:  # spawn-started workers import numpy with these set
        os.environ[var] = "1"
    results: dict = {}
    t_wall = time.perf_counter()
    with mp.get_context("spawn").Pool(processes=jobs, maxtasksperchild=None,
                                      initializer=_ignore_sigint) as pool:
        for i, r in enumerate(pool.imap_unordered(run_detector, tasks, chunksize=1), 1):
            results[(r["database"], r["variant"], r["record"])] = r
            ref = refs_of[r["database"]][r["record"]]
            if r["error"]:
                status = f"ERROR {r['error']}"
            else:
                s = score_detection(ref["idx"], r["det"], r["fs_hz"], window_ms=WINDOW_MS)
                status = (f"Se {_pct(s.se)} +P {_pct(s.ppv)} F1 {_pct(s.f1)}  "
                          f"cpu {r['cpu_s']:.2f} s")
            print(f"[{i:4d}/{len(tasks)}] {time.perf_counter() - t_wall:7.1f}s "
                  f"{r['database']} {r['record']:>7s} {_label(r['variant']):22s} {status}",
                  flush=True)
    return results, time.perf_counter() - t_wall


def _code_state(results: dict, git_state: dict, tree_start: dict, snap: Path,
                snap_hashes: dict) -> dict:
    """Which code ran: the snapshot's hashes, the workers' and the working tree's before and
    after; warns on stderr when they disagree."""
    tree_end = source_hashes(REPO_ROOT)
    worker_codes = sorted({r["code"] for r in results.values() if r.get("code")})
    code = {"git": git_state, "files": snap_hashes, "snapshot": _combined(snap_hashes),
            "tree_start": _combined(tree_start), "tree_end": _combined(tree_end),
            "tree_files_end": tree_end, "workers": worker_codes}
    code["consistent"] = (worker_codes in ([], [f"{code['snapshot']} @ {snap.resolve()}"])
                          and code["tree_start"] == code["snapshot"])
    code["tree_changed_during_run"] = code["tree_end"] != code["tree_start"]
    if not code["consistent"]:
        print("WARNING: workers did not all run the snapshot of the code; results may mix "
              "versions", file=sys.stderr)
    if code["tree_changed_during_run"]:
        changed = [k for k in tree_end if tree_end[k] != tree_start[k]]
        print(f"note: {', '.join(changed)} changed in the working tree during the run; the "
              f"run used the snapshot taken at its start", file=sys.stderr)
    return code


def _errors(results: dict) -> list[dict]:
    return [{"detector": _label(r["variant"]), "database": r["database"],
             "record": r["record"], "error": r["error"]}
            for r in sorted(results.values(),
                            key=lambda r: (r["database"], r["record"], r["variant"]))
            if r["error"]]


def _chunk_invariance(results: dict, variants, records_of: dict, refs_of: dict) -> dict | None:
    """Ours' detections compared between chunk sizes, record by record (None with one size)."""
    ours_v = [v for v in variants if v.startswith("ours@")]
    if len(ours_v) <= 1:
        return None
    compared = identical = 0
    mismatches = []
    for db, recs in records_of.items():
        for rec in recs:
            runs = [results[(db, v, rec)] for v in ours_v]
            if any(x["det"] is None for x in runs):
                continue
            compared += 1
            if all(np.array_equal(runs[0]["det"], x["det"]) for x in runs[1:]):
                identical += 1
                continue
            detail = {}
            for v, x in zip(ours_v, runs):
                s = score_detection(refs_of[db][rec]["idx"], x["det"], x["fs_hz"],
                                    window_ms=WINDOW_MS)
                here = np.setdiff1d(x["det"], runs[0]["det"])
                there = np.setdiff1d(runs[0]["det"], x["det"])
                detail[v.split("@")[1]] = {
                    "n_det": int(x["det"].size), "tp": s.tp, "fp": s.fp, "fn": s.fn,
                    "n_only_here": int(here.size), "n_only_in_ref_run": int(there.size),
                    "only_here": here[:50].tolist(), "only_in_ref_run": there[:50].tolist()}
            mismatches.append({"db": db, "record": rec, "runs": detail})
    return {"chunks_s": [float(v.split("@")[1]) for v in ours_v],
            "reference_chunk_s": float(ours_v[0].split("@")[1]),
            "compared": compared, "identical": identical, "mismatches": mismatches}


def _vf_exclusion(records, mit_refs: dict, mit_excl: dict) -> dict:
    ex_recs = [r for r in records if mit_excl[r]]
    return {"records": ex_recs, "n_episodes": sum(len(mit_excl[r]) for r in ex_recs),
            "episodes": {r: mit_excl[r] for r in ex_recs},
            "seconds": sum((b - a) / mit_refs[r]["fs_hz"] for r in ex_recs
                           for a, b in mit_excl[r]),
            "ref_beats_excluded": sum(int(((mit_refs[r]["idx"] >= a)
                                           & (mit_refs[r]["idx"] <= b)).sum())
                                      for r in ex_recs for a, b in mit_excl[r])}


def _gross_json(gross: dict) -> dict:
    return {v: {"label": _label(v), "all": _score_dict(g["all"]),
                **({"ec57": _score_dict(g["ec57"])} if g["ec57"].tp + g["ec57"].fn else {}),
                "cpu_s": g["cpu_s"], "ecg_hours_timed": g["seconds"] / 3600.0,
                "cpu_s_per_hour": _cpu_per_hour(g), "failed_records": g["failed"]}
            for v, g in gross.items()}


def _nst_by_snr(nst_per: dict, variants, nst_records) -> dict:
    out = {}
    for s, db in SNRS_DB.items():
        recs = [r for r in nst_records if r.endswith("e" + s)]
        if not recs:
            continue
        out[str(db)] = {}
        for v in variants:
            tot = DetectionScore()
            for r in recs:
                a = nst_per[r][v]["all"]
                tot = tot + DetectionScore(a["tp"], a["fp"], a["fn"])
            out[str(db)][v] = {"records": recs, **_score_dict(tot),
                               "per_record_f1": {r: nst_per[r][v]["all"]["f1"] for r in recs}}
    return out


def _command(argv) -> str:
    return " ".join(shlex.quote(a) for a in ["python", *sys.argv]) if argv is None else \
        " ".join(shlex.quote(a) for a in ["python", "benchmarks/bench_rpeak.py", *argv])


def main(argv=None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args, argv)
    except KeyboardInterrupt:
        print("bench_rpeak.py: interrupted; nothing written", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace, argv) -> int:
    nst_records = args.nstdb_records
    try:
        mit_dir = _resolve_dir(args.mitdb_dir, "mitdb")
        nst_dir = _resolve_dir(args.nstdb_dir, "nstdb") if nst_records else None
        mit_refs, mit_excl, nst_refs = _references(args.records, nst_records, mit_dir, nst_dir)
        svdb_dir = None if args.no_svdb else _svdb_dir(args.svdb_dir, mit_dir,
                                                       args.svdb_records is not None)
        svdb_records = [] if svdb_dir is None else (
            args.svdb_records or sorted(p.stem for p in Path(svdb_dir).glob("*.hea")))
        svdb_refs = _svdb_references(svdb_records, svdb_dir) if svdb_records else {}
    except EdgeError as exc:
        print(f"bench_rpeak.py: error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = _variants(args.detectors)
    svdb_variants = _variants([d for d in args.detectors if d in SVDB_DETECTORS])
    if not svdb_variants:
        svdb_records, svdb_refs = [], {}
    if svdb_dir is None and not args.no_svdb:
        print("note: no SVDB folder ($SVDB_DIR, or svdb next to the MIT-BIH folder); the "
              "SVDB section is skipped", file=sys.stderr)
    records_of = {"mitdb": args.records, "nstdb": nst_records, "svdb": svdb_records}
    refs_of = {"mitdb": mit_refs, "nstdb": nst_refs, "svdb": svdb_refs}
    tasks = [(v, "mitdb", r, mit_dir) for r in args.records for v in variants]
    tasks += [(v, "nstdb", r, nst_dir) for r in nst_records for v in variants]
    tasks += [(v, "svdb", r, svdb_dir) for r in svdb_records for v in svdb_variants]
    print(f"{len(tasks)} tasks: {len(variants)} detector variants x "
          f"({len(args.records)} MIT-BIH + {len(nst_records)} NSTDB records) + "
          f"{len(svdb_variants)} x {len(svdb_records)} SVDB records, jobs={args.jobs}",
          flush=True)

    git_state = _git_state()
    tree_start = source_hashes(REPO_ROOT)
    snap = _snapshot()
    snap_hashes = source_hashes(snap)
    os.environ[_SNAPSHOT_ENV] = str(snap)
    try:
        results, wall = _run_tasks(tasks, args.jobs, refs_of)
    finally:
        import shutil
        shutil.rmtree(snap, ignore_errors=True)
    code = _code_state(results, git_state, tree_start, snap, snap_hashes)
    invariance = _chunk_invariance(results, variants, records_of, refs_of)
    mismatches = invariance["mismatches"] if invariance else []

    mit_results = {(v, r): results[("mitdb", v, r)] for v in variants for r in args.records}
    mit_per, mit_gross = _score_database(mit_results, mit_refs, mit_excl, variants) \
        if args.records else ({}, {})
    nst_results = {(v, r): results[("nstdb", v, r)] for v in variants for r in nst_records}
    nst_per, nst_gross = _score_database(nst_results, nst_refs, None, variants) \
        if nst_records else ({}, {})
    svdb_results = {(v, r): results[("svdb", v, r)] for v in svdb_variants for r in svdb_records}
    svdb_per, svdb_gross = _score_database(svdb_results, svdb_refs, None, svdb_variants) \
        if svdb_records else ({}, {})

    report = {
        "benchmark": "rpeak",
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": _command(argv),
        "cwd": os.getcwd(),
        "python_executable": sys.executable,
        "jobs": args.jobs,
        "wall_s": wall,
        "machine": _machine_info(),
        "code": code,
        "settings": {"window_ms": WINDOW_MS, "channel": 0, "ours_chunks_s": list(OURS_CHUNKS),
                     "detectors": {v: _label(v) for v in variants},
                     "reference": "all AAMI beat annotations (N L R e j A a J S V E F / f Q)",
                     "mitdb_dir": mit_dir, "nstdb_dir": nst_dir if nst_records else None,
                     "svdb_dir": svdb_dir if svdb_records else None,
                     "cpu_timing": "time.process_time() around the detector call only; one "
                                   "untimed warm-up per worker and detector; 1 BLAS thread"},
        "mitdb": {"records": args.records, "gross": _gross_json(mit_gross),
                  "vf_exclusion": _vf_exclusion(args.records, mit_refs, mit_excl),
                  "per_record": mit_per},
        "nstdb": {"records": nst_records, "gross": _gross_json(nst_gross) if nst_gross else {},
                  "by_snr_db": _nst_by_snr(nst_per, variants, nst_records),
                  "per_record": nst_per},
        "svdb": {"records": svdb_records,
                 "gross": _gross_json(svdb_gross) if svdb_gross else {},
                 "per_record": svdb_per},
        "ours_chunk_invariance": invariance,
        "errors": _errors(results),
    }
    ours_v = [v for v in variants if v.startswith("ours@")]
    for per in (mit_per, nst_per, svdb_per):  # per-record CPU of every ours chunk size
        for rec, d in per.items():
            if ours_v:
                d["ours_cpu_s_by_chunk"] = {f"{v.split('@')[1]}": d[v]["cpu_s"] for v in ours_v}

    md = _markdown(report, variants, mit_gross, nst_per, args.records, nst_records,
                   svdb_variants, svdb_gross, svdb_per)
    (out_dir / "rpeak.json").write_text(json.dumps(report, indent=1, default=_json_default)
                                        + "\n")
    (out_dir / "rpeak.md").write_text(md + "\n")
    print()
    print(md)
    print(f"\nwrote {out_dir / 'rpeak.json'} and {out_dir / 'rpeak.md'}; "
          f"wall {wall / 60:.1f} min", flush=True)
    if mismatches:
        print(f"ASSERTION FAILED: ours' detections differ between chunk sizes on "
              f"{', '.join(m['db'] + ' ' + m['record'] for m in mismatches)}",
              file=sys.stderr)
        return 1
    return 0


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o).__name__)


if __name__ == "__main__":  # an unwritable output or Ctrl-C: one line, not a traceback
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import run_bench  # noqa: E402

    sys.exit(run_bench("bench_rpeak", main))
