"""The command line the rhythm networks' converters share (``convert/strip_net.py``,
``convert/vf_net.py``): ``--model KERAS [--out FILE]`` or ``--cv DIR``."""
from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

from edge.errors import EdgeError
from training.tool import run_tool

__all__ = ["net_main"]


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
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return run_tool(
        f"{name}: error: ",
        lambda: convert_model(args.model, args.out) if args.model else convert_cv(args.cv),
        errors=(EdgeError, OSError, ValueError), error_code=1,
        interrupted="interrupted; files already written stay, oof.npz is written last")
