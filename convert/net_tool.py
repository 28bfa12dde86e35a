"""The command line the rhythm networks' converters share (``convert/strip_net.py``,
``convert/vf_net.py``): ``--model KERAS [--out FILE]`` or ``--cv DIR``."""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from edge.errors import EdgeError, ModelError
from training.tool import run_tool, start_tool

__all__ = ["net_main", "load_net", "write_with_parity"]


def load_net(path: str | os.PathLike, *, input_shape: tuple[int, ...],
             output_shape: tuple[int, ...], what: str):
    """The Keras network of a ``.keras`` file, checked to be ``what`` (e.g. ``"strip
    network"``): one input of ``input_shape`` and one output of ``output_shape`` (batch left
    out).

    Raises
    ------
    ModelError
        The file is missing or damaged (:func:`training.contract.load_keras`), or holds another
        kind of network (the beat classifier, the other rhythm network...).
    """
    from training.contract import load_keras  # noqa: PLC0415

    model = load_keras(path)
    got_in = [tuple(t.shape[1:]) for t in model.inputs]
    got_out = [tuple(t.shape[1:]) for t in model.outputs]
    if got_in != [tuple(input_shape)] or got_out != [tuple(output_shape)]:
        raise ModelError(f"not a {what} (inputs {got_in}, outputs {got_out}; a {what} takes "
                         f"{tuple(input_shape)} and gives {tuple(output_shape)})", str(path))
    return model


def write_with_parity(path: str | os.PathLike, tflite: bytes, *, keras_path: str | os.PathLike,
                      blend_weight: float, parity: Callable[[Path], dict], note: str) -> dict:
    """Write a converted network to ``path`` and, beside it, its parity report
    (``.parity.json``: the file, its source and size, the blend weight, ``parity(path)`` --
    the Keras model against the written file through the device's code -- and ``note``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(tflite)
    rep = {"model": p.name, "from": str(keras_path), "bytes": p.stat().st_size,
           "blend_weight": blend_weight, **parity(p), "note": note}
    p.with_suffix(".parity.json").write_text(json.dumps(rep, indent=1) + "\n")
    return rep


def net_main(argv: list[str] | None, *, name: str, description: str,
             convert_model: Callable[..., dict], convert_cv: Callable[..., dict]) -> int:
    """Parse ``argv`` and run ``convert_model(model, out)`` or ``convert_cv(dir)`` (``name``:
    the converter, e.g. ``strip_net``, in its messages and the training command it names)."""
    ap = argparse.ArgumentParser(description=description)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", metavar="KERAS", help="the network fitted on every record")
    g.add_argument("--cv", metavar="DIR", help=f"the fold networks of training.{name} --cv")
    ap.add_argument("--out", default=None,
                    help="with --model: the .tflite path (default: the bundled one)")
    args = ap.parse_args(argv)
    if args.out and not args.model:
        ap.error("--out goes with --model")
    if args.out:
        from convert.quantize import check_out_path  # noqa: PLC0415

        try:
            check_out_path(args.out, args.model)
        except ModelError as exc:
            ap.exit(2, f"{name}: error: {exc}\n")
    start_tool()
    return run_tool(
        f"{name}: error: ",
        lambda: convert_model(args.model, args.out) if args.model else convert_cv(args.cv),
        errors=(EdgeError, OSError, ValueError),
        interrupted="interrupted; files already written stay, oof.npz is written last")
