"""Load a :class:`~edge.runtime.settings.config.DaemonConfig`: a TOML file, then ``--set``
overrides (``dotted.key=VALUE``, the value parsed as a TOML value), then typed options (the
command line's own flags, as Python values), validated once.

Every error is a :class:`~edge.errors.ConfigError` (:class:`~edge.errors.ConfigFileError` for
file problems and unknown keys) whose ``field`` is the dotted key and ``rule`` the rule.
"""
from __future__ import annotations

import copy
import logging
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edge.errors import ConfigError, ConfigFileError
from edge.runtime.alerts import AlertConfig
from edge.runtime.fallback import AlarmFallbackSettings
from edge.runtime.settings.config import (
    PRESETS,
    SOURCE_KINDS,
    DaemonConfig,
    DaemonSettings,
    OutputSettings,
    PipelineSettings,
    QualitySettings,
    RhythmSettings,
    SinkSettings,
    SourceSettings,
    transport_class,
)
from edge.runtime.settings.typed import build, check_keys, convert, rekey, table_of
from edge.sinks.jsonl import JsonlSinkSettings, StdoutSinkSettings
from edge.sinks.mqtt import MqttSinkSettings
from edge.sinks.terminal import TerminalSinkSettings
from edge.sinks.wfdb import WfdbSinkSettings

__all__ = ["load_config", "config_from_dict", "apply_overrides", "apply_options",
           "read_toml", "parse_value"]

logger = logging.getLogger(__name__)

#: ``[section]`` -> settings class, for the tables built straight from their keys.
_SECTIONS: dict[str, type] = {
    "pipeline": PipelineSettings,
    "quality": QualitySettings,
    "alerts": AlertConfig,
    "outputs": OutputSettings,
    "daemon": DaemonSettings,
    "rhythm": RhythmSettings,
    "alarm_fallback": AlarmFallbackSettings,
}
#: ``[sinks.<name>]`` -> settings class (declared next to each sink).
_SINKS: dict[str, type] = {
    "terminal": TerminalSinkSettings,
    "stdout": StdoutSinkSettings,
    "jsonl": JsonlSinkSettings,
    "wfdb": WfdbSinkSettings,
    "mqtt": MqttSinkSettings,
}


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file.

    Raises
    ------
    ConfigFileError
        When the file is missing, unreadable or not valid TOML.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigFileError("config", "file not found", path=str(p)) from None
    except OSError as exc:
        raise ConfigFileError("config", f"cannot read: {exc}", path=str(p)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError("config", f"not valid TOML: {exc}", path=str(p)) from exc


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``3``, ``true``, ``"x"``, ``[1, 2]``), else the text as
    a string (``--set sinks.jsonl.path=/tmp/e.jsonl``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = [p.strip() for p in key.strip().split(".")]
    if not key.strip() or not all(parts):
        raise ConfigFileError(key, "needs a dotted key such as section.key")
    node = data
    for i, p in enumerate(parts[:-1]):
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigFileError(".".join(parts[:i + 1]), "is a value, not a table")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with ``dotted.key=VALUE`` overrides applied (VALUE parsed by
    :func:`parse_value`).

    Raises
    ------
    ConfigFileError
        For an override without ``=`` or whose path runs through a non-table value.
    """
    out = copy.deepcopy(dict(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigFileError(item, "override must look like section.key=value")
        key, text = item.split("=", 1)
        _set_dotted(out, key, parse_value(text.strip()))
    return out


def apply_options(data: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with typed values set at dotted keys (``{"source.channel": 1}``);
    ``None`` is a value here (``{"source.replay.speed": None}``: as fast as possible).

    Raises
    ------
    ConfigFileError
        For a key whose path runs through a non-table value.
    """
    out = copy.deepcopy(dict(data))
    for key, value in options.items():
        _set_dotted(out, key, value)
    return out


def _source(table: Any) -> SourceSettings:
    src = table_of(table, "source")
    check_keys(src, "source", {"kind", "channel", *SOURCE_KINDS})
    kind = convert(src.get("kind", "serial"), str, "source.kind")
    if kind not in SOURCE_KINDS:
        raise ConfigError("source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, "
                                         f"got {kind!r}")
    channel = src.get("channel")
    channel = None if channel is None else convert(channel, int, "source.channel")
    section = f"source.{kind}"
    options = table_of(src.get(kind), section)
    if kind == "replay" and isinstance(options.get("speed"), str) \
            and options["speed"].lower() == "max":
        options["speed"] = None  # TOML has no null: speed = "max"
    transport = build(transport_class(kind), options, section)
    try:
        return SourceSettings(kind=kind, channel=channel, transport=transport)
    except ConfigError as exc:
        raise rekey(exc, "source") from exc


def _with_preset(top: dict[str, Any]) -> dict[str, Any]:
    """``top`` with the ``[rhythm] preset``'s defaults filled in where the tables leave the
    key unset (:data:`~edge.runtime.settings.config.PRESETS`; an unknown preset is left for
    :class:`RhythmSettings` to refuse)."""
    rhythm = top.get("rhythm")
    if not isinstance(rhythm, Mapping) or rhythm.get("preset") not in PRESETS:
        return top
    rhythm = dict(rhythm)
    for (table, key), value in PRESETS[rhythm["preset"]].items():
        sub = rhythm.get(table, {})
        if not isinstance(sub, Mapping):
            continue  # not a table: build() says so
        if key not in sub:
            rhythm[table] = {**sub, key: value}
    return {**top, "rhythm": rhythm}


def config_from_dict(data: Mapping[str, Any]) -> DaemonConfig:
    """Build and validate a :class:`DaemonConfig` from nested tables (TOML, or Python values).

    Raises
    ------
    ConfigError
        ``field`` is the dotted key (:class:`ConfigFileError` for an unknown key).
    """
    top = _with_preset(table_of(data, ""))
    check_keys(top, "", {"source", *_SECTIONS, "sinks"})
    sinks_t = table_of(top.get("sinks"), "sinks")
    check_keys(sinks_t, "sinks", _SINKS)
    sections = {name: build(cls, top.get(name), name) for name, cls in _SECTIONS.items()}
    sinks = SinkSettings(**{name: build(cls, sinks_t.get(name), f"sinks.{name}")
                            for name, cls in _SINKS.items()})
    return DaemonConfig(source=_source(top.get("source")), sinks=sinks, **sections)


def load_config(path: str | os.PathLike | None = None,
                overrides: Iterable[str] | None = None,
                options: Mapping[str, Any] | None = None) -> DaemonConfig:
    """Read ``path`` (optional), apply ``overrides`` (``--set`` strings), then ``options``
    (typed values at dotted keys), and validate.

    Raises
    ------
    ConfigError
        ``field`` names the offending dotted key, ``rule`` the rule
        (:class:`ConfigFileError` for file problems and unknown keys, with ``path``).
    """
    from_file = read_toml(path) if path is not None else {}
    data = apply_options(apply_overrides(from_file, overrides or ()), options or {})
    try:
        return config_from_dict(data)
    except ConfigFileError as exc:
        if exc.path is not None:
            raise
        if path is not None and _holds(from_file, exc.field):
            raise ConfigFileError(exc.field, exc.rule, path=str(path)) from exc
        if overrides:  # not the file's key: a --set one
            raise ConfigFileError(exc.field, f"{exc.rule} (from --set)") from exc
        raise


def _holds(data: Mapping[str, Any], dotted: str) -> bool:
    """The nested tables ``data`` hold the dotted key (an unknown key is blamed on the file
    only when it is there)."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
