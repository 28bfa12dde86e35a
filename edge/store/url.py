"""Where the event store lives: a database URL, parsed once.

* ``sqlite:///abs/path.db``, ``sqlite:relative.db`` or a plain file path (``night.db``):
  an embedded SQLite file in WAL mode (nothing to install);
* ``postgresql://user:password@host:port/dbname`` (or ``postgres://``): a PostgreSQL server
  (libpq's URL syntax, passed to psycopg as it is).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edge.errors import StoreError

__all__ = ["StoreURL", "parse_store_url"]

_PG_SCHEMES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True, kw_only=True)
class StoreURL:
    """A parsed database URL.

    Attributes
    ----------
    dialect : ``"sqlite"`` or ``"postgresql"``.
    target : the SQLite file path, or the PostgreSQL URL given to psycopg.
    display : the URL for messages and logs, its password masked.
    """

    dialect: str
    target: str
    display: str


def _mask(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def parse_store_url(text: str) -> StoreURL:
    """Parse ``--db``.

    Raises
    ------
    StoreError
        Empty, or a scheme other than ``sqlite`` / ``postgresql``.
    """
    raw = (text or "").strip()
    if not raw:
        raise StoreError("--db: expected a database URL (postgresql://...) or an SQLite file")
    if raw.startswith(_PG_SCHEMES):
        return StoreURL(dialect="postgresql", target=raw, display=_mask(raw))
    if raw.startswith("sqlite:"):
        path = raw[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]  # sqlite:///abs -> /abs ; sqlite://rel -> rel
        if not path:
            raise StoreError("--db: sqlite: URL without a file path")
        return StoreURL(dialect="sqlite", target=str(Path(path)), display=f"sqlite:{path}")
    if _SCHEME.match(raw):
        raise StoreError(f"--db: unsupported database {raw.split('://')[0]!r}; use "
                         "postgresql://... or an SQLite file (sqlite:///path.db or a path)")
    return StoreURL(dialect="sqlite", target=str(Path(raw)), display=f"sqlite:{raw}")
