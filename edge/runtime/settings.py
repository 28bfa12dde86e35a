"""Configuration of the edge daemon: a TOML file, command-line overrides, sensible defaults.

A configuration is a :class:`DaemonConfig` built from nested tables (every table and key is
optional; see ``deploy/ecg-edge.toml`` for a commented example)::

    [source]            kind = "serial" | "ble" | "replay", channel = 0
    [source.serial]     firmware_bridge.SerialConfig fields (port, baudrate, backoff_*...)
    [source.ble]        firmware_bridge.BleConfig fields (address, profile...)
    [source.replay]     firmware_bridge.ReplayConfig fields (record, speed, fs_hz...)
    [pipeline]          model, max_gap_fill_s, num_threads
    [quality]           edge.dsp.quality.QualityConfig fields (except fs_hz)
    [alerts]            edge.runtime.alerts.AlertConfig fields
    [outputs]           hr_interval_s, strip, strip_fs_hz, strip_interval_s, status_interval_s
    [daemon]            read_timeout_s, idle_exit_s
    [sinks.terminal]    enabled, color, beats
    [sinks.stdout]      enabled (JSON lines on stdout)
    [sinks.jsonl]       enabled, path, max_bytes, backups, fsync, types
    [sinks.wfdb]        enabled, out_dir, record_name, ext
    [sinks.mqtt]        enabled, host, port, topic_prefix, client_id, username, password,
                        password_file, keepalive_s, tls, tls_ca_file, tls_cert_file,
                        tls_key_file, protocol, max_queued, max_inflight, qos_stream,
                        presence_id, connect_timeout_s, drain_timeout_s, outbox_path,
                        outbox_max_bytes, outbox_synchronous (see docs/fleet.md)

Overrides are ``dotted.key=value`` strings (the value is parsed as a TOML value, falling back
to a plain string), applied on top of the file. Every error is a
:class:`~edge.errors.ConfigError` (or :class:`~edge.errors.ConfigFileError` for file problems
and unknown keys) whose ``field`` is the dotted key.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.dsp.quality import QualityConfig
from edge.errors import ConfigError, ConfigFileError, EdgeError
from edge.events.model import EVENT_TYPES
from edge.runtime.alerts import AlertConfig

__all__ = [
    "SourceSettings",
    "PipelineSettings",
    "OutputSettings",
    "DaemonSettings",
    "TerminalSinkSettings",
    "StdoutSinkSettings",
    "JsonlSinkSettings",
    "WfdbSinkSettings",
    "MqttSinkSettings",
    "SinkSettings",
    "DaemonConfig",
    "load_config",
    "config_from_dict",
    "apply_overrides",
    "read_toml",
]

logger = logging.getLogger(__name__)

SOURCE_KINDS = ("serial", "ble", "replay")


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """Which transport feeds the daemon, and which channel is classified.

    Attributes
    ----------
    kind : ``"serial"``, ``"ble"`` or ``"replay"``.
    channel : channel index classified on multi-channel devices.
    options : the transport's own settings (``firmware_bridge`` ``SerialConfig``,
        ``BleConfig`` or ``ReplayConfig`` fields), validated by that class.
    """

    kind: str = "serial"
    channel: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError("source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, "
                                             f"got {self.kind!r}")
        if not isinstance(self.channel, int) or self.channel < 0:
            raise ConfigError("source.channel", f"must be an integer >= 0, got {self.channel!r}")

    def transport_config(self) -> Any:
        """The firmware_bridge configuration object for :attr:`kind`.

        Raises
        ------
        ConfigError
            ``field`` is ``source.<kind>.<name>``.
        """
        import firmware_bridge as fb  # noqa: PLC0415 - keeps `ecg-edge check` light
        from firmware_bridge.errors import ConfigError as BridgeConfigError  # noqa: PLC0415

        cls = {"serial": fb.SerialConfig, "ble": fb.BleConfig}.get(self.kind)
        if cls is None:
            cls = fb.ReplayConfig
        opts = dict(self.options)
        section = f"source.{self.kind}"
        known = {f.name for f in dataclasses.fields(cls)}
        for key in opts:
            if key not in known:
                raise ConfigFileError(f"{section}.{key}",
                                      f"unknown key; known keys: {', '.join(sorted(known))}")
        if self.kind == "replay":
            if opts.get("channels") is not None:
                opts["channels"] = tuple(opts["channels"])
            if isinstance(opts.get("speed"), str) and opts["speed"].lower() == "max":
                opts["speed"] = None  # TOML has no null: speed = "max"
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        for name in required:
            if name not in opts:
                raise ConfigError(f"{section}.{name}", f"is required for a {self.kind} source")
        try:
            return cls(**opts)
        except BridgeConfigError as exc:
            name = getattr(exc, "field", None) or "?"
            raise ConfigError(f"{section}.{name}", str(exc).split(": ", 1)[-1]) from exc
        except TypeError as exc:
            raise ConfigError(section, str(exc)) from exc


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """Model and gap handling.

    Attributes
    ----------
    model : int8 .tflite path; ``None`` = the bundled model.
    max_gap_fill_s : link gaps up to this long (s) are filled with invalid samples and
        classification continues; longer gaps restart the pipeline at the new sample index.
    num_threads : interpreter threads.
    """

    model: str | None = None
    max_gap_fill_s: float = 3.0
    num_threads: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.max_gap_fill_s, (int, float)) and self.max_gap_fill_s >= 0):
            raise ConfigError("pipeline.max_gap_fill_s", f"must be >= 0 s, got "
                                                         f"{self.max_gap_fill_s!r}")
        if not isinstance(self.num_threads, int) or self.num_threads < 1:
            raise ConfigError("pipeline.num_threads", f"must be >= 1, got {self.num_threads!r}")

    def model_path(self) -> Path:
        """The model file to load."""
        if self.model:
            return Path(self.model).expanduser()
        from edge.model.bundled import default_model_path  # noqa: PLC0415

        return default_model_path()


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """Which derived events are produced, and how often.

    Attributes
    ----------
    hr_interval_s : heart-rate event period in stream time (s; 0 = off).
    strip : produce ECG strip events.
    strip_fs_hz : strip sample rate (Hz).
    strip_interval_s : strip piece length (s).
    status_interval_s : status event period in wall-clock time (s; 0 = only at exit).
    """

    hr_interval_s: float = 5.0
    strip: bool = True
    strip_fs_hz: float = 90.0
    strip_interval_s: float = 1.0
    status_interval_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("hr_interval_s", "status_interval_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0):
                raise ConfigError(f"outputs.{name}", f"must be >= 0 s, got {v!r}")
        if not 0 < self.strip_fs_hz <= 360:
            raise ConfigError("outputs.strip_fs_hz", f"must lie in (0, 360] Hz, "
                                                     f"got {self.strip_fs_hz!r}")
        if not self.strip_interval_s > 0:
            raise ConfigError("outputs.strip_interval_s", "must be > 0 s")


@dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    """Main-loop settings.

    Attributes
    ----------
    read_timeout_s : longest wait for samples per loop turn (s); bounds signal latency.
    idle_exit_s : stop after this long without samples once data has flowed (s; 0 = never).
    """

    read_timeout_s: float = 0.05
    idle_exit_s: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.read_timeout_s, (int, float)) and 0 < self.read_timeout_s <= 5):
            raise ConfigError("daemon.read_timeout_s", f"must lie in (0, 5] s, "
                                                       f"got {self.read_timeout_s!r}")
        if not (isinstance(self.idle_exit_s, (int, float)) and self.idle_exit_s >= 0):
            raise ConfigError("daemon.idle_exit_s", f"must be >= 0 s, got {self.idle_exit_s!r}")


@dataclass(frozen=True, kw_only=True)
class TerminalSinkSettings:
    """Human-readable terminal output: ``color`` is "auto", "always" or "never"; ``beats``
    prints one line per beat (else only rate, alerts and status)."""

    enabled: bool = True
    color: str = "auto"
    beats: bool = True

    def __post_init__(self) -> None:
        if self.color not in ("auto", "always", "never"):
            raise ConfigError("sinks.terminal.color", f"must be auto, always or never, "
                                                      f"got {self.color!r}")


@dataclass(frozen=True, kw_only=True)
class StdoutSinkSettings:
    """JSON lines on stdout."""

    enabled: bool = False


def _check_types(section: str, types: tuple[str, ...]) -> None:
    for t in types:
        if t not in EVENT_TYPES:
            raise ConfigError(f"{section}.types", f"unknown event type {t!r}; known: "
                                                  f"{', '.join(EVENT_TYPES)}")


@dataclass(frozen=True, kw_only=True)
class JsonlSinkSettings:
    """Rotating JSON-lines file.

    Attributes
    ----------
    path : file to append to.
    max_bytes : rotate when the file would exceed this size (bytes; 0 = never).
    backups : rotated files kept (``path.1`` ... ``path.N``).
    fsync : fsync on every flush (durable across power loss; slower on SD cards).
    types : event types written (empty = all).
    """

    enabled: bool = False
    path: str = "ecg-edge-events.jsonl"
    max_bytes: int = 50_000_000
    backups: int = 5
    fsync: bool = False
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.enabled and not self.path:
            raise ConfigError("sinks.jsonl.path", "must name a file")
        if not isinstance(self.max_bytes, int) or self.max_bytes < 0:
            raise ConfigError("sinks.jsonl.max_bytes", f"must be >= 0, got {self.max_bytes!r}")
        if not isinstance(self.backups, int) or self.backups < 0:
            raise ConfigError("sinks.jsonl.backups", f"must be >= 0, got {self.backups!r}")
        _check_types("sinks.jsonl", self.types)


@dataclass(frozen=True, kw_only=True)
class WfdbSinkSettings:
    """WFDB annotation file of the beats (``<out_dir>/<record_name>.<ext>``; with several
    devices the device id is appended to the record name)."""

    enabled: bool = False
    out_dir: str = "."
    record_name: str = "ecg-edge"
    ext: str = "cls"

    def __post_init__(self) -> None:
        if not isinstance(self.ext, str) or not self.ext.isalnum():
            raise ConfigError("sinks.wfdb.ext", f"must be alphanumeric, got {self.ext!r}")
        if not isinstance(self.record_name, str) or not self.record_name \
                or "/" in self.record_name:
            raise ConfigError("sinks.wfdb.record_name", "must be a plain file name")


@dataclass(frozen=True, kw_only=True)
class MqttSinkSettings:
    """MQTT publishing (topics ``<topic_prefix>/<device_id>/beats|alerts|hr|strip|status``)
    through a durable outbox; see ``docs/fleet.md``.

    Attributes
    ----------
    host, port : broker (TLS brokers usually listen on 8883).
    topic_prefix : first topic level (no ``#``, ``+`` or ``/``).
    client_id : MQTT client id ("" = generated).
    username : broker user; with the shipped ACL it is the device id, so the device may only
        publish under ``<topic_prefix>/<username>/``.
    password, password_file : the password, or a file holding it (first line; keep it
        ``0600``); not both.
    keepalive_s : MQTT keep-alive (s).
    tls : TLS with the system CA store; implied by ``tls_ca_file``.
    tls_ca_file : CA bundle (PEM) that signed the broker's certificate.
    tls_cert_file, tls_key_file : client certificate and key (PEM), both or neither.
    protocol : ``"5"`` (MQTT v5; Mosquitto >= 1.6, EMQX, HiveMQ, VerneMQ) or ``"3.1.1"``.
    max_queued : paho's in-memory queue limit.
    max_inflight : messages awaiting PUBACK at once (bounds duplicates after a crash).
    qos_stream : QoS of ``hr`` and ``strip`` messages (0 or 1).
    presence_id : topic level of the online/offline presence and last will ("" = username,
        else ``daemon``).
    connect_timeout_s : wait for the first connection at start-up (s).
    drain_timeout_s : at exit, wait this long for the outbox to drain (s).
    outbox_path : SQLite file of the store-and-forward queue ("" = in memory, lost on exit).
    outbox_max_bytes : bound on queued bytes; beyond it strips/hr are dropped first, then
        status, then the oldest beats/alerts (counted in status events).
    outbox_synchronous : ``"normal"`` (survives a crash) or ``"full"`` (survives power loss).
    """

    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    topic_prefix: str = "ecg"
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    keepalive_s: int = 30
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    protocol: str = "5"
    max_queued: int = 10000
    max_inflight: int = 32
    qos_stream: int = 1
    presence_id: str = ""
    connect_timeout_s: float = 5.0
    drain_timeout_s: float = 10.0
    outbox_path: str = ""
    outbox_max_bytes: int = 50_000_000
    outbox_synchronous: str = "normal"

    def __post_init__(self) -> None:
        def _int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def _num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        if self.protocol == 5 and not isinstance(self.protocol, bool):  # --set ...protocol=5
            object.__setattr__(self, "protocol", "5")
        for name in ("host", "topic_prefix", "client_id", "presence_id", "outbox_path",
                     "protocol", "outbox_synchronous"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"sinks.mqtt.{name}", f"must be a string, "
                                                        f"got {getattr(self, name)!r}")
        for name in ("username", "password", "password_file", "tls_ca_file", "tls_cert_file",
                     "tls_key_file"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise ConfigError(f"sinks.mqtt.{name}", f"must be a string, got {v!r}")
        for name in ("enabled", "tls"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"sinks.mqtt.{name}", "must be true or false")
        if not _int(self.port) or not 0 < self.port < 65536:
            raise ConfigError("sinks.mqtt.port", f"must be 1..65535, got {self.port!r}")
        if not self.host:
            raise ConfigError("sinks.mqtt.host", "must name the broker")
        if not self.topic_prefix or any(c in self.topic_prefix for c in "#+/"):
            raise ConfigError("sinks.mqtt.topic_prefix", "must be non-empty without #, + or /")
        if any(c in self.presence_id for c in "#+/"):
            raise ConfigError("sinks.mqtt.presence_id", "must not contain #, + or /")
        if not _int(self.keepalive_s) or self.keepalive_s < 1:
            raise ConfigError("sinks.mqtt.keepalive_s", "must be >= 1 s")
        if not _int(self.max_queued) or self.max_queued < 1:
            raise ConfigError("sinks.mqtt.max_queued", "must be >= 1")
        if not _int(self.max_inflight) or not 1 <= self.max_inflight <= 1000:
            raise ConfigError("sinks.mqtt.max_inflight", f"must be 1..1000, "
                                                         f"got {self.max_inflight!r}")
        if self.qos_stream not in (0, 1) or isinstance(self.qos_stream, bool):
            raise ConfigError("sinks.mqtt.qos_stream", f"must be 0 or 1, got {self.qos_stream!r}")
        if self.protocol not in ("5", "3.1.1"):
            raise ConfigError("sinks.mqtt.protocol", f"must be \"5\" or \"3.1.1\", "
                                                     f"got {self.protocol!r}")
        if self.password is not None and self.password_file is not None:
            raise ConfigError("sinks.mqtt.password_file", "give password or password_file, "
                                                          "not both")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError("sinks.mqtt.tls_key_file", "tls_cert_file and tls_key_file go "
                                                         "together")
        for name in ("connect_timeout_s", "drain_timeout_s"):
            v = getattr(self, name)
            if not _num(v) or not 0 <= v <= 3600:
                raise ConfigError(f"sinks.mqtt.{name}", f"must lie in [0, 3600] s, got {v!r}")
        if not _int(self.outbox_max_bytes) or self.outbox_max_bytes < 65536:
            raise ConfigError("sinks.mqtt.outbox_max_bytes", f"must be >= 65536 bytes, "
                                                             f"got {self.outbox_max_bytes!r}")
        if self.outbox_synchronous not in ("normal", "full"):
            raise ConfigError("sinks.mqtt.outbox_synchronous", "must be \"normal\" or "
                                                               "\"full\"")


@dataclass(frozen=True, kw_only=True)
class SinkSettings:
    """All sinks."""

    terminal: TerminalSinkSettings = field(default_factory=TerminalSinkSettings)
    stdout: StdoutSinkSettings = field(default_factory=StdoutSinkSettings)
    jsonl: JsonlSinkSettings = field(default_factory=JsonlSinkSettings)
    wfdb: WfdbSinkSettings = field(default_factory=WfdbSinkSettings)
    mqtt: MqttSinkSettings = field(default_factory=MqttSinkSettings)


@dataclass(frozen=True, kw_only=True)
class DaemonConfig:
    """The whole daemon configuration (see the module docstring)."""

    source: SourceSettings = field(default_factory=SourceSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    quality: dict[str, Any] = field(default_factory=dict)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    sinks: SinkSettings = field(default_factory=SinkSettings)

    def __post_init__(self) -> None:
        if "fs_hz" in self.quality:
            raise ConfigError("quality.fs_hz", "is the device's rate; it cannot be configured")
        self.quality_config(360.0)  # validates the fields

    def quality_config(self, fs_hz: float) -> QualityConfig:
        """The :class:`QualityConfig` for a device at ``fs_hz``."""
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in self.quality.items()}
        try:
            return QualityConfig(fs_hz=fs_hz, **kw)
        except ConfigError as exc:
            raise ConfigError(f"quality.{exc.field}", str(exc).split(": ", 1)[-1]) from exc
        except TypeError as exc:
            raise ConfigError("quality", str(exc)) from exc


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
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError("config", f"not valid TOML: {exc}", path=str(p)) from exc


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``dotted.key=value`` overrides applied.

    Raises
    ------
    ConfigFileError
        For an override without ``=`` or whose path runs through a non-table value.
    """
    import copy  # noqa: PLC0415

    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigFileError(item, "override must look like section.key=value")
        key, text = item.split("=", 1)
        parts = [p.strip() for p in key.strip().split(".") if p.strip()]
        if not parts:
            raise ConfigFileError(item, "override needs a key")
        node = out
        for i, p in enumerate(parts[:-1]):
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigFileError(".".join(parts[:i + 1]), "is a value, not a table")
            node = nxt
        node[parts[-1]] = _parse_value(text.strip())
    return out


def _take(table: Any, section: str, allowed: set[str]) -> dict[str, Any]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigFileError(section, f"must be a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            raise ConfigFileError(f"{section}.{key}" if section else key,
                                  f"unknown key; known keys: {', '.join(sorted(allowed))}")
    return dict(table)


def _build(cls: type, table: Any, section: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    kw = _take(table, section, set(names))
    for k, v in list(kw.items()):
        default = names[k].default
        if isinstance(v, list) and (isinstance(default, tuple) or names[k].default_factory
                                    is not dataclasses.MISSING or k == "types"):
            kw[k] = tuple(v)
        elif isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            kw[k] = float(v)
    try:
        return cls(**kw)
    except ConfigError as exc:
        if exc.field.startswith(section):
            raise
        raise ConfigError(f"{section}.{exc.field}", str(exc).split(": ", 1)[-1]) from exc
    except TypeError as exc:
        raise ConfigError(section, str(exc)) from exc


def config_from_dict(data: dict[str, Any]) -> DaemonConfig:
    """Build and validate a :class:`DaemonConfig` from nested tables."""
    top = _take(data, "", {"source", "pipeline", "quality", "alerts", "outputs", "daemon",
                           "sinks"})
    src = _take(top.get("source"), "source", {"kind", "channel", *SOURCE_KINDS})
    kind = src.get("kind", "serial")
    if kind not in SOURCE_KINDS:
        raise ConfigError("source.kind", f"must be one of {', '.join(SOURCE_KINDS)}, "
                                         f"got {kind!r}")
    options = src.get(kind) or {}
    if not isinstance(options, dict):
        raise ConfigFileError(f"source.{kind}", "must be a table")
    source = SourceSettings(kind=kind, channel=src.get("channel", 0), options=dict(options))
    sinks_t = _take(top.get("sinks"), "sinks", {"terminal", "stdout", "jsonl", "wfdb", "mqtt"})
    sinks = SinkSettings(
        terminal=_build(TerminalSinkSettings, sinks_t.get("terminal"), "sinks.terminal"),
        stdout=_build(StdoutSinkSettings, sinks_t.get("stdout"), "sinks.stdout"),
        jsonl=_build(JsonlSinkSettings, sinks_t.get("jsonl"), "sinks.jsonl"),
        wfdb=_build(WfdbSinkSettings, sinks_t.get("wfdb"), "sinks.wfdb"),
        mqtt=_build(MqttSinkSettings, sinks_t.get("mqtt"), "sinks.mqtt"))
    quality = _take(top.get("quality"), "quality",
                    {f.name for f in dataclasses.fields(QualityConfig)})
    config = DaemonConfig(
        source=source,
        pipeline=_build(PipelineSettings, top.get("pipeline"), "pipeline"),
        quality=quality,
        alerts=_build(AlertConfig, top.get("alerts"), "alerts"),
        outputs=_build(OutputSettings, top.get("outputs"), "outputs"),
        daemon=_build(DaemonSettings, top.get("daemon"), "daemon"),
        sinks=sinks)
    source.transport_config()  # validates the transport's own fields, last
    return config


def load_config(path: str | os.PathLike | None = None,
                overrides: list[str] | None = None) -> DaemonConfig:
    """Read ``path`` (optional), apply ``overrides`` and validate.

    Raises
    ------
    ConfigError
        ``field`` names the offending dotted key (:class:`ConfigFileError` for file problems).
    """
    data = read_toml(path) if path is not None else {}
    data = apply_overrides(data, list(overrides or []))
    try:
        return config_from_dict(data)
    except ConfigFileError as exc:
        if path is not None and exc.path is None:
            raise ConfigFileError(exc.field, str(exc).split(": ", 1)[-1], path=str(path)) \
                from exc
        raise
    except EdgeError:
        raise
    except (ValueError, TypeError) as exc:  # pragma: no cover - defensive
        raise ConfigError("config", str(exc)) from exc

