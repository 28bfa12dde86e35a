"""Malformed payloads the dashboard refused: counted by kind, logged once per kind.

A feed or the state that refuses a payload (not JSON, a field that breaks the event schema, a
message on the wrong topic...) calls :meth:`Rejects.add` with the kind of the fault. The first
payload of each kind is logged as a WARNING with its reason; later ones of the same kind are
only counted, so a daemon writing thousands of bad lines does not flood the log. The counts are
shown in the view.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter

from edge.errors import EventDecodeError

__all__ = ["Rejects", "decode_error_kind"]

logger = logging.getLogger(__name__)


def decode_error_kind(err: EventDecodeError) -> str:
    """Kind of a decoding fault: ``not a JSON object`` for the whole document, else
    ``field <name>`` (the field that breaks the schema)."""
    return "not a JSON object" if err.field == "$" else f"field {err.field}"


class Rejects:
    """Counts of refused payloads by kind (thread-safe).

    Parameters
    ----------
    where : named in the log line (e.g. the feed's name).
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str, reason: str) -> None:
        """Count one refused payload; log it when it is the first of its ``kind``."""
        with self._lock:
            self._counts[kind] += 1
            first = self._counts[kind] == 1
        if first:
            logger.warning("%s: ignoring a malformed payload (%s): %s; further ones of this "
                           "kind are only counted", self.where, kind, reason)

    def add_decode_error(self, err: EventDecodeError) -> None:
        """Count a payload the strict event decoder refused."""
        self.add(decode_error_kind(err), str(err))

    @property
    def total(self) -> int:
        """Payloads refused so far."""
        with self._lock:
            return sum(self._counts.values())

    def by_kind(self) -> dict[str, int]:
        """Refused payloads per kind, most frequent first."""
        with self._lock:
            return dict(self._counts.most_common())
