"""The sample-source seam: what every transport (serial, BLE, replay) delivers, and how.

A source has an explicit lifecycle -- ``open()``, ``read(timeout_s)`` any number of times,
``close()`` -- and is also a context manager and an iterator. ``read`` returns a list of
:class:`SampleChunk` (possibly empty when nothing arrived within the timeout) and never
blocks longer than its timeout, so a daemon loop can always stop.

Link status is reported two ways: the ``state`` attribute (:class:`LinkState`) and a bounded
queue of :class:`LinkEvent` drained with ``drain_events()`` (plus an optional callback given
to the source's constructor). Counters live in ``link_stats`` (:class:`LinkStats`) and, for
framed transports, ``decoder_stats``.

Time keeping: ``SampleChunk.sample_index`` is the absolute index of the chunk's first sample
in the device's stream; ``gap_samples`` > 0 says how many samples were lost just before it, so
``sample_index == previous.end_index + gap_samples`` for consecutive chunks of one device.
"""
from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from firmware_bridge.errors import ConfigError
from firmware_bridge.protocol import Frame

__all__ = [
    "SampleChunk",
    "LinkState",
    "LinkEvent",
    "LinkStats",
    "SampleSource",
    "chunk_to_mv",
    "frames_to_chunks",
    "Backoff",
    "validate_backoff",
    "LinkMonitor",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SampleChunk:
    """Consecutive samples of one device, as delivered by a :class:`SampleSource`.

    Attributes
    ----------
    sample_index : int
        Absolute index of the first sample in the device's stream.
    samples : numpy.ndarray
        int32, shape (n_samples, n_channels), raw ADC counts.
    fs_hz : float
        Sample rate in Hz.
    adc_gain : tuple of float
        ADC counts per mV, per channel.
    baseline : tuple of int
        ADC counts at 0 mV, per channel.
    gap_samples : int
        Samples lost immediately before this chunk (0 = contiguous with the previous chunk).
    t_host_s : float
        Host ``time.monotonic()`` when the bytes carrying the chunk's last sample arrived (s).
    device_id : int
        Device/stream identifier.
    invalid_value : int or None
        The count that marks an invalid sample (the wire format's
        :attr:`~firmware_bridge.protocol.SampleFormat.invalid_value`); ``None`` when the
        source has no such marker.
    """

    sample_index: int
    samples: np.ndarray
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    gap_samples: int = 0
    t_host_s: float
    device_id: int = 0
    invalid_value: int | None = None

    def __post_init__(self) -> None:
        s = self.samples
        if not isinstance(s, np.ndarray) or s.ndim != 2 or s.dtype != np.int32:
            raise ConfigError("samples", "must be an int32 array of shape (n_samples, "
                                         f"n_channels), got {getattr(s, 'dtype', type(s))} "
                                         f"{getattr(s, 'shape', '')}")
        if len(self.adc_gain) != s.shape[1]:
            raise ConfigError("adc_gain", f"needs {s.shape[1]} values (one per channel), "
                                          f"got {len(self.adc_gain)}")
        if len(self.baseline) != s.shape[1]:
            raise ConfigError("baseline", f"needs {s.shape[1]} values (one per channel), "
                                          f"got {len(self.baseline)}")
        if self.gap_samples < 0:
            raise ConfigError("gap_samples", f"must be >= 0, got {self.gap_samples}")
        if not self.fs_hz > 0:
            raise ConfigError("fs_hz", f"must be > 0 Hz, got {self.fs_hz}")

    @property
    def n_samples(self) -> int:
        """Samples per channel in the chunk."""
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self.samples.shape[1])

    @property
    def end_index(self) -> int:
        """Absolute index one past the chunk's last sample."""
        return self.sample_index + int(self.samples.shape[0])

    def to_mv(self) -> np.ndarray:
        """Samples in millivolts (float64, same shape); see :func:`chunk_to_mv`."""
        return chunk_to_mv(self)


def chunk_to_mv(chunk: SampleChunk) -> np.ndarray:
    """Convert a chunk's ADC counts to millivolts: ``(counts - baseline) / adc_gain``, NaN
    where a sample holds the chunk's ``invalid_value`` (the device marked it invalid: the
    pipeline treats it as missing signal, not as a -160 mV excursion).

    Returns
    -------
    numpy.ndarray
        float64, shape (n_samples, n_channels), mV.
    """
    base = np.asarray(chunk.baseline, dtype=np.float64)
    gain = np.asarray(chunk.adc_gain, dtype=np.float64)
    out = (chunk.samples - base) / gain
    if chunk.invalid_value is not None:
        out[chunk.samples == chunk.invalid_value] = np.nan
    return out


def frames_to_chunks(frames: Iterable[Frame], t_host_s: float) -> list[SampleChunk]:
    """Merge decoded frames into chunks.

    Consecutive frames of the same device, rate and scaling whose samples follow on without a
    gap are concatenated into one chunk; a gap, a device change or a metadata change starts a
    new chunk. All chunks get ``t_host_s``.
    """
    chunks: list[SampleChunk] = []
    group: list[Frame] = []

    def flush() -> None:
        if not group:
            return
        first = group[0]
        samples = (group[0].samples if len(group) == 1
                   else np.concatenate([f.samples for f in group]))
        chunks.append(SampleChunk(sample_index=first.sample_index, samples=samples,
                                  fs_hz=first.fs_hz, adc_gain=first.adc_gain,
                                  baseline=first.baseline, gap_samples=first.gap_samples,
                                  t_host_s=t_host_s, device_id=first.device_id,
                                  invalid_value=first.sample_format.invalid_value))
        group.clear()

    for fr in frames:
        if group:
            last = group[-1]
            if (fr.gap_samples or fr.device_id != last.device_id
                    or fr.sample_index != last.end_index or fr.fs_hz != last.fs_hz
                    or fr.adc_gain != last.adc_gain or fr.baseline != last.baseline
                    or fr.sample_format != last.sample_format
                    or fr.samples.shape[1] != last.samples.shape[1]):
                flush()
        group.append(fr)
    flush()
    return chunks


class LinkState(enum.Enum):
    """Link status of a source."""

    IDLE = "idle"                  # constructed, not opened
    CONNECTING = "connecting"      # first connection attempt under way
    CONNECTED = "connected"        # bytes can flow
    RECONNECTING = "reconnecting"  # link lost (or never came up); retrying with backoff
    DISCONNECTED = "disconnected"  # gave up, or the stream ended (replay finished)
    CLOSED = "closed"              # close() was called


@dataclass(frozen=True, kw_only=True)
class LinkEvent:
    """A change of link state.

    Attributes
    ----------
    state : the new state.
    t_host_s : host ``time.monotonic()`` of the change (s).
    detail : human-readable reason (exception text, port name).
    """

    state: LinkState
    t_host_s: float
    detail: str = ""


@dataclass(kw_only=True)
class LinkStats:
    """Link counters of a source.

    Attributes
    ----------
    connects : successful (re)connections.
    disconnects : links lost after being connected.
    reconnect_attempts : failed connection attempts.
    bytes_received : raw bytes read from the link.
    chunks : chunks returned by ``read``.
    samples : samples per channel returned by ``read``.
    """

    connects: int = 0
    disconnects: int = 0
    reconnect_attempts: int = 0
    bytes_received: int = 0
    chunks: int = 0
    samples: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


@runtime_checkable
class SampleSource(Protocol):
    """What the edge daemon needs from a transport (serial, BLE, replay).

    Lifecycle: ``open()`` -> ``read(timeout_s)`` ... -> ``close()``; or ``with source:`` and
    ``for chunk in source:`` (iteration ends when ``finished`` becomes true).
    """

    @property
    def state(self) -> LinkState:
        """Current link state."""
        ...

    @property
    def finished(self) -> bool:
        """True once no more chunks will come (closed, gave up, or the stream ended)."""
        ...

    def open(self) -> None:
        """Start the link (a source that can reconnect may return before it is up)."""
        ...

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:
        """Return the chunks that arrived, waiting at most ``timeout_s`` seconds for one."""
        ...

    def close(self) -> None:
        """Stop the link; idempotent, callable from another thread."""
        ...

    def drain_events(self) -> list[LinkEvent]:
        """Return and clear the link events since the last call."""
        ...

    def __enter__(self) -> SampleSource: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def __iter__(self) -> Iterator[SampleChunk]: ...


@dataclass(kw_only=True)
class Backoff:
    """Exponential backoff schedule (explicit state: ``delay_s``).

    ``next_delay()`` returns the current delay (s) and multiplies it by ``factor`` up to
    ``max_s``; ``reset()`` returns to ``initial_s``.
    """

    initial_s: float
    max_s: float
    factor: float
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        self.delay_s = self.initial_s

    def next_delay(self) -> float:
        """The delay to wait now, in seconds; grows the next one."""
        d = self.delay_s
        self.delay_s = min(self.max_s, self.delay_s * self.factor)
        return d

    def reset(self) -> None:
        """Back to ``initial_s``."""
        self.delay_s = self.initial_s


def validate_backoff(initial_s: float, max_s: float, factor: float) -> None:
    """Raise :class:`ConfigError` unless 0 < initial_s <= max_s and factor >= 1."""
    if not initial_s > 0:
        raise ConfigError("backoff_initial_s", f"must be > 0 s, got {initial_s}")
    if not max_s >= initial_s:
        raise ConfigError("backoff_max_s", f"must be >= backoff_initial_s ({initial_s} s), "
                                           f"got {max_s}")
    if not factor >= 1.0:
        raise ConfigError("backoff_factor", f"must be >= 1, got {factor}")


class LinkMonitor:
    """Thread-safe link-state holder shared by the source implementations.

    Keeps the current :class:`LinkState`, a bounded queue of :class:`LinkEvent` (oldest
    dropped beyond ``max_events``), :class:`LinkStats`, and calls ``on_event`` (if given) on
    every change.
    """

    def __init__(self, name: str, on_event: Callable[[LinkEvent], None] | None = None,
                 max_events: int = 1000) -> None:
        self.name = name
        self._on_event = on_event
        self._events: collections.deque[LinkEvent] = collections.deque(maxlen=max_events)
        self._lock = threading.Lock()
        self._state = LinkState.IDLE
        self.stats = LinkStats()

    @property
    def state(self) -> LinkState:
        """Current state."""
        return self._state

    def set(self, state: LinkState, detail: str = "", *, expected: bool = False) -> None:
        """Move to ``state`` (no event if unchanged) and update the counters.

        The change is logged at INFO, or at WARNING when the link is lost or given up
        (``RECONNECTING``, ``DISCONNECTED``) -- unless ``expected`` says the stream ended
        normally (a replay reached the end of its record), which is INFO.
        """
        with self._lock:
            old = self._state
            if state is old:
                return
            self._state = state
            if state is LinkState.CONNECTED:
                self.stats.connects += 1
            elif old is LinkState.CONNECTED and state in (LinkState.RECONNECTING,
                                                          LinkState.DISCONNECTED):
                self.stats.disconnects += 1
            event = LinkEvent(state=state, t_host_s=time.monotonic(), detail=detail)
            self._events.append(event)
        level = logging.WARNING if (state in (LinkState.RECONNECTING, LinkState.DISCONNECTED)
                                    and not expected) else logging.INFO
        logger.log(level, "%s: %s -> %s %s", self.name, old.value, state.value, detail)
        if self._on_event is not None:
            self._on_event(event)

    def drain(self) -> list[LinkEvent]:
        """Return and clear pending events."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out


class _SourceBase:
    """Context-manager, iterator and link-status plumbing shared by the sources."""

    _link: LinkMonitor
    default_read_timeout_s: float = 0.1

    @property
    def state(self) -> LinkState:
        """Current link state."""
        return self._link.state

    @property
    def link_stats(self) -> LinkStats:
        """Link counters."""
        return self._link.stats

    @property
    def finished(self) -> bool:
        """True once no more chunks will come."""
        return self._link.state in (LinkState.CLOSED, LinkState.DISCONNECTED)

    def drain_events(self) -> list[LinkEvent]:
        """Return and clear link events since the last call."""
        return self._link.drain()

    def _count(self, chunks: list[SampleChunk]) -> list[SampleChunk]:
        st = self._link.stats
        st.chunks += len(chunks)
        st.samples += sum(c.n_samples for c in chunks)
        return chunks

    def open(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204 - returns the concrete source type
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[SampleChunk]:
        while not self.finished:
            yield from self.read(self.default_read_timeout_s)
