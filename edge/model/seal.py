"""Integrity seals of model files: the SHA-256 of a file's own content, stored inside it.

A byte changed on an SD card, in a download or in a copy leaves a model that still parses,
loads and answers, only wrongly: a flipped weight moves beat calls without any error. So every
model file ecg-edge writes carries its own digest, and every load checks it:

- ``.tflite``: the embedded contract (:data:`edge.model.tflite_meta.CONTRACT_METADATA_NAME`)
  holds ``"file_sha256": "<64 hex digits>"``, the SHA-256 of the whole file read with those
  64 digits as ``0``. Sealing writes the digest over the digits in place (same length, so no
  flatbuffer offset moves); the seal covers every byte: weights, quantization, graph, contract.
- rhythm tree models (JSON): ``"sha256"``, the SHA-256 of the document without that key, written
  as canonical JSON (sorted keys, ``,``/``:`` separators, ASCII).

A file without a seal (converted before seals existed) still loads; the loaders log that damage
to it cannot be detected. ``python convert/seal.py`` seals such files.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass

from edge.errors import ModelError

__all__ = ["Seal", "TFLITE_SEAL_KEY", "SEALED_FROM_KEY", "JSON_SEAL_KEY", "UNSEALED",
           "tflite_seal_placeholder", "seal_tflite", "verify_tflite", "seal_json", "verify_json",
           "warn_unsealed"]

logger = logging.getLogger(__name__)

TFLITE_SEAL_KEY = "file_sha256"
#: Contract key of a model sealed after it was made: the SHA-256 of the file before sealing.
SEALED_FROM_KEY = "sealed_from_sha256"
JSON_SEAL_KEY = "sha256"
#: What a verify function returns for a file that carries no seal.
UNSEALED = ""


@dataclass(frozen=True)
class Seal:
    """A ``.tflite``'s verified seal: ``sha256`` (``""``: the file has none) and, for a file
    sealed after it was made (``convert/seal.py``), the digest it had before."""

    sha256: str = UNSEALED
    sealed_from_sha256: str = ""

    def __bool__(self) -> bool:
        return bool(self.sha256)
_HEX64 = re.compile(rb'"file_sha256"\s*:\s*"([0-9a-f]{64})"')
# a key of file_sha256's length holding 64 hex digits: the seal with a byte of its name changed
_NEAR_KEY = re.compile(rb'"[^"]{11}"\s*:\s*"[0-9a-f]{64}"')
_DAMAGED = ("the file is damaged: its content no longer matches the SHA-256 sealed in it "
            "(content {got}..., seal {want}...); copy the model again from its source")


def tflite_seal_placeholder() -> str:
    """The value a contract's ``file_sha256`` holds before :func:`seal_tflite` fills it in."""
    return "0" * 64


def _seal_digits(model_bytes: bytes, contract_span: tuple[int, int]) -> tuple[int, str] | None:
    """(file offset of the 64 digits, their text) inside the contract, or None when unsealed."""
    start, stop = contract_span
    found = list(_HEX64.finditer(model_bytes, start, stop))
    if not found:
        if b'"file_sha256"' in model_bytes[start:stop]:
            raise ModelError("damaged .tflite: the contract's file_sha256 is not 64 lowercase "
                             "hex digits")
        if _NEAR_KEY.search(model_bytes, start, stop):
            raise ModelError("damaged .tflite: the contract holds a SHA-256 under a damaged "
                             "key (a changed byte in 'file_sha256')")
        return None
    if len(found) > 1:
        raise ModelError("damaged .tflite: the contract holds file_sha256 twice")
    return found[0].start(1), found[0].group(1).decode("ascii")


def _digest_without(model_bytes: bytes, offset: int) -> str:
    blank = bytearray(model_bytes)
    blank[offset:offset + 64] = b"0" * 64
    return hashlib.sha256(blank).hexdigest()


def seal_tflite(model_bytes: bytes, contract_span: tuple[int, int]) -> bytes:
    """The model with its contract's ``file_sha256`` set to the file's digest (the contract,
    at ``contract_span`` = :func:`edge.model.tflite_meta.contract_span`, must already hold the
    key: :func:`tflite_seal_placeholder` or an earlier seal)."""
    buf = bytes(model_bytes)
    where = _seal_digits(buf, contract_span)
    if where is None:
        raise ModelError("cannot seal: the embedded contract has no file_sha256 field (embed "
                         "the contract with convert/quantize.embed_contract)")
    offset, _ = where
    out = bytearray(buf)
    out[offset:offset + 64] = _digest_without(buf, offset).encode("ascii")
    return bytes(out)


def verify_tflite(model_bytes: bytes, contract_span: tuple[int, int]) -> str:
    """The sealed digest after checking it (:data:`UNSEALED` when the file has no seal);
    :class:`~edge.errors.ModelError` when the file's content does not match it."""
    where = _seal_digits(model_bytes, contract_span)
    if where is None:
        return UNSEALED
    offset, want = where
    got = _digest_without(model_bytes, offset)
    if got != want:
        raise ModelError(_DAMAGED.format(got=got[:12], want=want[:12]))
    return want


def _canonical_digest(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != JSON_SEAL_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def seal_json(doc: dict) -> dict:
    """A copy of the model document with its ``sha256`` seal (replacing an earlier one)."""
    return {**{k: v for k, v in doc.items() if k != JSON_SEAL_KEY},
            JSON_SEAL_KEY: _canonical_digest(doc)}


def verify_json(doc: dict) -> str:
    """The sealed digest after checking it (:data:`UNSEALED` when the document has none);
    :class:`~edge.errors.ModelError` when the content does not match it."""
    if JSON_SEAL_KEY not in doc:
        if any(isinstance(k, str) and len(k) == len(JSON_SEAL_KEY) and isinstance(v, str)
               and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in doc.items()):
            raise ModelError("damaged model file: it holds a SHA-256 under a damaged key (a "
                             "changed byte in 'sha256')")
        return UNSEALED
    want = doc[JSON_SEAL_KEY]
    if not (isinstance(want, str) and re.fullmatch(r"[0-9a-f]{64}", want)):
        raise ModelError("damaged model file: its sha256 seal is not 64 lowercase hex digits")
    try:
        got = _canonical_digest(doc)
    except ValueError:  # NaN or infinity: json.loads reads them, a sealed file never holds them
        raise ModelError("damaged model file: it holds a non-finite number its seal does not "
                         "cover") from None
    if got != want:
        raise ModelError(_DAMAGED.format(got=got[:12], want=want[:12]))
    return want


_warned: set[str] = set()


def warn_unsealed(path: str) -> None:
    """Log (once per file per process) that a model file carries no seal."""
    if path in _warned:
        return
    _warned.add(path)
    logger.warning("%s has no integrity seal, so damage to it cannot be detected; seal it with "
                   "`python convert/seal.py %s`", path, path)
