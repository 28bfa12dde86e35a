"""firmware_bridge: the wearable's wire protocol, a simulated device, and edge-side sources.

Rooms in this package (one job each):

``protocol``        frame layout v1, :class:`FrameEncoder` (spec: ``PROTOCOL.md``)
``decoder``         :class:`FrameDecoder`, the incremental resynchronising decoder
``c/``              reference encoder in C for the firmware (golden-tested)
``sources``         the :class:`SampleSource` seam, :class:`SampleChunk`, link status
``serial_source``   :class:`SerialSource` (pyserial, reconnects with backoff)
``ble``             :class:`BleSource` (bleak; frames profile or Polar H10)
``polar``           Polar H10 PMD ECG parsing
``replay_source``   :class:`ReplaySource`, in-process replay (no pty) for tests and demos
``faults``          fault injection for the simulated link
``replay/``         the simulated device ``ecg-sim``, one job per module:
  ``config``          :class:`ReplayConfig` (record, excerpt, rate, speed, faults)
  ``records``         find and read the WFDB record (wfdb; the lookup of ``ecg-edge``)
  ``samples``         :class:`ReplaySignal`: excerpt, channels, resampling, wire format
  ``device``          :class:`ReplayDevice`: frames, faults, disconnects in stream time
  ``link``            the pty (``--link`` symlink) or port the device writes to
  ``runner``          pacing at ``--speed``; :func:`start_replay` / :class:`ReplayHandle`
  ``spawn``           :func:`spawn_replay` / :class:`ReplayProcess` (``ecg-sim`` subprocess)
  ``cli``             the ``ecg-sim`` command line (``python -m firmware_bridge.replay``)
``errors``          the exception tree

This package imports no module of ``edge`` (the chain is ``firmware_bridge <- edge``). Only
numpy is imported eagerly; pyserial, bleak, scipy and wfdb are imported when used.
"""
from __future__ import annotations

from firmware_bridge.ble import BleConfig, BleSource
from firmware_bridge.decoder import DecoderStats, FrameDecoder
from firmware_bridge.errors import (
    BleUnavailableError,
    ConfigError,
    DecoderInputError,
    EncodeError,
    FirmwareBridgeError,
    LinkError,
    PmdControlError,
    PmdError,
    ProtocolError,
    RecordNotFoundError,
    ReplayError,
    SourceClosedError,
    SourceError,
)
from firmware_bridge.faults import FaultConfig, FaultInjector, FaultStats
from firmware_bridge.polar import PolarEcgAssembler, build_pmd_ecg, parse_pmd_ecg
from firmware_bridge.protocol import (
    PROTOCOL_VERSION,
    EncoderConfig,
    Frame,
    FrameEncoder,
    SampleFormat,
    encode_frame,
    frame_size,
    max_samples_per_frame,
)
from firmware_bridge.serial_source import SerialConfig, SerialSource
from firmware_bridge.sources import (
    LinkEvent,
    LinkState,
    LinkStats,
    SampleChunk,
    SampleSource,
    chunk_to_mv,
    frames_to_chunks,
)

# The simulator is loaded on first use (PEP 562): a device that only decodes frames never
# imports the replay package (argparse, subprocess, its command line).
_LAZY = {
    "ReplayConfig": "firmware_bridge.replay",
    "ReplayDevice": "firmware_bridge.replay",
    "ReplayHandle": "firmware_bridge.replay",
    "ReplayProcess": "firmware_bridge.replay",
    "start_replay": "firmware_bridge.replay",
    "spawn_replay": "firmware_bridge.replay",
    "ReplaySource": "firmware_bridge.replay_source",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'firmware_bridge' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    # protocol
    "PROTOCOL_VERSION",
    "SampleFormat",
    "Frame",
    "EncoderConfig",
    "FrameEncoder",
    "encode_frame",
    "frame_size",
    "max_samples_per_frame",
    "FrameDecoder",
    "DecoderStats",
    # sources
    "SampleChunk",
    "SampleSource",
    "LinkState",
    "LinkEvent",
    "LinkStats",
    "chunk_to_mv",
    "frames_to_chunks",
    "SerialConfig",
    "SerialSource",
    "BleConfig",
    "BleSource",
    "PolarEcgAssembler",
    "parse_pmd_ecg",
    "build_pmd_ecg",
    "ReplaySource",
    # simulated device
    "ReplayConfig",
    "ReplayDevice",
    "ReplayHandle",
    "ReplayProcess",
    "start_replay",
    "spawn_replay",
    "FaultConfig",
    "FaultInjector",
    "FaultStats",
    # errors
    "FirmwareBridgeError",
    "ConfigError",
    "ProtocolError",
    "EncodeError",
    "DecoderInputError",
    "PmdError",
    "PmdControlError",
    "SourceError",
    "LinkError",
    "SourceClosedError",
    "BleUnavailableError",
    "ReplayError",
    "RecordNotFoundError",
]
