"""Train the rhythm models (AF window model, CinC strip model) and export them as JSON trees.

Data:

* CinC 2017 (``$CINC2017_DIR`` or ``./data/cinc2017``; ``REFERENCE.csv``):
  beats from our own streaming detector (:func:`edge.dsp.detection.detect_signal`), as
  ``ecg-edge rhythm`` finds them (:data:`edge.rhythm.strip.STRIP_DETECTOR`: no amplitude
  floor);
* MIT-BIH **DS1 only** (:data:`training.data.DS1`): detected beats, each given the rhythm of
  the reference '+' annotation before it (``(AFIB`` and ``(AFL`` are AF/AFL). DS2 is never
  read here.

Beats and strip features are cached under ``$ECG_EDGE_CACHE`` (``rhythm_cinc_beats_<tag>.npz``,
``rhythm_cinc_strip_<tag>_<names>.npz``, ``rhythm_mitdb_<rec>_<tag>.npz``, ``<tag>``:
:func:`detector_tag`).
``python -m training.rhythm`` runs the CinC record-stratified 5-fold cross-validation of the
strip model, prints it, and writes ``edge/models/rhythm_af.json`` and
``edge/models/rhythm_strip.json`` fitted on all the training data; ``--strip-only`` refits
and writes the strip model alone (the streaming analyser's window model is left as it is).
The strip model's rows are weighted so every class weighs the same (:func:`balanced_weights`,
from the rows it is fitted on).
"""
from __future__ import annotations

import argparse
import csv
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dsp.detection import detect_signal
from edge.errors import DataError, DataNotFoundError, EdgeError, SignalError
from edge.io.records import read_annotations, read_record
from edge.model.seal import seal_json
from edge.rhythm.analyser import RhythmConfig
from edge.rhythm.features import FEATURE_NAMES, beat_window_features
from edge.rhythm.model import MODEL_FORMAT, default_model_path
from edge.rhythm.strip import STRIP_CLASSES, STRIP_DETECTOR, STRIP_FEATURE_NAMES, strip_features
from training.data import DS1, DS2
from training.dataset import cache_dir
from training.tool import fold_count, output_dir

__all__ = ["CincBeats", "cinc_dir", "cinc_beats", "cinc_labels",
           "mitdb_rhythm_beats", "mitdb_rhythm_labels", "mitdb_rhythm_readable", "beat_readable",
           "rhythm_intervals", "mitdb_window_dataset", "strip_predictions",
           "strip_probabilities",
           "window_dataset", "strip_dataset", "fit_trees", "export_trees", "cinc_folds",
           "balanced_weights", "f1_scores", "main"]

logger = logging.getLogger(__name__)

AF_AUX = ("(AFIB", "(AFL")
TREE_PARAMS = {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8}
#: The strip model's trees (the AF window model keeps :data:`TREE_PARAMS`): more, deeper and
#: slower-learning trees than the window model's. Chosen by the CinC 5-fold CV alone (design
#: data): 150 trees of depth 3 at learning rate 0.1 gave AF F1 0.811, challenge 0.811; these
#: 0.820 / 0.818 on the same folds.
STRIP_TREE_PARAMS = {**TREE_PARAMS, "n_estimators": 400, "max_depth": 4, "learning_rate": 0.05}


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights making every class weigh the same in total (scikit-learn's
    ``"balanced"``); the strip model is fitted so -- A and ~ are rare in CinC -- computed
    from the training rows only."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    w = {c: y.size / (classes.size * n) for c, n in zip(classes, counts)}
    return np.array([w[v] for v in y])


def cinc_dir() -> Path:
    """``$CINC2017_DIR``, else ``./data/cinc2017`` (the default of
    :func:`edge.io.records.find_data_dir`)."""
    return Path(os.environ.get("CINC2017_DIR") or Path("data") / "cinc2017")


@dataclass(frozen=True)
class CincBeats:
    """Detected beats of every CinC recording (``offsets`` cut ``beats`` per record)."""

    names: np.ndarray
    labels: np.ndarray
    duration_s: np.ndarray
    fs_hz: np.ndarray
    offsets: np.ndarray
    beats: np.ndarray

    def record_beats(self, i: int) -> np.ndarray:
        return self.beats[self.offsets[i]:self.offsets[i + 1]]


def detector_tag(config=None) -> str:  # noqa: ANN001
    """Short hash of the streaming detector's settings (``config``, default: the device's):
    cached detected beats are keyed by it, so a detector change never reuses beats found by
    the old one."""
    import hashlib  # noqa: PLC0415

    from edge.dsp.rpeak import DetectorConfig  # noqa: PLC0415

    return hashlib.sha256(repr(config or DetectorConfig()).encode()).hexdigest()[:8]


def cinc_reference(data_dir: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """``(name, label)`` of every CinC 2017 recording, in ``REFERENCE.csv``'s order."""
    base = Path(data_dir) if data_dir else cinc_dir()
    ref = base / "REFERENCE.csv"
    where = "$CINC2017_DIR" if base == cinc_dir() else "the folder given"
    if not base.is_dir():
        raise DataNotFoundError(f"CinC 2017 folder {base} ({where}) is not a folder")
    try:
        with open(ref, newline="") as fh:
            rows = [(n, r) for n, r in enumerate(csv.reader(fh), 1) if r]
    except FileNotFoundError:
        raise DataNotFoundError(f"{ref} not found: is {base} ({where}) the CinC 2017 "
                                f"training set?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {ref}: {exc}") from None
    out = []
    for n, r in rows:
        if len(r) < 2 or r[1].strip() not in ("N", "A", "O", "~"):
            raise DataError(f"{ref} line {n}: expected 'name,label' with label N, A, O or ~, "
                            f"got {','.join(r)!r}")
        out.append((r[0].strip(), r[1].strip()))
    if not out:
        raise DataError(f"{ref} lists no recordings")
    return out


def cinc_beats(data_dir: str | os.PathLike | None = None) -> CincBeats:
    """Detected beats of all CinC 2017 recordings (cached)."""
    base = Path(data_dir) if data_dir else cinc_dir()
    rows = cinc_reference(data_dir)  # the data set is checked even when its beats are cached
    cache = cache_dir() / f"rhythm_cinc_beats_{detector_tag(STRIP_DETECTOR)}.npz"
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        cached = CincBeats(*(z[k] for k in ("names", "labels", "duration_s", "fs_hz",
                                            "offsets", "beats")))
        if [str(n) for n in cached.names] == [n for n, _ in rows]:
            return cached
        logger.info("%s: cached for other recordings than %s lists; detecting again",
                    cache.name, base / "REFERENCE.csv")
    beats, offs, durs, fss = [], [0], [], []
    for k, (name, _) in enumerate(rows):
        rec = read_record(base / name)
        x = np.nan_to_num(rec.signal_mv[:, 0])
        b = detect_signal(x, rec.fs_hz, chunk_s=None, detector=STRIP_DETECTOR)
        beats.append(b)
        offs.append(offs[-1] + b.size)
        durs.append(x.size / rec.fs_hz)
        fss.append(rec.fs_hz)
        if k % 500 == 0:
            logger.info("CinC beats: %d / %d", k, len(rows))
    out = CincBeats(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                    np.array(durs), np.array(fss), np.array(offs, dtype=np.int64),
                    np.concatenate(beats).astype(np.int64))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{k: getattr(out, k) for k in ("names", "labels", "duration_s", "fs_hz",
                                                     "offsets", "beats")})
    return out


@functools.lru_cache(maxsize=1)
def _classifier():
    from edge.model.bundled import default_model_path as beat_model_path  # noqa: PLC0415
    from edge.model.classifier import BeatClassifier  # noqa: PLC0415

    return BeatClassifier(beat_model_path())


def _labels_at(clf, x: np.ndarray, fs_hz: float, beats: np.ndarray) -> np.ndarray:
    from edge.pipeline import classify_at  # noqa: PLC0415

    if beats.size == 0:
        return np.zeros(0, dtype="<U1")
    return classify_at(clf, x, fs_hz, beats).label.astype("<U1")


def cinc_labels(cinc: CincBeats, data_dir: str | os.PathLike | None = None) -> np.ndarray:
    """The bundled beat model's class of every detected CinC beat (what the device passes to
    the analyser; cached per model version), aligned with ``cinc.beats``."""
    base = Path(data_dir) if data_dir else cinc_dir()
    clf = _classifier()
    tag = detector_tag(STRIP_DETECTOR)
    cache = cache_dir() / f"rhythm_cinc_labels_{clf.model_version}_{tag}.npz"
    if cache.is_file():
        z = np.load(cache)
        if z["labels"].size == cinc.beats.size:
            return z["labels"]
    out = np.empty(cinc.beats.size, dtype="<U1")
    for i, name in enumerate(cinc.names):
        rec = read_record(base / str(name))
        out[cinc.offsets[i]:cinc.offsets[i + 1]] = _labels_at(
            clf, np.nan_to_num(rec.signal_mv[:, 0]), rec.fs_hz, cinc.record_beats(i))
        if i % 500 == 0:
            logger.info("CinC labels: %d / %d", i, cinc.names.size)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, labels=out)
    return out


def mitdb_rhythm_labels(record: str, data_dir: str | os.PathLike | None = None, *,
                        for_training: bool = True) -> np.ndarray:
    """The bundled beat model's class of every detected beat of a MIT-BIH record (cached);
    DS2 only with ``for_training=False`` (benchmarks score it, nothing is fitted on it)."""
    if for_training and record in DS2:
        raise ValueError("DS2 records are never used for training")
    clf = _classifier()
    return _per_detected_beat(
        record, data_dir, "labels",
        f"rhythm_mitdb_labels_{record}_{clf.model_version}_{detector_tag()}.npz",
        lambda x_mv, fs_hz, beats: _labels_at(clf, x_mv, fs_hz, beats))


def _per_detected_beat(record: str, data_dir, key: str, cache_name: str, compute) -> np.ndarray:
    """``compute(MLII signal in mV, fs, detected beats)`` for a MIT-BIH record, cached as
    ``key`` in ``cache_name`` (recomputed when the detected beats changed in number)."""
    beats, _, _ = mitdb_rhythm_beats(record, data_dir)
    cache = cache_dir() / cache_name
    if cache.is_file():
        z = np.load(cache)
        if z[key].size == beats.size:
            return z[key]
    rec = read_record(record, data_dir=data_dir)
    ch = rec.sig_names.index("MLII") if "MLII" in rec.sig_names else 0
    out = compute(np.nan_to_num(rec.signal_mv[:, ch]), rec.fs_hz, beats)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{key: out})
    return out


def rhythm_intervals(record: str, data_dir: str | os.PathLike | None = None
                     ) -> tuple[list[tuple[int, int]], int, float]:
    """AF/AFL intervals ``(start, end)`` (samples) of a MIT-BIH record from its '+'
    annotations, the record length (samples) and its rate."""
    ann = read_annotations(record, "atr", data_dir=data_dir)
    rec = read_record(record, data_dir=data_dir, sampto=1)
    from wfdb import rdheader  # noqa: PLC0415 (training side only)

    from edge.io.records import resolve_record  # noqa: PLC0415
    n = int(rdheader(str(resolve_record(record, data_dir=data_dir))).sig_len)
    out: list[tuple[int, int]] = []
    start = None
    for s, sym, aux in zip(ann.sample_index, ann.symbol, ann.aux_note):
        if sym != "+":
            continue
        aux = (aux or "").rstrip("\x00").strip()
        is_af = aux in AF_AUX
        if is_af and start is None:
            start = int(s)
        elif not is_af and start is not None:
            out.append((start, int(s)))
            start = None
    if start is not None:
        out.append((start, n))
    return out, n, rec.fs_hz


def mitdb_rhythm_beats(record: str, data_dir: str | os.PathLike | None = None
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """Detected beats of a MIT-BIH record (cached) and whether each is inside AF/AFL."""
    cache = cache_dir() / f"rhythm_mitdb_{record}_{detector_tag()}.npz"
    if cache.is_file():
        z = np.load(cache)
        beats, fs = z["beats"], float(z["fs_hz"])
    else:
        rec = read_record(record, data_dir=data_dir)
        ch = rec.sig_names.index("MLII") if "MLII" in rec.sig_names else 0
        beats = detect_signal(np.nan_to_num(rec.signal_mv[:, ch]), rec.fs_hz, chunk_s=None)
        fs = rec.fs_hz
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, beats=beats, fs_hz=fs)
    intervals, _, _ = rhythm_intervals(record, data_dir)
    af = np.zeros(beats.size, dtype=bool)
    for a, b in intervals:
        af |= (beats >= a) & (beats < b)
    return beats.astype(np.int64), af, fs


def beat_readable(x_mv: np.ndarray, fs_hz: float, beats: np.ndarray) -> np.ndarray:
    """Per beat, whether the interval ending at it is readable as the daemon judges it
    (``clean`` in :mod:`edge.runtime.device`): every signal-quality window
    (:class:`edge.dsp.quality.SignalQuality`, default settings) overlapping it is ``good``.
    The first beat has no interval (True; the analyser reads no interval there)."""
    from edge.dsp.quality import QualityConfig, SignalQuality  # noqa: PLC0415

    b = np.asarray(beats, dtype=np.int64)
    if b.size == 0:
        return np.zeros(0, dtype=bool)
    q = SignalQuality(QualityConfig(fs_hz=fs_hz, history_windows=10 ** 7))
    q.process(np.asarray(x_mv, dtype=np.float64))
    hist = list(q.history)
    start = np.array([w.start_index for w in hist], dtype=np.int64)
    end = np.array([w.end_index for w in hist], dtype=np.int64)
    bad = np.r_[0, np.cumsum([w.level != "good" for w in hist])]  # not-good windows before k
    lo = np.r_[b[:1], b[:-1]]
    first = np.searchsorted(end, lo, side="right")  # first window ending after lo
    last = np.searchsorted(start, b, side="right")  # windows starting at or before b
    return (bad[np.maximum(last, first)] - bad[first]) == 0


def mitdb_rhythm_readable(record: str, data_dir: str | os.PathLike | None = None
                          ) -> np.ndarray:
    """:func:`beat_readable` of the detected beats of a MIT-BIH record (cached)."""
    return _per_detected_beat(record, data_dir, "readable",
                              f"rhythm_mitdb_readable_{record}_{detector_tag()}.npz",
                              beat_readable)


def _window_kw(cfg: RhythmConfig) -> dict:
    return {"window_beats": cfg.window_beats, "min_window_beats": cfg.min_window_beats,
            "min_rr_s": cfg.min_rr_s, "max_rr_s": cfg.max_rr_s}


def window_dataset(cinc: CincBeats, records: np.ndarray, cfg: RhythmConfig, *,
                   stride: int = 3, labels: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window features of CinC recordings ``records`` (indices), every ``stride``-th beat:
    (X, y = recording is A, recording index). ``labels``: beat classes aligned with
    ``cinc.beats`` (:func:`cinc_labels`), read as the analyser reads them."""
    xs, ys, gs = [], [], []
    for i in records:
        b = cinc.record_beats(int(i))
        lab = None if labels is None else labels[cinc.offsets[i]:cinc.offsets[i + 1]]
        f, v = beat_window_features(b, float(cinc.fs_hz[i]), labels=lab, **_window_kw(cfg))
        rows = np.flatnonzero(v)[::stride]
        xs.append(f[rows])
        ys.append(np.full(rows.size, cinc.labels[i] == "A"))
        gs.append(np.full(rows.size, i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


def mitdb_window_dataset(records: tuple[str, ...], cfg: RhythmConfig, *, stride: int = 5,
                         with_labels: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Window features of MIT-BIH records (DS1 only), every ``stride``-th beat, and AF labels;
    ``with_labels``: the beat model's classes enter the windows as on the device."""
    if set(records) & set(DS2):
        raise ValueError("DS2 records are never used for training")
    xs, ys = [], []
    for r in records:
        b, af, fs = mitdb_rhythm_beats(r)
        lab = mitdb_rhythm_labels(r) if with_labels else None
        f, v = beat_window_features(b, fs, labels=lab, **_window_kw(cfg))
        rows = np.flatnonzero(v)[::stride]
        xs.append(f[rows])
        ys.append(af[rows])
    return np.concatenate(xs), np.concatenate(ys)


def strip_dataset(cinc: CincBeats, data_dir: str | os.PathLike | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strip features of every CinC recording: (X, y class index, has_features); each row is
    :func:`edge.rhythm.strip.strip_features` of the recording and its detected beats, exactly
    what the device computes (cached, keyed by the detector and the feature names; a recording
    with too few beats is a zero row with ``has_features`` False)."""
    base = Path(data_dir) if data_dir else cinc_dir()
    import hashlib  # noqa: PLC0415

    names_tag = hashlib.sha256(repr(STRIP_FEATURE_NAMES).encode()).hexdigest()[:8]
    cache = cache_dir() / f"rhythm_cinc_strip_{detector_tag(STRIP_DETECTOR)}_{names_tag}.npz"
    y = np.array([STRIP_CLASSES.index(c) for c in cinc.labels])
    if cache.is_file():
        z = np.load(cache)
        if z["x"].shape == (cinc.names.size, len(STRIP_FEATURE_NAMES)):
            return z["x"], y, z["ok"]
    x = np.zeros((cinc.names.size, len(STRIP_FEATURE_NAMES)))
    ok = np.zeros(cinc.names.size, dtype=bool)
    for i, name in enumerate(cinc.names):
        rec = read_record(base / str(name))
        try:
            x[i] = strip_features(np.nan_to_num(rec.signal_mv[:, 0]), rec.fs_hz,
                                  cinc.record_beats(i))
            ok[i] = True
        except SignalError:
            pass
        if i % 500 == 0:
            logger.info("CinC strip features: %d / %d", i, cinc.names.size)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=x, ok=ok)
    return x, y, ok


def fit_trees(x: np.ndarray, y: np.ndarray, *, seed: int = 0, sample_weight=None, **params):
    """Gradient-boosted shallow trees (scikit-learn, ``init='zero'`` so the export is exact)."""
    from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415

    kw = {**TREE_PARAMS, **params}
    clf = GradientBoostingClassifier(init="zero", random_state=seed, **kw)
    clf.fit(x, y, sample_weight=sample_weight)
    return clf


def export_trees(clf, *, kind: str, classes: tuple[str, ...],
                 feature_names: tuple[str, ...]) -> dict:
    """The :mod:`edge.rhythm.model` JSON document of a fitted ``GradientBoostingClassifier``
    (every tree padded to a complete tree of the largest depth)."""
    depth = int(max(e.tree_.max_depth for e in clf.estimators_.ravel()))
    depth = max(depth, 1)
    lr = float(clf.learning_rate)
    n_inner, n_leaf = 2 ** depth - 1, 2 ** depth
    feats, thrs, leaves = [], [], []
    for stage in clf.estimators_:
        for est in stage:
            t = est.tree_
            f = np.zeros(n_inner, dtype=np.int64)
            th = np.full(n_inner, np.inf)
            lv = np.zeros(n_leaf)

            def fill(node: int, pos: int, level: int) -> None:
                if level == depth:
                    lv[pos - n_inner] = lr * float(t.value[node].ravel()[0])
                    return
                if t.children_left[node] == -1:  # leaf above the last level
                    f[pos], th[pos] = 0, np.inf
                    fill(node, 2 * pos + 1, level + 1)
                    fill(node, 2 * pos + 2, level + 1)
                    return
                f[pos], th[pos] = int(t.feature[node]), float(t.threshold[node])
                fill(int(t.children_left[node]), 2 * pos + 1, level + 1)
                fill(int(t.children_right[node]), 2 * pos + 2, level + 1)

            fill(0, 0, 0)
            feats.append(f.tolist())
            thrs.append([float(v) if np.isfinite(v) else 1e308 for v in th])
            leaves.append(lv.tolist())
    k = clf.estimators_.shape[1]
    return {"format": MODEL_FORMAT, "version": 1, "kind": kind, "classes": list(classes),
            "feature_names": list(feature_names), "depth": depth, "init": [0.0] * k,
            "feature": feats, "threshold": thrs, "leaf": leaves}


def write_tree_model(doc: dict, path: str | os.PathLike) -> Path:
    """Write an :func:`export_trees` document, sealed (:func:`edge.model.seal.seal_json`), as
    compact JSON; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(seal_json(doc), separators=(",", ":")) + "\n", encoding="utf-8")
    return p


def cinc_folds(labels: np.ndarray, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Record-stratified fold index (0..n_folds-1) of each CinC recording."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(labels.size, dtype=np.int64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(idx.size) % n_folds
    return fold


def f1_scores(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """F1 of each CinC class and the challenge score (mean F1 of N, A, O)."""
    out = {}
    for c in STRIP_CLASSES:
        tp = float(np.sum((truth == c) & (pred == c)))
        den = float(np.sum(truth == c) + np.sum(pred == c))
        out[c] = 2 * tp / den if den else 0.0
    out["challenge"] = (out["N"] + out["A"] + out["O"]) / 3
    return out


def strip_probabilities(x: np.ndarray, ok: np.ndarray, y: np.ndarray, train: np.ndarray,
                        test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fit the strip model on ``train`` rows; class probabilities (n_test, 4) of ``test`` rows
    in :data:`STRIP_CLASSES` order (a row without features is ``~`` with certainty, as
    :func:`edge.rhythm.strip.classify_strip` answers it without the model)."""
    tr = train & ok
    clf = fit_trees(x[tr], y[tr], seed=seed, sample_weight=balanced_weights(y[tr]),
                    **STRIP_TREE_PARAMS)
    out = np.zeros((int(test.sum()), len(STRIP_CLASSES)))
    out[:, STRIP_CLASSES.index("~")] = 1.0
    sub = ok[test]
    if sub.any():
        p = clf.predict_proba(x[test][sub])
        full = np.zeros((p.shape[0], len(STRIP_CLASSES)))
        full[:, clf.classes_] = p
        out[sub] = full
    return out


def strip_predictions(x: np.ndarray, ok: np.ndarray, y: np.ndarray, train: np.ndarray,
                      test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Fit the strip model on ``train`` rows and label ``test`` rows (class strings)."""
    p = strip_probabilities(x, ok, y, train, test, seed)
    return np.array(STRIP_CLASSES)[p.argmax(axis=1)].astype(str)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-export", action="store_true", help="cross-validate only")
    ap.add_argument("--folds", type=fold_count, default=5,
                    help="cross-validation folds (2-20, default 5)")
    ap.add_argument("--strip-only", action="store_true",
                    help="refit and export the strip model only (rhythm_af.json untouched)")
    ap.add_argument("--af-only", action="store_true",
                    help="refit and export the AF window model only (after a new beat model: "
                    "its V/F calls shape the windows); no strip CV, rhythm_strip.json untouched")
    ap.add_argument("--out-dir", type=output_dir, default=None, metavar="DIR",
                    help="write the models' JSON files here (default: the bundled ones in "
                    "edge/models, which the device loads)")
    args = ap.parse_args(argv)
    if args.af_only and (args.strip_only or args.no_export):
        ap.error("--af-only exports the AF model: not with --strip-only or --no-export")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return _run(args)
    except EdgeError as exc:
        print(f"python -m training.rhythm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m training.rhythm: interrupted; no model file was written",
              file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    cfg = RhythmConfig()
    cinc = cinc_beats()
    if args.af_only:
        _export_af_window(cinc, cfg, args.out_dir)
        return 0
    xs, ys, ok = strip_dataset(cinc)
    fold = cinc_folds(cinc.labels, args.folds)
    pred = np.empty(cinc.names.size, dtype=object)
    for k in range(args.folds):
        pred[fold == k] = strip_predictions(xs, ok, ys, fold != k, fold == k)
    cv = f1_scores(cinc.labels, pred.astype(str))
    print(f"CinC strip {args.folds}-fold CV:",
          json.dumps({k: round(v, 4) for k, v in cv.items()}))
    if args.no_export:
        return 0
    if not args.strip_only:
        _export_af_window(cinc, cfg, args.out_dir)
    st = fit_trees(xs[ok], ys[ok], sample_weight=balanced_weights(ys[ok]), **STRIP_TREE_PARAMS)
    doc = export_trees(st, kind="strip", classes=tuple(STRIP_CLASSES[c] for c in st.classes_),
                       feature_names=STRIP_FEATURE_NAMES)
    print("wrote", write_tree_model(doc, _model_path("strip", args.out_dir)))
    return 0


def _model_path(kind: str, out_dir: str | None) -> Path:
    """Where the ``kind`` model is written: the bundled file, or its name in ``out_dir``."""
    bundled = Path(default_model_path(kind))
    return bundled if out_dir is None else Path(out_dir) / bundled.name


def _export_af_window(cinc: CincBeats, cfg: RhythmConfig, out_dir: str | None = None) -> None:
    """Fit the streaming analyser's window model on CinC + DS1 windows and write it (into
    ``out_dir``, else the bundled file)."""
    xw, yw, _ = window_dataset(cinc, np.arange(cinc.names.size), cfg,
                               labels=cinc_labels(cinc))
    xm, ym = mitdb_window_dataset(DS1, cfg)
    x = np.concatenate([xw, xm])
    y = np.concatenate([yw, ym]).astype(int)
    af = fit_trees(x, y)
    doc = export_trees(af, kind="af_window", classes=("other", "AF/AFL"),
                       feature_names=FEATURE_NAMES)
    print("wrote", write_tree_model(doc, _model_path("af_window", out_dir)))


if __name__ == "__main__":
    raise SystemExit(main())
