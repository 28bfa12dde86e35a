"""``ecg-edge``: the command line. One module per command group; ``main`` is the entry point
(the only place that configures logging).

``main`` here imports the commands on call, so Ctrl-C while the numeric libraries load (a
second or more on a small board) ends with a one-line message, not a traceback.
"""
from __future__ import annotations

import sys

__all__ = ["main", "build_parser"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecg-edge`` (see :func:`edge.cli.main.main`)."""
    try:
        from edge.cli.main import main as run_main
    except KeyboardInterrupt:
        print("ecg-edge: interrupted", file=sys.stderr)
        return 130
    return run_main(argv)


def build_parser():  # noqa: ANN201 - argparse.ArgumentParser, built by edge.cli.main
    """The ``ecg-edge`` argument parser (see :func:`edge.cli.main.build_parser`)."""
    from edge.cli.main import build_parser as build
    return build()
