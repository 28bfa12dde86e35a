"""Incremental frame decoder: bytes of any chunking in, validated frames out.

The decoder is a streaming stage (:meth:`FrameDecoder.process`, :meth:`FrameDecoder.reset`)
with explicit state: the unparsed tail of the input and, per device, the sample index and
sequence number expected next. Feeding the same bytes in chunks of 1, 7, 360 or 65536 bytes
gives exactly the frames of one call on the whole input (``byte_offset`` included).

Damaged input never raises. Bytes before a sync marker are discarded; a header with a bad
CRC-16 or an impossible field, and a frame with a bad CRC-32, are rejected by skipping one
byte and searching for the next sync marker in the bytes already buffered, so the first
intact frame after garbage is always found (resync within one frame). Lost samples are
reported on the next frame of the same device as ``gap_samples`` and counted in
:class:`DecoderStats`.

The buffer is bounded: after :meth:`process` returns it holds less than
:data:`~firmware_bridge.protocol.MAX_FRAME_SIZE` bytes (6 208).
"""
from __future__ import annotations

import binascii
import logging
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from firmware_bridge.errors import DecoderInputError
from firmware_bridge.protocol import (
    _HEADER,
    _META,
    _U16,
    _U32,
    CHANNEL_META_SIZE,
    CRC_SIZE,
    HEADER_SIZE,
    MAX_ADC_GAIN,
    MAX_CHANNELS,
    MIN_ADC_GAIN,
    PROTOCOL_VERSION,
    SYNC,
    Frame,
    SampleFormat,
    valid_gain,
)

__all__ = ["DecoderStats", "FrameDecoder"]

logger = logging.getLogger(__name__)

_SYNC0 = SYNC[0]
_FMT = {1: SampleFormat.INT16, 2: SampleFormat.INT24}
_BPS = {1: 2, 2: 3}


@dataclass(kw_only=True)
class DecoderStats:
    """Counters kept by a :class:`FrameDecoder` (all cumulative since the last reset).

    Attributes
    ----------
    bytes_in : bytes fed to :meth:`FrameDecoder.process`.
    bytes_discarded : bytes that were not part of an accepted frame.
    frames_ok : frames accepted (CRCs good).
    frames_rejected : frames with a valid header but a bad CRC-32.
    headers_rejected : sync markers followed by an invalid header (bad CRC-16 or field).
    gaps : number of gaps (a frame whose first sample is later than expected).
    samples_lost : samples per channel missing in those gaps.
    frames_lost : frames missing according to the sequence numbers.
    stream_restarts : frames whose sample index went backwards (device restarted).
    frames_invalid : frames with good CRCs whose content is not ECG: an ADC gain outside
        :data:`~firmware_bridge.protocol.MIN_ADC_GAIN` ..
        :data:`~firmware_bridge.protocol.MAX_ADC_GAIN` (their samples are lost: a gap).
    """

    bytes_in: int = 0
    bytes_discarded: int = 0
    frames_ok: int = 0
    frames_rejected: int = 0
    headers_rejected: int = 0
    gaps: int = 0
    samples_lost: int = 0
    frames_lost: int = 0
    stream_restarts: int = 0
    frames_invalid: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for logging and JSON)."""
        return asdict(self)


#: A sample counter more than this far ahead of the expected one (s at the frame's rate) is a
#: device that restarted from a counter of its own (PROTOCOL.md allows any first value), not a
#: gap: unwrapped to the nearest value, a restart from above 2**31 read as a 41-day outage.
_MAX_FORWARD_S = 86400


@dataclass
class _StreamState:
    next_index: int
    next_seq: int


def _decode_int24(raw: bytes, n_values: int) -> np.ndarray:
    b = np.frombuffer(raw, dtype=np.uint8).reshape(n_values, 3)
    wide = np.zeros((n_values, 4), dtype=np.uint8)
    wide[:, 1:] = b
    return wide.view("<i4").reshape(n_values) >> 8  # arithmetic shift sign-extends


class FrameDecoder:
    """Incremental decoder of protocol-v1 frames.

    Examples
    --------
    >>> dec = FrameDecoder()
    >>> frames = dec.process(chunk_of_bytes)     # doctest: +SKIP
    >>> dec.stats.samples_lost                   # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0  # stream offset of self._buf[0]
        self._streams: dict[int, _StreamState] = {}
        self.stats = DecoderStats()

    @property
    def buffered_bytes(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Drop buffered bytes, per-device expectations and counters."""
        self._buf = bytearray()
        self._offset = 0
        self._streams.clear()
        self.stats = DecoderStats()

    def discard_buffer(self) -> int:
        """Drop buffered bytes (a partial frame cut by a disconnect); returns how many.

        Per-device expectations are kept, so the gap across the disconnect is still reported.
        """
        n = len(self._buf)
        self.stats.bytes_discarded += n
        self._offset += n
        self._buf = bytearray()
        return n

    def forget_streams(self) -> None:
        """Drop per-device expectations only (the next frame of each device starts fresh)."""
        self._streams.clear()

    def process(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Feed bytes; return the frames completed by them, in stream order.

        Parameters
        ----------
        data : bytes-like
            Any number of bytes (0 .. many MB), cut anywhere.

        Returns
        -------
        list of Frame
            Accepted frames; ``gap_samples`` > 0 on a frame that follows lost samples.

        Raises
        ------
        DecoderInputError
            If ``data`` is not bytes-like. Damaged bytes never raise.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecoderInputError(f"process() needs bytes-like data, got {type(data).__name__}")
        stats = self.stats
        buf = self._buf
        buf += data
        stats.bytes_in += len(data) if not isinstance(data, memoryview) else data.nbytes
        n = len(buf)
        frames: list[Frame] = []
        pos = 0
        discarded = 0
        find = buf.find
        hdr_unpack = _HEADER.unpack_from
        with memoryview(buf) as mv:
            while True:
                idx = find(SYNC, pos)
                if idx < 0:
                    keep = n - 1 if n > pos and buf[n - 1] == _SYNC0 else n
                    discarded += keep - pos
                    pos = keep
                    break
                discarded += idx - pos
                pos = idx
                if n - pos < HEADER_SIZE:
                    break
                _, ver, fmt, nch, nsmp, dev, seq, ctr, fs_mhz = hdr_unpack(buf, pos)
                bps = _BPS.get(fmt)
                if (ver != PROTOCOL_VERSION or bps is None or not 1 <= nch <= MAX_CHANNELS
                        or nsmp == 0 or fs_mhz == 0
                        or binascii.crc_hqx(mv[pos:pos + 18], 0xFFFF)
                        != _U16.unpack_from(buf, pos + 18)[0]):
                    stats.headers_rejected += 1
                    discarded += 1
                    pos += 1
                    continue
                n_values = nsmp * nch
                meta_end = pos + HEADER_SIZE + CHANNEL_META_SIZE * nch
                body_end = meta_end + n_values * bps
                if n < body_end + CRC_SIZE:
                    break
                if zlib.crc32(mv[pos:body_end]) != _U32.unpack_from(buf, body_end)[0]:
                    stats.frames_rejected += 1
                    discarded += 1
                    pos += 1
                    continue
                meta = _META[nch].unpack_from(buf, pos + HEADER_SIZE)
                if not all(valid_gain(g) for g in meta[0::2]):
                    stats.frames_invalid += 1
                    if stats.frames_invalid == 1 or stats.frames_invalid % 1000 == 0:
                        logger.warning(
                            "device %d: frame with ADC gain %s counts/mV dropped (valid: %g to "
                            "%g; %d such frames so far)", dev,
                            [float(f"{g:.3g}") for g in meta[0::2]], MIN_ADC_GAIN, MAX_ADC_GAIN,
                            stats.frames_invalid)
                    discarded += body_end + CRC_SIZE - pos
                    pos = body_end + CRC_SIZE
                    continue
                raw = bytes(mv[meta_end:body_end])
                if bps == 2:
                    values = np.frombuffer(raw, dtype="<i2").astype(np.int32)
                else:
                    values = _decode_int24(raw, n_values)
                frames.append(self._accept(dev, seq, ctr, fs_mhz, meta, _FMT[fmt],
                                           values.reshape(nsmp, nch), self._offset + pos))
                pos = body_end + CRC_SIZE
        if pos:
            del buf[:pos]
            self._offset += pos
        stats.bytes_discarded += discarded
        return frames

    def _accept(self, dev: int, seq: int, ctr: int, fs_mhz: int, meta: tuple,
                fmt: SampleFormat, samples: np.ndarray, byte_offset: int) -> Frame:
        stats = self.stats
        stats.frames_ok += 1
        nsmp = samples.shape[0]
        st = self._streams.get(dev)
        gap = 0
        if st is None:
            index = ctr
        else:
            delta = (ctr - st.next_index) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta -= 0x100000000
            index = st.next_index + delta
            if delta > _MAX_FORWARD_S * fs_mhz / 1000.0:  # a day's leap: a restart, read as one
                logger.info("device %d: sample counter leapt from %d to %d (more than %d h "
                            "ahead): read as a device restart", dev, st.next_index, ctr,
                            _MAX_FORWARD_S // 3600)
                stats.stream_restarts += 1
                delta, index = 0, ctr
            if delta > 0:
                gap = delta
                stats.gaps += 1
                stats.samples_lost += delta
                # by the frame counter -- unless the device restarted it (a reboot: seq back
                # to 0 read as ~65,000 lost frames): never more than the lost samples fill
                by_samples = -(-delta // max(1, nsmp))
                stats.frames_lost += min((seq - st.next_seq) & 0xFFFF, by_samples)
                logger.debug("device %d: gap of %d samples before index %d", dev, delta, index)
            elif delta < 0:
                stats.stream_restarts += 1
                logger.info("device %d: sample counter went back from %d to %d "
                            "(device restarted?)", dev, st.next_index, index)
                if index < 0:
                    index = ctr
        if st is None:
            self._streams[dev] = _StreamState(index + nsmp, (seq + 1) & 0xFFFF)
        else:
            st.next_index = index + nsmp
            st.next_seq = (seq + 1) & 0xFFFF
        return Frame(device_id=dev, seq=seq, sample_counter=ctr, sample_index=index,
                     fs_hz=fs_mhz / 1000.0, adc_gain=meta[0::2], baseline=meta[1::2],
                     sample_format=fmt, samples=samples, gap_samples=gap,
                     byte_offset=byte_offset)
