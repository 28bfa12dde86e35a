"""Convert the strip network (``python -m training.strip_net``) to the full-int8 ``.tflite`` the
device runs (:class:`edge.rhythm.strip_net.StripNet`), its contract embedded, with a
float-vs-int8 parity report.

    python convert/strip_net.py --model cache/strip_net.keras
        -> edge/models/rhythm_strip_net.tflite and rhythm_strip_net.parity.json
    python convert/strip_net.py --cv DIR
        -> DIR/fold<k>.tflite for each DIR/fold<k>.keras, and DIR/oof.npz: the CV's
           out-of-fold float probabilities with the int8 fold networks' answers beside them

Int8 input and output, calibrated on the first crop of :data:`N_CALIBRATION` recordings drawn
from those the network was fitted on (every CinC recording for ``--model``; the fold's training
recordings for ``--cv``). The contract carries the blend weight and the class scale
(:data:`training.strip_net.BLEND_WEIGHT`, :data:`~training.strip_net.CLASS_SCALE`). The parity
report compares the Keras model and the int8 file through the device's own code on every CinC
recording (in-sample for ``--model``: it measures the two numeric forms agreeing, not
accuracy).
"""
from __future__ import annotations

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
from edge.rhythm.strip import STRIP_CLASSES  # noqa: E402
from edge.rhythm.strip_net import (  # noqa: E402
    NET_LENGTH,
    StripNet,
    default_net_path,
    load_strip_net,
    net_contract,
    net_crops,
)

__all__ = ["N_CALIBRATION", "to_int8", "int8_probabilities", "convert_model", "convert_cv",
           "main"]

logger = logging.getLogger(__name__)

N_CALIBRATION = 300


def to_int8(model, sigs: list[np.ndarray], idx: np.ndarray, *, blend_weight: float,  # noqa: ANN001
            n_calibration: int = N_CALIBRATION, seed: int = 0) -> bytes:
    """Full-int8 ``.tflite`` (batch 1, int8 input and output) of a strip network, calibrated on
    the first crop of ``n_calibration`` recordings of ``idx``, with its contract embedded."""
    from training.strip_net import arch_of, build_net  # noqa: PLC0415

    fixed = build_net(0, arch_of(model), batch_size=1)
    fixed.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    pick = rng.choice(np.asarray(idx), size=min(n_calibration, len(idx)), replace=False)
    rows = [net_crops(sigs[i])[0] for i in pick]

    def rep():
        for r in rows:
            yield [r.reshape(1, NET_LENGTH, 1)]

    from training.strip_net import CLASS_SCALE  # noqa: PLC0415

    return embed_contract(int8_flatbuffer(fixed, rep),
                          net_contract(STRIP_CLASSES, blend_weight, CLASS_SCALE))


def int8_probabilities(net: StripNet, sigs: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The device's answers (STRIP_CLASSES order) of a loaded network for recordings ``idx``
    (``sigs``: :func:`~edge.rhythm.strip_net.net_signal` of each recording)."""
    order = [net.classes.index(c) for c in STRIP_CLASSES]
    out = np.zeros((len(idx), len(STRIP_CLASSES)))
    for j, i in enumerate(idx):
        out[j] = net.predict_crops(net_crops(sigs[i]))[order]
    return out


def _parity(pf: np.ndarray, pi: np.ndarray) -> dict:
    return {"recordings": int(pf.shape[0]),
            "label_agreement_float_int8": float(np.mean(pf.argmax(1) == pi.argmax(1))),
            "max_abs_probability_difference": float(np.max(np.abs(pf - pi))),
            "mean_abs_probability_difference": float(np.mean(np.abs(pf - pi)))}


def _load(path: str | os.PathLike):
    """The strip network of a ``.keras`` file (a damaged file or another network refused)."""
    return load_net(path, input_shape=(NET_LENGTH, 1), output_shape=(len(STRIP_CLASSES),),
                    what="strip network")


def _cinc():
    from training.rhythm import cinc_beats  # noqa: PLC0415
    from training.strip_net import net_inputs  # noqa: PLC0415

    cinc = cinc_beats()
    return cinc, net_inputs(cinc)


def convert_model(keras_path: str | os.PathLike, out: str | os.PathLike | None = None) -> dict:
    """``--model``: the int8 file at ``out`` (default: the bundled path) and its parity report
    beside it (``.parity.json``)."""
    from training.strip_net import BLEND_WEIGHT, predict_float  # noqa: PLC0415

    model = _load(keras_path)
    cinc, sigs = _cinc()
    idx = np.arange(len(sigs))
    return write_with_parity(
        out or default_net_path(), to_int8(model, sigs, idx, blend_weight=BLEND_WEIGHT),
        keras_path=keras_path, blend_weight=BLEND_WEIGHT,
        parity=lambda p: _parity(predict_float(model, sigs, idx),
                                 int8_probabilities(load_strip_net(p), sigs, idx)),
        note="in-sample (every CinC recording, which the network was fitted on): the "
             "agreement of the two numeric forms, not accuracy")


def convert_cv(cv_dir: str | os.PathLike) -> dict:
    """``--cv``: every fold converted, ``oof.npz`` written (see the module docstring)."""
    from training.strip_net import BLEND_WEIGHT  # noqa: PLC0415

    d = Path(cv_dir)
    try:
        z = np.load(d / "oof_float.npz", allow_pickle=False)
        fold, y, p_float, names = z["fold"], z["y"], z["p_float"], z["names"]
    except (OSError, KeyError, ValueError) as exc:
        raise EdgeError(f"{d}/oof_float.npz unreadable ({exc}): run "
                        f"`python -m training.strip_net --cv {d}` first") from exc
    cinc, sigs = _cinc()
    if not np.array_equal(names, cinc.names):
        raise EdgeError(f"{d} was made from other CinC recordings than these")
    p_int8 = np.zeros_like(p_float)
    for k in np.unique(fold):
        model = _load(d / f"fold{k}.keras")
        tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        path = d / f"fold{k}.tflite"
        path.write_bytes(to_int8(model, sigs, tr, blend_weight=BLEND_WEIGHT, seed=int(k)))
        p_int8[te] = int8_probabilities(load_strip_net(path), sigs, te)
        logger.info("fold %d converted", k)
    np.savez(d / "oof.npz", names=names, fold=fold, y=y, p_float=p_float, p_int8=p_int8)
    return {"cv": str(d), "folds": int(np.unique(fold).size), **_parity(p_float, p_int8)}


def main(argv: list[str] | None = None) -> int:
    return net_main(argv, name="strip_net", description=__doc__.splitlines()[0],
                    convert_model=convert_model, convert_cv=convert_cv)


if __name__ == "__main__":
    raise SystemExit(main())
