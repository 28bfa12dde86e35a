"""What a simulated device replays and how: :class:`ReplayConfig`, validated at construction."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from firmware_bridge.errors import ConfigError
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import SampleFormat

__all__ = ["ReplayConfig"]


@dataclass(frozen=True, kw_only=True)
class ReplayConfig:
    """What the simulated device replays and how.

    Attributes
    ----------
    record : MIT-BIH record name looked up in the data directory ("100") or a WFDB record path.
    data_dir : data directory; ``None`` = ``$MITDB_DIR`` (``$<DATABASE>_DIR``), else
        ``./data/<database>``.
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
            raise ConfigError("speed", f"must be > 0 (1 = real time) or \"max\" (as fast as "
                                       f"possible), got {self.speed!r}")
        if not 0 <= self.device_id <= 0xFFFF:
            raise ConfigError("device_id", f"must be 0..65535, got {self.device_id}")
        if self.samples_per_frame is not None and not 1 <= self.samples_per_frame <= 255:
            raise ConfigError("samples_per_frame", f"must be 1..255, got {self.samples_per_frame}")
        if not isinstance(self.faults, FaultConfig):
            raise ConfigError("faults", "must be a FaultConfig")
