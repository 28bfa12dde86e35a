"""Build a frozen settings dataclass from a TOML table, checking every value against the type
of its field.

TOML (and ``--set KEY=VALUE``) gives booleans, integers, floats, strings, arrays and tables;
:func:`build` accepts a value only when it fits the field's annotation, so a configuration
error names the key and the rule instead of surfacing as a Python error later:

=======================  ============================================================
field type               accepted value
=======================  ============================================================
``bool``                 ``true`` / ``false`` only (``"false"``, a string, is refused)
``int``                  an integer (not ``2.7``, not ``true``)
``float``                an integer or a float (stored as ``float``)
``str``                  a string
``tuple[T, ...]``        an array of ``T`` (``tuple[T, T]``: exactly two)
``X | None``             an ``X`` (``None`` only from Python, TOML has no null)
an ``Enum``              a member's name, any case (``"int16"``)
a dataclass              a table, built with :func:`build` (unknown keys refused)
=======================  ============================================================

Errors are :class:`~edge.errors.ConfigError` (unknown keys: :class:`~edge.errors.ConfigFileError`)
whose ``field`` is the dotted key, e.g. ``alerts.pause_s: expected a number, got 'long'``.
A rule broken in the class's own ``__post_init__`` is re-keyed under the table's name.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
import types
import typing
from collections.abc import Mapping
from typing import Any

from edge.errors import ConfigError, ConfigFileError

__all__ = ["build", "convert", "rekey", "table_of", "check_keys"]

logger = logging.getLogger(__name__)


def _describe(tp: Any) -> str:
    """The type ``tp`` in words, for an error message."""
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.name.lower()) for m in tp)
    if dataclasses.is_dataclass(tp):
        return "a table"
    if typing.get_origin(tp) is tuple:
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _fail(key: str, tp: Any, value: Any) -> ConfigError:
    hint = ""
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        hint = f' (quote it: "{value}")'
    return ConfigError(key, f"expected {_describe(tp)}, got {value!r}{hint}")


def convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` as the field type ``tp`` (see the module table).

    Raises
    ------
    ConfigError
        ``field`` is ``key`` (``key[i]`` for an array element) when ``value`` does not fit.
    """
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(tp)):
            return None
        first: ConfigError | None = None
        for option in options:
            try:
                return convert(value, option, key)
            except ConfigError as exc:
                first = first or exc
        raise first if first is not None else _fail(key, tp, value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _fail(key, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _fail(key, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _fail(key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _fail(key, tp, value)
    if origin is tuple:
        return _convert_tuple(value, tp, key)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str) and value.upper() in tp.__members__:
            return tp[value.upper()]
        raise _fail(key, tp, value)
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else build(tp, value, key)
    return value  # dict, list, ... : no rule to check here


def _convert_tuple(value: Any, tp: Any, key: str) -> tuple:
    args = typing.get_args(tp)
    if not isinstance(value, (list, tuple)):
        raise _fail(key, tp, value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(key, f"expected a list of {len(args)} values, got {list(value)!r}")
    return tuple(convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))


def rekey(exc: Exception, section: str) -> ConfigError:
    """A :class:`ConfigError` raised by a settings class (``field`` relative to its table, or
    any object with ``field`` and a ``rule`` -- or a message -- such as
    :class:`firmware_bridge.errors.ConfigError`) keyed under ``section``."""
    field = getattr(exc, "field", None) or ""
    rule = getattr(exc, "rule", None)
    if rule is None:  # an error class without a ``rule`` attribute: its text is "field: rule"
        rule = str(exc).removeprefix(f"{field}: ")
    key = field if not section or field == section or field.startswith(section + ".") \
        else f"{section}.{field}" if field else section
    return ConfigError(key, rule)


def table_of(value: Any, section: str) -> dict[str, Any]:
    """``value`` as a TOML table (``None`` = empty).

    Raises
    ------
    ConfigFileError
        When ``value`` is not a table.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigFileError(section, f"must be a table, got {type(value).__name__}")
    return dict(value)


def check_keys(table: Mapping[str, Any], section: str, allowed: typing.Iterable[str]) -> None:
    """Refuse a key of ``table`` that is not in ``allowed``.

    Raises
    ------
    ConfigFileError
        ``field`` is the unknown dotted key; the message lists the known ones.
    """
    allowed = set(allowed)
    for key in table:
        if key not in allowed:
            raise ConfigFileError(f"{section}.{key}" if section else key,
                                  f"unknown key; known keys: {', '.join(sorted(allowed))}")


def build(cls: type, table: Any, section: str, **fixed: Any) -> Any:
    """An instance of the dataclass ``cls`` from the TOML table at ``section``.

    Parameters
    ----------
    cls : a dataclass (frozen, usually kw_only) with annotated fields.
    table : the table (``None`` = empty: all defaults).
    section : its dotted key, prefixed to every error's field.
    fixed : fields that do not come from the table (not configurable there).

    Raises
    ------
    ConfigError
        A value does not fit its field's type, a required field is missing, or the class's
        own validation refuses it; ``field`` is the dotted key.
    ConfigFileError
        ``table`` is not a table or holds an unknown key.
    """
    kw_table = table_of(table, section)
    names = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in fixed}
    check_keys(kw_table, section, names)
    hints = typing.get_type_hints(cls)
    kw = {k: convert(v, hints[k], f"{section}.{k}") for k, v in kw_table.items()}
    for name, f in names.items():
        if name not in kw and f.default is dataclasses.MISSING \
                and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{section}.{name}", "is required")
    try:
        return cls(**kw, **fixed)
    except ConfigError as exc:
        raise rekey(exc, section) from exc
    except ValueError as exc:  # another package's ConfigError (firmware_bridge): field + text
        if getattr(exc, "field", None) is None:
            raise ConfigError(section, str(exc)) from exc
        raise rekey(exc, section) from exc
