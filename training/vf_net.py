"""Train the VF network (:mod:`edge.rhythm.vf_net`) on CUDB + MIT-BIH DS1 (float Keras models;
``convert/vf_net.py`` makes the full-int8 files the device runs).

Data: the VF window model's (:mod:`training.ventricular`): every 4-s window the device
analyses (:class:`edge.rhythm.ventricular.VfWindows`) of CUDB's 35 records and DS1's 22, clean
and with NSTDB ``em`` / ``ma`` noise at 6 and 12 dB (:data:`training.ventricular.SHIPPED_NOISE`),
labelled as the trees are (shockable when >= 0.75 of the window lies in a VF/VFL episode, not
shockable when none of it does (VT included), else left out); every second not-shockable DS1
window (DS1 holds 4 times CUDB's windows, nearly all sinus); with ``--cinc`` (the bundled
``handheld`` network) also every :data:`CINC_STEP`-th clean window of the CinC 2017
recordings, not shockable, in their strip-model folds for ``--cv``. The inputs are the device's
(:func:`edge.rhythm.vf_net.decimate_rows`, cached under ``$ECG_EDGE_CACHE`` as
``vfnet_rows_<db>_<record>_<variant>.npz``, float16). DS2 and the paced records are never read.

Training: binary cross-entropy (unweighted: the output is averaged with the trees' P, so both
keep the data's base rate), Adam with a cosine-decayed learning rate, :data:`EPOCHS` epochs;
every epoch scales each window by a random gain of 0.7-1.4 and flips its polarity at random.

Commands (then ``convert/vf_net.py``):

* ``python -m training.vf_net --cv DIR``: the record-wise 5-fold CV of the trees
  (:func:`training.ventricular.folds`): ``DIR/fold<k>.keras`` and ``DIR/oof_float.npz``
  (each window's P from the fold model that did not see its record);
* ``python -m training.vf_net --fit OUT.keras``: fit on every record.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from edge.rhythm.vf_net import NET_LENGTH, decimate_rows, vf_net_input
from training.dataset import cache_dir
from training.models import conv_trunk
from training.tool import NET_INTERRUPTED, net_training_parser, run_tool, start_tool

__all__ = ["ARCH", "EPOCHS", "BLEND_WEIGHT", "VARIANTS", "window_rows", "training_set",
           "build_net", "fit_net", "predict_float", "cross_validate", "fit_all", "main"]

logger = logging.getLogger(__name__)

#: Conv blocks (filters, kernel): Conv1D (same padding, no bias) + BatchNorm + ReLU, then
#: max-pooling 2 after all but the last; global average and max pooling, Dense(32) ReLU,
#: dropout 0.3, sigmoid.
ARCH = ((16, 7), (24, 5), (32, 5), (48, 3), (64, 3))
EPOCHS = 10
BATCH = 256
LEARNING_RATE = 2e-3
#: The network's share in :class:`edge.rhythm.ventricular.VfDetector`'s average with the
#: trees' P (written into the converted file's contract).
BLEND_WEIGHT = 0.5
#: A window is a shockable training example when at least this share of it lies in a VF/VFL
#: episode (not shockable: none of it; windows between are left out).
POSITIVE_SHARE = 0.75
#: With ``--cinc``: every this-th clean window of a CinC 2017 recording is a not-shockable
#: example (windows overlap by 3 s; every 4th keeps CinC near a fifth of the examples).
CINC_STEP = 4
#: Whether the shipped network (and the benchmark's fold networks) trains with CinC.
SHIPPED_CINC = False


def _variants() -> tuple[str, ...]:
    from training.ventricular import SHIPPED_NOISE  # noqa: PLC0415

    return ("clean",) + tuple(SHIPPED_NOISE)


VARIANTS = _variants()


def window_rows(record: str, variant: str = "clean") -> tuple[np.ndarray, np.ndarray]:
    """(window ends at the input rate, decimated rows ``(n, NET_LENGTH)`` float32 with NaN
    rows for the windows the device does not analyse) of one record's signal variant, the
    windows of :func:`training.ventricular.record_windows` (cached)."""
    from edge.dsp.detection import to_input_index  # noqa: PLC0415
    from edge.dsp.preprocess import PreprocessConfig, Preprocessor  # noqa: PLC0415
    from edge.rhythm.ventricular import VfWindows  # noqa: PLC0415
    from training.ventricular import _db, noisy_signal, parse_variant, record_signal  # noqa: PLC0415

    path = cache_dir() / f"vfnet_rows_{_db(record)}_{record}_{variant}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return z["end_in"], z["rows"].astype(np.float32)
    x, fs = record_signal(record)
    noise = parse_variant(variant)
    if noise is not None:
        x = noisy_signal(record, x, fs, snr_db=noise[1], noise=noise[0])
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    vw = VfWindows()
    got: list[np.ndarray] = []

    def grab(ends: np.ndarray, rows: np.ndarray) -> np.ndarray:
        got.append(decimate_rows(rows, vw.config.fs_hz))
        return np.zeros((rows.shape[0], 1))

    done = [w for c in (pre.process(x), pre.flush()) for w in vw.process(c, grab)]
    ends = np.array([e for e, _ in done], dtype=np.int64)
    ok = np.array([f is not None for _, f in done], dtype=bool)
    rows = np.full((ends.size, NET_LENGTH), np.nan, dtype=np.float32)
    if got:
        rows[ok] = np.vstack(got)
    end_in = to_input_index(ends, fs, pre.config.fs_out_hz)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, end_in=end_in, rows=rows.astype(np.float16))
    return end_in, rows.astype(np.float16).astype(np.float32)


def _labels(record: str, end_in: np.ndarray) -> np.ndarray:
    """Share of each window in a shockable episode (:func:`training.ventricular.window_labels`)."""
    from training.ventricular import RecordWindows, episodes, window_labels  # noqa: PLC0415

    ep = episodes(record)
    rw = RecordWindows(record, end_in, np.zeros((end_in.size, 0)), ep.fs_hz, ep.n_samples)
    return window_labels(rw, ep)[0]


def training_set(records, variants: tuple[str, ...] = VARIANTS, *,
                 positive_share: float = POSITIVE_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(decimated rows, labels 0/1) of the trainable windows of ``records`` (see the module
    docstring). A CinC 2017 recording (:func:`training.ventricular.is_cinc`) gives every
    :data:`CINC_STEP`-th of its clean windows, all not shockable."""
    from training.data import DS2, PACED  # noqa: PLC0415
    from training.ventricular import is_cinc  # noqa: PLC0415

    xs, ys = [], []
    for rec in records:
        if rec in DS2 or rec in PACED:
            raise ValueError(f"record {rec} is held out (DS2 / paced): never trained on")
        cinc = is_cinc(rec)
        for v in ("clean",) if cinc else variants:
            end_in, rows = window_rows(rec, v)
            ok = np.isfinite(rows).all(axis=1)
            if cinc:
                keep = ok & (np.arange(ok.size) % CINC_STEP == 0)
                xs.append(rows[keep])
                ys.append(np.zeros(int(keep.sum()), dtype=np.float32))
                continue
            sh = _labels(rec, end_in)
            keep = ok & ((sh >= positive_share) | (sh == 0))
            if not rec.startswith("cu"):
                keep &= (np.arange(keep.size) % 2 == 0) | (sh > 0)
            xs.append(rows[keep])
            ys.append((sh[keep] >= positive_share).astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def build_net(seed: int = 0, arch=ARCH, *, batch_size: int | None = None):  # noqa: ANN001
    """The Keras network (sigmoid P(shockable))."""
    import keras  # noqa: PLC0415
    from keras import layers  # noqa: PLC0415

    keras.utils.set_random_seed(seed)
    inp = keras.Input((NET_LENGTH, 2), batch_size=batch_size, name="window")
    x = conv_trunk(inp, arch, [2] * (len(arch) - 1) + [1])
    out = layers.Dense(1, activation="sigmoid", name="p_shockable")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy")
    return model


def fit_net(x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = EPOCHS,
            verbose: int = 0):
    """Fit a network on decimated rows ``x`` with labels ``y`` (see the module docstring)."""
    import keras  # noqa: PLC0415

    model = build_net(seed)
    n = x.shape[0]
    sched = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, max(1, epochs * (n // BATCH)))
    model.compile(optimizer=keras.optimizers.Adam(sched), loss="binary_crossentropy")
    rng = np.random.default_rng(seed)
    for e in range(epochs):
        t0 = time.time()
        idx = rng.permutation(n)
        g = (rng.uniform(0.7, 1.4, n) * rng.choice([-1.0, 1.0], n)).astype(np.float32)
        h = model.fit(vf_net_input(x[idx] * g[:, None]), y[idx], batch_size=BATCH, epochs=1,
                      verbose=verbose)
        logger.info("epoch %d/%d: loss %.4f (%.0f s)", e + 1, epochs, h.history["loss"][0],
                    time.time() - t0)
    return model


def predict_float(model, rows: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """Keras P(shockable) of decimated rows (NaN for NaN rows: windows not analysed)."""
    ok = np.isfinite(rows).all(axis=1)
    p = np.full(rows.shape[0], np.nan)
    if ok.any():
        p[ok] = model.predict(vf_net_input(rows[ok]), batch_size=1024, verbose=0)[:, 0]
    return p


def _cinc(use: bool) -> dict[str, int]:
    """CinC recording -> its fold (:func:`training.ventricular.cinc_fold_of`); empty when
    CinC is not used."""
    from training.ventricular import cinc_fold_of  # noqa: PLC0415

    return cinc_fold_of() if use else {}


def cross_validate(out_dir: str | os.PathLike, *, epochs: int = EPOCHS, seed: int = 0,
                   n_folds: int = 5, positive_share: float = POSITIVE_SHARE,
                   cinc: bool = False) -> dict:
    """Fold models and out-of-fold float P (see the module docstring); with ``cinc`` the
    CinC recordings of the other folds join each fold's training and each fold's own are
    scored (``<name>|clean`` keys; ``folds.json`` holds their folds as ``cinc_folds``)."""
    from training.ventricular import TRAIN_RECORDS, fold_training_records, folds  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    f = folds(TRAIN_RECORDS, n_folds)
    cf = _cinc(cinc)
    if cf and n_folds != 5:
        raise ValueError("CinC recordings are dealt into 5 folds: use n_folds=5")
    oof: dict[str, np.ndarray] = {}
    for k in range(n_folds):
        t0 = time.time()
        x, y = training_set(fold_training_records(f, k, cf), positive_share=positive_share)
        model = fit_net(x, y, seed=seed + k, epochs=epochs)
        model.save(out / f"fold{k}.keras")
        for rec in (r for r in TRAIN_RECORDS if f[r] == k):
            for v in VARIANTS:
                oof[f"{rec}|{v}"] = predict_float(model, window_rows(rec, v)[1])
        for rec in (r for r, j in cf.items() if j == k):
            oof[f"{rec}|clean"] = predict_float(model, window_rows(rec)[1])
        logger.info("fold %d: %d windows, %.0f s", k, y.size, time.time() - t0)
    np.savez(out / "oof_float.npz", **oof)
    (out / "folds.json").write_text(json.dumps({"folds": f, "epochs": epochs, "seed": seed,
                                                "positive_share": positive_share,
                                                "cinc_folds": cf}))
    return {"folds": n_folds, "epochs": epochs, "seed": seed, "positive_share": positive_share,
            "cinc_recordings": len(cf)}


def fit_all(out: str | os.PathLike, *, epochs: int = EPOCHS, seed: int = 0,
            positive_share: float = POSITIVE_SHARE, cinc: bool = False) -> dict:
    """Fit on every CUDB + DS1 record (and with ``cinc`` every CinC recording); save the
    Keras model at ``out``."""
    from training.ventricular import TRAIN_RECORDS  # noqa: PLC0415

    records = list(TRAIN_RECORDS) + list(_cinc(cinc))
    x, y = training_set(records, positive_share=positive_share)
    model = fit_net(x, y, seed=seed, epochs=epochs)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return {"model": str(out), "windows": int(y.size), "shockable": int(y.sum()),
            "epochs": epochs, "seed": seed, "positive_share": positive_share,
            "cinc_recordings": len(records) - len(TRAIN_RECORDS)}


def main(argv: list[str] | None = None) -> int:
    ap = net_training_parser(__doc__.splitlines()[0], epochs=EPOCHS, unit="record")
    ap.add_argument("--positive-share", type=float, default=POSITIVE_SHARE,
                    help="share of a window in VF/VFL from which it is a shockable example "
                         "(default: %(default)s)")
    ap.add_argument("--cinc", action="store_true",
                    help="add CinC 2017's recordings ($CINC2017_DIR) as not-shockable windows "
                         f"(every {CINC_STEP}-th clean window)")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error("--epochs must be >= 1")
    if not 0 < args.positive_share <= 1:
        ap.error("--positive-share must lie in (0, 1]")
    start_tool()
    prefix = "python -m training.vf_net: "
    if args.cv:
        return run_tool(prefix, lambda: cross_validate(
            args.cv, epochs=args.epochs, seed=args.seed, positive_share=args.positive_share,
            cinc=args.cinc), interrupted=NET_INTERRUPTED, data_dir_option=False)
    return run_tool(prefix, lambda: fit_all(args.fit, epochs=args.epochs, seed=args.seed,
                                            positive_share=args.positive_share,
                                            cinc=args.cinc),
                    interrupted=NET_INTERRUPTED, data_dir_option=False)


if __name__ == "__main__":
    raise SystemExit(main())
