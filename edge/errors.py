"""Exceptions raised by the :mod:`edge` package.

The tree::

    EdgeError                      every error this package raises on purpose
    ├── ConfigError(ValueError)    a configuration field breaks a stated rule (``field`` names it,
    │                              ``rule`` states it)
    │   └── ConfigFileError        a configuration file is unreadable, not TOML, or has an unknown
    │                              key (``path``, ``field``)
    ├── SignalError(ValueError)    input samples the stage cannot accept (shape, dtype, rate)
    ├── DataError                  a record or data directory is missing, damaged or unreadable
    │   └── DataNotFoundError      the data directory or record does not exist (``path``)
    ├── ModelError                 a model file is damaged or breaks the preprocessing contract
    │   ├── ContractError          the model's contract disagrees with the pipeline (``field``)
    │   └── AdaptedModelError      an adapted (per-wearer) file is damaged or belongs to another
    │                              base model (``path``)
    ├── AdaptError(ValueError)     patient adaptation cannot fit from the given recording/labels
    │                              (no labelled beats, fewer than the minimum...)
    ├── SinkError                  an event sink cannot write or connect (``sink`` names it)
    │   └── OutboxError            the MQTT store-and-forward queue (SQLite) cannot be opened,
    │                              written or read (``path``)
    ├── EventDecodeError(ValueError)  a JSON event breaks the event schema (``field``)
    ├── StoreError                 the event store (SQLite / PostgreSQL) cannot be opened,
    │   │                          upgraded, written or read (``url`` without its password)
    │   └── SchemaVersionError     the database was written by a newer ecg-edge (``found``,
    │                              ``supported``)
    └── DaemonError                the edge daemon cannot start or keep running (e.g. its source
                                   cannot be opened)
"""
from __future__ import annotations

__all__ = [
    "EdgeError",
    "ConfigError",
    "SignalError",
    "DataError",
    "DataNotFoundError",
    "ModelError",
    "ContractError",
    "AdaptedModelError",
    "AdaptError",
    "ConfigFileError",
    "SinkError",
    "OutboxError",
    "EventDecodeError",
    "StoreError",
    "SchemaVersionError",
    "DaemonError",
]


class EdgeError(Exception):
    """Base class of every error raised on purpose by :mod:`edge`."""


class ConfigError(EdgeError, ValueError):
    """A configuration value breaks a rule; ``field`` names the offending field, ``rule`` is the
    message without it (so a caller can re-key the error without parsing its text)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = message


class SignalError(EdgeError, ValueError):
    """Samples a stage cannot accept (wrong shape, dtype or sample rate)."""


class DataError(EdgeError):
    """A record or data directory is damaged or unreadable."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data directory or the record does not exist; ``path`` is where we looked."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ModelError(EdgeError):
    """A model file is damaged, of the wrong kind, or unusable; ``path`` names the file when
    known (the message then starts with it), ``reason`` is the message without it."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


class ContractError(ModelError):
    """The model's embedded preprocessing contract disagrees with the pipeline."""

    def __init__(self, field: str, message: str, path: str | None = None) -> None:
        super().__init__(f"model contract field {field!r}: {message}", path)
        self.field = field
        self.rule = message


class AdaptedModelError(ModelError):
    """An adapted (per-wearer) model file is unreadable, damaged, or was made for another base
    model; ``path`` is the file."""

class AdaptError(EdgeError, ValueError):
    """Patient adaptation cannot fit a head from the given recording and labels (no labelled
    beats in the adaptation window, no class with enough beats...)."""


class ConfigFileError(ConfigError):
    """A configuration file cannot be read, is not valid TOML, or holds an unknown key.

    ``path`` is the file (``None`` for command-line overrides); ``field`` the dotted key.
    """

    def __init__(self, field: str, message: str, path: str | None = None) -> None:
        super().__init__(field, message if path is None else f"{message} (in {path})")
        self.rule = message
        self.path = path


class SinkError(EdgeError):
    """An event sink cannot write, rotate or connect; ``sink`` names the sink."""

    def __init__(self, sink: str, message: str) -> None:
        super().__init__(f"sink {sink}: {message}")
        self.sink = sink


class OutboxError(SinkError):
    """The durable MQTT outbox cannot be opened, written or read; ``path`` is its file."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__("outbox", message if path is None else f"{message} ({path})")
        self.path = path


class EventDecodeError(EdgeError, ValueError):
    """A JSON event cannot be decoded: not JSON, not an object, or a field breaks the event
    schema; ``field`` names the offending field (``"$"`` for the whole document)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"event field {field!r}: {message}")
        self.field = field


class StoreError(EdgeError):
    """The event store cannot be opened, upgraded, written or read; ``url`` names the database
    (its password masked)."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(f"{url}: {message}" if url else message)
        self.url = url
        self.reason = message


class SchemaVersionError(StoreError):
    """The database's schema is newer than this ecg-edge understands (``found`` >
    ``supported``): upgrade ecg-edge, never downgrade the database."""

    def __init__(self, found: int, supported: int, url: str | None = None) -> None:
        super().__init__(f"schema version {found} is newer than this ecg-edge supports "
                         f"({supported}); upgrade ecg-edge", url)
        self.found = found
        self.supported = supported


class DaemonError(EdgeError):
    """The edge daemon cannot start or keep running (source unavailable, no sink...)."""
