"""Beat windows and RR-interval features: exactly what the classifier consumes.

Training (at reference beat positions) and the device (at detected beats) both go through
:func:`extract_windows` and :func:`rr_features`; the streaming :class:`BeatWindower` uses the
same functions, so a beat's window and RR features do not depend on how the stream was chunked.

Positions: beats are given as input-time sample indices at the processing rate (as the
detector reports them, aligned with the unfiltered signal). Windows are cut from the
conditioned signal, where the R peak sits ``align_samples`` later (the conditioning filters'
delay, see :attr:`edge.dsp.rpeak.DetectorConfig.alignment_ms`).

RR features of beat *i* (seconds), computed from beat times only:

* ``pre_rr_s``   -- R(i) - R(i-1); for the first beat, the post RR.
* ``post_rr_s``  -- R(i+1) - R(i); for the last beat of a stream, the local mean.
* ``local_rr_s`` -- mean of the last ``local_beats`` RR intervals ending with pre_rr.
* ``long_rr_s``  -- mean of the last ``long_beats`` RR intervals ending with pre_rr.

Every RR is clipped to [``min_rr_s``, ``max_rr_s``] before use.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.dsp.preprocess import PROCESSING_FS_HZ
from edge.errors import ConfigError, SignalError

__all__ = ["WindowConfig", "BeatBatch", "BeatWindower", "extract_windows", "rr_features",
           "RR_FEATURE_NAMES"]

logger = logging.getLogger(__name__)

RR_FEATURE_NAMES = ("pre_rr_s", "post_rr_s", "local_rr_s", "long_rr_s")


@dataclass(frozen=True, kw_only=True)
class WindowConfig:
    """Beat window and RR-feature settings (at the processing rate ``fs_hz``)."""

    fs_hz: float = PROCESSING_FS_HZ
    before_ms: float = 250.0
    after_ms: float = 450.0
    align_ms: float = 19.5
    local_beats: int = 10
    long_beats: int = 300
    min_rr_s: float = 0.15
    max_rr_s: float = 3.0

    def __post_init__(self) -> None:
        if not self.fs_hz > 0:
            raise ConfigError("fs_hz", "must be positive")
        if self.before_ms < 0 or self.after_ms <= 0:
            raise ConfigError("after_ms", "before_ms must be >= 0 and after_ms > 0")
        if self.local_beats < 1 or self.long_beats < self.local_beats:
            raise ConfigError("long_beats", "need 1 <= local_beats <= long_beats")
        if not 0 < self.min_rr_s < self.max_rr_s:
            raise ConfigError("min_rr_s", "need 0 < min_rr_s < max_rr_s")

    @property
    def before_samples(self) -> int:
        return int(round(self.before_ms * self.fs_hz / 1000.0))

    @property
    def after_samples(self) -> int:
        return int(round(self.after_ms * self.fs_hz / 1000.0))

    @property
    def align_samples(self) -> int:
        return int(round(self.align_ms * self.fs_hz / 1000.0))

    @property
    def length(self) -> int:
        """Samples per window: ``before_samples + after_samples``."""
        return self.before_samples + self.after_samples

    def to_dict(self) -> dict:
        return {"fs_hz": self.fs_hz, "before_ms": self.before_ms, "after_ms": self.after_ms,
                "align_ms": self.align_ms, "local_beats": self.local_beats,
                "long_beats": self.long_beats, "min_rr_s": self.min_rr_s,
                "max_rr_s": self.max_rr_s, "length": self.length,
                "rr_features": list(RR_FEATURE_NAMES)}


@dataclass(frozen=True)
class BeatBatch:
    """Beats ready for classification.

    ``sample_index`` (int64, input-time processing-rate index of each R peak),
    ``windows`` (float32, shape (n, length), conditioned mV, R peak at ``before_samples``),
    ``rr_s`` (float32, shape (n, 4), columns :data:`RR_FEATURE_NAMES`).
    """

    sample_index: np.ndarray
    windows: np.ndarray
    rr_s: np.ndarray

    def __len__(self) -> int:
        return int(self.sample_index.size)

    @staticmethod
    def empty(length: int) -> "BeatBatch":
        return BeatBatch(np.zeros(0, np.int64), np.zeros((0, length), np.float32),
                         np.zeros((0, 4), np.float32))


def extract_windows(conditioned_mv: np.ndarray, beats: np.ndarray, config: WindowConfig,
                    offset: int = 0) -> np.ndarray:
    """Cut one window per beat from a conditioned signal.

    ``conditioned_mv[k]`` holds conditioned sample ``offset + k``; ``beats`` are input-time
    indices. Samples outside the signal repeat the nearest edge sample.
    """
    x = np.asarray(conditioned_mv, dtype=np.float64)
    b = np.asarray(beats, dtype=np.int64)
    if x.ndim != 1:
        raise SignalError(f"conditioned signal must be 1-D, got shape {x.shape}")
    if b.size == 0:
        return np.zeros((0, config.length), dtype=np.float32)
    if x.size == 0:
        raise SignalError("cannot cut beat windows from an empty signal")
    centre = b + config.align_samples - offset
    idx = centre[:, None] + np.arange(-config.before_samples, config.after_samples)[None, :]
    np.clip(idx, 0, x.size - 1, out=idx)
    return x[idx].astype(np.float32)


def _clip_rr(rr_samples: np.ndarray, config: WindowConfig) -> np.ndarray:
    return np.clip(np.asarray(rr_samples, dtype=np.float64) / config.fs_hz,
                   config.min_rr_s, config.max_rr_s)


def _rolling_mean_prefix(rr: np.ndarray, n: int) -> np.ndarray:
    """out[i] = mean(rr[max(0, i - n + 1) .. i])."""
    c = np.concatenate([[0.0], np.cumsum(rr)])
    i = np.arange(rr.size)
    lo = np.maximum(0, i - n + 1)
    return (c[i + 1] - c[lo]) / (i + 1 - lo)


def rr_features(beats: np.ndarray, config: WindowConfig, *,
                last_is_final: bool = True) -> np.ndarray:
    """RR features (seconds, float32, shape (n, 4)) of a sequence of beat positions.

    Row *i* depends only on ``beats[: i + 2]``. With ``last_is_final`` the last beat gets the
    local mean as its post RR (end of stream); otherwise its post RR is NaN-free only when a
    next beat exists, so callers pass the next beat and drop the last row.
    """
    b = np.asarray(beats, dtype=np.int64)
    n = b.size
    if n == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if n == 1:
        return np.ones((1, 4), dtype=np.float32)  # a lone beat: nominal 1 s rhythm
    rr = _clip_rr(np.diff(b), config)  # rr[i] = beat i+1 - beat i
    local_rr = _rolling_mean_prefix(rr, config.local_beats)
    long_rr = _rolling_mean_prefix(rr, config.long_beats)
    out = np.zeros((n, 4))
    out[1:, 0] = rr
    out[1:, 2] = local_rr
    out[1:, 3] = long_rr
    out[:-1, 1] = rr
    out[0, 0] = out[0, 2] = out[0, 3] = rr[0]  # the first beat: its post RR stands in
    out[-1, 1] = out[-1, 2] if last_is_final else np.nan
    return out.astype(np.float32)


class BeatWindower:
    """Streaming stage: conditioned chunks + detected beats -> :class:`BeatBatch`.

    A beat is released once its next beat is known (for ``post_rr_s``) and its window's last
    sample has arrived. ``flush()`` releases the remainder at the end of a stream.

    Beats may be reported late (the detector decides a beat up to
    :attr:`edge.dsp.rpeak.RPeakDetector.max_delay_ms` after it): the windower keeps ``history_s``
    of signal for them. A beat older than that is still windowed (edge-padded), and counted in
    ``n_late``.
    """

    def __init__(self, config: WindowConfig | None = None, *, history_s: float = 4.0) -> None:
        self.config = config or WindowConfig()
        if not history_s > 0:
            raise ConfigError("history_s", "must be positive")
        self.history_samples = int(round(history_s * self.config.fs_hz))
        self.reset()

    def reset(self) -> None:
        self._sig = np.zeros(0)
        self._sig_start = 0
        self._n = 0
        self._pending: deque[int] = deque()
        self._history: deque[int] = deque(maxlen=self.config.long_beats + 1)
        self._last_released: int | None = None
        self.n_late = 0

    def process(self, conditioned_mv: np.ndarray, beats: np.ndarray) -> BeatBatch:
        """Feed the next conditioned samples and the beats detected so far (input-time indices,
        increasing); returns the beats whose window and RR features are complete."""
        cfg = self.config
        x = np.asarray(conditioned_mv, dtype=np.float64)
        if x.ndim != 1:
            raise SignalError("BeatWindower expects a 1-D conditioned chunk")
        self._sig = np.concatenate([self._sig, x])
        self._n += x.size
        for b in np.asarray(beats, dtype=np.int64).tolist():
            last = self._pending[-1] if self._pending else self._last_released
            if last is not None and b <= last:
                raise SignalError(f"beats must increase: {b} after {last}")
            if 0 < self._sig_start > b + cfg.align_samples - cfg.before_samples:
                self.n_late += 1
                logger.warning("beat at %d arrived after its window start left the %d-sample "
                               "history; its window is edge-padded", b, self.history_samples)
            self._pending.append(int(b))
        return self._release(final=False)

    def flush(self) -> BeatBatch:
        """End of stream: release every pending beat (windows padded with the edge sample)."""
        return self._release(final=True)

    def _release(self, *, final: bool) -> BeatBatch:
        cfg = self.config
        ready: list[int] = []
        pend = list(self._pending)
        for i, b in enumerate(pend):
            has_next = i + 1 < len(pend)
            window_done = b + cfg.align_samples + cfg.after_samples <= self._n
            if final or (has_next and window_done):
                ready.append(b)
            else:
                break
        if not ready:
            self._trim()
            return BeatBatch.empty(cfg.length)
        nxt = pend[len(ready):len(ready) + 1]
        hist = list(self._history)
        positions = np.array(hist + ready + nxt, dtype=np.int64)
        feats = rr_features(positions, cfg, last_is_final=not nxt)
        feats = feats[len(hist):len(hist) + len(ready)]
        win = extract_windows(self._sig, np.array(ready), cfg, offset=self._sig_start)
        for _ in ready:
            self._pending.popleft()
        self._history.extend(ready)
        self._last_released = ready[-1]
        self._trim()
        return BeatBatch(np.array(ready, dtype=np.int64), win, feats)

    def _trim(self) -> None:
        cfg = self.config
        oldest = self._n - self.history_samples
        if self._pending:
            oldest = min(oldest, self._pending[0])
        first_needed = oldest + cfg.align_samples - cfg.before_samples - 1
        drop = first_needed - self._sig_start
        if drop > 0:
            drop = min(drop, self._sig.size)
            self._sig = self._sig[drop:]
            self._sig_start += drop
