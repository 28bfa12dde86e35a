"""Exceptions raised by the :mod:`firmware_bridge` package.

The tree::

    FirmwareBridgeError                 every error this package raises on purpose
    ├── ConfigError(ValueError)         a configuration field breaks a rule (``field`` names it)
    ├── ProtocolError(ValueError)       bytes or samples that break the wire protocol
    │   ├── EncodeError                 samples/metadata the encoder cannot put in a frame
    │   ├── DecoderInputError(TypeError)  ``FrameDecoder.process`` got something not bytes
    │   └── PmdError                    a Polar PMD payload is malformed (``payload_len``)
    │       └── PmdControlError         the PMD control point answered with an error (``code``)
    ├── SourceError                     a sample source cannot deliver
    │   ├── LinkError                   the link cannot be opened / is lost for good (``port``)
    │   ├── SourceClosedError           ``read`` on a source that was closed
    │   └── BleUnavailableError         ``bleak`` is not installed or no BLE adapter is usable
    └── ReplayError                     the simulated device cannot start (record, pty, port)
        └── RecordNotFoundError         no data directory or no such record (``path``, ``database``)

The frame decoder never raises while decoding: damaged input is counted and skipped
(:class:`firmware_bridge.decoder.DecoderStats`). The only error it raises is
:class:`DecoderInputError` for an argument that is not a bytes-like object.
"""
from __future__ import annotations

__all__ = [
    "FirmwareBridgeError",
    "ConfigError",
    "ProtocolError",
    "EncodeError",
    "DecoderInputError",
    "PmdError",
    "PmdControlError",
    "SourceError",
    "LinkError",
    "SourceClosedError",
    "BleUnavailableError",
    "ReplayError",
    "RecordNotFoundError",
]


class FirmwareBridgeError(Exception):
    """Base class of every error raised on purpose by :mod:`firmware_bridge`."""


class ConfigError(FirmwareBridgeError, ValueError):
    """A configuration value breaks a rule; ``field`` names the offending field, ``rule`` the
    rule it breaks (the message without the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = message


class ProtocolError(FirmwareBridgeError, ValueError):
    """Bytes or samples that break the wire protocol."""


class EncodeError(ProtocolError):
    """Samples or metadata that cannot be encoded into a frame (``field`` names which)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DecoderInputError(ProtocolError, TypeError):
    """:meth:`FrameDecoder.process` was given something that is not bytes-like."""


class PmdError(ProtocolError):
    """A Polar PMD notification is malformed; ``payload_len`` is its length in bytes."""

    def __init__(self, message: str, payload_len: int | None = None) -> None:
        super().__init__(message)
        self.payload_len = payload_len


class PmdControlError(PmdError):
    """The PMD control point answered a command with a non-zero error ``code``."""

    def __init__(self, message: str, code: int, payload_len: int | None = None) -> None:
        super().__init__(message, payload_len)
        self.code = code


class SourceError(FirmwareBridgeError):
    """A sample source cannot deliver samples."""


class LinkError(SourceError):
    """The link cannot be opened, or was lost and reconnection gave up; ``port`` says which."""

    def __init__(self, message: str, port: str | None = None) -> None:
        super().__init__(message)
        self.port = port


class SourceClosedError(SourceError):
    """``read`` was called on a source after ``close``."""


class BleUnavailableError(SourceError):
    """``bleak`` is not installed, or no Bluetooth adapter can be used."""


class ReplayError(FirmwareBridgeError):
    """The simulated device cannot start (record not found, pty or port not openable)."""


class RecordNotFoundError(ReplayError):
    """The data directory of ``database`` or the record does not exist (or the directory holds
    no WFDB header); ``path`` is where it was looked for, ``missing`` says which:
    ``"data_dir"`` or ``"record"``."""

    def __init__(self, message: str, *, path: str, database: str, missing: str) -> None:
        super().__init__(message)
        self.path = path
        self.database = database
        self.missing = missing
