"""``ecg-edge demo``: the no-hardware demo (simulated wearable on a pty, bundled model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.common import add_common, positive_float, replay_speed

__all__ = ["add_parser", "cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.runtime.demo import run_demo

    run_demo(speed=args.speed, model=args.model, duration_s=args.duration_s,
             show_beats=not args.no_beats, color=args.color, install_signals=True)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``demo`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("demo", help="replay a bundled MIT-BIH excerpt through a simulated "
                              "wearable on a pty into the daemon; no hardware or data needed")
    p.add_argument("--speed", type=replay_speed, default=1.0, metavar="X|max",
                   help="replay speed: a number > 0 (1 = real time, the default) or 'max' "
                   "(as fast as possible)")
    p.add_argument("--model", default=None, type=Path, help="int8 model (default: bundled)")
    p.add_argument("--duration-s", type=positive_float, default=None,
                   help="replay only the first this many seconds (> 0; default: all 300 s)")
    p.add_argument("--no-beats", action="store_true", help="do not print every beat")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the beat classes and alerts (auto: when the output is a "
                        "terminal)")
    add_common(p)
    p.set_defaults(func=cmd_demo)
    return p
