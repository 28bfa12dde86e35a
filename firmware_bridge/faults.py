"""Fault injection for the simulated device: what a lossy UART/BLE link does to frames.

:class:`FaultInjector` is a streaming stage: each call to :meth:`FaultInjector.process` takes
one clean frame and returns the bytes the link delivers for it -- possibly nothing (dropped
frame), with flipped bits (bit-error rate), with bytes missing, and preceded by garbage
bursts. Randomness comes from ``numpy.random.default_rng(seed)``, so a run is reproducible.
The disconnect/reconnect fault is scheduled by the simulated device
(:mod:`firmware_bridge.replay.device`), which reads ``disconnect_after_s`` and
``reconnect_after_s`` from the same :class:`FaultConfig`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from firmware_bridge.errors import ConfigError
from firmware_bridge.protocol import SYNC

__all__ = ["FaultConfig", "FaultStats", "FaultInjector"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FaultConfig:
    """Faults to inject on the simulated link (all off by default).

    Attributes
    ----------
    ber : bit-error rate: probability that each transmitted bit is flipped (0 .. 0.5).
    drop_byte_prob : probability that each transmitted byte is lost (0 .. 1).
    drop_frame_prob : probability that a whole frame is lost (0 .. 1).
    garbage_bursts_per_s : mean rate of garbage bursts per second of stream time (Poisson).
    garbage_max_bytes : longest garbage burst in bytes (lengths uniform in 1..max); half of
        the bursts contain fake sync markers to stress resynchronisation.
    disconnect_after_s : stream time (s from the start of the replay) at which the link is
        cut once; ``None`` = never.
    reconnect_after_s : how long the link stays down, in wall-clock seconds. The device keeps
        sampling meanwhile, so ``reconnect_after_s * speed`` seconds of signal (at "max"
        speed: ``reconnect_after_s`` of signal) are lost and show up as one gap.
    """

    ber: float = 0.0
    drop_byte_prob: float = 0.0
    drop_frame_prob: float = 0.0
    garbage_bursts_per_s: float = 0.0
    garbage_max_bytes: int = 64
    disconnect_after_s: float | None = None
    reconnect_after_s: float = 1.0

    def __post_init__(self) -> None:
        for name, hi in (("ber", 0.5), ("drop_byte_prob", 1.0), ("drop_frame_prob", 1.0)):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= hi):
                raise ConfigError(name, f"must be a probability in [0, {hi}], got {v!r}")
        if not (math.isfinite(self.garbage_bursts_per_s) and self.garbage_bursts_per_s >= 0):
            raise ConfigError("garbage_bursts_per_s", f"must be >= 0 bursts/s, "
                                                      f"got {self.garbage_bursts_per_s!r}")
        if self.garbage_max_bytes < 1:
            raise ConfigError("garbage_max_bytes", f"must be >= 1, got {self.garbage_max_bytes}")
        if self.disconnect_after_s is not None and not self.disconnect_after_s >= 0:
            raise ConfigError("disconnect_after_s", f"must be >= 0 s or None, "
                                                    f"got {self.disconnect_after_s!r}")
        if not (math.isfinite(self.reconnect_after_s) and self.reconnect_after_s >= 0):
            raise ConfigError("reconnect_after_s", f"must be >= 0 s, "
                                                   f"got {self.reconnect_after_s!r}")

    @property
    def any_byte_faults(self) -> bool:
        """True when some per-frame fault is enabled."""
        return bool(self.ber or self.drop_byte_prob or self.drop_frame_prob
                    or self.garbage_bursts_per_s)


@dataclass(kw_only=True)
class FaultStats:
    """What the injector did (cumulative)."""

    frames_in: int = 0
    frames_dropped: int = 0
    frames_damaged: int = 0
    bits_flipped: int = 0
    bytes_dropped: int = 0
    garbage_bursts: int = 0
    garbage_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class FaultInjector:
    """Applies :class:`FaultConfig` faults to frames, one frame per call.

    Parameters
    ----------
    config : FaultConfig
    seed : int
        Seed of ``numpy.random.default_rng``.
    """

    def __init__(self, config: FaultConfig, seed: int = 0) -> None:
        self.config = config
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self.stats = FaultStats()

    def reset(self) -> None:
        """Restart the random stream and the counters."""
        self._rng = np.random.default_rng(self._seed)
        self.stats = FaultStats()

    def _garbage(self, n: int) -> bytes:
        rng = self._rng
        junk = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        if n >= 2 and rng.random() < 0.5:  # sprinkle fake sync markers
            for pos in rng.integers(0, n - 1, 1 + n // 16):
                junk[int(pos):int(pos) + 2] = SYNC
        return bytes(junk)

    def process(self, frame: bytes, duration_s: float) -> bytes:
        """Return the bytes the link delivers for ``frame``.

        Parameters
        ----------
        frame : bytes
            One clean frame.
        duration_s : float
            Stream time the frame covers (s); scales the garbage-burst probability.
        """
        cfg, rng, st = self.config, self._rng, self.stats
        st.frames_in += 1
        if not cfg.any_byte_faults:
            return frame
        out = b""
        if cfg.garbage_bursts_per_s:
            for _ in range(int(rng.poisson(cfg.garbage_bursts_per_s * duration_s))):
                n = int(rng.integers(1, cfg.garbage_max_bytes + 1))
                out += self._garbage(n)
                st.garbage_bursts += 1
                st.garbage_bytes += n
        if cfg.drop_frame_prob and rng.random() < cfg.drop_frame_prob:
            st.frames_dropped += 1
            return out
        data = frame
        damaged = False
        if cfg.ber:
            n_flips = int(rng.binomial(len(data) * 8, cfg.ber))
            if n_flips:
                arr = bytearray(data)
                for bit in rng.integers(0, len(data) * 8, n_flips):
                    arr[int(bit) >> 3] ^= 1 << (int(bit) & 7)
                data = bytes(arr)
                st.bits_flipped += n_flips
                damaged = True
        if cfg.drop_byte_prob:
            keep = rng.random(len(data)) >= cfg.drop_byte_prob
            n_drop = int(len(data) - keep.sum())
            if n_drop:
                data = np.frombuffer(data, dtype=np.uint8)[keep].tobytes()
                st.bytes_dropped += n_drop
                damaged = True
        st.frames_damaged += int(damaged)
        return out + data
