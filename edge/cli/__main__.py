"""``python -m edge.cli``: the same as ``ecg-edge``."""
import sys

from edge.cli.main import main

sys.exit(main())
