"""Tests of firmware_bridge/replay/device.py: frames, faults and the disconnect schedule.

The golden digests lock the simulator's output: they were taken from the single-module
``firmware_bridge/replay.py`` (which read records through ``edge.io.records``) before it was
split into the ``replay`` package, so the split and the new record reader changed no byte.
Each digest covers every item in order: its kind, due time, outage and sample count, and the
bytes it puts on the link (frames after fault injection).
"""
from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import SampleFormat
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice

FAULTS = FaultConfig(ber=1e-4, drop_frame_prob=0.01, garbage_bursts_per_s=1,
                     disconnect_after_s=60, reconnect_after_s=0.3)
GOLDEN = {
    "10 s": (dict(record="100", speed=None, duration_s=10), 100,
             "06bd17823e1a6db55f62ef9d8768912b0d8cb1c73e31b0e2a0f1dc25ff2a69bd"),
    "faults + disconnect": (dict(record="100", speed=None, duration_s=120, seed=11,
                                 faults=FAULTS), 1197,
                            "51209b097047d546b2e47d56b28d56fab43299902e3afcbf0d250eae50a9e500"),
    "250 Hz, channel 1": (dict(record="100", start_s=10, duration_s=20, fs_hz=250,
                               channels=(1,)), 200,
                          "26b53edbb090fc10108917d46f5f14070b34054a8671e6841211de6edec5be1c"),
    "int24, 17 samples/frame": (dict(record="233", start_s=5.5, duration_s=30,
                                     sample_format=SampleFormat.INT24, samples_per_frame=17,
                                     device_id=7), 636,
                                "d379cf35e0b8df30fb44fb79e9a1b688b02cca30cd5889479ff0285721b96408"),
    "swapped channels, 500 Hz": (dict(record="114", duration_s=15, channels=(1, 0),
                                      fs_hz=500), 150,
                                 "7cafc1e871f79a1c696ea3a83d0980a441b9999d5c32c4aa4b23f8cf1b1bb101"),
    "loop": (dict(record="100", start_s=1, duration_s=3, loop=True, seed=3,
                  faults=FaultConfig(drop_byte_prob=0.001, garbage_bursts_per_s=2)), 500,
             "052d7db428d644044eb01cc0d84bec77a06dc8b2c405a7dbbd963c0806870b20"),
}


def items_digest(device: ReplayDevice, limit: int | None = None) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for it in itertools.islice(device.items(), limit):
        h.update(repr((round(it.t_stream_s, 12), it.kind, it.down_s, it.n_samples)).encode())
        h.update(it.data)
        n += 1
    return n, h.hexdigest()


@pytest.mark.parametrize("name", list(GOLDEN))
def test_items_are_byte_identical_to_the_single_module_simulator(mitdb_dir, name):
    kw, n_items, digest = GOLDEN[name]
    cfg = ReplayConfig(data_dir=str(mitdb_dir), **kw)
    assert items_digest(ReplayDevice(cfg), 500 if cfg.loop else None) == (n_items, digest)


def test_clean_frames_decode_to_the_record(mitdb_dir, record100):
    dev = ReplayDevice(ReplayConfig(record="100", data_dir=str(mitdb_dir), start_s=1,
                                    duration_s=5))
    items = list(dev.items())
    frames = FrameDecoder().process(b"".join(it.data for it in items))
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]),
                                  record100.adc[360:2160])
    t = np.array([it.t_stream_s for it in items])
    assert np.all(np.diff(t) > 0) and t[-1] == pytest.approx(5.0)
    assert dev.stats.samples_generated == 1800 and dev.stats.frames_generated == len(items)


def test_disconnect_is_one_item_and_the_outage_is_lost(mitdb_dir):
    faults = FaultConfig(disconnect_after_s=2.0, reconnect_after_s=0.5)
    dev = ReplayDevice(ReplayConfig(record="100", data_dir=str(mitdb_dir), duration_s=5,
                                    speed=2.0, faults=faults))
    items = list(dev.items())
    cuts = [it for it in items if it.kind == "disconnect"]
    assert len(cuts) == 1 and cuts[0].down_s == 0.5 and cuts[0].data == b""
    # the cut comes before the first frame ending after 2 s (0.1 s frames: 2.0 .. 2.1 s); at
    # speed 2 the 0.5 s wall-clock outage loses that frame and 1 s of stream after it
    assert cuts[0].t_stream_s == pytest.approx(2.0)
    after = [it for it in items if it.t_stream_s > cuts[0].t_stream_s]
    assert after[0].t_stream_s == pytest.approx(3.2)
    st = dev.stats
    assert st.disconnects == 1 and st.frames_lost_disconnected == 11
    assert st.frames_generated == len(items) - 1 + st.frames_lost_disconnected
