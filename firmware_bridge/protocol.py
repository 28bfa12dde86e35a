"""Wire format of the ECG frame protocol (version 1) and the frame encoder.

A frame is self-describing: besides the raw ADC samples it carries the sample rate, the
absolute position of its first sample in the stream, and per channel the ADC gain (counts per
mV) and baseline (counts at 0 mV), so that any single intact frame can be turned into mV.
The byte layout is specified in ``firmware_bridge/PROTOCOL.md``; the C reference encoder in
``firmware_bridge/c/`` produces the same bytes (checked by the golden test).

All multi-byte fields are little-endian::

    offset size field
    0      2    sync            0xA5 0x5A
    2      1    version         1
    3      1    sample_format   1 = int16, 2 = int24 (two's complement)
    4      1    n_channels      1..8
    5      1    n_samples       1..255 samples per channel
    6      2    device_id       uint16
    8      2    seq             uint16 frame counter, wraps 65535 -> 0
    10     4    sample_counter  uint32 index of the first sample, wraps 2**32 -> 0
    14     4    fs_millihz      uint32 sample rate in mHz (360 Hz -> 360000)
    18     2    header_crc      CRC-16/CCITT-FALSE of bytes 0..17
    20     8*C  channel meta    per channel: float32 adc_gain (counts/mV), int32 baseline
    ...    N*C*B samples        interleaved s0c0 s0c1 .. s1c0 .., B = 2 or 3 bytes
    end-4  4    crc32           CRC-32 (zlib/ISO-HDLC) of every byte before it
"""
from __future__ import annotations

import binascii
import logging
import math
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from firmware_bridge.errors import ConfigError, EncodeError

__all__ = [
    "SYNC",
    "PROTOCOL_VERSION",
    "HEADER_SIZE",
    "CHANNEL_META_SIZE",
    "CRC_SIZE",
    "MAX_CHANNELS",
    "MIN_ADC_GAIN",
    "MAX_ADC_GAIN",
    "valid_gain",
    "MAX_SAMPLES_PER_FRAME",
    "BLE_MAX_PAYLOAD_BYTES",
    "MAX_FRAME_SIZE",
    "SampleFormat",
    "Frame",
    "frame_size",
    "max_samples_per_frame",
    "default_samples_per_frame",
    "encode_frame",
    "EncoderConfig",
    "FrameEncoder",
    "crc16_ccitt",
    "crc32",
]

logger = logging.getLogger(__name__)

SYNC = b"\xa5\x5a"
PROTOCOL_VERSION = 1
HEADER_SIZE = 20
CHANNEL_META_SIZE = 8
CRC_SIZE = 4
MAX_CHANNELS = 8
#: The ADC gains (counts per mV) a frame may carry: from 1 V per count to 1 pV per count.
#: Outside them the samples are not ECG in any unit (a garbled or unset gain field): the
#: decoder drops such a frame (``DecoderStats.frames_invalid``), and the encoders refuse it.
MIN_ADC_GAIN = 1e-3
MAX_ADC_GAIN = 1e9
MAX_SAMPLES_PER_FRAME = 255
#: Largest ATT notification payload with the BLE 4.2+/5 data-length extension (247-byte ATT MTU
#: minus the 3-byte notification header); default frames are sized to fit it.
BLE_MAX_PAYLOAD_BYTES = 244

_HEADER = struct.Struct("<2sBBBBHHII")  # the 18 bytes covered by the header CRC
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_META = {n: struct.Struct("<" + "fi" * n) for n in range(1, MAX_CHANNELS + 1)}


class SampleFormat(IntEnum):
    """Sample encoding on the wire."""

    INT16 = 1
    INT24 = 2

    @property
    def bytes_per_sample(self) -> int:
        """Bytes per sample value (2 or 3)."""
        return 2 if self is SampleFormat.INT16 else 3

    @property
    def min_value(self) -> int:
        """Smallest representable ADC count."""
        return -(1 << (8 * self.bytes_per_sample - 1))

    @property
    def max_value(self) -> int:
        """Largest representable ADC count."""
        return (1 << (8 * self.bytes_per_sample - 1)) - 1

    @property
    def invalid_value(self) -> int:
        """The count that marks an invalid sample (lead off, a saturated or missed
        conversion): the format's most negative value, as in WFDB's formats 16 and 24. A
        valid sample lies in ``min_value + 1 .. max_value``."""
        return self.min_value


MAX_FRAME_SIZE = (HEADER_SIZE + CHANNEL_META_SIZE * MAX_CHANNELS
                  + MAX_SAMPLES_PER_FRAME * MAX_CHANNELS * 3 + CRC_SIZE)


def crc16_ccitt(data: bytes | bytearray | memoryview, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out).

    ``crc16_ccitt(b"123456789") == 0x29B1``.
    """
    return binascii.crc_hqx(data, init)


def crc32(data: bytes | bytearray | memoryview) -> int:
    """CRC-32/ISO-HDLC as computed by :func:`zlib.crc32` (``crc32(b"123456789") == 0xCBF43926``)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def frame_size(n_channels: int, n_samples: int, sample_format: SampleFormat) -> int:
    """Size in bytes of a frame with ``n_samples`` samples of ``n_channels`` channels."""
    return (HEADER_SIZE + CHANNEL_META_SIZE * n_channels
            + n_samples * n_channels * SampleFormat(sample_format).bytes_per_sample + CRC_SIZE)


def max_samples_per_frame(n_channels: int, sample_format: SampleFormat,
                          max_frame_bytes: int = BLE_MAX_PAYLOAD_BYTES) -> int:
    """Most samples per channel whose frame fits in ``max_frame_bytes`` (at most 255).

    Returns 0 when not even one sample fits.
    """
    fixed = frame_size(n_channels, 0, sample_format)
    per = n_channels * SampleFormat(sample_format).bytes_per_sample
    return max(0, min(MAX_SAMPLES_PER_FRAME, (max_frame_bytes - fixed) // per))


def default_samples_per_frame(fs_hz: float, n_channels: int, sample_format: SampleFormat,
                              max_frame_bytes: int = BLE_MAX_PAYLOAD_BYTES,
                              max_latency_s: float = 0.1) -> int:
    """Samples per frame used when none is configured.

    The largest count that fits one BLE notification (``max_frame_bytes``), capped at
    ``max_latency_s`` seconds of signal, and at least 1. At 360 Hz, 2 channels, int16 this is
    36 samples (100 ms) in a 184-byte frame.
    """
    fit = max_samples_per_frame(n_channels, sample_format, max_frame_bytes)
    cap = max(1, int(math.floor(fs_hz * max_latency_s)))
    return max(1, min(fit if fit > 0 else 1, cap))


@dataclass(frozen=True, kw_only=True, slots=True)
class Frame:
    """One decoded (or encoded) frame.

    Attributes
    ----------
    device_id : stream/device identifier (uint16).
    seq : frame sequence number as sent (uint16, wraps).
    sample_counter : wire sample counter of the first sample (uint32, wraps).
    sample_index : absolute index of the first sample; the decoder unwraps ``sample_counter``.
    fs_hz : sample rate in Hz.
    adc_gain : ADC counts per mV, one per channel.
    baseline : ADC counts at 0 mV, one per channel.
    sample_format : wire format of the samples.
    samples : int32 array, shape (n_samples, n_channels), raw ADC counts.
    gap_samples : samples lost between the previous frame of this device and this one.
    byte_offset : position of the frame's sync marker in the decoder's input stream (bytes).
    """

    device_id: int
    seq: int
    sample_counter: int
    sample_index: int
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    sample_format: SampleFormat
    samples: np.ndarray
    gap_samples: int = 0
    byte_offset: int = 0

    @property
    def n_samples(self) -> int:
        """Samples per channel in this frame."""
        return int(self.samples.shape[0])

    @property
    def end_index(self) -> int:
        """Absolute index one past the last sample."""
        return self.sample_index + int(self.samples.shape[0])


def valid_gain(gain: float) -> bool:
    """An ADC gain (counts per mV) a frame may carry: finite, from :data:`MIN_ADC_GAIN` to
    :data:`MAX_ADC_GAIN`."""
    return math.isfinite(gain) and MIN_ADC_GAIN <= gain <= MAX_ADC_GAIN


def _check_meta(n_channels: int, adc_gain: tuple[float, ...], baseline: tuple[int, ...],
                sample_format: SampleFormat, exc: type) -> None:
    if len(adc_gain) != n_channels:
        raise exc("adc_gain", f"needs one gain per channel ({n_channels}), got {len(adc_gain)}")
    if len(baseline) != n_channels:
        raise exc("baseline", f"needs one baseline per channel ({n_channels}), "
                              f"got {len(baseline)}")
    for g in adc_gain:
        if not valid_gain(g):
            raise exc("adc_gain", f"must be {MIN_ADC_GAIN:g} to {MAX_ADC_GAIN:g} counts/mV, "
                                  f"got {g!r}")
    for b in baseline:
        if not -(1 << 31) <= int(b) < (1 << 31):
            raise exc("baseline", f"must fit int32, got {b!r}")


def encode_frame(samples: np.ndarray, *, device_id: int, seq: int, sample_counter: int,
                 fs_hz: float, adc_gain: tuple[float, ...], baseline: tuple[int, ...],
                 sample_format: SampleFormat = SampleFormat.INT16) -> bytes:
    """Build one frame.

    Parameters
    ----------
    samples : array_like of int, shape (n_samples, n_channels)
        Raw ADC counts, 1..255 samples of 1..8 channels, each within ``sample_format``'s range.
    device_id : int
        Stream identifier, 0..65535.
    seq : int
        Frame sequence number; taken modulo 2**16.
    sample_counter : int
        Index of the first sample; taken modulo 2**32.
    fs_hz : float
        Sample rate in Hz (sent in mHz, so resolution is 0.001 Hz).
    adc_gain, baseline : tuple
        Per channel ADC counts per mV (sent as float32) and counts at 0 mV (int32).
    sample_format : SampleFormat
        ``INT16`` or ``INT24``.

    Returns
    -------
    bytes
        The frame, :func:`frame_size` bytes long.

    Raises
    ------
    EncodeError
        When a value does not fit its field; ``field`` names it.
    """
    fmt = SampleFormat(sample_format)
    arr = np.asarray(samples)
    if arr.ndim != 2:
        raise EncodeError("samples", f"expected shape (n_samples, n_channels), got {arr.shape}")
    n, nch = arr.shape
    if not 1 <= n <= MAX_SAMPLES_PER_FRAME:
        raise EncodeError("samples", f"n_samples must be 1..{MAX_SAMPLES_PER_FRAME}, got {n}")
    if not 1 <= nch <= MAX_CHANNELS:
        raise EncodeError("samples", f"n_channels must be 1..{MAX_CHANNELS}, got {nch}")
    if arr.dtype.kind not in "iu":
        raise EncodeError("samples", f"must hold integer ADC counts, got dtype {arr.dtype}")
    if arr.size and (int(arr.min()) < fmt.min_value or int(arr.max()) > fmt.max_value):
        raise EncodeError("samples", f"values outside {fmt.name} range "
                                     f"[{fmt.min_value}, {fmt.max_value}]")
    if not 0 <= device_id <= 0xFFFF:
        raise EncodeError("device_id", f"must be 0..65535, got {device_id}")
    fs_mhz = int(round(fs_hz * 1000.0))
    if not 1 <= fs_mhz <= 0xFFFFFFFF:
        raise EncodeError("fs_hz", f"must be 0.001..4294967 Hz, got {fs_hz!r}")
    _check_meta(nch, tuple(adc_gain), tuple(baseline), fmt, EncodeError)
    head = _HEADER.pack(SYNC, PROTOCOL_VERSION, int(fmt), nch, n, device_id, seq & 0xFFFF,
                        sample_counter & 0xFFFFFFFF, fs_mhz)
    meta_vals: list[float | int] = []
    for g, b in zip(adc_gain, baseline):
        meta_vals.extend((float(g), int(b)))
    parts = [head, _U16.pack(crc16_ccitt(head)), _META[nch].pack(*meta_vals)]
    if fmt is SampleFormat.INT16:
        parts.append(arr.astype("<i2").tobytes())
    else:
        parts.append(arr.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
    body = b"".join(parts)
    return body + _U32.pack(zlib.crc32(body) & 0xFFFFFFFF)


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Configuration of a :class:`FrameEncoder` (one stream of one device).

    Attributes
    ----------
    fs_hz : sample rate in Hz (> 0).
    adc_gain : ADC counts per mV per channel (> 0).
    baseline : ADC counts at 0 mV per channel.
    device_id : stream identifier, 0..65535.
    sample_format : wire format.
    samples_per_frame : samples per channel per frame, 1..255; ``None`` picks
        :func:`default_samples_per_frame` (fits a 244-byte BLE notification, <= 100 ms).
    first_sample_index : sample counter of the first sample sent (>= 0).
    first_seq : sequence number of the first frame (0..65535).
    """

    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    device_id: int = 1
    sample_format: SampleFormat = SampleFormat.INT16
    samples_per_frame: int | None = None
    first_sample_index: int = 0
    first_seq: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fs_hz) and 0.001 <= self.fs_hz <= 4_294_967):
            raise ConfigError("fs_hz", f"must be within 0.001..4294967 Hz, got {self.fs_hz!r}")
        n = len(self.adc_gain)
        if not 1 <= n <= MAX_CHANNELS:
            raise ConfigError("adc_gain", f"needs 1..{MAX_CHANNELS} channels, got {n}")
        _check_meta(n, tuple(self.adc_gain), tuple(self.baseline), self.sample_format,
                    ConfigError)
        if not 0 <= self.device_id <= 0xFFFF:
            raise ConfigError("device_id", f"must be 0..65535, got {self.device_id}")
        try:
            SampleFormat(self.sample_format)
        except ValueError:
            raise ConfigError("sample_format", f"must be 1 (int16) or 2 (int24), "
                                               f"got {self.sample_format!r}") from None
        spf = self.samples_per_frame
        if spf is not None and not 1 <= spf <= MAX_SAMPLES_PER_FRAME:
            raise ConfigError("samples_per_frame", f"must be 1..{MAX_SAMPLES_PER_FRAME}, "
                                                   f"got {spf}")
        if self.first_sample_index < 0:
            raise ConfigError("first_sample_index", f"must be >= 0, got {self.first_sample_index}")
        if not 0 <= self.first_seq <= 0xFFFF:
            raise ConfigError("first_seq", f"must be 0..65535, got {self.first_seq}")

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.adc_gain)

    @property
    def frame_samples(self) -> int:
        """Effective samples per channel per frame."""
        if self.samples_per_frame is not None:
            return self.samples_per_frame
        return default_samples_per_frame(self.fs_hz, self.n_channels, self.sample_format)


@dataclass
class _EncoderState:
    next_seq: int
    next_sample_index: int
    pending: np.ndarray = field(repr=False)


class FrameEncoder:
    """Streaming encoder: samples in, complete frames out.

    Samples are buffered until a full frame is available, so feeding 1, 7 or 360 samples at a
    time yields exactly the same frames as one call on the whole signal; :meth:`flush` emits
    the remainder as a shorter frame.

    Parameters
    ----------
    config : EncoderConfig
    """

    def __init__(self, config: EncoderConfig) -> None:
        self.config = config
        self._spf = config.frame_samples
        self._state = self._initial_state()

    def _initial_state(self) -> _EncoderState:
        return _EncoderState(next_seq=self.config.first_seq,
                             next_sample_index=self.config.first_sample_index,
                             pending=np.zeros((0, self.config.n_channels), dtype=np.int32))

    @property
    def next_sample_index(self) -> int:
        """Sample counter the next frame will carry (samples already framed)."""
        return self._state.next_sample_index

    @property
    def next_seq(self) -> int:
        """Sequence number of the next frame (0..65535)."""
        return self._state.next_seq

    def reset(self) -> None:
        """Forget buffered samples and restart counters from the configuration."""
        self._state = self._initial_state()

    def _emit(self, block: np.ndarray) -> bytes:
        cfg, st = self.config, self._state
        out = encode_frame(block, device_id=cfg.device_id, seq=st.next_seq,
                           sample_counter=st.next_sample_index, fs_hz=cfg.fs_hz,
                           adc_gain=cfg.adc_gain, baseline=cfg.baseline,
                           sample_format=cfg.sample_format)
        st.next_seq = (st.next_seq + 1) & 0xFFFF
        st.next_sample_index += int(block.shape[0])
        return out

    def process(self, samples: np.ndarray) -> list[bytes]:
        """Append samples (shape (n, n_channels), ADC counts) and return completed frames."""
        arr = np.asarray(samples)
        if arr.ndim != 2 or arr.shape[1] != self.config.n_channels:
            raise EncodeError("samples", f"expected shape (n, {self.config.n_channels}), "
                                         f"got {arr.shape}")
        st = self._state
        data = np.concatenate([st.pending, arr.astype(np.int32, copy=False)]) \
            if st.pending.shape[0] else arr.astype(np.int32, copy=False)
        n_full = data.shape[0] // self._spf
        frames = [self._emit(data[i * self._spf:(i + 1) * self._spf]) for i in range(n_full)]
        st.pending = data[n_full * self._spf:].copy()
        return frames

    def flush(self) -> list[bytes]:
        """Emit buffered samples as one (shorter) frame, if any."""
        st = self._state
        if st.pending.shape[0] == 0:
            return []
        frame = self._emit(st.pending)
        st.pending = st.pending[:0]
        return [frame]
