"""Simulated wearable: replays a WFDB record as protocol frames into a pseudo-terminal.

Command line (console script ``ecg-sim``)::

    python -m firmware_bridge.replay 100 --speed 1            # MIT-BIH 100, real time
    python -m firmware_bridge.replay 100 --speed max --duration-s 60 --fs-hz 250
    python -m firmware_bridge.replay /data/x/rec --loop --ber 1e-4 --drop-frames 0.01 \\
        --garbage-bursts 0.5 --disconnect-after-s 20 --reconnect-after-s 2 --link /tmp/ecg0

The first line on stdout is the device path to open (``/dev/pts/N``; with ``--port`` the
port). Logs go to stderr.

Start-up. Streaming starts only once a reader has opened the pty slave (detected as the
master no longer polling ``POLLHUP``) plus 50 ms, because pyserial flushes the input queue
when it opens a port; so the reader sees the stream from its first frame, as a USB CDC device
that waits for the host's DTR. Pacing (``--speed``) starts from that moment.

Disconnects. On a pty, a disconnect closes the master side, so a reader blocked on the slave
gets ``EIO`` (pyserial raises ``SerialException``), exactly as when a USB CDC device is
unplugged. Reconnecting opens a *new* pty, which gets a new ``/dev/pts/N`` path; a reader
cannot guess it, so ``--link PATH`` maintains a symlink that is atomically re-pointed at the
current pty (the same job udev does for ``/dev/serial/by-id/...``). Give the reader the link
path. With ``--port`` the port is closed and reopened under the same name.

Library use: :func:`start_replay` runs the device in a background thread and returns a
:class:`ReplayHandle` whose ``device_path`` is ready to open; :func:`spawn_replay` runs the
command line in a subprocess and returns its device path the same way. The in-process
:class:`firmware_bridge.replay_source.ReplaySource` uses :class:`ReplayDevice` directly,
without a pty.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from firmware_bridge.errors import ConfigError, ReplayError
from firmware_bridge.faults import FaultConfig, FaultInjector
from firmware_bridge.protocol import EncoderConfig, FrameEncoder, SampleFormat

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
    "main",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ReplayConfig:
    """What the simulated device replays and how.

    Attributes
    ----------
    record : MIT-BIH record name looked up in the data directory ("100") or a WFDB record path.
    data_dir : data directory; ``None`` = ``$MITDB_DIR``.
    database : database name for the data-directory lookup ("mitdb").
    start_s : where to start in the record (s, >= 0).
    duration_s : how much to replay (s, > 0); ``None`` = to the end of the record.
    channels : record channel indices to send; ``None`` = all (1..8 channels).
    fs_hz : output sample rate (Hz); ``None`` = the record's. Other rates are produced with
        ``scipy.signal.resample_poly`` (ratio approximated with denominator <= 1000).
    speed : replay speed factor (1 = real time, 10 = ten times); ``None`` = as fast as the
        reader takes the bytes.
    loop : restart at ``start_s`` after the end; the sample counter keeps increasing.
    device_id : device/stream id in the frames (0..65535).
    sample_format : wire format; ``None`` = int16 when the samples fit, else int24.
    samples_per_frame : samples per channel per frame; ``None`` = fit a 244-byte BLE
        notification and at most 100 ms (36 at 360 Hz, 2 channels).
    faults : fault injection.
    seed : seed of the fault-injection random stream.
    """

    record: str
    data_dir: str | None = None
    database: str = "mitdb"
    start_s: float = 0.0
    duration_s: float | None = None
    channels: tuple[int, ...] | None = None
    fs_hz: float | None = None
    speed: float | None = 1.0
    loop: bool = False
    device_id: int = 1
    sample_format: SampleFormat | None = None
    samples_per_frame: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if not str(self.record):
            raise ConfigError("record", "must name a record or a WFDB path")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ConfigError("start_s", f"must be >= 0 s, got {self.start_s!r}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s)
                                                and self.duration_s > 0):
            raise ConfigError("duration_s", f"must be > 0 s or None, got {self.duration_s!r}")
        if self.channels is not None:
            if not 1 <= len(self.channels) <= 8:
                raise ConfigError("channels", f"needs 1..8 channel indices, got {self.channels}")
            if any(c < 0 for c in self.channels) or len(set(self.channels)) != len(self.channels):
                raise ConfigError("channels", f"must be distinct indices >= 0, "
                                              f"got {self.channels}")
        if self.fs_hz is not None and not (math.isfinite(self.fs_hz)
                                           and 1 <= self.fs_hz <= 100_000):
            raise ConfigError("fs_hz", f"must be 1..100000 Hz or None, got {self.fs_hz!r}")
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed > 0):
            raise ConfigError("speed", f"must be > 0 (1 = real time) or None for max, "
                                       f"got {self.speed!r}")
        if not 0 <= self.device_id <= 0xFFFF:
            raise ConfigError("device_id", f"must be 0..65535, got {self.device_id}")
        if self.samples_per_frame is not None and not 1 <= self.samples_per_frame <= 255:
            raise ConfigError("samples_per_frame", f"must be 1..255, got {self.samples_per_frame}")
        if not isinstance(self.faults, FaultConfig):
            raise ConfigError("faults", "must be a FaultConfig")


@dataclass(frozen=True, kw_only=True)
class ReplaySignal:
    """The samples a replay sends (after channel selection and resampling).

    Attributes
    ----------
    adc : int32 array (n_samples, n_channels), ADC counts at ``fs_hz``.
    fs_hz : output sample rate (Hz).
    adc_gain, baseline : per channel counts per mV and counts at 0 mV.
    first_index : sample counter of ``adc[0]`` (``round(start_s * fs_hz)``).
    sample_format : wire format chosen.
    """

    adc: np.ndarray
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    first_index: int
    sample_format: SampleFormat


def load_replay_signal(config: ReplayConfig) -> ReplaySignal:
    """Read and prepare the samples for ``config``.

    Raises
    ------
    ReplayError
        When the record cannot be found or read, or a channel does not exist.
    """
    from edge.errors import EdgeError  # noqa: PLC0415 - keep import of edge lazy
    from edge.io.records import read_record, resolve_record  # noqa: PLC0415

    try:
        path = resolve_record(config.record, config.database, config.data_dir)
        import wfdb  # noqa: PLC0415 - header only, to turn seconds into samples

        header = wfdb.rdheader(str(path))
        fs_in = float(header.fs)
        sampfrom = int(round(config.start_s * fs_in))
        if sampfrom >= header.sig_len:
            raise ConfigError("start_s", f"{config.start_s} s is past the end of the record "
                                         f"({header.sig_len / fs_in:.1f} s)")
        sampto = None
        if config.duration_s is not None:
            sampto = min(header.sig_len, sampfrom + max(1, int(round(config.duration_s * fs_in))))
        if config.channels is not None and max(config.channels) >= header.n_sig:
            raise ConfigError("channels", f"record has {header.n_sig} channels, "
                                          f"got {config.channels}")
        rec = read_record(str(path), channels=list(config.channels) if config.channels else None,
                          sampfrom=sampfrom, sampto=sampto)
    except EdgeError as exc:
        raise ReplayError(str(exc)) from exc
    adc = rec.adc
    if adc.shape[1] > 8:
        raise ReplayError(f"record has {adc.shape[1]} channels; choose at most 8 with --channels")
    fs_out = rec.fs_hz if config.fs_hz is None else float(config.fs_hz)
    if abs(fs_out - rec.fs_hz) > 1e-9:
        from scipy.signal import resample_poly  # noqa: PLC0415

        ratio = Fraction(fs_out / rec.fs_hz).limit_denominator(1000)
        fs_out = rec.fs_hz * ratio.numerator / ratio.denominator
        adc = np.rint(resample_poly(adc.astype(np.float64), ratio.numerator, ratio.denominator,
                                    axis=0)).astype(np.int64)
    lo, hi = int(adc.min()), int(adc.max())
    fmt = config.sample_format
    if fmt is None:
        fmt = SampleFormat.INT16 if (lo >= -32768 and hi <= 32767) else SampleFormat.INT24
    fmt = SampleFormat(fmt)
    adc = np.clip(adc, fmt.min_value, fmt.max_value).astype(np.int32)
    return ReplaySignal(adc=adc, fs_hz=fs_out, adc_gain=rec.adc_gain, baseline=rec.baseline,
                        first_index=int(round(config.start_s * fs_out)), sample_format=fmt)


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One step of the replay.

    Attributes
    ----------
    t_stream_s : stream time (s since the first sample) when the item is due: for a frame,
        the time its last sample exists.
    data : bytes to put on the link (after fault injection; may be empty).
    kind : "frame", or "disconnect" (cut the link now for ``down_s`` wall-clock seconds).
    down_s : for "disconnect", how long the link stays down (s).
    n_samples : samples per channel in the clean frame (0 for "disconnect").
    """

    t_stream_s: float
    data: bytes
    kind: str = "frame"
    down_s: float = 0.0
    n_samples: int = 0


@dataclass(kw_only=True)
class ReplayStats:
    """What the simulated device did (cumulative)."""

    frames_generated: int = 0
    frames_written: int = 0
    frames_lost_disconnected: int = 0
    samples_generated: int = 0
    bytes_written: int = 0
    disconnects: int = 0
    reconnects: int = 0
    loops: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The counters as a plain dict."""
        return asdict(self)


class ReplayDevice:
    """Frames and fault schedule of a replay, independent of the link.

    :meth:`items` yields :class:`ReplayItem` in stream order; the caller paces them
    (``t_stream_s / speed``) and writes ``data``. Frames that fall into the outage after a
    "disconnect" item are generated (the counter advances) but never yielded.
    """

    def __init__(self, config: ReplayConfig, signal_: ReplaySignal | None = None) -> None:
        self.config = config
        self.signal = signal_ if signal_ is not None else load_replay_signal(config)
        sig = self.signal
        self.encoder_config = EncoderConfig(
            fs_hz=sig.fs_hz, adc_gain=sig.adc_gain, baseline=sig.baseline,
            device_id=config.device_id, sample_format=sig.sample_format,
            samples_per_frame=config.samples_per_frame, first_sample_index=sig.first_index)
        self.injector = FaultInjector(config.faults, seed=config.seed)
        self.stats = ReplayStats()

    @property
    def frame_samples(self) -> int:
        """Samples per channel per frame."""
        return self.encoder_config.frame_samples

    def items(self) -> Iterator[ReplayItem]:
        """Yield the replay's items (infinitely when ``loop``)."""
        cfg, sig, st = self.config, self.signal, self.stats
        enc = FrameEncoder(self.encoder_config)
        fs = sig.fs_hz
        spf = enc.config.frame_samples
        block = max(spf, 4096 // spf * spf)
        faults = cfg.faults
        disconnect_at = faults.disconnect_after_s
        lost_until = -1.0
        n = sig.adc.shape[0]
        while True:
            for start in range(0, n, block):
                last = start + block >= n and not cfg.loop
                frames = enc.process(sig.adc[start:start + block])
                if last:
                    frames += enc.flush()
                for fr in frames:
                    ns = fr[5]
                    st.frames_generated += 1
                    st.samples_generated += ns
                    counter = int.from_bytes(fr[10:14], "little")  # first sample, uint32
                    t_end = ((counter - sig.first_index) % (1 << 32) + ns) / fs
                    if disconnect_at is not None and t_end > disconnect_at:
                        disconnect_at = None
                        st.disconnects += 1
                        speed = cfg.speed if cfg.speed is not None else 1.0
                        lost_until = t_end + faults.reconnect_after_s * speed
                        yield ReplayItem(t_end - ns / fs, b"", "disconnect",
                                         faults.reconnect_after_s)
                    if t_end <= lost_until:
                        st.frames_lost_disconnected += 1
                        continue
                    data = self.injector.process(fr, ns / fs)
                    st.faults = self.injector.stats.as_dict()
                    yield ReplayItem(t_end, data, "frame", 0.0, ns)
            if not cfg.loop:
                return
            st.loops += 1


class _PtyLink:
    """The pty side of the simulated device: master fd we write, slave path the reader opens."""

    def __init__(self, link_path: str | None) -> None:
        self.link_path = link_path
        self.master = -1
        self.slave = -1
        self.slave_path = ""

    def open(self) -> str:
        try:
            self.master, self.slave = os.openpty()
        except OSError as exc:
            raise ReplayError(f"cannot create a pseudo-terminal: {exc}") from exc
        tty.setraw(self.slave)  # binary-safe before any reader configures it
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self.slave)
        # Close our slave fd: the master then polls POLLHUP until a reader opens the slave,
        # which is how wait_ready() knows someone is listening (like DTR on a USB CDC port).
        os.close(self.slave)
        self.slave = -1
        if self.link_path:
            tmp = f"{self.link_path}.tmp{os.getpid()}"
            try:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(self.slave_path, tmp)
                os.replace(tmp, self.link_path)
            except OSError as exc:
                raise ReplayError(f"cannot point link {self.link_path!r} at "
                                  f"{self.slave_path}: {exc}") from exc
        logger.info("pty %s%s", self.slave_path,
                    f" (link {self.link_path})" if self.link_path else "")
        return self.slave_path

    def write(self, data: bytes, stop: threading.Event) -> int:
        """Write all of ``data`` unless stopped; waits while the reader lags (backpressure)."""
        view = memoryview(data)
        sent = 0
        while sent < len(data) and not stop.is_set():
            try:
                sent += os.write(self.master, view[sent:])
            except BlockingIOError:
                select.select([], [self.master], [], 0.1)
            except OSError as exc:  # reader side gone in an unusual way
                logger.debug("pty write failed: %s", exc)
                return sent
        return sent

    def reader_present(self) -> bool:
        """True while some process has the slave side open."""
        if self.master < 0:
            return False
        po = select.poll()
        po.register(self.master, select.POLLOUT)
        return not any(ev & select.POLLHUP for _, ev in po.poll(0))

    def wait_ready(self, stop: threading.Event, settle_s: float = 0.05) -> bool:
        """Block until a reader opened the slave (then ``settle_s`` more, so pyserial's
        input flush at open cannot eat the first frames); False if stopped first."""
        while not self.reader_present():
            if stop.wait(0.01):
                return False
        return not stop.wait(settle_s)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = -1

    def remove_link(self) -> None:
        if self.link_path and os.path.islink(self.link_path):
            try:
                os.unlink(self.link_path)
            except OSError:
                pass


class _PortLink:
    """An existing serial device or pyserial URL."""

    def __init__(self, url: str, baudrate: int) -> None:
        self.url = url
        self.baudrate = baudrate
        self._ser = None

    def open(self) -> str:
        import serial  # noqa: PLC0415

        try:
            self._ser = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.1,
                                              write_timeout=0.5)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ReplayError(f"cannot open port {self.url!r}: {exc}") from exc
        return self.url

    def reader_present(self) -> bool:
        """A real port cannot tell who listens: flush the output and report no reader."""
        if self._ser is not None:
            try:
                self._ser.flush()
            except Exception:  # noqa: BLE001 - not every URL handler supports it
                pass
        return False

    def wait_ready(self, stop: threading.Event, settle_s: float = 0.0) -> bool:
        """Ports need no waiting; False only if stopped."""
        return not stop.is_set()

    def write(self, data: bytes, stop: threading.Event) -> int:
        import serial  # noqa: PLC0415

        sent = 0
        while sent < len(data) and not stop.is_set():
            try:
                sent += self._ser.write(data[sent:]) or 0
            except serial.SerialTimeoutException:
                continue
            except (serial.SerialException, OSError) as exc:
                logger.warning("port write failed: %s", exc)
                return sent
        return sent

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # noqa: BLE001 - closing a broken port must not raise
                pass
            self._ser = None

    def remove_link(self) -> None:
        return None


def _run(device: ReplayDevice, link: _PtyLink | _PortLink, stop: threading.Event,
         on_path: Callable[[str], None] | None = None) -> None:
    """Pace and write the device's items until the end or ``stop``."""
    speed = device.config.speed
    st = device.stats
    if not link.wait_ready(stop):
        return
    t0 = time.monotonic()
    pending: list[bytes] = []
    pending_n = 0
    sleep_until = None

    def flush() -> None:
        nonlocal pending_n
        if pending:
            blob = b"".join(pending)
            st.bytes_written += link.write(blob, stop)
            pending.clear()
            pending_n = 0

    for item in device.items():
        if stop.is_set():
            break
        if item.kind == "disconnect":
            flush()
            logger.warning("simulated disconnect for %.2f s", item.down_s)
            link.close()
            if stop.wait(item.down_s):
                break
            path = link.open()
            st.reconnects += 1
            if on_path is not None:
                on_path(path)
            if not link.wait_ready(stop):
                break
            continue
        if speed is not None:
            sleep_until = t0 + item.t_stream_s / speed
            delay = sleep_until - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            if item.data:
                st.bytes_written += link.write(item.data, stop)
                st.frames_written += 1
        elif item.data:
            pending.append(item.data)
            pending_n += len(item.data)
            st.frames_written += 1
            if pending_n >= 16384:
                flush()
    flush()


class ReplayHandle:
    """A replay running in a background thread (see :func:`start_replay`).

    Attributes
    ----------
    device_path : str
        Path to open: the link path if one was given, else the current pty slave (or the port).
    stats : ReplayStats
        Live counters of the device.
    error : BaseException or None
        Why the thread stopped, if it failed.
    """

    def __init__(self, device: ReplayDevice, link: _PtyLink | _PortLink,
                 link_path: str | None) -> None:
        self._device = device
        self._link = link
        self._stop = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.stats = device.stats
        self._path = link.open()
        self.link_path = link_path
        self._thread = threading.Thread(target=self._main, name="ecg-replay", daemon=True)
        self._thread.start()

    @property
    def device_path(self) -> str:
        """Path to open with pyserial (stable link path when one was given)."""
        return self.link_path or self._path

    @property
    def pty_path(self) -> str:
        """Current pty slave path (changes after a simulated reconnect)."""
        return self._path

    def _set_path(self, path: str) -> None:
        self._path = path

    def _main(self) -> None:
        try:
            _run(self._device, self._link, self._stop, self._set_path)
        except BaseException as exc:  # noqa: BLE001 - reported through .error
            self.error = exc
            logger.exception("replay thread failed")
        finally:
            self.done.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until every frame is written (or the replay stopped); True if it finished."""
        return self.done.wait(timeout_s)

    def stop(self, close_link: bool = True) -> None:
        """Stop writing, close the pty/port and remove the link; idempotent."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        if close_link:
            self._link.close()
            self._link.remove_link()

    def __enter__(self) -> ReplayHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_replay(config: ReplayConfig, *, link_path: str | os.PathLike | None = None,
                 port: str | None = None, baudrate: int = 115200) -> ReplayHandle:
    """Start a simulated device in a background thread.

    Parameters
    ----------
    config : ReplayConfig
    link_path : path, optional
        Maintain a symlink there pointing at the current pty (needed to survive a simulated
        disconnect, which creates a new pty).
    port : str, optional
        Write to this serial device or pyserial URL instead of a new pty.
    baudrate : int
        Baud rate for ``port``.

    Returns
    -------
    ReplayHandle
        ``handle.device_path`` can be opened as soon as this returns. Call ``handle.stop()``
        (or use it as a context manager) to end the replay; at the end of a non-looping
        replay the pty stays open until ``stop()`` so the reader can drain it.
    """
    device = ReplayDevice(config)
    link: _PtyLink | _PortLink = (_PortLink(port, baudrate) if port
                                  else _PtyLink(str(link_path) if link_path else None))
    return ReplayHandle(device, link, str(link_path) if (link_path and not port) else None)


class ReplayProcess:
    """``python -m firmware_bridge.replay`` running in a subprocess (see :func:`spawn_replay`).

    Attributes
    ----------
    device_path : str
        The first stdout line of the simulator (pty path or port).
    process : subprocess.Popen
    """

    def __init__(self, process: subprocess.Popen, device_path: str) -> None:
        self.process = process
        self.device_path = device_path

    def stop(self, timeout_s: float = 5.0) -> int:
        """Terminate (SIGTERM, then SIGKILL) and return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return int(self.process.returncode)

    def __enter__(self) -> ReplayProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def spawn_replay(args: Sequence[str], *, env: dict[str, str] | None = None,
                 startup_timeout_s: float = 30.0) -> ReplayProcess:
    """Run ``python -m firmware_bridge.replay ARGS`` and wait for its device path.

    Raises
    ------
    ReplayError
        If the simulator exits or prints nothing within ``startup_timeout_s``.
    """
    cmd = [sys.executable, "-m", "firmware_bridge.replay", *args]
    run_env = dict(os.environ if env is None else env)
    root = str(Path(__file__).resolve().parent.parent)
    run_env["PYTHONPATH"] = root + (os.pathsep + run_env["PYTHONPATH"]
                                    if run_env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env)
    ready, _, _ = select.select([proc.stdout], [], [], startup_timeout_s)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise ReplayError(f"simulator did not start ({' '.join(cmd)}): "
                          f"{err.decode(errors='replace')[-2000:]}")
    return ReplayProcess(proc, line)


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "inf", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', got {text!r}") \
            from None
    if not value > 0:
        raise argparse.ArgumentTypeError("speed must be > 0 or 'max'")
    return value


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"channels must be like '0,1', got {text!r}") from None


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
    p.add_argument("--speed", type=_speed, default=1.0,
                   help="1 = real time (default), N = N times, 'max' = as fast as possible")
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
    p.add_argument("--linger-s", type=float, default=10.0,
                   help="at the end of a non-looping replay, keep the pty open until the "
                        "reader closes it, at most this long (default 10 s; <0 = forever)")
    p.add_argument("--log-level", default="INFO", help="logging level (stderr)")
    return p


def config_from_args(ns: argparse.Namespace) -> ReplayConfig:
    """Build a :class:`ReplayConfig` from parsed ``ecg-sim`` arguments."""
    fmt = {"auto": None, "int16": SampleFormat.INT16, "int24": SampleFormat.INT24}[ns.format]
    faults = FaultConfig(ber=ns.ber, drop_byte_prob=ns.drop_bytes,
                         drop_frame_prob=ns.drop_frames, garbage_bursts_per_s=ns.garbage_bursts,
                         garbage_max_bytes=ns.garbage_max_bytes,
                         disconnect_after_s=ns.disconnect_after_s,
                         reconnect_after_s=ns.reconnect_after_s)
    return ReplayConfig(record=ns.record, data_dir=ns.data_dir, database=ns.database,
                        start_s=ns.start_s, duration_s=ns.duration_s, channels=ns.channels,
                        fs_hz=ns.fs_hz, speed=ns.speed, loop=ns.loop, device_id=ns.device_id,
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
        link: _PtyLink | _PortLink = (_PortLink(ns.port, ns.baudrate) if ns.port
                                      else _PtyLink(ns.link))
        path = link.open()
    except (ConfigError, ReplayError) as exc:
        print(f"ecg-sim: error: {exc}", file=sys.stderr)
        return 2
    print(path, flush=True)
    if ns.link and not ns.port:
        logger.info("link %s -> %s", ns.link, path)
    sig = device.signal
    logger.info("replaying %s: %d samples x %d channels at %g Hz, %s, %d samples/frame, "
                "speed %s", config.record, sig.adc.shape[0], sig.adc.shape[1], sig.fs_hz,
                sig.sample_format.name.lower(), device.frame_samples,
                "max" if config.speed is None else f"{config.speed:g}x")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _run(device, link, stop)
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


if __name__ == "__main__":
    sys.exit(main())
