"""What the training and conversion commands share: the start (logging, TensorFlow's log
level), the rhythm networks' training command line, output paths checked before any work, and
the ending -- run the job, print its JSON result; an expected failure is one line on stderr (no
traceback), Ctrl-C one line and exit 130."""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from edge.errors import EdgeError

__all__ = ["run_tool", "run_guarded", "start_tool", "net_training_parser", "NET_INTERRUPTED",
           "output_dir", "output_file", "keras_output", "env_only", "no_command"]

#: What Ctrl-C leaves behind in a network's training command (its one line on stderr).
NET_INTERRUPTED = ("interrupted; the unfinished model is not saved (with --cv, finished folds "
                   "are kept but oof_float.npz is not written)")


def no_command(module: str, use: str) -> None:
    """``python -m <module>`` of a library module without a command line: one line saying
    so and what to run instead (``use``), exit 2 -- not a silent exit 0."""
    print(f"python -m {module}: a library module with no command line; {use}",
          file=sys.stderr)
    raise SystemExit(2)


def start_tool() -> None:
    """Progress lines on stderr; TensorFlow's C++ log quieted unless the user set its level."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def output_dir(text: str) -> str:
    """An argparse type: a folder the command can write into (created when missing), refused
    at once -- before any training -- when it is a file or under one, or not writable."""
    from edge.cli.common import output_dir as check  # noqa: PLC0415

    check(text)
    return text


def fold_count(text: str) -> int:
    """An argparse type: a number of cross-validation folds, 2 to 20."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 2 <= v <= 20:
        raise argparse.ArgumentTypeError(f"must be 2-20, got {v}")
    return v


def output_file(text: str) -> str:
    """An argparse type: a file the command can write (its folders created when missing),
    refused at once when it is a folder or its nearest existing parent is not a writable
    folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file name")
    from edge.cli.common import nearest_existing  # noqa: PLC0415
    from edge.cli.common import output_dir as check  # noqa: PLC0415

    probe = nearest_existing(path.parent)
    if probe.exists() and not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {str(probe)!r} is a file")
    check(str(path.parent))
    return text


def keras_output(text: str) -> str:
    """An argparse type: :func:`output_file` named ``*.keras`` (the only form Keras 3 saves a
    whole model in)."""
    if Path(text).suffix != ".keras":
        raise argparse.ArgumentTypeError(f"{text!r}: a model is saved as a .keras file "
                                         "(e.g. cache/net.keras)")
    return output_file(text)


#: The data-directory hints of :mod:`edge.io.records` that name ``--data-dir``, and their
#: wording for a command that reads its data from environment variables only.
_DATA_DIR_HINTS = ((re.compile(r", pass --data-dir, or give the record as a path"), ""),
                   (re.compile(r" or --data-dir at "), " at "),
                   (re.compile(r"check the name, --data-dir or "), "check the name or "),
                   (re.compile(r" \(from data_dir / --data-dir\)"), ""))


def env_only(message: str) -> str:
    """``message`` (a data error) without the hints that name a ``--data-dir`` option, for a
    command that has none: its data directories come from ``$MITDB_DIR``, ``$CUDB_DIR``..."""
    for pattern, repl in _DATA_DIR_HINTS:
        message = pattern.sub(repl, message)
    return message


def net_training_parser(description: str, *, epochs: int, unit: str
                        ) -> argparse.ArgumentParser:
    """The command line of a rhythm network's training (``--cv DIR`` | ``--fit OUT.keras``,
    ``--epochs``, ``--seed``); ``unit`` names what it is fitted on (``recording``,
    ``record``). Callers add their own options."""
    ap = argparse.ArgumentParser(description=description)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--cv", metavar="DIR", type=output_dir,
                   help="cross-validate; fold models and OOF to DIR")
    g.add_argument("--fit", metavar="OUT.keras", type=keras_output,
                   help=f"fit on every {unit}; save it here")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--seed", type=int, default=0)
    return ap


#: The data hint of :mod:`edge.io.records`, and its wording for commands that read records by
#: name only.
_RECORD_PATH_HINT = (", pass --data-dir, or give the record as a path", ", or pass --data-dir")


def run_guarded(prog: str, job: Callable[[], int], *, interrupted: str,
                error_tag: str = "") -> int:
    """Run ``job`` (it returns the exit code) for command ``prog``: an :class:`EdgeError`
    prints ``prog: <error_tag><message>`` and returns 2, an :class:`OSError` (a folder or
    file that cannot be written) the same with its file and reason, Ctrl-C ``prog:
    <interrupted>`` (what is kept, what is not) and returns 130. These commands take record
    names (``--records``), not paths, so a data hint does not offer a path."""
    try:
        return job()
    except EdgeError as exc:
        # --data-dir names the MIT-BIH folder only: another database's hint keeps its variable
        hint = _RECORD_PATH_HINT if "MITDB_DIR" in str(exc) else (_RECORD_PATH_HINT[0], "")
        message = str(exc).replace(*hint)
        print(f"{prog}: {error_tag}{message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: {error_tag}{exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130


def run_tool(prefix: str, job: Callable[[], dict], *,
             errors: tuple[type[BaseException], ...] = (EdgeError,), error_code: int = 2,
             interrupted: str = "interrupted", data_dir_option: bool = True) -> int:
    """Run ``job``; print its result as JSON and return 0. An exception of ``errors`` prints
    ``prefix`` + the message and returns ``error_code``; Ctrl-C prints ``prefix`` +
    ``interrupted`` (what is kept, what is not) and returns 130. Without ``data_dir_option``
    (the command has no ``--data-dir``) data hints name only the environment variables
    (:func:`env_only`)."""
    try:
        res = job()
    except errors as exc:
        print(f"{prefix}{exc if data_dir_option else env_only(str(exc))}", file=sys.stderr)
        return error_code
    except KeyboardInterrupt:
        print(f"{prefix}{interrupted}", file=sys.stderr)
        return 130
    print(json.dumps(res, indent=1))
    return 0
