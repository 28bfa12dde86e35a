"""In-process replay source: a WFDB record through the encoder, the faults and the decoder.

:class:`ReplaySource` implements :class:`~firmware_bridge.sources.SampleSource` without any
pty or thread: ``read`` takes the frames that are due (at ``speed``, or a batch at a time when
``speed`` is ``None``), passes their bytes -- after fault injection -- through a real
:class:`~firmware_bridge.decoder.FrameDecoder`, and returns the chunks. A configured
disconnect emits ``RECONNECTING`` then ``CONNECTED`` link events and loses the outage's
samples, which arrive as a gap. Use it in tests and demos that need the real decoding path
but not a serial port.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from firmware_bridge.decoder import DecoderStats, FrameDecoder
from firmware_bridge.errors import SourceClosedError
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice, ReplayItem
from firmware_bridge.replay.samples import ReplaySignal
from firmware_bridge.sources import (
    LinkEvent,
    LinkMonitor,
    LinkState,
    SampleChunk,
    _SourceBase,
    frames_to_chunks,
)

__all__ = ["ReplaySource"]

logger = logging.getLogger(__name__)


class ReplaySource(_SourceBase):
    """Replay a WFDB record in-process as a :class:`SampleSource`.

    Parameters
    ----------
    config : ReplayConfig
        Same configuration as the ``ecg-sim`` simulator (record, speed, faults, ...).
    max_frames_per_read : int
        At ``speed=None``, frames decoded per ``read`` call.
    on_link_event : callable, optional
        Called with each :class:`LinkEvent`.
    signal_ : ReplaySignal, optional
        Pre-loaded samples (skips reading the record; for tests).
    """

    def __init__(self, config: ReplayConfig, *, max_frames_per_read: int = 64,
                 on_link_event: Callable[[LinkEvent], None] | None = None,
                 signal_: ReplaySignal | None = None) -> None:
        self.config = config
        self._max_frames = max(1, int(max_frames_per_read))
        self._link = LinkMonitor(f"replay:{config.record}", on_link_event)
        self._signal = signal_
        self._device: ReplayDevice | None = None
        self._items = None
        self._next: ReplayItem | None = None
        self._t0: float | None = None  # set last in open(): the clock's start
        self._resume_at = 0.0
        self.decoder = FrameDecoder()

    @property
    def decoder_stats(self) -> DecoderStats:
        """Counters of the decoder."""
        return self.decoder.stats

    @property
    def clock_origin_s(self) -> float | None:
        """``time.monotonic()`` of stream time 0 (after ``open``; ``None`` before): at
        ``speed`` the frame whose last sample is at stream time ``t`` is due at
        ``clock_origin_s + t / speed``."""
        return self._t0

    @property
    def channel_names(self) -> tuple[str, ...] | None:
        """The names of the channels the replay sends, from the record's header (after
        ``open``; ``None`` before, or when the signal came without names)."""
        names = self._device.signal.channel_names if self._device is not None else ()
        return names or None

    @property
    def device(self) -> ReplayDevice | None:
        """The simulated device (after ``open``)."""
        return self._device

    def open(self) -> None:
        """Load the record and start the clock."""
        if self._link.state is LinkState.CLOSED:
            raise SourceClosedError("ReplaySource was closed; create a new one")
        if self._device is not None:
            return
        self._link.set(LinkState.CONNECTING)
        self._device = ReplayDevice(self.config, self._signal)
        self._items = self._device.items()
        self._next = next(self._items, None)
        self._t0 = time.monotonic()
        self._link.set(LinkState.CONNECTED, f"record {self.config.record}")

    def close(self) -> None:
        """Stop; further ``read`` calls raise :class:`SourceClosedError`."""
        self._link.set(LinkState.CLOSED)
        self._items = None

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:
        """Return the chunks due now, waiting at most ``timeout_s`` for the next one."""
        if self._link.state is LinkState.CLOSED:
            raise SourceClosedError("read() on a closed ReplaySource")
        if self._device is None:
            self.open()
        if self._link.state is LinkState.DISCONNECTED:
            return []
        timeout = self.default_read_timeout_s if timeout_s is None else max(0.0, timeout_s)
        speed = self.config.speed
        now = time.monotonic()
        deadline = now + timeout
        if self._resume_at > now:  # simulated outage in progress
            if deadline < self._resume_at:
                time.sleep(timeout)
                return []
            time.sleep(self._resume_at - now)
        if self._resume_at and time.monotonic() >= self._resume_at:
            self._resume_at = 0.0
            self.decoder.discard_buffer()
            self._link.set(LinkState.CONNECTED, "simulated reconnect")
        blobs: list[bytes] = []
        n_frames = 0
        while self._next is not None:
            item = self._next
            if speed is not None:
                due = self._t0 + item.t_stream_s / speed
                wait = due - time.monotonic()
                if wait > 0:
                    if blobs or due > deadline:
                        if not blobs:
                            time.sleep(max(0.0, deadline - time.monotonic()))
                        break
                    time.sleep(wait)
            elif n_frames >= self._max_frames:
                break
            self._next = next(self._items, None)
            if item.kind == "disconnect":
                self._link.set(LinkState.RECONNECTING, "simulated disconnect")
                self._resume_at = time.monotonic() + item.down_s
                break
            blobs.append(item.data)
            n_frames += 1
        data = b"".join(blobs)
        self._link.stats.bytes_received += len(data)
        chunks = frames_to_chunks(self.decoder.process(data), time.monotonic())
        if self._next is None and self._resume_at == 0.0:
            self._link.set(LinkState.DISCONNECTED, "end of record", expected=True)
        return self._count(chunks)
