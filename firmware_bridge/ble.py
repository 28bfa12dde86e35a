"""Bluetooth LE sample source (bleak), for protocol-v1 frames or a Polar H10.

Profiles (``BleConfig.profile``):

``"frames"``
    The wearable sends protocol-v1 frames as notifications of one characteristic. Defaults
    follow the Nordic UART Service: service ``6E400001-B5A3-F393-E0A9-E50E24DCCA9E``, TX
    characteristic (device -> host, notify) ``6E400003-...``; both configurable. Frames are
    sized to fit one 244-byte notification by default, but a frame may also span
    notifications: the bytes go through the same incremental
    :class:`~firmware_bridge.decoder.FrameDecoder` as the serial source.
``"polar_h10"``
    Polar H10 chest strap, PMD service: the source subscribes to the control point and the
    data characteristic, writes the start-ECG command (130 Hz) and decodes the ECG frames
    with :class:`~firmware_bridge.polar.PolarEcgAssembler` (µV, one channel).

bleak is asyncio-based; :class:`BleSource` runs its own event loop in a background thread
and hands notifications to ``read()`` through a bounded queue, so it offers the same blocking,
timeout-bounded :class:`~firmware_bridge.sources.SampleSource` interface as the serial
source. Lost connections are retried with exponential backoff.

Testing without hardware: ``client_factory`` replaces ``bleak.BleakClient``; the tests use a
fake client that delivers constructed notification payloads. No radio was exercised in CI.
"""
from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_bridge.decoder import DecoderStats, FrameDecoder
from firmware_bridge.errors import BleUnavailableError, ConfigError, PmdError, SourceClosedError
from firmware_bridge.polar import (
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PMD_START_ECG_130HZ,
    PMD_STOP_ECG,
    PmdStats,
    PolarEcgAssembler,
    parse_pmd_control_response,
)
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

__all__ = ["NUS_SERVICE_UUID", "NUS_TX_UUID", "BleConfig", "BleSource"]

logger = logging.getLogger(__name__)

NUS_SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
_PROFILES = ("frames", "polar_h10")


def _why(exc: BaseException) -> str:
    """A connection failure in words: bleak on Linux raises a bare FileNotFoundError when
    the D-Bus system bus socket is missing (no BlueZ running) -- retried, as bluetoothd may
    start after the daemon, but said so."""
    if isinstance(exc, FileNotFoundError):
        return (f"Bluetooth unavailable: no D-Bus system bus ({exc.filename or exc}); is "
                f"BlueZ (bluetoothd) running?")
    return f"{type(exc).__name__}: {exc}"


#: A BLE address: a MAC (``AA:BB:CC:DD:EE:FF``, ``-`` also accepted) or a CoreBluetooth UUID.
_ADDRESS = re.compile(r"^(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
                      r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
                      r"-[0-9A-Fa-f]{12})$")


@dataclass(frozen=True, kw_only=True)
class BleConfig:
    """Configuration of a :class:`BleSource`.

    Attributes
    ----------
    address : device address (MAC on Linux/Windows, CoreBluetooth UUID on macOS).
    profile : "frames" (protocol-v1 frames in notifications) or "polar_h10" (PMD ECG).
    service_uuid, notify_uuid : GATT service and notify characteristic; ``None`` = profile
        default (Nordic UART Service TX for "frames", PMD data for "polar_h10").
    control_uuid : PMD control point ("polar_h10" only); ``None`` = PMD default.
    device_id : device id stamped on Polar chunks (frames carry their own).
    connect_timeout_s : bleak connection timeout (s).
    read_timeout_s : default wait of ``read()`` (s).
    reconnect : retry after a lost or failed connection.
    backoff_initial_s, backoff_max_s, backoff_factor : reconnection schedule.
    max_queued_notifications : notifications buffered between the BLE thread and ``read``;
        beyond it new notifications are dropped and counted.
    """

    address: str
    profile: str = "frames"
    service_uuid: str | None = None
    notify_uuid: str | None = None
    control_uuid: str | None = None
    device_id: int = 0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 0.1
    reconnect: bool = True
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    backoff_factor: float = 2.0
    max_queued_notifications: int = 10000

    def __post_init__(self) -> None:
        if not (isinstance(self.address, str) and _ADDRESS.match(self.address)):
            raise ConfigError("address", f"must be a BLE address: a MAC such as "
                                         f"AA:BB:CC:DD:EE:FF (Linux, Windows) or a "
                                         f"CoreBluetooth UUID (macOS), got {self.address!r}")
        if self.profile not in _PROFILES:
            raise ConfigError("profile", f"must be one of {_PROFILES}, got {self.profile!r}")
        for name in ("connect_timeout_s", "read_timeout_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(name, f"must be > 0 s, got {v!r}")
        validate_backoff(self.backoff_initial_s, self.backoff_max_s, self.backoff_factor)
        if self.max_queued_notifications < 1:
            raise ConfigError("max_queued_notifications",
                              f"must be >= 1, got {self.max_queued_notifications}")
        if not 0 <= self.device_id <= 0xFFFF:
            raise ConfigError("device_id", f"must be 0..65535, got {self.device_id}")

    @property
    def resolved_service_uuid(self) -> str:
        """Service UUID in use."""
        return self.service_uuid or (PMD_SERVICE_UUID if self.profile == "polar_h10"
                                     else NUS_SERVICE_UUID)

    @property
    def resolved_notify_uuid(self) -> str:
        """Notify characteristic UUID in use."""
        return self.notify_uuid or (PMD_DATA_UUID if self.profile == "polar_h10"
                                    else NUS_TX_UUID)

    @property
    def resolved_control_uuid(self) -> str:
        """PMD control point UUID in use."""
        return self.control_uuid or PMD_CONTROL_UUID


def _bleak_factory(address: str, disconnected_callback: Callable[[Any], None],
                   timeout: float) -> Any:
    try:
        from bleak import BleakClient  # noqa: PLC0415 - bleak is optional and heavy
    except ImportError as exc:
        raise BleUnavailableError("BLE sources need 'bleak': pip install bleak") from exc
    return BleakClient(address, disconnected_callback=disconnected_callback, timeout=timeout)


class BleSource(_SourceBase):
    """Samples from a BLE device as a :class:`SampleSource`.

    Parameters
    ----------
    config : BleConfig
    client_factory : callable, optional
        ``factory(address, disconnected_callback, timeout) -> client`` with bleak's async
        ``connect``, ``disconnect``, ``start_notify``, ``write_gatt_char`` and
        ``is_connected``; default ``bleak.BleakClient``. The seam used by the tests.
    on_link_event : callable, optional
        Called with each :class:`LinkEvent` (from the BLE thread).
    """

    def __init__(self, config: BleConfig, *,
                 client_factory: Callable[..., Any] | None = None,
                 on_link_event: Callable[[LinkEvent], None] | None = None) -> None:
        self.config = config
        self.default_read_timeout_s = config.read_timeout_s
        self._factory = client_factory or _bleak_factory
        self._link = LinkMonitor(f"ble:{config.address}", on_link_event)
        self._queue: queue.Queue[tuple[float, bytes]] = queue.Queue(
            maxsize=config.max_queued_notifications)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._disconnected = threading.Event()
        self.notifications_dropped = 0
        self.decoder = FrameDecoder()
        self.polar = PolarEcgAssembler(device_id=config.device_id)

    @property
    def decoder_stats(self) -> DecoderStats:
        """Counters of the frame decoder ("frames" profile)."""
        return self.decoder.stats

    @property
    def pmd_stats(self) -> PmdStats:
        """Counters of the Polar assembler ("polar_h10" profile)."""
        return self.polar.stats

    # -- BLE thread ------------------------------------------------------------------------
    def _on_notify(self, _sender: Any, data: bytearray) -> None:
        try:
            self._queue.put_nowait((time.monotonic(), bytes(data)))
        except queue.Full:
            self.notifications_dropped += 1

    def _on_control(self, _sender: Any, data: bytearray) -> None:
        try:
            op, meas = parse_pmd_control_response(data)
            logger.debug("PMD control op %#04x type %d ok", op, meas)
        except PmdError as exc:
            logger.warning("PMD control point: %s", exc)

    def _on_disconnect(self, _client: Any) -> None:
        self._disconnected.set()

    async def _session(self) -> None:
        import asyncio  # noqa: PLC0415 (lazy: 7 MB and tens of ms a serial-port device never needs)

        cfg = self.config
        client = self._factory(cfg.address, self._on_disconnect, cfg.connect_timeout_s)
        self._disconnected.clear()
        try:
            await client.connect()
            if cfg.profile == "polar_h10":
                await client.start_notify(cfg.resolved_control_uuid, self._on_control)
                await client.start_notify(cfg.resolved_notify_uuid, self._on_notify)
                await client.write_gatt_char(cfg.resolved_control_uuid, PMD_START_ECG_130HZ,
                                             response=True)
            else:
                await client.start_notify(cfg.resolved_notify_uuid, self._on_notify)
            self._link.set(LinkState.CONNECTED, cfg.address)
            self._backoff.reset()
            while not self._stop.is_set() and not self._disconnected.is_set() \
                    and client.is_connected:
                await asyncio.sleep(0.05)
        finally:
            if self._stop.is_set() and cfg.profile == "polar_h10":
                try:
                    await client.write_gatt_char(cfg.resolved_control_uuid, PMD_STOP_ECG,
                                                 response=True)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001
                pass

    async def _main(self) -> None:
        import asyncio  # noqa: PLC0415 (lazy, see _session)

        cfg = self.config
        while not self._stop.is_set():
            try:
                await self._session()
                detail = "link lost"
            except BleUnavailableError as exc:
                self._link.set(LinkState.DISCONNECTED, str(exc))
                self._fatal = exc
                return
            except Exception as exc:  # noqa: BLE001 - BleakError, TimeoutError, OSError...
                self._link.stats.reconnect_attempts += 1
                detail = _why(exc)
            if self._stop.is_set():
                return
            if not cfg.reconnect:
                self._link.set(LinkState.DISCONNECTED, detail)
                return
            self._link.set(LinkState.RECONNECTING, detail)
            delay = self._backoff.next_delay()
            end = time.monotonic() + delay
            while not self._stop.is_set() and time.monotonic() < end:
                await asyncio.sleep(min(0.05, delay))

    def _thread_main(self) -> None:
        import asyncio  # noqa: PLC0415 (lazy, see _session)

        try:
            asyncio.run(self._main())
        except Exception:  # noqa: BLE001 - never let the BLE thread die silently
            logger.exception("BLE thread failed")
            self._link.set(LinkState.DISCONNECTED, "BLE thread failed")

    # -- SampleSource ----------------------------------------------------------------------
    def open(self) -> None:
        """Start connecting in the background (returns before the link is up).

        Raises
        ------
        SourceClosedError
            If the source was closed.
        """
        if self._closed:
            raise SourceClosedError("BleSource was closed; create a new one")
        if self._thread is not None:
            return
        self._backoff = Backoff(initial_s=self.config.backoff_initial_s,
                                max_s=self.config.backoff_max_s,
                                factor=self.config.backoff_factor)
        self._fatal: BaseException | None = None
        self._link.set(LinkState.CONNECTING, self.config.address)
        self._thread = threading.Thread(target=self._thread_main, name="ble-source",
                                        daemon=True)
        self._thread.start()

    def read(self, timeout_s: float | None = None) -> list[SampleChunk]:
        """Decode the notifications that arrived, waiting at most ``timeout_s`` for one.

        Raises
        ------
        SourceClosedError
            If called after :meth:`close`.
        """
        if self._closed:
            raise SourceClosedError("read() on a closed BleSource")
        if self._thread is None:
            self.open()
        timeout = self.config.read_timeout_s if timeout_s is None else max(0.0, timeout_s)
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._link.stats.bytes_received += sum(len(d) for _, d in items)
        chunks: list[SampleChunk] = []
        if self.config.profile == "polar_h10":
            for t_host, data in items:
                chunks.extend(self.polar.process(data, t_host))
        else:
            for t_host, data in items:
                chunks.extend(frames_to_chunks(self.decoder.process(data), t_host))
        return self._count(chunks)

    def close(self) -> None:
        """Disconnect and stop the BLE thread (idempotent)."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.connect_timeout_s + 2.0)
        self._link.set(LinkState.CLOSED)
