"""The ``ecg-sim`` command line (``python -m firmware_bridge.replay``).

Examples::

    ecg-sim 100 --speed 1                                   # MIT-BIH 100, real time
    ecg-sim 100 --speed max --duration-s 60 --fs-hz 250     # as fast as possible, 250 Hz
    ecg-sim /data/x/rec --loop --ber 1e-4 --drop-frames 0.01 \\
        --garbage-bursts 0.5 --disconnect-after-s 20 --reconnect-after-s 2 --link /tmp/ecg0

The first line on stdout is the device path to open (``/dev/pts/N``; with ``--port`` the
port); give the reader the ``--link`` path when the link is cut (a reconnect makes a new pty).
Logs go to stderr. A bad argument or a missing record is one line
``ecg-sim: error: <what>: <rule>`` on stderr and exit code 2.

At the end of a non-looping replay the pty stays open until the reader closes it (at most
``--linger-s``), because a pty loses unread bytes when its master closes.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Sequence

from firmware_bridge.errors import ConfigError, ReplayError
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import SampleFormat
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.device import ReplayDevice
from firmware_bridge.replay.link import Link, PortLink, PtyLink
from firmware_bridge.replay.runner import run_device

__all__ = ["parse_speed", "build_arg_parser", "config_from_args", "main"]

logger = logging.getLogger(__name__)


def parse_speed(text: str) -> float | None:
    """``--speed``: ``"max"`` (any case) -> ``None`` (as fast as possible); a number -> itself.

    Raises
    ------
    ConfigError
        (field ``--speed``) for anything else: not a number, 0, negative, NaN or infinite.
        ``0`` is an error, not a synonym of ``max`` (``ecg-edge demo --speed 0`` is one too).
    """
    rule = "must be a number > 0 (1 = real time) or 'max' (as fast as possible)"
    if str(text).strip().lower() == "max":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError("--speed", f"{rule}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError("--speed", f"{rule}, got {text!r}")
    return value


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"channels must be like '0,1', got {text!r}") from None


def _linger_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be a number of seconds (<0 = forever), got "
                                         f"{text!r}")
    return value


def build_arg_parser() -> argparse.ArgumentParser:
    """The ``ecg-sim`` argument parser."""
    p = argparse.ArgumentParser(
        prog="ecg-sim",
        description="Simulated ECG wearable: replay a WFDB record as protocol-v1 frames into a "
                    "pseudo-terminal (or --port). The first stdout line is the device path.")
    p.add_argument("record", help="MIT-BIH record name (looked up in --data-dir / $MITDB_DIR) "
                                   "or a WFDB record path")
    p.add_argument("--data-dir", help="data directory (default: $MITDB_DIR)")
    p.add_argument("--database", default="mitdb", help="database for the lookup (mitdb)")
    p.add_argument("--speed", default="1",
                   help="1 = real time (default), N = N times (N > 0), 'max' = as fast as "
                        "possible")
    p.add_argument("--start-s", type=float, default=0.0, help="start offset in the record (s)")
    p.add_argument("--duration-s", type=float, default=None, help="seconds to replay")
    p.add_argument("--channels", type=_channels, default=None, help="channel indices, e.g. 0,1")
    p.add_argument("--fs-hz", type=float, default=None,
                   help="output sample rate (Hz), e.g. 250 to emulate a 250 Hz wearable")
    p.add_argument("--loop", action="store_true", help="loop the excerpt forever")
    p.add_argument("--format", choices=("auto", "int16", "int24"), default="auto",
                   help="sample format on the wire")
    p.add_argument("--samples-per-frame", type=int, default=None,
                   help="samples per channel per frame (default: fit 244 B, <= 100 ms)")
    p.add_argument("--device-id", type=int, default=1, help="device id in the frames")
    p.add_argument("--ber", type=float, default=0.0, help="bit-error rate, e.g. 1e-4")
    p.add_argument("--drop-bytes", type=float, default=0.0,
                   help="probability that each byte is lost")
    p.add_argument("--drop-frames", type=float, default=0.0,
                   help="probability that each frame is lost, e.g. 0.01")
    p.add_argument("--garbage-bursts", type=float, default=0.0,
                   help="garbage bursts per second of signal (Poisson)")
    p.add_argument("--garbage-max-bytes", type=int, default=64, help="longest garbage burst")
    p.add_argument("--disconnect-after-s", type=float, default=None,
                   help="cut the link once after this many seconds of signal")
    p.add_argument("--reconnect-after-s", type=float, default=1.0,
                   help="seconds the link stays down (default 1)")
    p.add_argument("--seed", type=int, default=0, help="fault-injection seed")
    p.add_argument("--port", help="write to this serial device or pyserial URL instead of a pty")
    p.add_argument("--baudrate", type=int, default=115200, help="baud rate for --port")
    p.add_argument("--link", help="keep a symlink here pointing at the current pty "
                                  "(survives simulated reconnects)")
    p.add_argument("--linger-s", type=_linger_s, default=10.0,
                   help="at the end of a non-looping replay, keep the pty open until the "
                        "reader closes it, at most this long (default 10 s; <0 = forever). "
                        "On a pty the replay starts only when a reader opens it, however "
                        "long that takes")
    p.add_argument("--log-level", type=str.upper, default="INFO",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="logging level on stderr (default INFO)")
    return p


#: ReplayConfig / FaultConfig field -> the ``ecg-sim`` option that sets it.
_OPTION_OF = {"ber": "--ber", "drop_byte_prob": "--drop-bytes", "drop_frame_prob": "--drop-frames",
              "garbage_bursts_per_s": "--garbage-bursts",
              "garbage_max_bytes": "--garbage-max-bytes",
              "disconnect_after_s": "--disconnect-after-s",
              "reconnect_after_s": "--reconnect-after-s", "start_s": "--start-s",
              "duration_s": "--duration-s", "channels": "--channels", "fs_hz": "--fs-hz",
              "speed": "--speed", "device_id": "--device-id",
              "samples_per_frame": "--samples-per-frame", "seed": "--seed"}


def config_from_args(ns: argparse.Namespace) -> ReplayConfig:
    """Build a :class:`ReplayConfig` from parsed ``ecg-sim`` arguments.

    Raises
    ------
    ConfigError
        When an argument breaks a rule (``--speed 0``; the field names the argument).
    """
    fmt = {"auto": None, "int16": SampleFormat.INT16, "int24": SampleFormat.INT24}[ns.format]
    faults = FaultConfig(ber=ns.ber, drop_byte_prob=ns.drop_bytes,
                         drop_frame_prob=ns.drop_frames, garbage_bursts_per_s=ns.garbage_bursts,
                         garbage_max_bytes=ns.garbage_max_bytes,
                         disconnect_after_s=ns.disconnect_after_s,
                         reconnect_after_s=ns.reconnect_after_s)
    return ReplayConfig(record=ns.record, data_dir=ns.data_dir, database=ns.database,
                        start_s=ns.start_s, duration_s=ns.duration_s, channels=ns.channels,
                        fs_hz=ns.fs_hz, speed=parse_speed(ns.speed), loop=ns.loop,
                        device_id=ns.device_id,
                        sample_format=fmt, samples_per_frame=ns.samples_per_frame,
                        faults=faults, seed=ns.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ecg-sim`` / ``python -m firmware_bridge.replay``; returns the exit code."""
    parser = build_arg_parser()
    ns = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(ns.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        config = config_from_args(ns)
        device = ReplayDevice(config)
        link: Link = PortLink(ns.port, ns.baudrate) if ns.port else PtyLink(ns.link)
        path = link.open()
    except ConfigError as exc:  # named by the option the user typed, not the field
        option = _OPTION_OF.get(exc.field, exc.field)
        rule = exc.rule.replace(" or None", "")
        print(f"ecg-sim: error: {option}: {rule}", file=sys.stderr)
        return 2
    except ReplayError as exc:
        print(f"ecg-sim: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    # before the path is printed: a spawner may stop us as soon as it has read it
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(path, flush=True)
    if ns.link and not ns.port:
        logger.info("link %s -> %s", ns.link, path)
    sig = device.signal
    logger.info("replaying %s: %d samples x %d channels at %g Hz, %s, %d samples/frame, "
                "speed %s", config.record, sig.adc.shape[0], sig.adc.shape[1], sig.fs_hz,
                sig.sample_format.name.lower(), device.frame_samples,
                "max" if config.speed is None else f"{config.speed:g}x")
    try:
        run_device(device, link, stop)
        if not stop.is_set():
            # a pty loses unread bytes when the master closes: let the reader drain it
            deadline = None if ns.linger_s < 0 else time.monotonic() + ns.linger_s
            logger.info("end of record; keeping the port open until the reader closes it")
            while not stop.wait(0.1):
                if (deadline is not None and time.monotonic() >= deadline) \
                        or not link.reader_present():
                    break
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
        link.remove_link()
        logger.info("stats %s", json.dumps(device.stats.as_dict()))
    return 0
