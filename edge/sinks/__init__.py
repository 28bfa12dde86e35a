"""Where events go: the :class:`EventSink` seam and its outputs (terminal, JSON Lines, WFDB
annotations, MQTT with a durable :mod:`~edge.sinks.outbox`)."""
from edge.sinks.base import (
                             MQTT_TOPICS,
                             EventSink,
                             JsonLinesSink,
                             MqttSink,
                             RotatingJsonlSink,
                             SinkSet,
                             TerminalSink,
                             WfdbAnnotationSink,
)

__all__ = ["EventSink", "TerminalSink", "JsonLinesSink", "RotatingJsonlSink",
           "WfdbAnnotationSink", "MqttSink", "SinkSet", "MQTT_TOPICS"]
