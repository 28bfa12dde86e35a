"""Locks the public API of firmware_bridge and its import hygiene."""
from __future__ import annotations

import subprocess
import sys

import firmware_bridge
import firmware_bridge.replay
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
    "RecordNotFoundError",
}


REPLAY_PUBLIC = {
    "ReplayConfig", "ReplayItem", "ReplayStats", "ReplaySignal", "ReplayDevice", "ReplayHandle",
    "ReplayProcess", "load_replay_signal", "start_replay", "spawn_replay", "build_arg_parser",
    "config_from_args", "parse_speed", "main",
}


def test_public_api_is_locked():
    assert set(firmware_bridge.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(firmware_bridge, name), name


def test_replay_api_is_locked():
    """``firmware_bridge.replay`` (a package) keeps every name the single module had, and
    ``main`` for the ``ecg-sim`` console script (setup.py: firmware_bridge.replay:main)."""
    assert set(firmware_bridge.replay.__all__) == REPLAY_PUBLIC
    for name in REPLAY_PUBLIC:
        assert hasattr(firmware_bridge.replay, name), name
    for name in PUBLIC & REPLAY_PUBLIC:
        assert getattr(firmware_bridge, name) is getattr(firmware_bridge.replay, name)


def test_replaying_a_record_loads_no_module_of_edge(mitdb_dir):
    """The chain is firmware_bridge <- edge: the simulator reads WFDB records itself."""
    code = ("import sys; from firmware_bridge import ReplayConfig, ReplaySource; "
            f"src = ReplaySource(ReplayConfig(record='100', data_dir={str(mitdb_dir)!r}, "
            "speed=None, duration_s=2)); n = sum(c.n_samples for c in src); "
            "print(n, sorted(m for m in sys.modules if m.split('.')[0] == 'edge'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "720 []"


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
