"""Beats as a WFDB annotation file (N/S/V/F/Q at the device's sample rate), rewritten as beats
arrive so the file always holds every beat so far."""
from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ConfigError, SinkError
from edge.events.model import BeatEvent, Event

__all__ = ["WfdbSinkSettings", "WfdbAnnotationSink"]

logger = logging.getLogger(__name__)


#: A record name ``wfdb.wrann`` writes (its own rule: no character outside ``[-\w]``), in
#: ASCII: the WFDB tools and PhysioNet's file names are ASCII.
WFDB_RECORD_NAME = re.compile(r"[-\w]+", re.ASCII)


@dataclass(frozen=True, kw_only=True)
class WfdbSinkSettings:
    """The ``[sinks.wfdb]`` table: beats as ``<out_dir>/<record_name>.<ext>`` (with several
    devices, each device after the first heard has its id appended to the record name).

    Attributes
    ----------
    enabled : write the file.
    out_dir : directory of the annotation file.
    record_name : WFDB record name (:data:`WFDB_RECORD_NAME`).
    ext : annotation extension (alphanumeric).
    """

    enabled: bool = False
    out_dir: str = "."
    record_name: str = "ecg-edge"
    ext: str = "cls"

    def __post_init__(self) -> None:
        if not isinstance(self.ext, str) or not self.ext.isalnum():
            raise ConfigError("ext", f"must be alphanumeric, got {self.ext!r}")
        if not isinstance(self.record_name, str) \
                or not WFDB_RECORD_NAME.fullmatch(self.record_name):
            # checked here, not at the first write: wfdb.wrann refuses it on every flush
            raise ConfigError("record_name", f"a WFDB record name is ASCII letters, digits, "
                                             f"'-' and '_' (wfdb.wrann refuses spaces and "
                                             f"dots), got {self.record_name!r}")


class WfdbAnnotationSink:
    """Beats as WFDB annotation files, written on :meth:`flush` / :meth:`close`.

    Beats of device ``d`` go to ``<out_dir>/<record_name>_<d>.<ext>`` when ``per_device``;
    without it the first device heard writes ``<out_dir>/<record_name>.<ext>`` and any other
    its own ``<record_name>_<d>`` (two devices' beats never share, or race for, one file).
    Positions are the beats' device sample indices at the device rate (the rate of the first
    beat; a beat at another rate starts a file ``<record_name>_<d>_<rate>hz``). A beat whose
    sample index goes back (the wearable restarted and counts from 0 again) starts a file
    ``..._part<k>`` (k = 2, 3...): two sessions' positions would otherwise mix in one file,
    with duplicate sample numbers.
    Each write rewrites the whole file, so it always holds every beat so far. A file that
    existed before this sink first wrote it -- a previous run's, or a database's reference
    ``.atr`` -- is never overwritten: the beats go to ``<name>_run<k>`` (the first k = 2, 3...
    that is free), said in the log.
    """

    def __init__(self, out_dir: str | os.PathLike, record_name: str = "ecg-edge", *,
                 ext: str = "cls", per_device: bool = False,
                 min_write_interval_s: float = 30.0) -> None:
        self.name = f"wfdb:{out_dir}/{record_name}.{ext}"
        self.out_dir = Path(out_dir)
        self.record_name = record_name
        self.ext = ext
        self.per_device = per_device
        self._beats: dict[tuple[int, float, int], tuple[list[int], list[str]]] = {}
        self._dirty: set[tuple[int, float, int]] = set()
        self._part: dict[tuple[int, float], int] = {}  # the file part a (device, rate) is at
        self._first_fs: dict[int, float] = {}
        self._first_dev: int | None = None  # without per_device: the others get a suffix
        self._names: dict[tuple[int, float, int], str] = {}  # the file name each key got
        self.paths: list[Path] = []
        self.min_write_interval_s = float(min_write_interval_s)
        self._last_write = -1e300
        self._check_writable()

    def _check_writable(self) -> None:
        """Make ``out_dir`` if missing and prove a file can be written there now, so a run
        that cannot keep its annotations stops at the start (as a JSON-lines sink that cannot
        open its file does) instead of finding out when the first write comes."""
        import tempfile  # noqa: PLC0415

        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.out_dir):
                pass
        except OSError as exc:
            raise SinkError(self.name, f"cannot write to {self.out_dir}: {exc}") from exc

    def _record(self, key: tuple[int, float, int]) -> str:
        dev, fs, part = key
        own = self.per_device or (self._first_dev is not None and dev != self._first_dev)
        name = f"{self.record_name}_{dev}" if own else self.record_name
        if self._first_fs.get(dev, fs) != fs:
            name += f"_{fs:g}hz"
        if part > 1:
            name += f"_part{part}"
        return name

    def _file_name(self, key: tuple[int, float, int]) -> str:
        """The record name ``key``'s beats are written under: :meth:`_record`, or the first
        ``_run<k>`` of it whose file does not exist when the key is first written."""
        name = self._names.get(key)
        if name is None:
            base = name = self._record(key)
            k = 2
            while (self.out_dir / f"{name}.{self.ext}").exists():
                name = f"{base}_run{k}"
                k += 1
            if name != base:
                logger.warning("%s: %s exists (not this run's): not overwritten; these beats "
                               "go to %s", self.name, self.out_dir / f"{base}.{self.ext}",
                               self.out_dir / f"{name}.{self.ext}")
            self._names[key] = name
        return name

    def emit(self, event: Event) -> None:
        if not isinstance(event, BeatEvent):
            return
        stream = (event.device_id, float(event.fs_hz))
        if self._first_dev is None:
            self._first_dev = event.device_id
        self._first_fs.setdefault(event.device_id, stream[1])
        part = self._part.setdefault(stream, 1)
        at = int(event.sample_index)
        idx, sym = self._beats.setdefault((*stream, part), ([], []))
        if idx and at < idx[-1]:  # the device counts from the start again: a new file
            part = self._part[stream] = part + 1
            logger.info("%s: device %d's sample index went back (%d -> %d): its beats go to "
                        "%s", self.name, event.device_id, idx[-1], at,
                        self._record((*stream, part)))
            idx, sym = self._beats.setdefault((*stream, part), ([], []))
        key = (*stream, part)
        idx.append(at)
        sym.append(event.label)
        self._dirty.add(key)

    def flush(self) -> None:
        """Rewrite the files that gained beats, at most every ``min_write_interval_s``
        seconds (rewriting is O(beats)); :meth:`close` always writes."""
        if time.monotonic() - self._last_write >= self.min_write_interval_s:
            self.write()

    def write(self) -> None:
        """Rewrite the files that gained beats now."""
        from edge.errors import EdgeError  # noqa: PLC0415
        from edge.io.wfdb_io import write_annotations  # noqa: PLC0415

        self._last_write = time.monotonic()

        for key in sorted(self._dirty):
            idx, sym = self._beats[key]
            order = np.argsort(np.asarray(idx, dtype=np.int64), kind="stable")
            try:
                path = write_annotations(self._file_name(key), self.ext,
                                         np.asarray(idx, dtype=np.int64)[order],
                                         [sym[i] for i in order], key[1], self.out_dir)
            except (EdgeError, OSError, ValueError) as exc:
                raise SinkError(self.name, f"cannot write annotations: {exc}") from exc
            if path not in self.paths:
                self.paths.append(path)
        self._dirty.clear()

    def reopen(self) -> None:
        return None

    def close(self) -> None:
        self.write()

