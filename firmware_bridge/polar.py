"""Polar H10 ECG over the Polar Measurement Data (PMD) BLE service.

Protocol facts used here (from Polar's public "Polar Measurement Data Specification" and
the polar-ble-sdk sources):

* PMD service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``; control point ``...5C81`` (write with
  response, indicate), data ``...5C82`` (notify).
* Start ECG: control-point write ``02 00 00 01 82 00 01 01 0E 00`` = op 0x02 (start
  measurement), type 0x00 (ECG), setting 0x00 (sample rate) count 1 value 0x0082 = 130 Hz,
  setting 0x01 (resolution) count 1 value 0x000E = 14 bits. Stop: ``03 00``.
* Control-point response: ``F0 op type error_code ...`` (error 0 = success).
* ECG data notification: byte 0 measurement type (0x00 = ECG), bytes 1..8 uint64 LE timestamp
  in ns since 2000-01-01T00:00:00 of the *last* sample in the frame, byte 9 frame type
  (0x00 = uncompressed, 3-byte signed little-endian samples in µV), then the samples.
  Frame types with bit 7 set are delta-compressed (not sent by the H10 for ECG); rejected.

:class:`PolarEcgAssembler` turns data notifications into
:class:`~firmware_bridge.sources.SampleChunk` (one channel, counts are µV so
``adc_gain = 1000`` counts/mV and ``baseline = 0``), keeping an absolute sample index and
reporting gaps computed from the timestamps.

Tested on constructed payloads only (no radio, no H10 in CI).
"""
from __future__ import annotations

import logging
import struct
from dataclasses import asdict, dataclass

import numpy as np

from firmware_bridge.errors import ConfigError, PmdControlError, PmdError
from firmware_bridge.sources import SampleChunk

__all__ = [
    "PMD_SERVICE_UUID",
    "PMD_CONTROL_UUID",
    "PMD_DATA_UUID",
    "PMD_START_ECG_130HZ",
    "PMD_STOP_ECG",
    "POLAR_ECG_FS_HZ",
    "POLAR_UV_PER_MV",
    "PmdEcgFrame",
    "PmdStats",
    "parse_pmd_ecg",
    "build_pmd_ecg",
    "parse_pmd_control_response",
    "PolarEcgAssembler",
]

logger = logging.getLogger(__name__)

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
PMD_START_ECG_130HZ = bytes([0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00])
PMD_STOP_ECG = bytes([0x03, 0x00])
POLAR_ECG_FS_HZ = 130.0
POLAR_UV_PER_MV = 1000.0

_MEAS_ECG = 0x00
_HEAD = struct.Struct("<BQB")  # measurement type, timestamp ns, frame type


@dataclass(frozen=True, kw_only=True)
class PmdEcgFrame:
    """One PMD ECG data notification.

    Attributes
    ----------
    timestamp_ns : sensor time of the last sample (ns since 2000-01-01).
    samples_uv : int32 array, shape (n,), ECG in µV.
    """

    timestamp_ns: int
    samples_uv: np.ndarray


def parse_pmd_ecg(payload: bytes | bytearray | memoryview) -> PmdEcgFrame:
    """Parse a PMD ECG data notification (frame type 0).

    Raises
    ------
    PmdError
        If the payload is too short, not ECG, compressed/unknown frame type, or its sample
        bytes are not a multiple of 3.
    """
    data = bytes(payload)
    if len(data) < _HEAD.size:
        raise PmdError(f"PMD notification of {len(data)} bytes is shorter than its "
                       f"{_HEAD.size}-byte header", len(data))
    meas, ts, ftype = _HEAD.unpack_from(data, 0)
    if meas != _MEAS_ECG:
        raise PmdError(f"PMD measurement type {meas} is not ECG (0)", len(data))
    if ftype != 0:
        raise PmdError(f"PMD ECG frame type {ftype:#04x} not supported (only 0: 3-byte µV)",
                       len(data))
    body = data[_HEAD.size:]
    if len(body) % 3:
        raise PmdError(f"PMD ECG sample bytes ({len(body)}) not a multiple of 3", len(data))
    n = len(body) // 3
    wide = np.zeros((n, 4), dtype=np.uint8)
    wide[:, 1:] = np.frombuffer(body, dtype=np.uint8).reshape(n, 3)
    return PmdEcgFrame(timestamp_ns=ts, samples_uv=wide.view("<i4").reshape(n) >> 8)


def build_pmd_ecg(samples_uv: np.ndarray, timestamp_ns: int) -> bytes:
    """Build a PMD ECG notification (frame type 0), as an H10 sends it (for tests/simulation).

    Raises
    ------
    PmdError
        If a sample does not fit 24-bit signed or the timestamp is not uint64.
    """
    arr = np.asarray(samples_uv, dtype=np.int64).reshape(-1)
    if arr.size and (arr.min() < -(1 << 23) or arr.max() >= (1 << 23)):
        raise PmdError("PMD ECG samples must fit 24-bit signed µV")
    if not 0 <= timestamp_ns < (1 << 64):
        raise PmdError(f"timestamp_ns must fit uint64, got {timestamp_ns}")
    body = arr.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return _HEAD.pack(_MEAS_ECG, timestamp_ns, 0) + body


def parse_pmd_control_response(payload: bytes | bytearray) -> tuple[int, int]:
    """Check a PMD control-point response; return ``(op_code, measurement_type)``.

    Raises
    ------
    PmdError
        If it is not a control-point response (first byte 0xF0) or is truncated.
    PmdControlError
        If the device reports an error (``code``: 1 invalid op code, 2 invalid measurement
        type, 3 not supported, 4 invalid length, 5 invalid parameter, 6 already in state, ...).
    """
    data = bytes(payload)
    if len(data) < 4 or data[0] != 0xF0:
        raise PmdError(f"not a PMD control-point response: {data[:8].hex()}", len(data))
    op, meas, err = data[1], data[2], data[3]
    if err != 0:
        raise PmdControlError(f"PMD op {op:#04x} on measurement {meas} failed with error "
                              f"code {err}", code=err, payload_len=len(data))
    return op, meas


@dataclass(kw_only=True)
class PmdStats:
    """Counters of a :class:`PolarEcgAssembler`."""

    frames_ok: int = 0
    frames_rejected: int = 0
    gaps: int = 0
    samples_lost: int = 0
    clock_jumps: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class PolarEcgAssembler:
    """Streaming stage: PMD ECG notifications in, :class:`SampleChunk` out.

    The first sample received gets ``sample_index`` 0; each later frame continues from the
    previous one. Lost notifications are detected from the sensor timestamps: the number of
    sample periods between the previous frame's last sample and this frame's first sample,
    rounded, minus one, is reported as ``gap_samples`` (and added to the index). A timestamp
    going backwards is counted as a clock jump and treated as contiguous.

    Parameters
    ----------
    fs_hz : float
        Nominal sample rate (130 Hz for the H10).
    device_id : int
        Stamped on the chunks.
    """

    def __init__(self, fs_hz: float = POLAR_ECG_FS_HZ, device_id: int = 0) -> None:
        if not fs_hz > 0:
            raise ConfigError("fs_hz", f"must be > 0 Hz, got {fs_hz}")
        self.fs_hz = float(fs_hz)
        self.device_id = device_id
        self._period_ns = 1e9 / self.fs_hz
        self._next_index = 0
        self._last_ts: int | None = None
        self.stats = PmdStats()

    def reset(self) -> None:
        """Restart the index at 0 and forget the last timestamp."""
        self._next_index = 0
        self._last_ts = None
        self.stats = PmdStats()

    def process(self, payload: bytes | bytearray | memoryview,
                t_host_s: float) -> list[SampleChunk]:
        """Turn one notification into at most one chunk (``[]`` for a rejected payload).

        Malformed payloads are counted in ``stats.frames_rejected`` and logged, never raised.
        """
        try:
            frame = parse_pmd_ecg(payload)
        except PmdError as exc:
            self.stats.frames_rejected += 1
            logger.debug("PMD payload rejected: %s", exc)
            return []
        n = int(frame.samples_uv.shape[0])
        if n == 0:
            return []
        gap = 0
        if self._last_ts is not None:
            first_ts = frame.timestamp_ns - (n - 1) * self._period_ns
            steps = int(round((first_ts - self._last_ts) / self._period_ns))
            if steps > 1:
                gap = steps - 1
                self.stats.gaps += 1
                self.stats.samples_lost += gap
            elif steps < 1:
                self.stats.clock_jumps += 1 if steps < 0 else 0
        self._last_ts = frame.timestamp_ns
        index = self._next_index + gap
        self._next_index = index + n
        self.stats.frames_ok += 1
        return [SampleChunk(sample_index=index, samples=frame.samples_uv.reshape(n, 1),
                            fs_hz=self.fs_hz, adc_gain=(POLAR_UV_PER_MV,), baseline=(0,),
                            gap_samples=gap, t_host_s=t_host_s, device_id=self.device_id)]
