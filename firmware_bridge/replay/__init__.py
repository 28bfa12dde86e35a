"""Simulated wearable: replays a WFDB record as protocol frames into a pseudo-terminal or port.

Rooms (one job each), in the order the samples travel::

    config   ReplayConfig: record, excerpt, channels, rate, speed, faults (validated)
    records  find and read the WFDB record (wfdb, imported when used; no dependency on edge)
    samples  ReplaySignal / load_replay_signal: excerpt, channels, resampling, wire format
    device   ReplayDevice: frames + fault injection + disconnect schedule, stamped in stream time
    link     PtyLink (pty, --link symlink) / PortLink (serial device or pyserial URL)
    runner   run_device (pacing at --speed), ReplayHandle / start_replay (background thread)
    spawn    ReplayProcess / spawn_replay (``ecg-sim`` in a subprocess)
    cli      the ``ecg-sim`` command line (``python -m firmware_bridge.replay``)

Library use: :func:`start_replay` runs the device in a background thread and returns a
:class:`ReplayHandle` whose ``device_path`` is ready to open; :func:`spawn_replay` runs the
command line in a subprocess and returns its device path the same way. The in-process
:class:`firmware_bridge.replay_source.ReplaySource` uses :class:`ReplayDevice` directly,
without a pty.
"""
from __future__ import annotations

from firmware_bridge.replay.cli import build_arg_parser, config_from_args, main, parse_speed
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice, ReplayItem, ReplayStats
from firmware_bridge.replay.runner import ReplayHandle, start_replay
from firmware_bridge.replay.samples import ReplaySignal, load_replay_signal
from firmware_bridge.replay.spawn import ReplayProcess, spawn_replay

__all__ = [
    "ReplayConfig",
    "ReplayItem",
    "ReplayStats",
    "ReplaySignal",
    "ReplayDevice",
    "ReplayHandle",
    "ReplayProcess",
    "load_replay_signal",
    "start_replay",
    "spawn_replay",
    "build_arg_parser",
    "config_from_args",
    "parse_speed",
    "main",
]
