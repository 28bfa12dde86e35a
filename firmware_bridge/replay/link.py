"""The wire of a simulated device: a pty (:class:`PtyLink`) or a port (:class:`PortLink`).

Both implement :class:`Link`, the few calls the runner (:mod:`~firmware_bridge.replay.runner`)
makes: ``open`` (returns the path a reader opens), ``wait_ready``, ``write``,
``reader_present``, ``close`` and ``remove_link``.

Start-up. On a pty, streaming starts only once a reader has opened the slave (detected as the
master no longer polling ``POLLHUP``) plus 50 ms, because pyserial flushes the input queue
when it opens a port; so the reader sees the stream from its first frame, as a USB CDC device
that waits for the host's DTR.

Disconnects. On a pty, a disconnect closes the master side, so a reader blocked on the slave
gets ``EIO`` (pyserial raises ``SerialException``), exactly as when a USB CDC device is
unplugged. Reconnecting opens a *new* pty, which gets a new ``/dev/pts/N`` path; a reader
cannot guess it, so a ``link_path`` (``ecg-sim --link PATH``) is kept as a symlink that is
atomically re-pointed at the current pty (the same job udev does for
``/dev/serial/by-id/...``). Give the reader the link path. A :class:`PortLink` is closed and
reopened under the same name.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import tty
from typing import Protocol, runtime_checkable

from firmware_bridge.errors import ReplayError

__all__ = ["Link", "PtyLink", "PortLink"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Link(Protocol):
    """What the runner needs from the device's side of a link."""

    def open(self) -> str:
        """Open (or reopen after a disconnect); return the path a reader opens."""
        ...

    def wait_ready(self, stop: threading.Event) -> bool:
        """Block until bytes can be written to a reader; False if ``stop`` was set first."""
        ...

    def write(self, data: bytes, stop: threading.Event) -> int:
        """Write ``data`` (all of it unless stopped or the link broke); return bytes written."""
        ...

    def reader_present(self) -> bool:
        """True while a reader is known to hold the link open."""
        ...

    def close(self) -> None:
        """Close the device side (idempotent)."""
        ...

    def remove_link(self) -> None:
        """Remove the symlink, if any (idempotent)."""
        ...


class PtyLink:
    """The pty side of the simulated device: master fd we write, slave path the reader opens."""

    def __init__(self, link_path: str | None) -> None:
        self.link_path = link_path
        self.master = -1
        self.slave = -1
        self.slave_path = ""

    def open(self) -> str:
        try:
            self.master, self.slave = os.openpty()
        except OSError as exc:
            raise ReplayError(f"cannot create a pseudo-terminal: {exc}") from exc
        tty.setraw(self.slave)  # binary-safe before any reader configures it
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self.slave)
        # Close our slave fd: the master then polls POLLHUP until a reader opens the slave,
        # which is how wait_ready() knows someone is listening (like DTR on a USB CDC port).
        os.close(self.slave)
        self.slave = -1
        if self.link_path:
            tmp = f"{self.link_path}.tmp{os.getpid()}"
            try:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(self.slave_path, tmp)
                os.replace(tmp, self.link_path)
            except OSError as exc:
                raise ReplayError(f"cannot point link {self.link_path!r} at "
                                  f"{self.slave_path}: {exc}") from exc
        logger.info("pty %s%s", self.slave_path,
                    f" (link {self.link_path})" if self.link_path else "")
        return self.slave_path

    def write(self, data: bytes, stop: threading.Event) -> int:
        """Write all of ``data`` unless stopped; waits while the reader lags (backpressure)."""
        view = memoryview(data)
        sent = 0
        while sent < len(data) and not stop.is_set():
            try:
                sent += os.write(self.master, view[sent:])
            except BlockingIOError:
                select.select([], [self.master], [], 0.1)
            except OSError as exc:  # reader side gone in an unusual way
                logger.debug("pty write failed: %s", exc)
                return sent
        return sent

    def reader_present(self) -> bool:
        """True while some process has the slave side open."""
        if self.master < 0:
            return False
        po = select.poll()
        po.register(self.master, select.POLLOUT)
        return not any(ev & select.POLLHUP for _, ev in po.poll(0))

    def wait_ready(self, stop: threading.Event, settle_s: float = 0.05) -> bool:
        """Block until a reader opened the slave (then ``settle_s`` more, so pyserial's
        input flush at open cannot eat the first frames); False if stopped first."""
        while not self.reader_present():
            if stop.wait(0.01):
                return False
        return not stop.wait(settle_s)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = -1

    def remove_link(self) -> None:
        if self.link_path and os.path.islink(self.link_path):
            try:
                os.unlink(self.link_path)
            except OSError:
                pass


class PortLink:
    """An existing serial device or pyserial URL."""

    def __init__(self, url: str, baudrate: int) -> None:
        self.url = url
        self.baudrate = baudrate
        self._ser = None

    def open(self) -> str:
        import serial  # noqa: PLC0415

        try:
            self._ser = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.1,
                                              write_timeout=0.5)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ReplayError(f"cannot open port {self.url!r}: {exc}") from exc
        return self.url

    def reader_present(self) -> bool:
        """A real port cannot tell who listens: flush the output and report no reader."""
        if self._ser is not None:
            try:
                self._ser.flush()
            except Exception:  # noqa: BLE001 - not every URL handler supports it
                pass
        return False

    def wait_ready(self, stop: threading.Event, settle_s: float = 0.0) -> bool:
        """Ports need no waiting; False only if stopped."""
        return not stop.is_set()

    def write(self, data: bytes, stop: threading.Event) -> int:
        import serial  # noqa: PLC0415

        sent = 0
        while sent < len(data) and not stop.is_set():
            try:
                sent += self._ser.write(data[sent:]) or 0
            except serial.SerialTimeoutException:
                continue
            except (serial.SerialException, OSError) as exc:
                logger.warning("port write failed: %s", exc)
                return sent
        return sent

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # noqa: BLE001 - closing a broken port must not raise
                pass
            self._ser = None

    def remove_link(self) -> None:
        return None
