"""Exceptions raised by the :mod:`edge` package.

The tree::

    EdgeError                      every error this package raises on purpose
    ├── ConfigError(ValueError)    a configuration field breaks a stated rule (``field`` names it)
    ├── SignalError(ValueError)    input samples the stage cannot accept (shape, dtype, rate)
    ├── DataError                  a record or data directory is missing, damaged or unreadable
    │   └── DataNotFoundError      the data directory or record does not exist (``path``)
    └── ModelError                 a model file is damaged or breaks the preprocessing contract
        └── ContractError          the model's contract disagrees with the pipeline (``field``)
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
]


class EdgeError(Exception):
    """Base class of every error raised on purpose by :mod:`edge`."""


class ConfigError(EdgeError, ValueError):
    """A configuration value breaks a rule; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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
    """A model file is damaged, of the wrong kind, or unusable."""


class ContractError(ModelError):
    """The model's embedded preprocessing contract disagrees with the pipeline."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"model contract field {field!r}: {message}")
        self.field = field
