"""The strip network: a small full-int8 1-D CNN over a short recording's waveform, the strip
classifier's second opinion (:func:`edge.rhythm.strip.classify_strip` averages its class
probabilities with the strip model's).

The strip model reads numbers the code computes (RR irregularity, P-wave presence, median-beat
morphology); the network reads the conditioned waveform itself, so it sees what those numbers
miss (f-waves, odd complexes, artefact). Out of fold on CinC 2017 the average is better than
either alone (``benchmarks/results/rhythm.md``).

Input (:func:`net_signal`, :func:`net_crops`; training builds its inputs with the same
functions):

* the device's conditioning (:func:`edge.rhythm.atrial.condition`: the front end at
  :data:`~edge.dsp.designs.PROCESSING_FS_HZ`) of the whole strip, the first
  :data:`~edge.rhythm.strip.STRIP_SETTLE_S` left out as the strip model does;
* means of :data:`DECIMATION` consecutive samples: :data:`NET_FS_HZ` (90 Hz);
* divided by the median over 1-s blocks of the block's largest ``|amplitude|`` (the QRS
  height, so gain and units do not matter) and clipped to ``±``:data:`NET_CLIP`;
* crops of :data:`NET_LENGTH` samples (28.4 s): a shorter strip is zero-padded at its end, a
  longer one cut every :data:`NET_CROP_STEP` samples with the last crop ending at its end. The
  class probabilities are the mean over the crops.

The ``.tflite`` file carries its contract as metadata (:data:`~edge.model.tflite_meta.
CONTRACT_METADATA_NAME`): ``kind`` ``"strip_net"``, ``classes``, ``fs_hz``, ``length``,
``clip``, ``crop_step``, ``blend_weight`` (the network's share in the average) and, optionally,
``class_scale``: factors on classes of the averaged probabilities (then renormalised), fixed with
the blend on the same out-of-fold answers (a file without it scales nothing). The loader refuses
a file whose contract differs from this module's input, or that is not a model.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge.errors import ModelError, SignalError

__all__ = ["NET_FS_HZ", "NET_LENGTH", "NET_CLIP", "NET_CROP_STEP", "DECIMATION", "NET_KIND",
           "StripNet", "net_signal", "net_crops", "net_contract", "load_strip_net",
           "default_net_path"]

NET_KIND = "strip_net"
DECIMATION = 4
NET_FS_HZ = 90.0
NET_LENGTH = 2560
NET_CROP_STEP = NET_LENGTH // 2
NET_CLIP = 4.0
_SETTLE_S = 1.0  # = edge.rhythm.strip.STRIP_SETTLE_S (checked by a test; no import cycle)
_MODELS = Path(__file__).resolve().parent.parent / "models"


def default_net_path() -> Path:
    """The bundled strip network."""
    return _MODELS / "rhythm_strip_net.tflite"


def net_contract(classes: tuple[str, ...], blend_weight: float,
                 class_scale: dict[str, float] | None = None) -> dict:
    """The contract a strip network's file carries (see the module docstring)."""
    scale = {} if not class_scale else {"class_scale": {str(c): float(v)
                                                         for c, v in class_scale.items()}}
    return {**scale, "kind": NET_KIND, "classes": list(classes), "fs_hz": NET_FS_HZ,
            "length": NET_LENGTH, "clip": NET_CLIP, "crop_step": NET_CROP_STEP,
            "decimation": DECIMATION, "blend_weight": float(blend_weight)}


def net_signal(x_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """The network's input signal (float32, :data:`NET_FS_HZ`) of a strip (mV at ``fs_hz``;
    non-finite samples read as 0). Empty when the strip is shorter than the settling time.

    Raises
    ------
    SignalError
        When ``x_mv`` is not 1-D or ``fs_hz`` is not a positive rate.
    """
    from edge.rhythm.atrial import condition  # noqa: PLC0415 (keeps the import light)

    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"net_signal expects one channel (1-D), got shape {x.shape}")
    if not (np.isfinite(fs_hz) and fs_hz > 0):
        raise SignalError(f"fs_hz must be > 0, got {fs_hz}")
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    y, fs_p = condition(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), fs_hz)
    if int(round(fs_p / NET_FS_HZ)) != DECIMATION:  # the processing rate is fixed
        raise SignalError(f"processing rate {fs_p} Hz is not {DECIMATION} x {NET_FS_HZ} Hz")
    y = y[int(round(_SETTLE_S * fs_p)):]
    n = y.size // DECIMATION * DECIMATION
    z = y[:n].reshape(-1, DECIMATION).mean(axis=1)
    per_s = int(NET_FS_HZ)
    nb = z.size // per_s
    scale = float(np.median(np.abs(z[:nb * per_s]).reshape(nb, per_s).max(axis=1))) if nb else 0.0
    if not (np.isfinite(scale) and scale > 1e-6):  # flat or sub-second strip: no gain to remove
        scale = 1.0
    return np.clip(z / scale, -NET_CLIP, NET_CLIP).astype(np.float32)


def net_crops(z: np.ndarray) -> np.ndarray:
    """The :data:`NET_LENGTH`-sample crops (n_crops, NET_LENGTH) of a :func:`net_signal`."""
    z = np.asarray(z, dtype=np.float32)
    if z.size <= NET_LENGTH:
        out = np.zeros((1, NET_LENGTH), dtype=np.float32)
        out[0, :z.size] = z
        return out
    starts = list(range(0, z.size - NET_LENGTH + 1, NET_CROP_STEP))
    if starts[-1] != z.size - NET_LENGTH:
        starts.append(z.size - NET_LENGTH)
    return np.stack([z[s:s + NET_LENGTH] for s in starts])


class StripNet:
    """A loaded strip network (LiteRT; int8 or float input and output).

    Use :func:`load_strip_net`; :meth:`predict_proba` gives the class probabilities of a strip.
    """

    def __init__(self, model_bytes: bytes, *, name: str = "strip network") -> None:
        from edge.model.small_net import SmallNet, blend_weight_of, check_contract  # noqa: PLC0415

        raw = check_contract(model_bytes, net_contract((), 0.0),
                             ("kind", "fs_hz", "length", "clip", "crop_step", "decimation"),
                             name=name, what="strip network")
        classes = raw.get("classes")
        if (not isinstance(classes, list) or not classes
                or not all(isinstance(c, str) for c in classes)):
            raise ModelError(f"{name}: contract classes must be a list of names")
        self.blend_weight = blend_weight_of(raw, name)
        self.classes: tuple[str, ...] = tuple(classes)
        self.class_scale: dict[str, float] = _class_scale_of(raw, name)
        if set(self.class_scale) - set(self.classes):
            raise ModelError(f"{name}: contract class_scale names classes "
                             f"{sorted(set(self.class_scale) - set(self.classes))} the network "
                             f"does not have ({', '.join(self.classes)})")
        self.contract = raw
        self._net = SmallNet(model_bytes, (NET_LENGTH, 1), len(self.classes), name=name)

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (n_classes,) of a strip given as :func:`net_crops`: the mean over
        the crops, renormalised."""
        c = np.asarray(crops, dtype=np.float32)
        if c.ndim != 2 or c.shape[1] != NET_LENGTH or c.shape[0] == 0:
            raise SignalError(f"crops must be (n >= 1, {NET_LENGTH}), got shape {c.shape}")
        p = np.mean(self._net.invoke_rows(c), axis=0)
        p = np.clip(p, 0.0, None)
        s = float(p.sum())
        return p / s if s > 0 else np.full(p.size, 1.0 / p.size)

    def predict_proba(self, x_mv: np.ndarray, fs_hz: float) -> np.ndarray:
        """Class probabilities (in :attr:`classes` order) of a strip (mV at ``fs_hz``)."""
        return self.predict_crops(net_crops(net_signal(x_mv, fs_hz)))


def _class_scale_of(contract: dict, name: str) -> dict[str, float]:
    """The contract's ``class_scale`` ({} when absent): class name -> a finite factor > 0."""
    raw = contract.get("class_scale", {})
    if not isinstance(raw, dict):
        raise ModelError(f"{name}: contract class_scale must be an object of class -> factor, "
                         f"got {raw!r}")
    out = {}
    for c, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                np.isfinite(v) and v > 0):
            raise ModelError(f"{name}: contract class_scale[{c!r}] must be a number > 0, "
                             f"got {v!r}")
        out[str(c)] = float(v)
    return out


def load_strip_net(path: str | os.PathLike | None = None) -> StripNet:
    """The strip network at ``path`` (default: the bundled one).

    Raises
    ------
    ModelError
        When the file is missing, unreadable, not a model, or its contract does not match.
    """
    from edge.model.small_net import read_net_file  # noqa: PLC0415

    p = default_net_path() if path is None else Path(path)
    return StripNet(read_net_file(p, "strip network"), name=str(p))
