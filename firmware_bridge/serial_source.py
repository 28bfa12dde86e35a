"""Serial (UART / USB CDC / pty) sample source with reconnection.

:class:`SerialSource` reads protocol-v1 frames with pyserial from a device path, a symlink
(``/dev/serial/by-id/...`` or the simulator's ``--link``) or a pyserial URL (``loop://``,
``socket://host:port``, ``rfc2217://...``).

Reads use a timeout, so :meth:`SerialSource.read` never blocks longer than asked, and
:meth:`SerialSource.close` can be called from another thread (it cancels a pending read).
When the port disappears -- pyserial raises ``SerialException``/``OSError`` (on Linux a
vanished USB device or a closed pty master reads as ``EIO`` or as "readiness to read but no
data") -- the source goes to ``RECONNECTING``, closes the port and reopens the same path with
exponential backoff (``backoff_initial_s`` doubling up to ``backoff_max_s``). The decoder keeps
its per-device state across the reconnect, so the samples lost during the outage are
reported as ``gap_samples`` on the first chunk after it.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_bridge.decoder import DecoderStats, FrameDecoder
from firmware_bridge.errors import ConfigError, LinkError, SourceClosedError
from firmware_bridge.sources import (
    Backoff,
    LinkEvent,
    LinkMonitor,
    LinkState,
    SampleChunk,
    _SourceBase,
    frames_to_chunks,
    validate_backoff,
)

__all__ = ["SerialConfig", "SerialSource", "port_problem"]

logger = logging.getLogger(__name__)


def port_problem(port: str) -> str | None:
    """Why ``port`` can never be a serial port -- it is a folder or a regular file (a write to
    a missing ``/dev/ttyUSB0`` creates one) -- or ``None``: a device, or nothing there yet (a
    USB wearable plugged in later). The port is not opened (opening may reset a board)."""
    import os  # noqa: PLC0415
    import stat  # noqa: PLC0415

    try:
        mode = os.stat(port).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a serial port"
    if not stat.S_ISCHR(mode):
        return "not a device (a regular file?), not a serial port"
    return None


@dataclass(frozen=True, kw_only=True)
class SerialConfig:
    """Configuration of a :class:`SerialSource`.

    Attributes
    ----------
    port : device path, symlink, or pyserial URL.
    baudrate : baud rate (ignored by ptys and USB CDC).
    read_timeout_s : default wait of ``read()`` and the pyserial read timeout (s, > 0).
    max_read_bytes : most bytes taken from the port per read (>= 1).
    reconnect : reopen the port after it fails; if False a lost link ends the source
        (``DISCONNECTED``) and a failed ``open()`` raises :class:`LinkError`.
    backoff_initial_s, backoff_max_s, backoff_factor : reconnection schedule (s, s, x).
    max_reconnect_attempts : give up (``DISCONNECTED``) after this many failed attempts in a
        row; ``None`` = keep trying.
    """

    port: str
    baudrate: int = 115200
    read_timeout_s: float = 0.05
    max_read_bytes: int = 65536
    reconnect: bool = True
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    backoff_factor: float = 2.0
    max_reconnect_attempts: int | None = None

    def __post_init__(self) -> None:
        if not self.port:
            raise ConfigError("port", "must be a device path or pyserial URL")
        if self.baudrate <= 0:
            raise ConfigError("baudrate", f"must be > 0, got {self.baudrate}")
        if not (math.isfinite(self.read_timeout_s) and self.read_timeout_s > 0):
            raise ConfigError("read_timeout_s", f"must be > 0 s, got {self.read_timeout_s!r}")
        if self.max_read_bytes < 1:
            raise ConfigError("max_read_bytes", f"must be >= 1, got {self.max_read_bytes}")
        validate_backoff(self.backoff_initial_s, self.backoff_max_s, self.backoff_factor)
        if self.max_reconnect_attempts is not None and self.max_reconnect_attempts < 1:
            raise ConfigError("max_reconnect_attempts", f"must be >= 1 or None, "
                                                        f"got {self.max_reconnect_attempts}")


def _default_serial_factory(config: SerialConfig) -> Any:
    import serial  # noqa: PLC0415 - pyserial is only needed when a serial source is used

    return serial.serial_for_url(config.port, baudrate=config.baudrate,
                                 timeout=config.read_timeout_s)


class SerialSource(_SourceBase):
    """Protocol-v1 frames from a serial port, as a :class:`SampleSource`.

    Parameters
    ----------
    config : SerialConfig
    serial_factory : callable, optional
        ``factory(config) -> serial-like`` (``read``, ``in_waiting``, ``close``,
        ``cancel_read`` optional); default ``serial.serial_for_url``. A seam for tests.
    on_link_event : callable, optional
        Called with each :class:`LinkEvent` (from the reading thread).
    """

    def __init__(self, config: SerialConfig, *,
                 serial_factory: Callable[[SerialConfig], Any] | None = None,
                 on_link_event: Callable[[LinkEvent], None] | None = None) -> None:
        self.config = config
        self.default_read_timeout_s = config.read_timeout_s
        self._factory = serial_factory or _default_serial_factory
        self._link = LinkMonitor(f"serial:{config.port}", on_link_event)
        self._ser: Any = None
        self._lock = threading.Lock()
        self._closed = False
        self._backoff = Backoff(initial_s=config.backoff_initial_s, max_s=config.backoff_max_s,
                                factor=config.backoff_factor)
        self._next_attempt = 0.0
        self._failures = 0
        self._last_error: BaseException | None = None
        self.decoder = FrameDecoder()

    @property
    def decoder_stats(self) -> DecoderStats:
        """Counters of the frame decoder (discarded bytes, CRC rejects, gaps...)."""
        return self.decoder.stats

    def _try_open(self) -> bool:
        try:
            ser = self._factory(self.config)
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, ValueError...
            self._failures += 1
            self._link.stats.reconnect_attempts += 1
            delay = self._backoff.next_delay()
            self._next_attempt = time.monotonic() + delay
            logger.debug("open %s failed (%s); retry in %.2f s", self.config.port, exc, delay)
            limit = self.config.max_reconnect_attempts
            if not self.config.reconnect or (limit is not None and self._failures >= limit):
                self._link.set(LinkState.DISCONNECTED, f"giving up on {self.config.port}: {exc}")
            else:
                self._link.set(LinkState.RECONNECTING, f"{self.config.port}: {exc}")
            self._last_error = exc
            return False
        with self._lock:
            if self._closed:
                ser.close()
                return False
            self._ser = ser
        self._failures = 0
        self._backoff.reset()
        self.decoder.discard_buffer()
        self._link.set(LinkState.CONNECTED, self.config.port)
        return True

    def open(self) -> None:
        """Open the port.

        Raises
        ------
        LinkError
            If the port cannot be opened and ``reconnect`` is False (with ``reconnect`` the
            source stays ``RECONNECTING`` and ``read`` keeps retrying), or its path is one that
            can never be a serial port (:func:`port_problem`).
        SourceClosedError
            If the source was closed.
        """
        if self._closed:
            raise SourceClosedError("SerialSource was closed; create a new one")
        if self._ser is not None:
            return
        problem = port_problem(self.config.port)
        if problem is not None:  # retrying could never succeed
            raise LinkError(f"{self.config.port} is {problem}", port=self.config.port)
        self._link.set(LinkState.CONNECTING, self.config.port)
        if not self._try_open() and not self.config.reconnect:
            raise LinkError(f"cannot open {self.config.port}: {self._last_error}",
                            port=self.config.port)

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # noqa: BLE001 - the port is already broken
                pass
        if self._closed:
            return
        self.decoder.discard_buffer()
        self._next_attempt = time.monotonic() + self._backoff.next_delay()
        if self.config.reconnect:
            self._link.set(LinkState.RECONNECTING, f"link lost: {exc}")
        else:
            self._link.set(LinkState.DISCONNECTED, f"link lost: {exc}")

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:
        """Read what arrived and return the decoded chunks.

        Waits about ``timeout_s`` (default ``read_timeout_s``) for data -- at most
        ``max(timeout_s, read_timeout_s)``, the granularity of the port's own read timeout,
        which is not changed per call because pyserial reconfigures the tty on every
        change -- and returns as soon as bytes arrived. Returns ``[]`` when
        nothing arrived, while reconnecting, after the source gave up, or when closed from
        another thread during the call.

        Raises
        ------
        SourceClosedError
            If called after :meth:`close`.
        """
        if self._closed:
            raise SourceClosedError("read() on a closed SerialSource")
        if self._link.state is LinkState.IDLE:
            self.open()
        timeout = self.config.read_timeout_s if timeout_s is None else max(0.0, timeout_s)
        deadline = time.monotonic() + timeout
        max_bytes = self.config.max_read_bytes
        while True:
            if self._closed:
                return []
            ser = self._ser
            if ser is None:
                if self._link.state is LinkState.DISCONNECTED:
                    return []
                wait = self._next_attempt - time.monotonic()
                if wait > 0:
                    left = deadline - time.monotonic()
                    if wait > left:
                        time.sleep(max(0.0, left))
                        return []
                    time.sleep(wait)
                if self._closed or not self._try_open():
                    if time.monotonic() >= deadline:
                        return []
                    continue
                ser = self._ser
            try:
                data = ser.read(min(max_bytes, max(1, int(ser.in_waiting))))
                if data and len(data) < max_bytes:
                    more = int(ser.in_waiting)
                    if more:
                        data += ser.read(min(max_bytes - len(data), more))
            except Exception as exc:  # noqa: BLE001 - SerialException, OSError, closed port
                if self._closed:
                    return []
                self._lost(exc)
                if time.monotonic() >= deadline:
                    return []
                continue
            if data or time.monotonic() >= deadline:
                break
        t_host = time.monotonic()
        if not data:
            return []
        self._link.stats.bytes_received += len(data)
        return self._count(frames_to_chunks(self.decoder.process(data), t_host))

    def close(self) -> None:
        """Close the port (idempotent; safe from another thread: cancels a pending read)."""
        self._closed = True
        with self._lock:
            ser, self._ser = self._ser, None
        if ser is not None:
            try:
                if hasattr(ser, "cancel_read"):
                    ser.cancel_read()
            except Exception:  # noqa: BLE001
                pass
            try:
                ser.close()
            except Exception:  # noqa: BLE001
                pass
        self._link.set(LinkState.CLOSED)
