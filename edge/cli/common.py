"""What every ``ecg-edge`` sub-command shares."""
from __future__ import annotations

import argparse

__all__ = ["add_common"]


def add_common(p: argparse.ArgumentParser) -> None:
    """Options every sub-command takes."""
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv debug)")
