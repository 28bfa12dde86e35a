"""Run a simulated device: pace its items onto a link, in the caller's thread
(:func:`run_device`, used by ``ecg-sim``) or a background one (:func:`start_replay`).

Pacing. At ``speed`` S an item due at stream time t is written at ``t0 + t / S`` wall-clock
seconds, ``t0`` being the moment the link became ready (a reader opened the pty); at
``speed=None`` the frames are written as fast as the reader takes them, in batches of about
16 kB. A "disconnect" item closes the link for its ``down_s`` wall-clock seconds, then reopens
it (a new pty, re-pointed by the link symlink) and waits for the reader again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice
from firmware_bridge.replay.link import Link, PortLink, PtyLink

__all__ = ["run_device", "ReplayHandle", "start_replay"]

logger = logging.getLogger(__name__)


def run_device(device: ReplayDevice, link: Link, stop: threading.Event,
               on_path: Callable[[str], None] | None = None) -> None:
    """Pace and write the device's items until the end or ``stop``.

    Parameters
    ----------
    device : ReplayDevice
        What to send; its ``stats`` count what was written.
    link : Link
        Where to write; opened by the caller (reopened here after a simulated disconnect).
    stop : threading.Event
        Set it to end the replay early (also ends the waits).
    on_path : callable, optional
        Called with the new device path after each reconnect.
    """
    speed = device.config.speed
    st = device.stats
    if not link.wait_ready(stop):
        return
    t0 = time.monotonic()
    pending: list[bytes] = []
    pending_n = 0
    sleep_until = None

    def flush() -> None:
        nonlocal pending_n
        if pending:
            blob = b"".join(pending)
            st.bytes_written += link.write(blob, stop)
            pending.clear()
            pending_n = 0

    for item in device.items():
        if stop.is_set():
            break
        if item.kind == "disconnect":
            flush()
            logger.warning("simulated disconnect for %.2f s", item.down_s)
            link.close()
            if stop.wait(item.down_s):
                break
            path = link.open()
            st.reconnects += 1
            if on_path is not None:
                on_path(path)
            if not link.wait_ready(stop):
                break
            continue
        if speed is not None:
            sleep_until = t0 + item.t_stream_s / speed
            delay = sleep_until - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            if item.data:
                st.bytes_written += link.write(item.data, stop)
                st.frames_written += 1
        elif item.data:
            pending.append(item.data)
            pending_n += len(item.data)
            st.frames_written += 1
            if pending_n >= 16384:
                flush()
    flush()


class ReplayHandle:
    """A replay running in a background thread (see :func:`start_replay`).

    Attributes
    ----------
    device_path : str
        Path to open: the link path if one was given, else the current pty slave (or the port).
    stats : ReplayStats
        Live counters of the device.
    error : BaseException or None
        Why the thread stopped, if it failed.
    """

    def __init__(self, device: ReplayDevice, link: Link,
                 link_path: str | None) -> None:
        self._device = device
        self._link = link
        self._stop = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.stats = device.stats
        self._path = link.open()
        self.link_path = link_path
        self._thread = threading.Thread(target=self._main, name="ecg-replay", daemon=True)
        self._thread.start()

    @property
    def device_path(self) -> str:
        """Path to open with pyserial (stable link path when one was given)."""
        return self.link_path or self._path

    @property
    def pty_path(self) -> str:
        """Current pty slave path (changes after a simulated reconnect)."""
        return self._path

    def _set_path(self, path: str) -> None:
        self._path = path

    def _main(self) -> None:
        try:
            run_device(self._device, self._link, self._stop, self._set_path)
        except BaseException as exc:  # noqa: BLE001 - reported through .error
            self.error = exc
            logger.exception("replay thread failed")
        finally:
            self.done.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until every frame is written (or the replay stopped); True if it finished."""
        return self.done.wait(timeout_s)

    def stop(self, close_link: bool = True) -> None:
        """Stop writing, close the pty/port and remove the link; idempotent."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        if close_link:
            self._link.close()
            self._link.remove_link()

    def __enter__(self) -> ReplayHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_replay(config: ReplayConfig, *, link_path: str | os.PathLike | None = None,
                 port: str | None = None, baudrate: int = 115200) -> ReplayHandle:
    """Start a simulated device in a background thread.

    Parameters
    ----------
    config : ReplayConfig
    link_path : path, optional
        Maintain a symlink there pointing at the current pty (needed to survive a simulated
        disconnect, which creates a new pty).
    port : str, optional
        Write to this serial device or pyserial URL instead of a new pty.
    baudrate : int
        Baud rate for ``port``.

    Returns
    -------
    ReplayHandle
        ``handle.device_path`` can be opened as soon as this returns. Call ``handle.stop()``
        (or use it as a context manager) to end the replay; at the end of a non-looping
        replay the pty stays open until ``stop()`` so the reader can drain it.
    """
    device = ReplayDevice(config)
    link: Link = (PortLink(port, baudrate) if port
                  else PtyLink(str(link_path) if link_path else None))
    return ReplayHandle(device, link, str(link_path) if (link_path and not port) else None)
