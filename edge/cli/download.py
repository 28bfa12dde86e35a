"""``ecg-edge download``: fetch a PhysioNet database (needs internet)."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.common import add_common

__all__ = ["add_parser", "cmd_download"]


def cmd_download(args: argparse.Namespace) -> int:
    from edge.io.records import download_database

    out = download_database(args.database, args.out)
    print(f"{args.database} downloaded into {out}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``download`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("download", help="download a PhysioNet database (needs internet)")
    p.add_argument("database", choices=["mitdb", "nstdb"],
                   help="mitdb: the MIT-BIH Arrhythmia Database; nstdb: the Noise Stress Test "
                        "Database (PhysioNet)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="folder to write the database into (point MITDB_DIR / NSTDB_DIR at it)")
    add_common(p)
    p.set_defaults(func=cmd_download)
    return p
