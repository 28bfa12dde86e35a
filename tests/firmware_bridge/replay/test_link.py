"""Tests of firmware_bridge/replay/link.py: the pty (with its symlink) and the port links."""
from __future__ import annotations

import os
import select
import threading
import tty

import pytest

from firmware_bridge.errors import ReplayError
from firmware_bridge.replay.link import Link, PortLink, PtyLink


def read_some(fd: int, n: int, timeout_s: float = 5.0) -> bytes:
    out = b""
    while len(out) < n:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        assert ready, f"only {len(out)} of {n} bytes arrived"
        out += os.read(fd, n - len(out))
    return out


def open_reader(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    return fd


def test_pty_waits_for_a_reader_then_delivers_bytes(tmp_path):
    link_path = tmp_path / "ecg0"
    link = PtyLink(str(link_path))
    assert isinstance(link, Link)
    stop = threading.Event()
    path = link.open()
    try:
        assert path.startswith("/dev/") and os.readlink(link_path) == path
        assert not link.reader_present()
        fd = open_reader(str(link_path))
        try:
            assert link.reader_present() and link.wait_ready(stop, settle_s=0.0)
            payload = bytes(range(256)) * 8  # binary-safe: raw mode, every byte value
            assert link.write(payload, stop) == len(payload)
            assert read_some(fd, len(payload)) == payload
        finally:
            os.close(fd)
        # a reconnect is a new pty; the symlink follows it
        link.close()
        new_path = link.open()
        assert os.readlink(link_path) == new_path
    finally:
        link.close()
        link.remove_link()
    assert not os.path.lexists(link_path)


def test_wait_ready_returns_false_when_stopped():
    link = PtyLink(None)
    link.open()
    try:
        stop = threading.Event()
        stop.set()
        assert link.wait_ready(stop) is False
    finally:
        link.close()


def test_port_link_writes_to_a_serial_device():
    master, slave = os.openpty()
    tty.setraw(master)
    link = PortLink(os.ttyname(slave), 115200)
    assert isinstance(link, Link)
    stop = threading.Event()
    try:
        assert link.open() == os.ttyname(slave)
        assert link.wait_ready(stop) and not link.reader_present()
        assert link.write(b"\xa5\x5a frame", stop) == 8
        assert read_some(master, 8) == b"\xa5\x5a frame"
    finally:
        link.close()
        link.remove_link()
        os.close(master)
        os.close(slave)


def test_port_that_cannot_open_is_a_replay_error(tmp_path):
    with pytest.raises(ReplayError, match="nope"):
        PortLink(str(tmp_path / "nope"), 115200).open()
