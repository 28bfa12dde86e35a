"""Helpers of the replay tests: read a source or a raw pty until the stream goes quiet."""
from __future__ import annotations

import os
import select
import time
import tty

import numpy as np


def drain(src, n_expected=None, idle_s=1.0, limit_s=60.0):
    """Read until n_expected samples arrived, or nothing came for idle_s."""
    chunks, last = [], time.monotonic()
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        got = src.read(0.1)
        if got:
            chunks += got
            last = time.monotonic()
            if n_expected is not None and sum(c.n_samples for c in chunks) >= n_expected:
                break
        elif time.monotonic() - last > idle_s:
            break
    return chunks


def check_consistent(chunks, adc):
    """Every delivered sample is the record's; every gap is reported in samples."""
    for prev, c in zip(chunks, chunks[1:]):
        assert c.sample_index == prev.end_index + c.gap_samples
    for c in chunks:
        np.testing.assert_array_equal(c.samples, adc[c.sample_index:c.end_index])


def read_until_idle(path: str, idle_s: float = 1.0, limit_s: float = 30.0) -> bytes:
    """Every raw byte that arrives on ``path`` until nothing came for ``idle_s``."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    buf = bytearray()
    last = end = time.monotonic()
    end += limit_s
    try:
        while time.monotonic() - last < idle_s and time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                buf += os.read(fd, 65536)
                last = time.monotonic()
    finally:
        os.close(fd)
    return bytes(buf)
