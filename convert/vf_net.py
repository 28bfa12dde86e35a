"""Convert the VF network (``python -m training.vf_net``) to the full-int8 ``.tflite`` the
device runs (:class:`edge.rhythm.vf_net.VfNet`), its contract embedded, with a float-vs-int8
parity report.

    python convert/vf_net.py --model cache/vf_net.keras
        -> edge/models/rhythm_vf_net.tflite and rhythm_vf_net.parity.json
    python convert/vf_net.py --cv DIR
        -> DIR/fold<k>.tflite for each DIR/fold<k>.keras, and DIR/oof.npz: the int8 fold
           networks' out-of-fold P of every window (``<record>|<variant>`` keys, as
           DIR/oof_float.npz)

Int8 input and output, calibrated on :data:`N_CALIBRATION` windows drawn from those the
network was fitted on. The contract carries the blend weight
(:data:`training.vf_net.BLEND_WEIGHT`). The parity report compares the Keras model and the int8
file through the device's own code on :data:`N_PARITY` windows of the training records
(in-sample for ``--model``: it measures the two numeric forms agreeing, not accuracy).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.net_tool import load_net, net_main, write_with_parity  # noqa: E402
from convert.quantize import embed_contract, int8_flatbuffer  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.rhythm.vf_net import (  # noqa: E402
    NET_LENGTH,
    VfNet,
    default_vf_net_path,
    load_vf_net,
    vf_net_contract,
    vf_net_input,
)

__all__ = ["N_CALIBRATION", "N_PARITY", "to_int8", "int8_p", "convert_model", "convert_cv",
           "main"]

logger = logging.getLogger(__name__)

N_CALIBRATION = 500
N_PARITY = 4000


def _load(path: str | os.PathLike):
    """The VF network of a ``.keras`` file (a damaged file or another network refused)."""
    return load_net(path, input_shape=(NET_LENGTH, 2), output_shape=(1,), what="VF network")


def _sample(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` of the training windows ``x`` (decimated rows, labels ``y``), half of them
    shockable where there are enough."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    k = min(n // 2, pos.size)
    pick = np.r_[rng.choice(pos, k, replace=False), rng.choice(neg, min(n - k, neg.size),
                                                               replace=False)]
    return x[np.sort(pick)]


def to_int8(model, calibration: np.ndarray, *, blend_weight: float) -> bytes:  # noqa: ANN001
    """Full-int8 ``.tflite`` (batch 1, int8 input and output) of a VF network, calibrated on
    ``calibration`` (decimated rows), with its contract embedded."""
    from training.vf_net import build_net  # noqa: PLC0415

    fixed = build_net(0, batch_size=1)
    fixed.set_weights(model.get_weights())
    inputs = vf_net_input(calibration)

    def rep():
        for row in inputs:
            yield [row.reshape(1, NET_LENGTH, 2)]

    return embed_contract(int8_flatbuffer(fixed, rep), vf_net_contract(blend_weight))


def int8_p(net: VfNet, rows: np.ndarray) -> np.ndarray:
    """The device's P of decimated rows (NaN for NaN rows)."""
    ok = np.isfinite(rows).all(axis=1)
    p = np.full(rows.shape[0], np.nan)
    if ok.any():
        p[ok] = net.predict_decimated(rows[ok])
    return p


def _parity(pf: np.ndarray, pi: np.ndarray, th: float = 0.5) -> dict:
    ok = np.isfinite(pf) & np.isfinite(pi)
    pf, pi = pf[ok], pi[ok]
    return {"windows": int(pf.size),
            "call_agreement_at_0.5": float(np.mean((pf >= th) == (pi >= th))),
            "max_abs_p_difference": float(np.max(np.abs(pf - pi))) if pf.size else 0.0,
            "mean_abs_p_difference": float(np.mean(np.abs(pf - pi))) if pf.size else 0.0}


def convert_model(keras_path: str | os.PathLike, out: str | os.PathLike | None = None) -> dict:
    """``--model``: the int8 file at ``out`` (default: the bundled path) and its parity report
    beside it (``.parity.json``)."""
    from training.ventricular import TRAIN_RECORDS  # noqa: PLC0415
    from training.vf_net import BLEND_WEIGHT, predict_float, training_set  # noqa: PLC0415

    model = _load(keras_path)
    x, y = training_set(TRAIN_RECORDS)  # read once: calibration and parity draw from it
    check = _sample(x, y, N_PARITY, 1)
    return write_with_parity(
        out or default_vf_net_path(),
        to_int8(model, _sample(x, y, N_CALIBRATION, 0), blend_weight=BLEND_WEIGHT),
        keras_path=keras_path, blend_weight=BLEND_WEIGHT,
        parity=lambda p: _parity(predict_float(model, check), int8_p(load_vf_net(p), check)),
        note="in-sample (windows of the CUDB + DS1 records the network was fitted on, half "
             "shockable): the agreement of the two numeric forms, not accuracy")


def convert_cv(cv_dir: str | os.PathLike) -> dict:
    """``--cv``: every fold converted, ``oof.npz`` written (see the module docstring)."""
    from training.ventricular import TRAIN_RECORDS, fold_training_records  # noqa: PLC0415
    from training.vf_net import BLEND_WEIGHT, training_set, window_rows  # noqa: PLC0415

    d = Path(cv_dir)
    try:
        meta = json.loads((d / "folds.json").read_text())
        z = np.load(d / "oof_float.npz", allow_pickle=False)
        p_float = {k: z[k] for k in z.files}
    except (OSError, KeyError, ValueError) as exc:
        raise EdgeError(f"{d}: folds.json / oof_float.npz unreadable ({exc}): run "
                        f"`python -m training.vf_net --cv {d}` first") from exc
    f = meta["folds"]
    cf = meta.get("cinc_folds", {})  # CinC recordings in the CV (training.vf_net --cinc)
    if set(f) != set(TRAIN_RECORDS):
        raise EdgeError(f"{d} was made from other records than training.ventricular's")
    fold_of = {**f, **cf}
    oof: dict[str, np.ndarray] = {}
    pf_all, pi_all = [], []
    for k in sorted(set(f.values())):
        model = _load(d / f"fold{k}.keras")
        train = fold_training_records(f, k, cf)
        path = d / f"fold{k}.tflite"
        path.write_bytes(to_int8(model, _sample(*training_set(train), N_CALIBRATION, k),
                                 blend_weight=BLEND_WEIGHT))
        net = load_vf_net(path)
        for key in (key for key in p_float if fold_of[key.split("|")[0]] == k):
            rec, variant = key.split("|")
            oof[key] = int8_p(net, window_rows(rec, variant)[1])
            pf_all.append(p_float[key])
            pi_all.append(oof[key])
        logger.info("fold %d converted", k)
    np.savez(d / "oof.npz", **oof)
    return {"cv": str(d), **_parity(np.concatenate(pf_all), np.concatenate(pi_all))}


def main(argv: list[str] | None = None) -> int:
    return net_main(argv, name="vf_net", description=__doc__.splitlines()[0],
                    convert_model=convert_model, convert_cv=convert_cv)


if __name__ == "__main__":
    raise SystemExit(main())
