"""Read named metadata buffers from a ``.tflite`` flatbuffer without TensorFlow.

A TFLite model (schema ``TFL3``) carries ``metadata: [Metadata{name, buffer}]`` that points into
``buffers: [Buffer{data}]``. ecg-edge stores its preprocessing contract there (name
:data:`CONTRACT_METADATA_NAME`, UTF-8 JSON), so one ``.tflite`` file is the whole deployable
model. This reader follows the flatbuffer layout directly (little-endian offsets, vtables) and
checks every offset against the file size, so a damaged file gives :class:`ModelError`, never
an IndexError or a crash.
"""
from __future__ import annotations

import json
import struct

from edge.errors import ModelError
from edge.model.seal import SEALED_FROM_KEY, TFLITE_SEAL_KEY, Seal, verify_tflite

__all__ = ["CONTRACT_METADATA_NAME", "read_metadata", "read_contract", "read_sealed_contract",
           "contract_span"]

CONTRACT_METADATA_NAME = "ecg_edge_contract"

# Field indices in schema.fbs.
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6
_METADATA_NAME = 0
_METADATA_BUFFER = 1
_BUFFER_DATA = 0
_BUFFER_OFFSET = 1
_BUFFER_SIZE = 2


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf

    def _check(self, pos: int, size: int) -> None:
        if pos < 0 or pos + size > len(self.buf):
            raise ModelError(f"damaged .tflite: offset {pos}+{size} outside the "
                             f"{len(self.buf)}-byte file")

    def u8(self, pos: int) -> int:
        self._check(pos, 1)
        return self.buf[pos]

    def u16(self, pos: int) -> int:
        self._check(pos, 2)
        return struct.unpack_from("<H", self.buf, pos)[0]

    def i32(self, pos: int) -> int:
        self._check(pos, 4)
        return struct.unpack_from("<i", self.buf, pos)[0]

    def u32(self, pos: int) -> int:
        self._check(pos, 4)
        return struct.unpack_from("<I", self.buf, pos)[0]

    def u64(self, pos: int) -> int:
        self._check(pos, 8)
        return struct.unpack_from("<Q", self.buf, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of a table's field, or None when absent."""
        vtable = table - self.i32(table)
        vt_size = self.u16(vtable)
        entry = 4 + 2 * index
        if entry + 2 > vt_size:
            return None
        off = self.u16(vtable + entry)
        return table + off if off else None

    def indirect(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, pos: int) -> tuple[int, int]:
        """(start of elements, length) of the vector referenced at ``pos``."""
        vec = self.indirect(pos)
        n = self.u32(vec)
        return vec + 4, n


def _metadata_spans(buf: bytes) -> dict[str, tuple[int, int]]:
    """(start, stop) in the file of each named metadata buffer."""
    if len(buf) < 16:
        raise ModelError(f"not a TFLite model: {len(buf)} bytes is too short")
    if buf[4:8] != b"TFL3":
        if buf.lstrip()[:1] in (b"{", b"["):
            raise ModelError("not a TFLite model: a JSON file (a rhythm tree model or a "
                             "contract?), where a .tflite network is expected")
        raise ModelError("not a TFLite model: file identifier is "
                         f"{buf[4:8]!r}, expected b'TFL3'")
    r = _Reader(buf)
    root = r.indirect(0)
    meta_pos = r.field(root, _MODEL_METADATA)
    if meta_pos is None:
        return {}
    buffers_pos = r.field(root, _MODEL_BUFFERS)
    if buffers_pos is None:
        raise ModelError("damaged .tflite: metadata present but no buffers")
    buf_start, n_buffers = r.vector(buffers_pos)
    meta_start, n_meta = r.vector(meta_pos)
    if n_meta > 10_000 or n_buffers > 10_000_000:
        raise ModelError("damaged .tflite: implausible metadata or buffer count")
    out: dict[str, tuple[int, int]] = {}
    for i in range(n_meta):
        table = r.indirect(meta_start + 4 * i)
        name_pos = r.field(table, _METADATA_NAME)
        name = ""
        if name_pos is not None:
            s = r.indirect(name_pos)
            n = r.u32(s)
            r._check(s + 4, n)
            name = buf[s + 4:s + 4 + n].decode("utf-8", errors="replace")
        bpos = r.field(table, _METADATA_BUFFER)
        index = r.u32(bpos) if bpos is not None else 0
        if index >= n_buffers:
            raise ModelError(f"damaged .tflite: metadata {name!r} points at buffer {index} of "
                             f"{n_buffers}")
        btable = r.indirect(buf_start + 4 * index)
        dpos = r.field(btable, _BUFFER_DATA)
        if dpos is not None:
            d0, dn = r.vector(dpos)
            r._check(d0, dn)
            out[name] = (d0, d0 + dn)
        else:
            # Large models keep buffers after the flatbuffer: (offset, size) from the file start.
            opos, spos = r.field(btable, _BUFFER_OFFSET), r.field(btable, _BUFFER_SIZE)
            if opos is None or spos is None:
                out[name] = (0, 0)
                continue
            off, size = r.u64(opos), r.u64(spos)
            r._check(off, size)
            out[name] = (off, off + size)
    return out


def read_metadata(model_bytes: bytes) -> dict[str, bytes]:
    """All named metadata buffers of a TFLite model."""
    buf = bytes(model_bytes)
    return {name: buf[a:b] for name, (a, b) in _metadata_spans(buf).items()}


def contract_span(model_bytes: bytes) -> tuple[int, int]:
    """(start, stop) of the embedded contract's JSON in the file."""
    spans = _metadata_spans(bytes(model_bytes))
    if CONTRACT_METADATA_NAME not in spans:
        names = ", ".join(sorted(spans)) or "none"
        raise ModelError(f"the model has no embedded ecg-edge contract (metadata "
                         f"{CONTRACT_METADATA_NAME!r} missing; metadata present: {names}). "
                         "Convert it with `python convert/quantize.py`.")
    return spans[CONTRACT_METADATA_NAME]


def read_contract(model_bytes: bytes) -> dict:
    """The embedded ecg-edge contract (a dict, without its integrity seal), after checking the
    file against the seal (:mod:`edge.model.seal`); :class:`ModelError` when the contract is
    missing or not JSON, or the file's content does not match its seal."""
    return read_sealed_contract(model_bytes)[0]


def read_sealed_contract(model_bytes: bytes) -> tuple[dict, Seal]:
    """(:func:`read_contract`'s contract, the file's verified :class:`~edge.model.seal.Seal`,
    false for a file without one); the seal's keys are not in the contract."""
    buf = bytes(model_bytes)
    start, stop = contract_span(buf)
    try:
        contract = json.loads(buf[start:stop].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"the embedded contract is not valid JSON: {exc}") from exc
    if not isinstance(contract, dict):
        raise ModelError("the embedded contract is not a JSON object")
    digest = verify_tflite(buf, (start, stop))
    contract.pop(TFLITE_SEAL_KEY, None)
    before = contract.pop(SEALED_FROM_KEY, "")
    return contract, Seal(digest, before if digest and isinstance(before, str) else "")
