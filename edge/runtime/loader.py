"""Build what the daemon runs from its settings: the sample source, the sinks and the model."""
from __future__ import annotations

from edge.runtime.settings import DaemonConfig
from edge.sinks import EventSink
from firmware_bridge.sources import SampleSource

__all__ = ["build_source", "build_sinks"]


def build_source(config: DaemonConfig) -> SampleSource:
    """The :class:`SampleSource` the configuration asks for (not opened)."""
    kind = config.source.kind
    tcfg = config.source.transport_config()
    if kind == "serial":
        from firmware_bridge.serial_source import SerialSource  # noqa: PLC0415

        return SerialSource(tcfg)
    if kind == "ble":
        from firmware_bridge.ble import BleSource  # noqa: PLC0415

        return BleSource(tcfg)
    from firmware_bridge.replay_source import ReplaySource  # noqa: PLC0415

    return ReplaySource(tcfg)


def build_sinks(config: DaemonConfig, *, stdout=None) -> list[EventSink]:  # noqa: ANN001
    """The sinks enabled in ``config.sinks`` (``stdout``: text stream for the terminal and
    JSON-lines sinks, default ``sys.stdout``).

    Raises
    ------
    SinkError
        When a sink cannot be opened (file not writable, paho-mqtt missing).
    """
    from edge.sinks import (  # noqa: PLC0415
        JsonLinesSink,
        MqttSink,
        RotatingJsonlSink,
        TerminalSink,
        WfdbAnnotationSink,
    )

    s = config.sinks
    out: list[EventSink] = []
    if s.terminal.enabled:
        out.append(TerminalSink(stdout, color=s.terminal.color, beats=s.terminal.beats))
    if s.stdout.enabled:
        out.append(JsonLinesSink(stdout))
    if s.jsonl.enabled:
        out.append(RotatingJsonlSink(s.jsonl.path, max_bytes=s.jsonl.max_bytes,
                                     backups=s.jsonl.backups, fsync=s.jsonl.fsync,
                                     types=s.jsonl.types))
    if s.wfdb.enabled:
        out.append(WfdbAnnotationSink(s.wfdb.out_dir, s.wfdb.record_name, ext=s.wfdb.ext))
    if s.mqtt.enabled:
        out.append(MqttSink.from_settings(s.mqtt))
    return out
