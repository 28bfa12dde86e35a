"""``ecg-edge``: the command line. One module per command group; ``main`` is the entry point
(the only place that configures logging)."""
from edge.cli.main import build_parser, main

__all__ = ["main", "build_parser"]
