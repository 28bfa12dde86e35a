"""Where events go: the :class:`EventSink` seam (:mod:`~edge.sinks.base`) and one module per
output -- :mod:`~edge.sinks.terminal`, :mod:`~edge.sinks.jsonl` (stdout and a rotating file),
:mod:`~edge.sinks.wfdb` (annotation file), :mod:`~edge.sinks.mqtt` (with its durable
:mod:`~edge.sinks.outbox`). Each output module also declares its settings (the
``[sinks.<name>]`` table of the daemon configuration).

``TerminalSink``       human-readable lines (colour optional)
``JsonLinesSink``      one JSON object per line on a stream (stdout)
``RotatingJsonlSink``  JSON lines appended to a file, rotated by size, reopened on SIGHUP
``WfdbAnnotationSink`` beats as a WFDB annotation file (N/S/V/F/Q at the device's rate)
``MqttSink``           MQTT via paho-mqtt 2.x, store-and-forward through an outbox
``SinkSet``            fans events out to several sinks; one failing sink does not stop the rest
"""
from edge.sinks.base import EventSink, SinkSet
from edge.sinks.jsonl import (
    JsonLinesSink,
    JsonlSinkSettings,
    RotatingJsonlSink,
    StdoutSinkSettings,
)
from edge.sinks.mqtt import MQTT_TOPICS, MqttSink, MqttSinkSettings
from edge.sinks.terminal import TerminalSink, TerminalSinkSettings
from edge.sinks.wfdb import WfdbAnnotationSink, WfdbSinkSettings

__all__ = ["EventSink", "TerminalSink", "JsonLinesSink", "RotatingJsonlSink",
           "WfdbAnnotationSink", "MqttSink", "SinkSet", "MQTT_TOPICS",
           "TerminalSinkSettings", "StdoutSinkSettings", "JsonlSinkSettings",
           "WfdbSinkSettings", "MqttSinkSettings"]
