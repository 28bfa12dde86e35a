"""Run one small contract-carrying network on LiteRT: one input tensor, one output tensor,
batch 1, int8 or float at either end.

The rhythm stages' networks (:mod:`edge.rhythm.strip_net`, :mod:`edge.rhythm.vf_net`) read
their ``.tflite`` file through :func:`read_net_file`, check its embedded contract
(:func:`edge.model.tflite_meta.read_contract`) against what their code computes with
:func:`check_contract`, and run it with :class:`SmallNet`. Every failure is one
:class:`~edge.errors.ModelError` naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ModelError

__all__ = ["SmallNet", "read_net_file", "check_contract", "blend_weight_of"]


def read_net_file(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of the network file ``path`` (``what`` names it in the error)."""
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the {what} {p}: {exc.strerror or exc}") from exc


def check_contract(model_bytes: bytes, want: dict, keys: tuple[str, ...], *, name: str,
                   what: str) -> dict:
    """The embedded contract of ``model_bytes``, after checking that each of ``keys`` equals
    ``want``'s (what this code computes)."""
    from edge.model.seal import warn_unsealed  # noqa: PLC0415
    from edge.model.tflite_meta import read_sealed_contract  # noqa: PLC0415

    try:
        contract, seal = read_sealed_contract(model_bytes)
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from exc
    if not seal:
        warn_unsealed(name)
    for key in keys:
        if contract.get(key) != want[key]:
            raise ModelError(f"{name}: contract {key}={contract.get(key)!r}, this code "
                             f"computes {want[key]!r}: not a {what} for this version")
    return contract


def blend_weight_of(contract: dict, name: str) -> float:
    """The contract's ``blend_weight`` (the network's share when averaged with a tree model),
    checked to lie in [0, 1]."""
    w = contract.get("blend_weight")
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= float(w) <= 1.0:
        raise ModelError(f"{name}: contract blend_weight must be in [0, 1], got {w!r}")
    return float(w)


@dataclass(frozen=True, eq=False)
class _Port:
    index: int
    scale: float
    zero_point: int
    dtype: type


class SmallNet:
    """A loaded network with input shape ``(1, *input_shape)`` and output ``(1, n_outputs)``.

    Parameters
    ----------
    model_bytes : the ``.tflite`` file's bytes.
    input_shape : one example's shape (without the batch axis).
    n_outputs : the output's width.
    name : the file, for errors.
    """

    def __init__(self, model_bytes: bytes, input_shape: tuple[int, ...], n_outputs: int, *,
                 name: str) -> None:
        from edge.model.interpreter import create_interpreter  # noqa: PLC0415

        self.input_shape = tuple(int(n) for n in input_shape)
        self._interp = create_interpreter(model_bytes, name=name)
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(ins) != 1 or len(outs) != 1:
            raise ModelError(f"{name}: expects one input and one output tensor, got "
                             f"{len(ins)} and {len(outs)}")
        if tuple(ins[0]["shape"]) != (1, *self.input_shape):
            raise ModelError(f"{name}: input shape {tuple(ins[0]['shape'])}, expected "
                             f"{(1, *self.input_shape)}")
        if tuple(outs[0]["shape"]) != (1, n_outputs):
            raise ModelError(f"{name}: output shape {tuple(outs[0]['shape'])}, expected "
                             f"(1, {n_outputs})")
        self._in = _Port(ins[0]["index"], *ins[0]["quantization"], ins[0]["dtype"])
        self._out = _Port(outs[0]["index"], *outs[0]["quantization"], outs[0]["dtype"])
        self._out_shape = (int(n_outputs),)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """The output (float64, ``(n_outputs,)``) for one example ``x`` of ``input_shape``."""
        return self.invoke_rows(np.asarray(x).reshape(1, *self.input_shape))[0]

    def invoke_rows(self, xs: np.ndarray) -> np.ndarray:
        """The outputs (float64, ``(n, n_outputs)``) for examples ``xs`` ``(n, *input_shape)``,
        one invocation each; the inputs are quantised, and the outputs dequantised, all at
        once (element by element: the values one call each would give)."""
        p, o = self._in, self._out
        xs = np.asarray(xs)
        n = xs.shape[0]
        if p.dtype == np.int8:
            q = np.clip(np.round(xs / p.scale) + p.zero_point, -128, 127).astype(np.int8)
        else:
            q = xs.astype(p.dtype)
        q = q.reshape(n, *self.input_shape)
        it = self._interp
        raw = np.empty((n, *self._out_shape), dtype=o.dtype)
        for i in range(n):
            it.set_tensor(p.index, q[i:i + 1])
            it.invoke()
            raw[i] = it.get_tensor(o.index)[0]
        if o.dtype == np.int8:
            return (raw.astype(np.float64) - o.zero_point) * o.scale
        return raw.astype(np.float64)
