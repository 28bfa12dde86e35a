"""The VF network: a small full-int8 1-D CNN over a 4-s window of the conditioned ECG, giving
P(shockable) next to the VF window model's trees (:class:`edge.rhythm.ventricular.VfDetector`
averages the two).

The trees read 20 numbers computed from the window (spectrum, threshold crossings, spike
regularity, ...); the network reads the waveform itself. Out of fold on CUDB + MIT-BIH DS1
it separates VF from organised rhythm, and from rhythm under electrode-motion noise, far
better than the trees (``benchmarks/results/ventricular.design.md``, section 7).

Input (:func:`vf_net_input`; training builds its inputs with the same function): the
device's window (:class:`edge.rhythm.ventricular.VfWindows`: :data:`WINDOW_S` of
conditioned samples at the processing rate), means of :data:`DECIMATION` consecutive samples
(:data:`NET_FS_HZ`, 360 samples), as two channels:

* the signal in mV, clipped to ``±``:data:`CLIP_MV` (amplitude matters: fine VF, asystole);
* the signal divided by (its largest ``|x|`` + :data:`PEAK_FLOOR_MV`), in [-1, 1] (shape,
  whatever the gain).

The ``.tflite`` file carries its contract as metadata: ``kind`` ``"vf_net"``, ``fs_hz``,
``length``, ``window_s``, ``decimation``, ``clip_mv``, ``peak_floor_mv`` and
``blend_weight`` (the network's share in the average with the trees). The loader refuses a
file whose contract differs from this module's input, or that is not a model.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge.errors import SignalError

__all__ = ["VF_NET_KIND", "NET_FS_HZ", "NET_LENGTH", "WINDOW_S", "DECIMATION", "CLIP_MV",
           "PEAK_FLOOR_MV", "VfNet", "vf_net_input", "decimate_rows", "vf_net_contract",
           "load_vf_net", "default_vf_net_path"]

VF_NET_KIND = "vf_net"
WINDOW_S = 4.0
DECIMATION = 4
NET_FS_HZ = 90.0
NET_LENGTH = int(WINDOW_S * NET_FS_HZ)
CLIP_MV = 4.0
PEAK_FLOOR_MV = 0.05
_MODELS = Path(__file__).resolve().parent.parent / "models"


def default_vf_net_path() -> Path:
    """The bundled VF network."""
    return _MODELS / "rhythm_vf_net.tflite"


def vf_net_contract(blend_weight: float) -> dict:
    """The contract a VF network's file carries (see the module docstring)."""
    return {"kind": VF_NET_KIND, "fs_hz": NET_FS_HZ, "length": NET_LENGTH,
            "window_s": WINDOW_S, "decimation": DECIMATION, "clip_mv": CLIP_MV,
            "peak_floor_mv": PEAK_FLOOR_MV, "channels": ["mv", "unit_peak"],
            "blend_weight": float(blend_weight)}


def decimate_rows(rows_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """Windows ``(n, WINDOW_S x fs_hz)`` of conditioned samples (mV at ``fs_hz``, the
    processing rate) -> ``(n, NET_LENGTH)`` float32 means of :data:`DECIMATION` samples.

    Raises
    ------
    SignalError
        When the rows are not 2-D windows of :data:`WINDOW_S` at ``DECIMATION x NET_FS_HZ``.
    """
    r = np.asarray(rows_mv, dtype=np.float64)
    if not np.isclose(fs_hz, DECIMATION * NET_FS_HZ):
        raise SignalError(f"the VF network reads windows at {DECIMATION * NET_FS_HZ:g} Hz, "
                          f"got {fs_hz!r} Hz")
    if r.ndim != 2 or r.shape[1] != NET_LENGTH * DECIMATION:
        raise SignalError(f"VF network windows must be (n, {NET_LENGTH * DECIMATION}) "
                          f"({WINDOW_S:g} s), got shape {r.shape}")
    return r.reshape(r.shape[0], NET_LENGTH, DECIMATION).mean(axis=2).astype(np.float32)


def vf_net_input(z: np.ndarray) -> np.ndarray:
    """The network's input ``(n, NET_LENGTH, 2)`` (float32) of :func:`decimate_rows` output
    (non-finite samples read as 0)."""
    z = np.nan_to_num(np.asarray(z, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if z.ndim != 2 or z.shape[1] != NET_LENGTH:
        raise SignalError(f"decimated windows must be (n, {NET_LENGTH}), got {z.shape}")
    a = np.clip(z, -CLIP_MV, CLIP_MV)
    peak = np.abs(z).max(axis=1, keepdims=True) if z.shape[0] else np.zeros((0, 1))
    b = np.clip(z / (peak + np.float32(PEAK_FLOOR_MV)), -1.0, 1.0)
    return np.stack([a, b], axis=-1).astype(np.float32)


class VfNet:
    """A loaded VF network (LiteRT; int8 or float input and output).

    Use :func:`load_vf_net`; :meth:`predict` gives P(shockable) of conditioned windows.
    """

    def __init__(self, model_bytes: bytes, *, name: str = "VF network") -> None:
        from edge.model.small_net import SmallNet, blend_weight_of, check_contract  # noqa: PLC0415

        want = vf_net_contract(0.0)
        raw = check_contract(model_bytes, want, tuple(k for k in want if k != "blend_weight"),
                             name=name, what="VF network")
        self.blend_weight = blend_weight_of(raw, name)
        self.contract = raw
        self.name = name
        self._net = SmallNet(model_bytes, (NET_LENGTH, 2), 1, name=name)

    def predict_decimated(self, z: np.ndarray) -> np.ndarray:
        """P(shockable) ``(n,)`` of :func:`decimate_rows` output."""
        return np.clip(self._net.invoke_rows(vf_net_input(z))[:, 0], 0.0, 1.0)

    def predict(self, rows_mv: np.ndarray, fs_hz: float) -> np.ndarray:
        """P(shockable) ``(n,)`` of windows ``(n, WINDOW_S x fs_hz)`` (mV, processing rate)."""
        return self.predict_decimated(decimate_rows(rows_mv, fs_hz))


def load_vf_net(path: str | os.PathLike | None = None) -> VfNet:
    """The VF network at ``path`` (default: the bundled one).

    Raises
    ------
    ModelError
        When the file is missing, unreadable, not a model, or its contract does not match.
    """
    from edge.model.small_net import read_net_file  # noqa: PLC0415

    p = default_vf_net_path() if path is None else Path(path)
    return VfNet(read_net_file(p, "VF network"), name=str(p))
