"""Locks the public API of firmware_bridge and its import hygiene."""
from __future__ import annotations

import subprocess
import sys

import firmware_bridge
from firmware_bridge import errors

PUBLIC = {
    "PROTOCOL_VERSION", "SampleFormat", "Frame", "EncoderConfig", "FrameEncoder",
    "encode_frame", "frame_size", "max_samples_per_frame", "FrameDecoder", "DecoderStats",
    "SampleChunk", "SampleSource", "LinkState", "LinkEvent", "LinkStats", "chunk_to_mv",
    "frames_to_chunks", "SerialConfig", "SerialSource", "BleConfig", "BleSource",
    "PolarEcgAssembler", "parse_pmd_ecg", "build_pmd_ecg", "ReplaySource", "ReplayConfig",
    "ReplayDevice", "ReplayHandle", "ReplayProcess", "start_replay", "spawn_replay",
    "FaultConfig", "FaultInjector", "FaultStats", "FirmwareBridgeError", "ConfigError",
    "ProtocolError", "EncodeError", "DecoderInputError", "PmdError", "PmdControlError",
    "SourceError", "LinkError", "SourceClosedError", "BleUnavailableError", "ReplayError",
}


def test_public_api_is_locked():
    assert set(firmware_bridge.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(firmware_bridge, name), name


def test_every_error_is_in_the_tree():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.FirmwareBridgeError)
        assert name in errors.__doc__


def test_import_is_light():
    code = ("import sys, firmware_bridge; "
            "print(sorted(m for m in ('tensorflow', 'bleak', 'serial', 'wfdb', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
