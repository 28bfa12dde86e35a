"""JSON Lines outputs: one compact JSON object per event, on a stream (stdout) or appended to
a file that is rotated by size and reopened after log rotation (SIGHUP).

The file's lines carry ``"boot"``, the daemon run's number (as MQTT payloads do: the MQTT
sink's boot when the same run publishes too, else the run's start in Unix milliseconds), so
``ecg-edge ingest --jsonl`` keeps apart runs whose ``seq`` both start at 0 and joins a run's
rotated files, whatever order they are given in."""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edge.errors import ConfigError, SinkError
from edge.events.model import EVENT_TYPES, Event, event_to_json
from edge.sinks.base import TextStreamSink

__all__ = ["StdoutSinkSettings", "JsonlSinkSettings", "JsonLinesSink", "RotatingJsonlSink"]

logger = logging.getLogger(__name__)

#: Lines kept in memory between flushes at most (bytes); the daemon flushes every loop turn.
_MAX_PENDING_BYTES = 256 * 1024


@dataclass(frozen=True, kw_only=True)
class StdoutSinkSettings:
    """The ``[sinks.stdout]`` table: ``enabled`` writes JSON lines on stdout."""

    enabled: bool = False


@dataclass(frozen=True, kw_only=True)
class JsonlSinkSettings:
    """The ``[sinks.jsonl]`` table: a rotating JSON-lines file.

    Attributes
    ----------
    enabled : write the file.
    path : file to append to.
    max_bytes : rotate when the file would exceed this size (bytes; 0 = never).
    backups : rotated files kept (``path.1`` ... ``path.N``).
    fsync : fsync on every flush (durable across power loss; slower on SD cards).
    types : event types written (empty = all; one of :data:`~edge.events.model.EVENT_TYPES`).
    """

    enabled: bool = False
    path: str = "ecg-edge-events.jsonl"
    max_bytes: int = 50_000_000
    backups: int = 5
    fsync: bool = False
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.enabled and not self.path:
            raise ConfigError("path", "must name a file")
        if not isinstance(self.max_bytes, int) or self.max_bytes < 0:
            raise ConfigError("max_bytes", f"must be >= 0, got {self.max_bytes!r}")
        if not isinstance(self.backups, int) or self.backups < 0:
            raise ConfigError("backups", f"must be >= 0, got {self.backups!r}")
        for t in self.types:
            if t not in EVENT_TYPES:
                raise ConfigError("types", f"unknown event type {t!r}; known: "
                                           f"{', '.join(EVENT_TYPES)}")


class JsonLinesSink(TextStreamSink):
    """One compact JSON object per line on a text stream (default ``sys.stdout``)."""

    def __init__(self, stream: IO[str] | None = None, *,
                 types: Iterable[str] = ()) -> None:
        self.name = "stdout"
        self._stream = stream if stream is not None else sys.stdout
        self.types = frozenset(types)

    def emit(self, event: Event) -> None:
        if not self.types or event.type in self.types:
            self._write(event_to_json(event))



class RotatingJsonlSink:
    """JSON lines appended to ``path``; rotated to ``path.1`` ... ``path.<backups>`` when the
    file would exceed ``max_bytes``; :meth:`reopen` reopens the path (after logrotate).

    Lines are written whole or not at all: they wait in memory until :meth:`flush` (or
    :data:`_MAX_PENDING_BYTES` of them), and a write that fails (a full disk) is cut back to
    the last whole line; its events are counted in :attr:`n_lost` and said in the error, and
    the first write that succeeds after it logs how many were lost. A file removed while open
    (its folder deleted) is noticed at the next flush and created again, with a warning.

    Parameters
    ----------
    path : file to append to (parent directories are created).
    max_bytes : size limit in bytes (0 = never rotate).
    backups : rotated files kept.
    fsync : ``os.fsync`` on every flush.
    types : event types written (empty = all).
    boot : the run's number written on every line (default: the Unix time in milliseconds
        now); :attr:`boot` may be set before the first event (the daemon gives it the MQTT
        sink's).
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = 50_000_000,
                 backups: int = 5, fsync: bool = False, types: Iterable[str] = (),
                 boot: int | None = None) -> None:
        self.name = f"jsonl:{path}"
        self.boot = int(time.time() * 1000) if boot is None else int(boot)
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.fsync = fsync
        self.types = frozenset(types)
        self.n_rotations = 0
        self.n_lost = 0  # events whose lines could not be written
        self._lost_since_ok = 0  # ... since the last write that succeeded
        self._fh: IO[bytes] | None = None
        self._size = 0  # bytes in the file (written)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._created = not self.path.exists()  # removed at close if nothing was written
        self._written = False
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab", buffering=0)
            self._size = os.fstat(self._fh.fileno()).st_size
        except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder is due
            above = self.path.parent
            while not above.exists() and above != above.parent:
                above = above.parent
            raise SinkError(self.name, f"cannot open: {above} is a file, not a folder") \
                from exc
        except OSError as exc:
            raise SinkError(self.name, f"cannot open: {exc}") from exc

    def _rotate(self) -> None:
        self._close_file()
        try:
            if self.backups > 0:
                for i in range(self.backups - 1, 0, -1):
                    src = self.path.with_name(f"{self.path.name}.{i}")
                    if src.exists():
                        src.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
                self.path.replace(self.path.with_name(f"{self.path.name}.1"))
            else:
                self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise SinkError(self.name, f"cannot rotate: {exc}") from exc
        self.n_rotations += 1
        self._open()

    def emit(self, event: Event) -> None:
        if self.types and event.type not in self.types:
            return
        text = event_to_json(event)  # one JSON object: "boot" goes before its closing brace
        line = f'{text[:-1]},"boot":{self.boot}}}\n'.encode("utf-8")
        n = len(line)
        if self.max_bytes and self._size + self._pending_bytes > 0 \
                and self._size + self._pending_bytes + n > self.max_bytes:
            self._write_pending()
            self._rotate()
        self._pending.append(line)
        self._pending_bytes += n
        if self._pending_bytes >= _MAX_PENDING_BYTES:
            self._write_pending()

    def _write_pending(self) -> None:
        """Append the waiting lines; on a failure cut the file back to its last whole line,
        count the lines as lost and raise :class:`~edge.errors.SinkError` saying so."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        n_lines = len(self._pending)
        self._pending, self._pending_bytes = [], 0
        if self._fh is None:
            self._open()
        start = self._size
        try:
            view = memoryview(data)
            while view:
                n = self._fh.write(view)
                if not n:
                    raise OSError("nothing written")
                view = view[n:]
        except (OSError, ValueError) as exc:
            try:  # no half line left for the next one to join
                os.ftruncate(self._fh.fileno(), start)
            except (OSError, ValueError):
                pass
            self.n_lost += n_lines
            self._lost_since_ok += n_lines
            raise SinkError(self.name, f"cannot write {n_lines} event(s), lost ({exc}); "
                                       f"{self.n_lost} lost in this run") from exc
        self._size += len(data)
        self._written = True
        if self._lost_since_ok:
            logger.warning("%s: writing again; %d event(s) could not be written before this",
                           self.name, self._lost_since_ok)
            self._lost_since_ok = 0

    def _check_still_there(self) -> None:
        """Reopen ``path`` when the open file was removed (its folder deleted): writes to it
        would be lost."""
        if self._fh is None:
            return
        try:
            gone = os.fstat(self._fh.fileno()).st_nlink == 0
        except (OSError, ValueError):
            gone = True
        if gone:
            logger.warning("%s: the file was removed while open; writing a new one", self.name)
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
            self._open()

    def flush(self) -> None:
        self._check_still_there()
        self._write_pending()
        if self._fh is None:
            return
        try:
            if self.fsync:
                os.fsync(self._fh.fileno())
        except (OSError, ValueError) as exc:
            raise SinkError(self.name, f"cannot flush: {exc}") from exc

    def _close_file(self) -> None:
        if self._fh is not None:
            try:
                self._write_pending()
                if self.fsync:
                    os.fsync(self._fh.fileno())
            except (OSError, ValueError) as exc:
                raise SinkError(self.name, f"cannot close: {exc}") from exc
            finally:
                try:
                    self._fh.close()
                except OSError:
                    pass
                self._fh = None

    def reopen(self) -> None:
        """Close and reopen ``path`` (a rotated-away file is left to its new name)."""
        self._close_file()
        self._open()

    def close(self) -> None:
        """Close the file; one this sink created and never wrote to (a run that failed to
        start) is removed."""
        self._close_file()
        if self._created and not self._written:
            try:
                if self.path.stat().st_size == 0:
                    self.path.unlink()
            except OSError:
                pass  # already gone, or not ours to remove
