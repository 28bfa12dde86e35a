"""Build what the daemon runs from its settings: the sample source and the sinks."""
from __future__ import annotations

import logging
from typing import IO

from edge.runtime.settings import DaemonConfig
from edge.sinks import EventSink
from firmware_bridge.sources import SampleSource

__all__ = ["build_source", "build_sinks"]

logger = logging.getLogger(__name__)


def build_source(config: DaemonConfig) -> SampleSource:
    """The :class:`SampleSource` the configuration asks for (not opened)."""
    kind = config.source.kind
    transport = config.source.transport
    if kind == "serial":
        from firmware_bridge.serial_source import SerialSource  # noqa: PLC0415

        return SerialSource(transport)
    if kind == "ble":
        from firmware_bridge.ble import BleSource  # noqa: PLC0415

        return BleSource(transport)
    from firmware_bridge.replay_source import ReplaySource  # noqa: PLC0415

    return ReplaySource(transport)


def build_sinks(config: DaemonConfig, *, stdout: IO[str] | None = None) -> list[EventSink]:
    """The sinks enabled in ``config.sinks``, in table order (terminal, stdout, jsonl, wfdb,
    mqtt).

    Parameters
    ----------
    config : the daemon configuration.
    stdout : text stream of the terminal and JSON-lines sinks (default ``sys.stdout``).

    Raises
    ------
    SinkError
        When a sink cannot be opened (file not writable, paho-mqtt missing). The sinks opened
        before it are closed.
    """
    from edge.sinks import (  # noqa: PLC0415
        JsonLinesSink,
        MqttSink,
        RotatingJsonlSink,
        TerminalSink,
        WfdbAnnotationSink,
    )

    s = config.sinks
    openers = {
        "terminal": lambda: TerminalSink(stdout, color=s.terminal.color, beats=s.terminal.beats),
        "stdout": lambda: JsonLinesSink(stdout),
        "jsonl": lambda: RotatingJsonlSink(s.jsonl.path, max_bytes=s.jsonl.max_bytes,
                                           backups=s.jsonl.backups, fsync=s.jsonl.fsync,
                                           types=s.jsonl.types),
        "wfdb": lambda: WfdbAnnotationSink(s.wfdb.out_dir, s.wfdb.record_name, ext=s.wfdb.ext),
        "mqtt": lambda: MqttSink(s.mqtt),
    }
    out: list[EventSink] = []
    try:
        for name in s.enabled():
            out.append(openers[name]())
    except Exception:
        for sink in out:
            sink.close()
        raise
    mqtt = next((x for x in out if isinstance(x, MqttSink)), None)
    if mqtt is not None:  # one run, one boot: its file and its MQTT payloads de-duplicate
        for sink in out:
            if isinstance(sink, RotatingJsonlSink):
                sink.boot = mqtt.boot
    return out
