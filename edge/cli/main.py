"""``ecg-edge``: the argument parser and the dispatch to one module per command (the only
place that configures logging)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from edge import __version__
from edge.cli import adapt, annotate, check, demo, detect, download, history, ingest, rhythm, run
from edge.errors import EdgeError

__all__ = ["main", "build_parser"]

logger = logging.getLogger(__name__)


#: ``ecg-edge dashboard``'s one-line help, for the parser of another command (see build_parser).
_DASHBOARD_HELP = ("live monitoring dashboard in the browser (Streamlit): ECG strip, heart rate, "
                   "beat classes, alerts; and the model evaluation report")


def build_parser(running: str | None = None) -> argparse.ArgumentParser:
    """The ``ecg-edge`` parser. Given the command ``running`` (not ``dashboard``), the
    ``dashboard`` entry is a placeholder, so running ``run`` or ``annotate`` does not import
    the dashboard package (~0.1 s and several MB: it loads every feed and the event decoder)."""
    parser = argparse.ArgumentParser(
        prog="ecg-edge", description="Open edge arrhythmia detection: streaming ECG, R-peak "
        "detection and int8 AAMI beat classification.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (detect, annotate, rhythm, run, check, demo, download):
        command.add_parser(sub)
    if running is None or running == "dashboard":
        from edge.dashboard.cli import add_parser as add_dashboard_parser
        add_dashboard_parser(sub)
    else:
        sub.add_parser("dashboard", help=_DASHBOARD_HELP)
    adapt.add_parser(sub)
    ingest.add_parser(sub)
    history.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``ecg-edge`` command; returns the exit code (2 for a bad input or a file that
    cannot be read or written, 130 after Ctrl-C -- but ``run`` and ``demo`` take Ctrl-C and
    SIGTERM as the stop they are asked for and exit 0 once stopped --, 141 when the reader of
    stdout went away, as ``| head`` does)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # while the arguments were read (their checks load modules)
        print("ecg-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Not an error of ours; point stdout at /dev/null so the final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


#: Options whose value may start with '-' (a negative duration), which argparse would take
#: for an option of its own ("expected one argument"): their check says what is wrong.
_DASHED_VALUES = ("--since",)


def _join_dashed_values(argv: list[str]) -> list[str]:
    """``--since -1d`` -> ``--since=-1d``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _DASHED_VALUES and i + 1 < len(argv) and argv[i + 1][:2] not in ("", "--") \
                and argv[i + 1].startswith("-") and argv[i + 1][1:2].isdigit():
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _main(argv: list[str]) -> int:
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(_join_dashed_values(argv))
    level = logging.WARNING - 10 * min(getattr(args, "verbose", 0), 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except EdgeError as exc:
        print(f"ecg-edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # main() handles it: the reader of stdout went away
    except OSError as exc:
        # A file the command was told to read or write cannot be (a missing or read-only
        # output folder, a full disk): the user's to fix, so one line, not a traceback.
        print(f"ecg-edge {args.command}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _os_error_text(exc: OSError) -> str:
    """``D: a directory, not a file`` rather than ``[Errno 21] Is a directory: 'D'``."""
    if exc.filename is None or not exc.strerror:
        return str(exc)
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: a directory, not a file (give a file path)"
    return f"{exc.filename}: {exc.strerror}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
