"""The ending the training and conversion commands share: run the job, print its JSON result;
an expected failure is one line on stderr (no traceback), Ctrl-C one line and exit 130."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable

from edge.errors import EdgeError

__all__ = ["run_tool"]


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
