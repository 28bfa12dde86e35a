"""``python -m firmware_bridge.replay``: the ``ecg-sim`` command line."""
from __future__ import annotations

import sys

from firmware_bridge.replay.cli import main

if __name__ == "__main__":
    sys.exit(main())
