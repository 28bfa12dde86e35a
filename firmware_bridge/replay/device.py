"""Frames and fault schedule of a replay, independent of the link: :class:`ReplayDevice`.

:meth:`ReplayDevice.items` turns the samples (:mod:`~firmware_bridge.replay.samples`) into
protocol frames (:class:`~firmware_bridge.protocol.FrameEncoder`), passes them through the
fault injector (:class:`~firmware_bridge.faults.FaultInjector`) and schedules the simulated
disconnect, each step stamped with the stream time it is due. Pacing and writing are the
runner's job (:mod:`~firmware_bridge.replay.runner`, or the in-process
:class:`~firmware_bridge.replay_source.ReplaySource`).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from firmware_bridge.faults import FaultInjector
from firmware_bridge.protocol import EncoderConfig, FrameEncoder
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.samples import ReplaySignal, load_replay_signal

__all__ = ["ReplayItem", "ReplayStats", "ReplayDevice"]


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
