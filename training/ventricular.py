"""Train the VF window model (``edge/models/rhythm_vf.json``) and the data the VF benchmark
scores against.

Data (development data only):

* CUDB (``$CUDB_DIR`` or ``./data/cudb``, 35 records, 250 Hz): shockable = inside
  '[' ... ']' (VF/VFL; a record whose first bracket is ']' starts in VF, an unclosed '['
  runs to the end);
* MIT-BIH **DS1** (:data:`training.data.DS1`, MLII): shockable = ``(VFL`` / ``(VF`` rhythm
  episodes; ``(VT`` episodes are kept apart (scored as VT, trained as not shockable). DS2 and
  the paced records are never fitted here.
* optionally (``--cinc-share S`` > 0; the bundled ``handheld`` model, S 0.25) the 5,970 CinC
  2017 AliveCor recordings (``$CINC2017_DIR``): every window not shockable (a handheld
  recorder held by a person in VF does not happen), every :data:`CINC_STEP`-th one, clean
  only, weighing S of the not-shockable half in total; dealt into the strip model's
  record-stratified folds for the CV (:func:`cinc_records`);
* optionally the same records with NSTDB noise added throughout (:func:`noisy_signal`, a
  different noise offset per record): electrode motion (``em``) and muscle artefact (``ma``),
  channel 0, at 6 and 12 dB (labels kept: the rhythm under the noise is the same).

Windows are those of :class:`edge.rhythm.ventricular.VfWindows` (4 s stepped 1 s on the
conditioned signal, exactly what the device computes), cached per record under
``$ECG_EDGE_CACHE`` (``vf_<db>_<record>_<variant>.npz``, ``variant`` ``clean`` or
``<noise><snr>`` such as ``em6``; recomputed when the feature names changed). A window is
labelled from the share of it inside a shockable episode: 1 when >= 0.75, 0 when 0 (and no
VT), else left out of training.

``python -m training.ventricular`` fits the model on all the training records and writes the
JSON; with ``--cv`` it prints the record-wise 5-fold out-of-fold scores instead (4-s windows
and alarm episodes on CUDB and DS1, clean and each noisy copy; the design numbers of
``benchmarks/results/ventricular.md``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.dsp.detection import to_input_index
from edge.dsp.preprocess import Conditioned, PreprocessConfig, Preprocessor
from edge.errors import EdgeError
from edge.io.records import read_annotations, read_record
from edge.rhythm.model import default_model_path
from edge.rhythm.ventricular import VF_KIND, VentricularConfig, VfWindows
from edge.rhythm.vfeatures import VF_FEATURE_NAMES
from training.data import DS1, DS2, PACED
from training.dataset import cache_dir
from training.rhythm import export_trees, fit_trees, write_tree_model
from training.tool import env_only, output_dir, output_file

__all__ = ["CUDB_RECORDS", "Episodes", "window_errors", "ERROR_KINDS", "cudb_episodes",
           "mitdb_episodes", "record_signal",
           "noisy_signal", "RecordWindows", "record_windows", "window_labels", "folds",
           "fit_vf", "main", "VF_TREE_PARAMS", "TRAIN_NOISE", "SHIPPED_NOISE", "parse_variant",
           "interval_overlap", "score_alarm_episodes", "is_cinc", "cinc_records",
           "with_cinc", "CINC_SHARE", "CINC_STEP", "cv_fold_model", "cinc_fold_of",
           "fold_training_records"]

logger = logging.getLogger(__name__)

CUDB_RECORDS = tuple(f"cu{k:02d}" for k in range(1, 36))
VF_TREE_PARAMS = {"n_estimators": 120, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8,
                  "min_samples_leaf": 20}
SHOCK_AUX = ("(VFL", "(VF")
VT_AUX = ("(VT",)
NOISE_SNR_DB = 6.0
#: The noisy copies :func:`training_rows` adds for ``noisy=True`` (see :func:`parse_variant`).
TRAIN_NOISE = ("em6", "ma6", "em12", "ma12")
#: The recipe of the shipped model (and of the benchmark's fold models): its noisy copies.
SHIPPED_NOISE: tuple[str, ...] = TRAIN_NOISE
#: CinC 2017 recordings (handheld, people going about their day) as not-shockable training
#: windows: their share of the not-shockable weight (0: CinC not used) and the window step.
CINC_SHARE = 0.0
CINC_STEP = 2


def cudb_dir() -> Path:
    """``$CUDB_DIR``, else ``./data/cudb`` (the default of
    :func:`edge.io.records.find_data_dir`)."""
    return Path(os.environ.get("CUDB_DIR") or Path("data") / "cudb")


def is_cinc(record: str) -> bool:
    """A CinC 2017 recording name (``A00001`` ... ``A08528``)."""
    return len(record) == 6 and record[0] == "A" and record[1:].isdigit()


def _db(record: str) -> str:
    if record.startswith("cu"):
        return "cudb"
    return "cinc" if is_cinc(record) else "mitdb"


def cinc_records() -> tuple[tuple[str, ...], np.ndarray]:
    """(names, record-stratified fold 0..4) of every CinC 2017 recording: the folds of the
    rhythm strip model (:func:`training.rhythm.cinc_folds`), so a recording is out of fold
    for both. CinC holds no VF: every window of it is a not-shockable example."""
    from training.rhythm import cinc_folds, cinc_reference  # noqa: PLC0415
    try:
        rows = cinc_reference()
    except EdgeError:
        raise  # its own words: the folder, the file or the line, and what to set
    except OSError as exc:
        raise EdgeError(f"CinC 2017 not found ({exc}): set CINC2017_DIR") from exc
    return tuple(r[0] for r in rows), cinc_folds(np.array([r[1] for r in rows]))


def cinc_fold_of() -> dict[str, int]:
    """CinC recording name -> its fold (:func:`cinc_records`)."""
    names, f = cinc_records()
    return dict(zip(names, f.tolist()))


def fold_training_records(f: dict[str, int], k: int,
                          cinc_fold: dict[str, int] | None = None) -> list[str]:
    """The records fold ``k``'s models are fitted on: those of ``f`` (:func:`folds`) and of
    ``cinc_fold`` (:func:`cinc_fold_of`; none when empty) outside fold ``k``."""
    return ([r for r, j in f.items() if j != k]
            + [r for r, j in (cinc_fold or {}).items() if j != k])


@dataclass(frozen=True)
class Episodes:
    """Reference episodes of a record (input-rate samples, ``[start, end)``)."""

    shockable: list[tuple[int, int]]
    vt: list[tuple[int, int]]
    n_samples: int
    fs_hz: float


def _n_samples(record: str) -> tuple[int, float]:
    from wfdb import rdheader  # noqa: PLC0415 (training side only)

    from edge.io.records import resolve_record  # noqa: PLC0415
    db = _db(record)
    if db == "cinc":
        from training.rhythm import cinc_dir  # noqa: PLC0415
        h = rdheader(str(cinc_dir() / record))
        return int(h.sig_len), float(h.fs)
    data_dir = cudb_dir() if db == "cudb" else None
    h = rdheader(str(resolve_record(record, db, data_dir)))
    return int(h.sig_len), float(h.fs)


def cudb_episodes(record: str) -> Episodes:
    """CUDB: '[' ... ']' are VF/VFL (shockable); ``(VT`` rhythm runs are VT."""
    n, fs = _n_samples(record)
    ann = read_annotations(record, "atr", database="cudb", data_dir=cudb_dir())
    shock: list[tuple[int, int]] = []
    start: int | None = None
    seen = False
    for s, y in zip(ann.sample_index.tolist(), list(ann.symbol)):
        if y == "[":
            seen = True
            if start is None:
                start = s
        elif y == "]":
            if start is None and not seen:
                start = 0  # the record starts in VF
            seen = True
            if start is not None:
                shock.append((start, s))
                start = None
    if start is not None:
        shock.append((start, n))
    vt = _aux_runs(ann, VT_AUX, n)
    return Episodes(shock, vt, n, fs)


def _aux_runs(ann, names: tuple[str, ...], n: int) -> list[tuple[int, int]]:  # noqa: ANN001
    out: list[tuple[int, int]] = []
    start = None
    for s, y, aux in zip(ann.sample_index.tolist(), list(ann.symbol), list(ann.aux_note)):
        if y != "+":
            continue
        aux = (aux or "").rstrip("\x00").strip()
        inside = aux in names
        if inside and start is None:
            start = s
        elif not inside and start is not None:
            out.append((start, s))
            start = None
    if start is not None:
        out.append((start, n))
    return out


def mitdb_episodes(record: str) -> Episodes:
    """MIT-BIH: ``(VFL``/``(VF`` rhythm runs are shockable, ``(VT`` runs VT."""
    n, fs = _n_samples(record)
    ann = read_annotations(record, "atr")
    return Episodes(_aux_runs(ann, SHOCK_AUX, n), _aux_runs(ann, VT_AUX, n), n, fs)


def episodes(record: str) -> Episodes:
    db = _db(record)
    if db == "cinc":  # handheld recordings of people walking about: no VF, no VT marked
        return Episodes([], [], *_n_samples(record))
    return cudb_episodes(record) if db == "cudb" else mitdb_episodes(record)


def record_signal(record: str) -> tuple[np.ndarray, float]:
    """The analysed channel (mV; CUDB's and CinC's only one, MIT-BIH's MLII) and its rate."""
    if _db(record) == "cinc":
        from training.rhythm import cinc_dir  # noqa: PLC0415
        rec = read_record(cinc_dir() / record)
        return rec.signal_mv[:, 0].astype(np.float64), float(rec.fs_hz)
    if _db(record) == "cudb":
        rec = read_record(record, database="cudb", data_dir=cudb_dir())
        return rec.signal_mv[:, 0].astype(np.float64), float(rec.fs_hz)
    rec = read_record(record)
    ch = rec.sig_names.index("MLII") if "MLII" in rec.sig_names else 0
    return rec.signal_mv[:, ch].astype(np.float64), float(rec.fs_hz)


_NOISE: dict[str, np.ndarray] = {}


def parse_variant(variant: str) -> tuple[str, float] | None:
    """``"clean"`` -> None; ``"em6"`` -> ("em", 6.0); ``"ma12"`` -> ("ma", 12.0)."""
    if variant == "clean":
        return None
    kind, snr = variant[:2], variant[2:]
    if kind not in ("em", "ma", "bw") or not snr.isdigit():
        raise ValueError(f"noise variant must be clean or em|ma|bw<snr dB>, got {variant!r}")
    return kind, float(snr)


def noisy_signal(record: str, x: np.ndarray, fs_hz: float, snr_db: float = NOISE_SNR_DB,
                 offset_s: float | None = None, noise: str = "em") -> np.ndarray:
    """``x`` with NSTDB ``noise`` (``em``, ``ma`` or ``bw``; channel 0, 360 Hz, resampled to
    ``fs_hz``) added throughout at ``snr_db`` by the NST convention (S = (median QRS
    peak-to-peak)^2 / 8 over organised beats; records without enough of them: over 1-s
    blocks' peak-to-peak), from a record-dependent offset."""
    if noise not in _NOISE:
        _NOISE[noise] = read_record(noise, database="nstdb").signal_mv[:, 0].astype(np.float64)
    em = _NOISE[noise]
    if fs_hz != 360.0:
        from scipy.signal import resample_poly  # noqa: PLC0415
        em = resample_poly(em, int(round(fs_hz)), 360)
    key = sum(ord(c) * (k + 1) for k, c in enumerate(record))
    off = int((offset_s if offset_s is not None else (key * 37) % 1500) * fs_hz)
    z = np.resize(np.roll(em, -off), x.size)
    z = z - z.mean()
    half = int(round(0.05 * fs_hz))
    try:
        beats = read_annotations(record, "atr", database=_db(record),
                                 data_dir=cudb_dir() if _db(record) == "cudb" else None)
        pos = beats.sample_index[np.isin(beats.symbol, list("NLRBAaJSVrFejnE/fQ"))]
    except Exception:  # noqa: BLE001 - no annotations: use blocks
        pos = np.zeros(0, dtype=np.int64)
    pos = pos[(pos > half) & (pos < x.size - half)]
    xs = np.nan_to_num(x)
    if pos.size >= 20:
        pp = np.median([np.ptp(xs[i - half:i + half]) for i in pos[::10]])
    else:
        blk = int(fs_hz)
        pp = np.median([np.ptp(xs[i:i + blk]) for i in range(0, xs.size - blk, blk)])
    scale = np.sqrt(pp ** 2 / 8.0 / 10 ** (snr_db / 10) / max(z.var(), 1e-12))
    return x + scale * z


@dataclass(frozen=True)
class RecordWindows:
    """The windows of one record: end (input-rate sample, exclusive), features (NaN rows:
    not analysed), the record's rate and length."""

    record: str
    end_in: np.ndarray
    features: np.ndarray
    fs_hz: float
    n_samples: int


def compute_windows(x: np.ndarray, fs_hz: float,
                    config: VentricularConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(window ends at the input rate, features) of a whole signal, as the device computes
    them (one call of :class:`Preprocessor` and :class:`VfWindows`)."""
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs_hz))
    vw = VfWindows(config)
    parts = [vw.process(pre.process(x)), vw.process(pre.flush())]
    done = [w for p in parts for w in p]
    ends = np.array([e for e, _ in done], dtype=np.int64)
    nan = np.full(len(VF_FEATURE_NAMES), np.nan)
    feats = np.vstack([f if f is not None else nan for _, f in done]) if done else \
        np.zeros((0, len(VF_FEATURE_NAMES)))
    return to_input_index(ends, fs_hz, pre.config.fs_out_hz), feats


def record_windows(record: str, *, noisy: bool = False,
                   variant: str | None = None) -> RecordWindows:
    """Windows of a record (cached): ``variant`` ``clean`` or a noisy copy (``em6``,
    ``ma12``, ...; ``noisy=True`` alone is ``em6``)."""
    variant = variant or ("em6" if noisy else "clean")
    noise = parse_variant(variant)
    path = cache_dir() / f"vf_{_db(record)}_{record}_{variant}.npz"
    if path.is_file():
        z = np.load(path)
        if "names" in z.files and tuple(z["names"].tolist()) == VF_FEATURE_NAMES:
            return RecordWindows(record, z["end_in"], z["features"], float(z["fs_hz"]),
                                 int(z["n_samples"]))
    x, fs = record_signal(record)
    if noise is not None:
        x = noisy_signal(record, x, fs, snr_db=noise[1], noise=noise[0])
    ends, feats = compute_windows(x, fs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, end_in=ends, features=feats, fs_hz=fs, n_samples=x.size,
             names=np.array(VF_FEATURE_NAMES))
    return RecordWindows(record, ends, feats, fs, x.size)


def record_organised(record: str, variant: str = "clean",
                     config: VentricularConfig | None = None) -> np.ndarray:
    """The organised-rhythm test (:func:`edge.rhythm.ventricular.organised_windows`) of each
    window of :func:`record_windows` (same order; False where a window is not analysed), with
    the beats of the device's R-peak detector on the same signal variant, as the device
    computes it (cached per record, variant and veto settings). The device applies it only to
    windows with P >= ``p_shockable``; :func:`cross_validate` and ``bench_ventricular`` set a
    vetoed window's P to 0 (not shockable), which is the same."""
    import hashlib  # noqa: PLC0415

    from edge.dsp.rpeak import DetectorConfig, RPeakDetector  # noqa: PLC0415
    from edge.rhythm.ventricular import organised_windows  # noqa: PLC0415
    cfg = config or VentricularConfig()
    keys = ("organised_min_beats", "organised_min_rr_s", "organised_max_rr_s",
            "organised_max_rr_cv", "organised_min_corr", "window_s", "step_s")
    tag = hashlib.sha1(repr([getattr(cfg, k) for k in keys]).encode()).hexdigest()[:10]
    path = cache_dir() / f"vforg_{_db(record)}_{record}_{variant}_{tag}.npz"
    rw = record_windows(record, variant=variant)
    if path.is_file():
        z = np.load(path)
        if z["organised"].size == rw.end_in.size:
            return z["organised"]
    x, fs = record_signal(record)
    noise = parse_variant(variant)
    if noise is not None:
        x = noisy_signal(record, x, fs, snr_db=noise[1], noise=noise[0])
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    cfg = replace(cfg, fs_hz=pre.config.fs_out_hz)
    det = RPeakDetector(DetectorConfig(fs_hz=pre.config.fs_out_hz))
    conds = [pre.process(x), pre.flush()]
    whole = Conditioned(conds[0].sample_index,  # the detector is chunk-invariant: one chunk
                        np.concatenate([c.filtered_mv for c in conds]),
                        np.concatenate([c.valid for c in conds]))
    r = det.finish(whole)
    d = det.decided_at
    lag = det.decision_lag_samples
    vw = VfWindows(cfg)

    def test(ends: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return organised_windows(ends, rows, r, d, lag, cfg)[:, None].astype(float)

    done = [w for c in conds for w in vw.process(c, test)]
    org = np.array([f is not None and bool(f[0]) for _, f in done], dtype=bool)
    if org.size != rw.end_in.size:
        raise RuntimeError(f"{record} {variant}: {org.size} windows, cached {rw.end_in.size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, organised=org)
    return org


def overlap_share(starts: np.ndarray, ends: np.ndarray,
                  intervals: list[tuple[int, int]]) -> np.ndarray:
    """Share of each window ``[starts, ends)`` covered by ``intervals``."""
    cover = np.zeros(starts.size)
    for a, b in intervals:
        cover += np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0, None)
    return cover / np.maximum(ends - starts, 1)


def window_labels(rw: RecordWindows, ep: Episodes, window_s: float = 4.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(share of each window in a shockable episode, share in VT)."""
    starts = rw.end_in - int(round(window_s * rw.fs_hz))
    return (overlap_share(starts, rw.end_in, ep.shockable),
            overlap_share(starts, rw.end_in, ep.vt))


def training_rows(records, *, noisy: bool | tuple[str, ...] = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, record index) of the trainable windows of ``records``, clean and
    the noisy copies ``noisy`` (True: :data:`TRAIN_NOISE`). A CinC recording gives its clean
    windows only (they carry real-world noise already), every :data:`CINC_STEP`-th."""
    xs, ys, gs = [], [], []
    extra = TRAIN_NOISE if noisy is True else (tuple(noisy) if noisy else ())
    for k, rec in enumerate(records):
        if rec in DS2 or rec in PACED:
            raise ValueError(f"record {rec} is held out (DS2 / paced): never trained on")
        ep = episodes(rec)
        cinc = is_cinc(rec)
        for variant in ("clean",) + (() if cinc else extra):
            rw = record_windows(rec, variant=variant)
            shock, vt = window_labels(rw, ep)
            ok = np.all(np.isfinite(rw.features), axis=1)
            if cinc:
                ok &= np.arange(ok.size) % CINC_STEP == 0
            pos = ok & (shock >= 0.75)
            neg = ok & (shock == 0)
            keep = pos | neg
            xs.append(rw.features[keep])
            ys.append(pos[keep].astype(np.int64))
            gs.append(np.full(int(keep.sum()), k))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(gs)


def with_cinc(records, share: float | None = None) -> list[str]:
    """``records`` and, when the recipe gives CinC weight (``share``, default
    :data:`CINC_SHARE`, > 0), every CinC 2017 recording: the shipped model's training
    records."""
    share = CINC_SHARE if share is None else share
    return list(records) + (list(cinc_records()[0]) if share > 0 else [])


def folds(records, n_folds: int = 5) -> dict[str, int]:
    """Record-wise folds: CUDB and MIT-BIH records dealt round-robin in name order."""
    cudb = [r for r in records if r.startswith("cu")]
    mit = [r for r in records if not r.startswith("cu")]
    out = {r: k % n_folds for k, r in enumerate(cudb)}
    out.update({r: k % n_folds for k, r in enumerate(mit)})
    return out


def fit_vf(records, *, noisy: bool | tuple[str, ...] = False, seed: int = 0,
           cinc_share: float | None = None, **params):
    """A fitted ``GradientBoostingClassifier`` on the windows of ``records``.

    The classes weigh the same in total (shockable windows are rare). Within the not-shockable
    half, CinC recordings' windows (if ``records`` holds any) weigh ``cinc_share`` (default
    :data:`CINC_SHARE`) of it in total and CUDB + MIT-BIH the rest: CinC's 5,970 recordings
    would otherwise outweigh the few hours of monitored patients that hold the hard
    organised and noisy rhythms."""
    x, y, g = training_rows(records, noisy=noisy)
    share = CINC_SHARE if cinc_share is None else float(cinc_share)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"cinc_share must lie in [0, 1), got {share}")
    cinc = np.array([is_cinc(r) for r in records], dtype=bool)[g]
    if not cinc.any():  # the monitor recipe's weights, bit for bit (its model is unchanged)
        w = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    else:
        if (cinc & (y == 1)).any():
            raise ValueError("a CinC window is labelled shockable")
        base = (y == 0) & ~cinc
        w = np.empty(y.size)
        n = float(y.size)
        w[y == 1] = 0.5 * n / max(int((y == 1).sum()), 1)
        w[base] = 0.5 * (1.0 - share) * n / max(int(base.sum()), 1)
        w[cinc] = 0.5 * share * n / int(cinc.sum())
    return fit_trees(x, y, seed=seed, sample_weight=w, **{**VF_TREE_PARAMS, **params})


def export_vf(clf, path: str | os.PathLike, *, note: str = "") -> Path:
    doc = export_trees(clf, kind=VF_KIND, classes=("other", "shockable"),
                       feature_names=VF_FEATURE_NAMES)
    if note:
        doc["note"] = note
    return write_tree_model(doc, path)


TRAIN_RECORDS = CUDB_RECORDS + DS1


def interval_overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Samples ``[a0, a1)`` and ``[b0, b1)`` share (0 when disjoint)."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score_alarm_episodes(ref: list[tuple[int, int]], alarms: list[tuple[int, int, int]],
                         fs_hz: float, latency_from_s: float = 4.0) -> dict:
    """Overlap-based episode scores (EC57 style) of alarm episodes ``(start, end, alarm)``
    against reference episodes ``(start, end)`` of one record (samples): reference episodes
    found, alarm episodes true, durations and their overlap (s), and the alarm latency
    (earliest overlapping alarm - reference onset, >= 0 s) of each found reference episode
    that starts at least ``latency_from_s`` into the record. Durations are those of the
    intervals' unions, so alarm episodes of several kinds that overlap (``vflutter`` and a
    ``v_run``) are not counted twice (duration Se and +P stay within 0..1)."""
    ov = interval_overlap
    det = [(a, b) for a, b, _ in alarms]
    ref_u, det_u = _union(ref), _union(det)
    lat = []
    for r in ref:
        hits = [alarm for a, b, alarm in alarms if ov(r, (a, b))]
        if hits and r[0] >= latency_from_s * fs_hz:
            lat.append(max(0.0, (min(hits) - r[0]) / fs_hz))
    return {"ref": len(ref), "ref_found": sum(1 for r in ref if any(ov(r, d) for d in det)),
            "det": len(det), "det_true": sum(1 for d in det if any(ov(r, d) for r in ref)),
            "ref_s": sum(b - a for a, b in ref_u) / fs_hz,
            "det_s": sum(b - a for a, b in det_u) / fs_hz,
            "overlap_s": sum(ov(r, d) for r in ref_u for d in det_u) / fs_hz,
            "latency_s": lat}


def _union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open intervals merged where they overlap or touch (sorted, disjoint)."""
    out: list[list[int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def replay_episodes(rw: RecordWindows, p: np.ndarray, model,  # noqa: ANN001
                    config: VentricularConfig | None = None) -> list[tuple[int, int, int]]:
    """Alarm episodes ``(start, end, alarm)`` (input-rate samples) of a record's cached
    windows scored ``p``, through :meth:`VfDetector.decide` (the device's episode logic; for
    the organised-rhythm veto pass ``p`` 0 where :func:`record_organised` is True)."""
    from dataclasses import replace  # noqa: PLC0415

    from edge.rhythm.ventricular import VfDetector, VfWindow  # noqa: PLC0415
    det = VfDetector(replace(config or VentricularConfig(), fs_hz=rw.fs_hz), model, net=False)
    out: list[tuple[int, int, int]] = []
    start = alarm = None
    for e, pi, f in zip(rw.end_in.tolist(), p.tolist(), rw.features):
        c = det.decide(VfWindow(int(e), float(pi), f))
        if c is None:
            continue
        if c.state == "onset":
            start, alarm = c.sample_index, c.alarm_index
        else:
            out.append((max(0, start), max(c.sample_index, start + 1), alarm))
            start = None
    if start is not None:
        out.append((max(0, start), rw.n_samples, alarm))
    return out


#: What a non-shockable window called shockable is, in the order :func:`window_errors`
#: tries them (the first that fits).
ERROR_KINDS = ("vt", "near_boundary", "no_beats", "fast_beats", "beats")
BOUNDARY_S = 10.0
FAST_BEATS_PER_WINDOW = 10  # >= 10 annotated beats in 4 s: >= 150 bpm


def window_errors(rw: RecordWindows, ep: Episodes, p: np.ndarray, th: float,
                  beats: np.ndarray | None = None, window_s: float = 4.0) -> dict:
    """Error analysis of one record's scored windows at threshold ``th``.

    False shockable windows (entirely outside a shockable episode, P >= ``th``) by kind
    (:data:`ERROR_KINDS`, the first that fits): ``vt`` overlaps a ``(VT`` episode;
    ``near_boundary`` reaches within :data:`BOUNDARY_S` of a shockable episode's start or
    end; then by the reference beats ``beats`` (input-rate samples; ``None``: not known,
    all ``beats``) inside the window: ``no_beats`` none, ``fast_beats`` >=
    :data:`FAST_BEATS_PER_WINDOW` (>= 150 bpm), else ``beats``. Missed shockable windows
    (entirely inside, P < ``th``, NaN included) with their median ``std_mv`` and
    ``dom_freq_hz`` (fine / slow VF)."""
    sh, vt = window_labels(rw, ep, window_s)
    n_w = int(round(window_s * rw.fs_hz))
    start = rw.end_in - n_w
    m = int(round(BOUNDARY_S * rw.fs_hz))
    near = np.zeros(rw.end_in.size, dtype=bool)
    for a, b in ep.shockable:
        for edge in (a, b):
            near |= (rw.end_in > edge - m) & (start < edge + m)
    false = np.isfinite(p) & (sh <= 0.001) & (p >= th)
    kinds = dict.fromkeys(ERROR_KINDS, 0)
    for i in np.flatnonzero(false).tolist():
        if vt[i] > 0:
            kinds["vt"] += 1
        elif near[i]:
            kinds["near_boundary"] += 1
        elif beats is None:
            kinds["beats"] += 1
        else:
            nb = int(np.count_nonzero((beats >= start[i]) & (beats < rw.end_in[i])))
            kinds["no_beats" if nb == 0 else
                  "fast_beats" if nb >= FAST_BEATS_PER_WINDOW else "beats"] += 1
    inside = sh >= 0.999
    scored = np.isfinite(p)
    missed = inside & scored & (np.nan_to_num(p, nan=0.0) < th)
    names = list(VF_FEATURE_NAMES)
    med = {}
    if missed.any():
        for k in ("std_mv", "dom_freq_hz"):
            col = rw.features[missed, names.index(k)]
            col = col[np.isfinite(col)]
            med[k] = round(float(np.median(col)), 3) if col.size else None
    return {"false": int(false.sum()), "false_kinds": kinds,
            "shockable": int((inside & scored).sum()), "missed": int(missed.sum()),
            "missed_median": med, "unanalysed": int((inside & ~scored).sum())}


def _reference_beats(record: str) -> np.ndarray:
    ann = read_annotations(record, "atr", database=_db(record),
                           data_dir=cudb_dir() if _db(record) == "cudb" else None)
    return ann.sample_index[np.isin(ann.symbol, list("NLRBAaJSVrFejnE/fQ"))]


def cross_validate(noise: tuple[str, ...], variants: tuple[str, ...],
                   config: VentricularConfig | None = None, n_folds: int = 5,
                   errors: bool = False, net_cv: str | os.PathLike | None = None,
                   cinc_share: float | None = None, cinc_eval: bool = False,
                   save_folds: str | os.PathLike | None = None) -> dict:
    """Out-of-fold scores of the recipe (clean + ``noise`` copies) on CUDB + DS1; with
    ``errors`` also the error analysis of each variant (:func:`window_errors` summed per
    database, and the records with the most false / missed windows). ``net_cv``: a VF
    network CV directory (``python -m training.vf_net --cv DIR`` then ``python
    convert/vf_net.py --cv DIR``, the same folds): each window's P is then the device's
    average of the trees' and its fold network's int8 P (``DIR/oof.npz``).

    ``cinc_share`` (default :data:`CINC_SHARE`) > 0: CinC 2017 recordings of the other folds
    (:func:`cinc_records`) join each fold's training. ``cinc_eval`` (or CinC in training):
    each fold's CinC recordings are scored too (clean; a ``cinc clean`` row: not-shockable
    window specificity and the alarm episodes of the device's episode logic -- every one
    false, CinC holds no VF -- per hour and by recording); with ``net_cv`` their network P
    come from ``DIR/oof.npz``, so the network CV must hold CinC (``training.vf_net --cinc``).

    The fold models are cached by recipe (:func:`cv_fold_model`); ``save_folds``: a copy of
    each goes to ``DIR/vf_trees_fold<k>.json`` (``bench_false_alarms.py --cinc-folds``)."""
    from edge.rhythm.model import load_tree_model  # noqa: PLC0415
    cfg = config or VentricularConfig()
    share = CINC_SHARE if cinc_share is None else float(cinc_share)
    f = folds(TRAIN_RECORDS, n_folds)
    cinc_fold: dict[str, int] = {}
    if share > 0 or cinc_eval:
        if n_folds != 5:
            raise EdgeError("CinC recordings are dealt into 5 folds: use n_folds=5")
        cinc_fold = cinc_fold_of()
    acc: dict = {}
    err: dict = {}
    net_p, w = _net_oof(net_cv, f) if net_cv else ({}, 0.0)
    missing = [v for v in variants if net_cv and f"{TRAIN_RECORDS[0]}|{v}" not in net_p]
    if missing:
        raise EdgeError(f"{net_cv}: the network CV has no {', '.join(missing)} windows (it "
                        f"scores {', '.join(sorted({k.split('|')[1] for k in net_p}))})")
    for k in range(n_folds):
        train = fold_training_records(f, k, cinc_fold if share > 0 else None)
        path = cv_fold_model(train, noise, share)
        if save_folds:
            import shutil  # noqa: PLC0415
            Path(save_folds).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(save_folds) / f"vf_trees_fold{k}.json")
        model = load_tree_model(path)
        for rec in (r for r in TRAIN_RECORDS if f[r] == k):
            ep = episodes(rec)
            ref_beats = _reference_beats(rec) if errors else None
            for v in variants:
                rw = record_windows(rec, variant=v)
                p = _device_p(rw, v, model, net_p[f"{rec}|{v}"] if net_cv else None, w, cfg)
                sh, _ = window_labels(rw, ep)
                a = acc.setdefault((v, _db(rec)), dict.fromkeys(
                    ("s", "tp", "n", "tn", "ref", "found", "det", "true", "false_rec"), 0)
                    | {"lat": []})
                s_in, s_out = np.isfinite(p) & (sh >= 0.999), np.isfinite(p) & (sh <= 0.001)
                a["s"] += int(s_in.sum())
                a["tp"] += int((p[s_in] >= cfg.p_shockable).sum())
                a["n"] += int(s_out.sum())
                a["tn"] += int((p[s_out] < cfg.p_shockable).sum())
                sc = score_alarm_episodes(
                    ep.shockable, replay_episodes(rw, np.nan_to_num(p, nan=0.0), model, cfg),
                    rw.fs_hz)
                a["ref"] += sc["ref"]
                a["found"] += sc["ref_found"]
                a["det"] += sc["det"]
                a["true"] += sc["det_true"]
                a["false_rec"] += int(sc["det_true"] < sc["det"])
                a["lat"].extend(sc["latency_s"])
                if errors:
                    e = window_errors(rw, ep, p, cfg.p_shockable, ref_beats)
                    err.setdefault((v, _db(rec)), {})[rec] = e
        for rec in (r for r, j in cinc_fold.items() if j == k):
            if net_cv and f"{rec}|clean" not in net_p:
                raise EdgeError(f"{net_cv}: the network CV did not score CinC: run "
                                f"`python -m training.vf_net --cinc --cv {net_cv}` and "
                                f"`python convert/vf_net.py --cv {net_cv}`")
            rw = record_windows(rec)
            p = _device_p(rw, "clean", model, net_p[f"{rec}|clean"] if net_cv else None, w,
                          cfg)
            c = acc.setdefault(("clean", "cinc"), {"n": 0, "tn": 0, "det": 0, "rec": 0,
                                                   "hours": 0.0, "alarmed": []})
            scored = np.isfinite(p)
            c["n"] += int(scored.sum())
            c["tn"] += int((p[scored] < cfg.p_shockable).sum())
            eps = replay_episodes(rw, np.nan_to_num(p, nan=0.0), model, cfg)
            c["det"] += len(eps)
            c["rec"] += 1
            c["hours"] += rw.n_samples / rw.fs_hz / 3600.0
            if eps:
                c["alarmed"].append(rec)
        logger.info("fold %d done", k)
    out = {}
    for (v, db), a in sorted(acc.items()):
        if db == "cinc":
            out[f"{db} {v}"] = {
                "recordings": a["rec"], "hours": round(a["hours"], 2),
                "window_sp": round(a["tn"] / a["n"], 4) if a["n"] else None,
                "alarm_episodes": a["det"],
                "alarms_per_hour": round(a["det"] / a["hours"], 3) if a["hours"] else None,
                "recordings_alarmed": len(a["alarmed"]), "alarmed": sorted(a["alarmed"])}
            continue
        out[f"{db} {v}"] = {
            "window_se": round(a["tp"] / a["s"], 4) if a["s"] else None,
            "window_sp": round(a["tn"] / a["n"], 4) if a["n"] else None,
            "episode_se": round(a["found"] / a["ref"], 4) if a["ref"] else None,
            "episode_pp": round(a["true"] / a["det"], 4) if a["det"] else None,
            "alarm_episodes": a["det"], "false_episodes": a["det"] - a["true"],
            "latency_median_s": round(float(np.median(a["lat"])), 2) if a["lat"] else None,
            "latency_worst_s": round(float(np.max(a["lat"])), 2) if a["lat"] else None}
    for (v, db), recs in sorted(err.items()):
        kinds = dict.fromkeys(ERROR_KINDS, 0)
        for e in recs.values():
            for k, n in e["false_kinds"].items():
                kinds[k] += n
        out[f"{db} {v}"]["errors"] = {
            "false_windows": sum(e["false"] for e in recs.values()), "false_kinds": kinds,
            "false_by_record": {r: e["false"] for r, e in sorted(
                recs.items(), key=lambda t: -t[1]["false"]) if e["false"]},
            "missed_windows": sum(e["missed"] for e in recs.values()),
            "unanalysed_shockable_windows": sum(e["unanalysed"] for e in recs.values()),
            "missed_by_record": {r: [e["missed"], e["shockable"], e["missed_median"]]
                                 for r, e in sorted(recs.items(), key=lambda t: -t[1]["missed"])
                                 if e["missed"]}}
    return out


def _device_p(rw: RecordWindows, variant: str, model, net_q: np.ndarray | None,  # noqa: ANN001
              w: float, cfg: VentricularConfig) -> np.ndarray:
    """Each window's P(shockable) as the device forms it: the trees' (NaN where the window
    is not analysed), averaged with the network's ``net_q`` at its share ``w`` when given,
    0 where the organised-rhythm veto (``cfg``) stops it."""
    ok = np.all(np.isfinite(rw.features), axis=1)
    p = np.full(ok.size, np.nan)
    if ok.any():
        p[ok] = model.predict_proba(rw.features[ok])[:, 1]
    if net_q is not None:
        p = (1.0 - w) * p + w * net_q
    if cfg.organised_veto:  # as the device: a vetoed window is not shockable
        p = np.where(record_organised(rw.record, variant, cfg), 0.0, p)
    return p


def cv_fold_model(train: list[str], noise: tuple[str, ...], share: float) -> Path:
    """The tree model fitted on ``train`` with ``noise`` copies and CinC ``share``, cached
    under ``$ECG_EDGE_CACHE`` by a hash of everything it is fitted from (records, noise,
    share, tree settings, features), so a second CV of the same recipe refits nothing."""
    import hashlib  # noqa: PLC0415
    blob = json.dumps([sorted(train), list(noise), share, CINC_STEP, VF_TREE_PARAMS,
                       list(VF_FEATURE_NAMES)], sort_keys=True)
    path = cache_dir() / f"vf_cvfold_{hashlib.sha256(blob.encode()).hexdigest()[:16]}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        export_vf(fit_vf(train, noisy=noise, cinc_share=share), tmp)
        tmp.replace(path)  # whole or not at all: parallel CVs may share the cache
    return path


def _net_oof(net_cv: str | os.PathLike, f: dict[str, int]) -> tuple[dict, float]:
    """(the int8 out-of-fold P of a VF network CV directory by ``record|variant``, its blend
    weight), after checking its folds are ``f``."""
    from edge.rhythm.vf_net import load_vf_net  # noqa: PLC0415
    d = Path(net_cv)
    try:
        saved = json.loads((d / "folds.json").read_text())["folds"]
        z = np.load(d / "oof.npz", allow_pickle=False)
        p = {k: z[k] for k in z.files}
    except (OSError, KeyError, ValueError) as exc:
        raise EdgeError(f"{d}: no converted VF network CV ({exc}): run `python -m "
                        f"training.vf_net --cv {d}` and `python convert/vf_net.py --cv {d}`"
                        ) from exc
    if saved != f:
        raise EdgeError(f"{d}: its folds are not these")
    return p, load_vf_net(d / "fold0.tflite").blend_weight


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the VF window model (CUDB + MIT-BIH DS1)")
    ap.add_argument("--out", type=output_file, default=str(default_model_path(VF_KIND)))
    ap.add_argument("--no-noise", dest="noisy", action="store_false",
                    help="train without the noisy copies (" + ", ".join(SHIPPED_NOISE) + ")")
    ap.add_argument("--cv", action="store_true",
                    help="print the out-of-fold scores (CUDB + DS1, 5 record-wise folds) of "
                         "the recipe instead of writing the model")
    ap.add_argument("--errors", action="store_true",
                    help="with --cv: add the error analysis (false shockable windows by kind "
                         "and record, missed shockable windows by record)")
    ap.add_argument("--net-cv", metavar="DIR", default=None,
                    help="with --cv: average each window's P with the VF network's fold "
                         "networks in DIR (training.vf_net --cv, convert/vf_net.py --cv)")
    ap.add_argument("--eval", default="clean," + ",".join(TRAIN_NOISE),
                    help="signal variants scored by --cv (default: %(default)s)")
    ap.add_argument("--cinc-share", type=float, default=CINC_SHARE, metavar="S",
                    help="share of the not-shockable training weight given to CinC 2017 "
                         "recordings ($CINC2017_DIR; 0: CinC not used; default %(default)s)")
    ap.add_argument("--save-folds", metavar="DIR", type=output_dir, default=None,
                    help="with --cv: also write each fold's model to "
                         "DIR/vf_trees_fold<k>.json (bench_false_alarms.py --cinc-folds)")
    ap.add_argument("--cinc-eval", action="store_true",
                    help="with --cv: also score each fold's CinC recordings (false VF "
                         "alarms on handheld recordings; implied by --cinc-share > 0)")
    args = ap.parse_args(argv)
    if (args.errors or args.net_cv or args.cinc_eval or args.save_folds) and not args.cv:
        ap.error("--errors, --net-cv, --cinc-eval and --save-folds need --cv (without it the "
                 "model would be trained and written)")
    if not 0.0 <= args.cinc_share < 1.0:
        ap.error(f"--cinc-share must lie in [0, 1), got {args.cinc_share}")
    try:
        for v in args.eval.split(","):
            if v:
                parse_variant(v)
    except ValueError as e:
        ap.error(str(e))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    noise = SHIPPED_NOISE if args.noisy else ()
    try:
        return _run(args, noise)
    except EdgeError as e:
        print(f"error: {env_only(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, noise: tuple[str, ...]) -> int:
    if args.cv:
        variants = tuple(v for v in args.eval.split(",") if v)
        print(json.dumps(cross_validate(noise, variants, errors=args.errors,
                                        net_cv=args.net_cv, cinc_share=args.cinc_share,
                                        cinc_eval=args.cinc_eval,
                                        save_folds=args.save_folds), indent=1))
        return 0
    records = with_cinc(TRAIN_RECORDS, args.cinc_share)
    clf = fit_vf(records, noisy=noise, cinc_share=args.cinc_share)
    p = export_vf(clf, args.out, note="CUDB (35) + MIT-BIH DS1 (22)"
                  + (", with NSTDB copies " + "/".join(noise) if noise else "")
                  + (f"; CinC 2017 ({len(records) - len(TRAIN_RECORDS)} recordings, "
                     f"{args.cinc_share:g} of the not-shockable weight)"
                     if args.cinc_share > 0 else ""))
    print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
