"""Tests of firmware_bridge/ble.py with a fake bleak client (no radio in CI).

The fake client implements the part of ``bleak.BleakClient`` the source uses and delivers
constructed notification payloads: protocol-v1 frames cut at a 20-byte MTU, and Polar H10
PMD ECG frames.
"""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from firmware_bridge.ble import NUS_TX_UUID, BleConfig, BleSource
from firmware_bridge.errors import ConfigError, SourceClosedError
from firmware_bridge.polar import (
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    PMD_START_ECG_130HZ,
    build_pmd_ecg,
)
from firmware_bridge.protocol import EncoderConfig, FrameEncoder
from firmware_bridge.sources import LinkState, SampleSource


class FakeClient:
    """Stands in for bleak.BleakClient; ``script`` is a list of payloads per connection."""

    instances: list[FakeClient] = []

    def __init__(self, address, disconnected_callback, timeout, script, drop_after=None,
                 fail_first=0):
        self.address = address
        self.cb = disconnected_callback
        self.script = script
        self.drop_after = drop_after
        self.fail_first = fail_first
        self.is_connected = False
        self.writes: list[tuple[str, bytes]] = []
        self.notify: dict[str, object] = {}
        FakeClient.instances.append(self)

    async def connect(self):
        if len(FakeClient.instances) <= self.fail_first:
            raise OSError("device not found")
        self.is_connected = True

    async def start_notify(self, uuid, callback):
        self.notify[uuid] = callback
        if uuid in (NUS_TX_UUID, PMD_DATA_UUID):
            asyncio.get_running_loop().create_task(self._pump(uuid))

    async def _pump(self, uuid):
        for k, payload in enumerate(self.script):
            if self.drop_after is not None and k == self.drop_after:
                self.is_connected = False
                self.cb(self)
                return
            self.notify[uuid](None, bytearray(payload))
            await asyncio.sleep(0)

    async def write_gatt_char(self, uuid, data, response=None):
        self.writes.append((uuid, bytes(data)))

    async def disconnect(self):
        self.is_connected = False


def frame_notifications(n=720, mtu=20):
    x = np.random.default_rng(0).integers(0, 2048, (n, 2)).astype(np.int32)
    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0),
                                     baseline=(1024, 1024)))
    blob = b"".join(enc.process(x) + enc.flush())
    return x, [blob[i:i + mtu] for i in range(0, len(blob), mtu)]


def collect(src, n_samples, timeout_s=5.0):
    chunks = []
    end = time.monotonic() + timeout_s
    while sum(c.n_samples for c in chunks) < n_samples and time.monotonic() < end:
        chunks += src.read(0.05)
    return chunks


@pytest.fixture(autouse=True)
def _reset_instances():
    FakeClient.instances.clear()


def test_config_validation():
    with pytest.raises(ConfigError) as info:
        BleConfig(address="AA:BB:CC:DD:EE:FF", profile="nope")
    assert info.value.field == "profile"
    for bad in ("", "AA", "not-an-address", "AA:BB:CC:DD:EE", " AA:BB:CC:DD:EE:FF"):
        with pytest.raises(ConfigError) as info:  # session 45 audit: any string was taken
            BleConfig(address=bad)
        assert info.value.field == "address" and "AA:BB:CC:DD:EE:FF" in str(info.value)
    BleConfig(address="12345678-1234-1234-1234-123456789abc")  # a CoreBluetooth UUID
    cfg = BleConfig(address="AA:BB:CC:DD:EE:FF", profile="polar_h10")
    assert cfg.resolved_notify_uuid == PMD_DATA_UUID


def test_frames_profile_reassembles_frames_split_across_notifications():
    x, notes = frame_notifications()
    factory = lambda a, cb, t: FakeClient(a, cb, t, notes)  # noqa: E731
    src = BleSource(BleConfig(address="AA:BB:CC:DD:EE:FF"), client_factory=factory)
    assert isinstance(src, SampleSource)
    with src:
        chunks = collect(src, len(x))
        assert src.state is LinkState.CONNECTED
    got = np.concatenate([c.samples for c in chunks])
    np.testing.assert_array_equal(got, x)
    assert chunks[0].sample_index == 0 and src.state is LinkState.CLOSED
    with pytest.raises(SourceClosedError):
        src.read()


def test_polar_profile_starts_ecg_and_reconnects():
    rng = np.random.default_rng(3)
    uv = rng.integers(-3000, 3000, 73 * 6)
    period = 1e9 / 130
    payloads = [build_pmd_ecg(uv[k * 73:(k + 1) * 73], int(1e15 + (k * 73 + 72) * period))
                for k in range(6)]
    clients = []

    def factory(a, cb, t):
        # first connection fails, second drops after 2 notifications, third delivers the rest
        n = len(FakeClient.instances)
        script = payloads[:3] if n == 1 else payloads[4:]
        c = FakeClient(a, cb, t, script, drop_after=2 if n == 1 else None, fail_first=1)
        clients.append(c)
        return c

    src = BleSource(BleConfig(address="A0:9E:1A:00:00:10", profile="polar_h10",
                              backoff_initial_s=0.01, backoff_max_s=0.02),
                    client_factory=factory)
    with src:
        chunks = collect(src, 4 * 73)
    assert (PMD_CONTROL_UUID, PMD_START_ECG_130HZ) in clients[1].writes
    assert PMD_CONTROL_UUID in clients[1].notify  # subscribed to control responses
    states = [e.state for e in src.drain_events()]
    assert states.count(LinkState.CONNECTED) == 2 and LinkState.RECONNECTING in states
    assert [c.gap_samples for c in chunks] == [0, 0, 146, 0]
    for c in chunks:
        np.testing.assert_array_equal(c.samples[:, 0], uv[c.sample_index:c.end_index])
    assert src.link_stats.connects == 2 and src.pmd_stats.samples_lost == 146


def test_a_missing_dbus_socket_is_said_in_words():
    """Session 45 audit: without BlueZ, bleak's bare FileNotFoundError was the whole message
    ('FileNotFoundError: [Errno 2] No such file or directory'), retried silently."""
    from firmware_bridge.ble import _why

    said = _why(FileNotFoundError(2, "No such file or directory"))
    assert said.startswith("Bluetooth unavailable: no D-Bus system bus") and "BlueZ" in said
    assert _why(TimeoutError("slow")) == "TimeoutError: slow"
