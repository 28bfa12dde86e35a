"""``ecg-edge history``: each wearer's stored history (beats per class, alerts, AF burden,
heart rate per hour, gaps) from the event store."""
from __future__ import annotations

import argparse
import json
import sys

from edge.cli.common import add_common, bounded_float, description, device_id

__all__ = ["add_parser", "cmd_history", "MAX_SILENCE_S"]

#: Longest ``--silence-s``: a year (a larger value would overflow the store's integer times).
MAX_SILENCE_S = 366 * 86400.0


def cmd_history(args: argparse.Namespace) -> int:
    from edge.store import EventStore, parse_duration_s
    from edge.store.history import device_history, render_history

    since_s = parse_duration_s(args.since, "--since")
    with EventStore.open(args.db, must_exist=True) as store:
        reports = device_history(store, since_s, device=args.device,
                                 silence_s=args.silence_s)
    if args.json:
        print(json.dumps(reports, indent=1, sort_keys=True))
    else:
        sys.stdout.write(render_history(reports))
    if args.device is not None and not reports:
        print(f"ecg-edge history: no events of device {args.device} in the last {args.since}",
              file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:  # noqa: ANN001 - argparse's private type
    """Add ``history`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser(
        "history", help="each wearer's stored history: beats per class, alerts, AF burden, "
        "heart rate per hour, gaps", description=description(__doc__))
    p.add_argument("--db", required=True, metavar="URL",
                   help="postgresql://user@host/db, sqlite:///path.db or a file path")
    p.add_argument("--device", type=device_id, default=None, help="one device id")
    p.add_argument("--since", default="24h", help="window ending now (default 24h; 90m, 7d)")
    p.add_argument("--silence-s", type=bounded_float(MAX_SILENCE_S, "s"), default=120.0,
                   help="report stretches without heart-rate events longer than this "
                        f"(default 120 s; at most {MAX_SILENCE_S:g}, a year)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    add_common(p)
    p.set_defaults(func=cmd_history)
    return p
