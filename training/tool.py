"""What the training and conversion commands share: the start (logging, TensorFlow's log
level), the rhythm networks' training command line, and the ending -- run the job, print its
JSON result; an expected failure is one line on stderr (no traceback), Ctrl-C one line and
exit 130."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable

from edge.errors import EdgeError

__all__ = ["run_tool", "start_tool", "net_training_parser", "NET_INTERRUPTED"]

#: What Ctrl-C leaves behind in a network's training command (its one line on stderr).
NET_INTERRUPTED = ("interrupted; the unfinished model is not saved (with --cv, finished folds "
                   "are kept but oof_float.npz is not written)")


def start_tool() -> None:
    """Progress lines on stderr; TensorFlow's C++ log quieted unless the user set its level."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def net_training_parser(description: str, *, epochs: int, unit: str
                        ) -> argparse.ArgumentParser:
    """The command line of a rhythm network's training (``--cv DIR`` | ``--fit OUT.keras``,
    ``--epochs``, ``--seed``); ``unit`` names what it is fitted on (``recording``,
    ``record``). Callers add their own options."""
    ap = argparse.ArgumentParser(description=description)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--cv", metavar="DIR", help="cross-validate; fold models and OOF to DIR")
    g.add_argument("--fit", metavar="OUT.keras", help=f"fit on every {unit}; save it here")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def run_tool(prefix: str, job: Callable[[], dict], *,
             errors: tuple[type[BaseException], ...] = (EdgeError,), error_code: int = 2,
             interrupted: str = "interrupted") -> int:
    """Run ``job``; print its result as JSON and return 0. An exception of ``errors`` prints
    ``prefix`` + the message and returns ``error_code``; Ctrl-C prints ``prefix`` +
    ``interrupted`` (what is kept, what is not) and returns 130."""
    try:
        res = job()
    except errors as exc:
        print(f"{prefix}{exc}", file=sys.stderr)
        return error_code
    except KeyboardInterrupt:
        print(f"{prefix}{interrupted}", file=sys.stderr)
        return 130
    print(json.dumps(res, indent=1))
    return 0
