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

Invalid samples (lost, flat or saturated: the ``valid`` mask of
:class:`~edge.dsp.preprocess.Conditioned`): an RR interval with an invalid sample between its
two beats (both included) is *unknown* -- beats may have been missed there, and a 10 s gap
would otherwise read as a 3 s pause followed by a premature beat. :func:`fill_unknown_rr`
replaces it by the mean of the ``local_beats`` intervals before it (as already replaced;
1 s clipped to the RR range when there is none) before any feature is computed, so it never
looks premature or like a pause. A beat whose window has an invalid sample is flagged
(``window_invalid``); what to do with it is the classifier's caller's decision.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.dsp.buffer import SampleBuffer
from edge.dsp.preprocess import PROCESSING_FS_HZ
from edge.errors import ConfigError, SignalError

__all__ = ["WindowConfig", "BeatBatch", "BeatWindower", "extract_windows", "rr_features",
           "RR_FEATURE_NAMES", "fill_unknown_rr", "invalid_flags", "rr_intervals_s",
           "InvalidFlags"]

logger = logging.getLogger(__name__)

#: Half-width (ms) of a beat's QRS core around its R peak: bridged samples (a link gap,
#: :meth:`BeatWindower.bridge`) inside it make the window invalid, outside it they do not.
BRIDGE_CORE_MS = 80.0
#: No beat follows another closer than this (the R-peak detector's refractory period): an RR
#: interval across bridged samples none of which lies this far from both its beats is known.
MIN_BEAT_SPACING_MS = 200.0

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


class InvalidFlags:
    """What the beat records of the device path share about invalid samples (a gap, a flat
    line, saturation): ``window_invalid`` (bool (n,)) and ``rr_unknown`` (bool (n, 2), pre /
    post interval) default to all False, and :attr:`near_invalid` is derived from them. Mixed
    into frozen dataclasses that have ``sample_index`` and those two fields."""

    sample_index: np.ndarray
    window_invalid: np.ndarray | None
    rr_unknown: np.ndarray | None

    def __post_init__(self) -> None:
        n = int(np.asarray(self.sample_index).size)
        if self.window_invalid is None:
            object.__setattr__(self, "window_invalid", np.zeros(n, dtype=bool))
        if self.rr_unknown is None:
            object.__setattr__(self, "rr_unknown", np.zeros((n, 2), dtype=bool))

    @property
    def near_invalid(self) -> np.ndarray:
        """bool (n,): the beat's window or one of its RR intervals touches invalid samples."""
        return self.window_invalid | self.rr_unknown.any(axis=1)


@dataclass(frozen=True)
class BeatBatch(InvalidFlags):
    """Beats ready for classification.

    ``sample_index`` (int64, input-time processing-rate index of each R peak),
    ``windows`` (float32, shape (n, length), conditioned mV, R peak at ``before_samples``),
    ``rr_s`` (float32, shape (n, 4), columns :data:`RR_FEATURE_NAMES`, unknown intervals
    replaced), ``window_invalid`` (bool (n,): the window has an invalid sample) and
    ``rr_unknown`` (bool (n, 2): the pre / post interval spans invalid samples and was
    replaced by the local mean); both all False when omitted.
    """

    sample_index: np.ndarray
    windows: np.ndarray
    rr_s: np.ndarray
    window_invalid: np.ndarray | None = None
    rr_unknown: np.ndarray | None = None

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
    if b.size == 1:  # one beat (a streaming call): a slice when the window lies inside
        lo = int(centre[0]) - config.before_samples
        hi = lo + config.length
        if lo >= 0 and hi <= x.size:
            return x[lo:hi][None, :].astype(np.float32)
    idx = centre[:, None] + np.arange(-config.before_samples, config.after_samples)[None, :]
    np.clip(idx, 0, x.size - 1, out=idx)
    return x[idx].astype(np.float32)


def rr_intervals_s(beats: np.ndarray, config: WindowConfig) -> np.ndarray:
    """The RR intervals (s, float64, (n - 1,)) of beat positions at ``config.fs_hz``, clipped
    to [``min_rr_s``, ``max_rr_s``]: what :func:`rr_features` computes from."""
    return _clip_rr(np.diff(np.asarray(beats, dtype=np.int64)), config)


def _clip_rr(rr_samples: np.ndarray, config: WindowConfig) -> np.ndarray:
    # np.clip's arithmetic (max, then min) without its wrapper; intervals are never NaN
    rr = np.asarray(rr_samples, dtype=np.float64) / config.fs_hz
    np.maximum(rr, config.min_rr_s, out=rr)
    return np.minimum(rr, config.max_rr_s, out=rr)


def _rolling_mean_prefix(rr: np.ndarray, n: int, c: np.ndarray | None = None) -> np.ndarray:
    """out[i] = mean(rr[max(0, i - n + 1) .. i]); ``c``: :func:`_prefix_sums` of ``rr`` if
    already computed."""
    if c is None:
        c = _prefix_sums(rr)
    i = np.arange(rr.size)
    lo = np.maximum(0, i - n + 1)
    return (c[i + 1] - c[lo]) / (i + 1 - lo)


def _prefix_sums(rr: np.ndarray) -> np.ndarray:
    """[0, rr[0], rr[0] + rr[1], ...] (float64, sequential sums)."""
    c = np.empty(rr.size + 1)
    c[0] = 0.0
    np.cumsum(rr, out=c[1:])
    return c


def invalid_flags(beats: np.ndarray, config: WindowConfig,
                  count_invalid: Callable[[np.ndarray, np.ndarray], np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which beats and intervals touch invalid samples.

    Parameters
    ----------
    beats : int (n,) processing-rate beat positions, increasing.
    config : window settings.
    count_invalid : ``count_invalid(lo, hi)`` -> invalid samples in ``[lo, hi)`` (vectorised).

    Returns
    -------
    window_invalid : bool (n,), an invalid sample in the beat's window.
    interval_unknown : bool (n - 1,), an invalid sample in ``[beats[i], beats[i + 1]]``.
    """
    b = np.asarray(beats, dtype=np.int64)
    if b.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    centre = b + config.align_samples
    window = count_invalid(centre - config.before_samples, centre + config.after_samples) > 0
    interval = count_invalid(b[:-1], b[1:] + 1) > 0
    return window, interval


def fill_unknown_rr(rr_s: np.ndarray, unknown: np.ndarray, config: WindowConfig, *,
                    start: int = 0, bounded: np.ndarray | None = None) -> np.ndarray:
    """Replace unknown RR intervals (s) by the mean of the ``local_beats`` intervals before
    each (as already replaced); 1 s, clipped to [``min_rr_s``, ``max_rr_s``], when none
    precedes it. ``rr_s[:start]`` is taken as already replaced. Returns a float64 copy.

    ``bounded`` (bool, like ``unknown``): unknown intervals whose measured value can only be
    too long (a beat may have been lost in a link gap inside them, nothing else): one shorter
    than that mean (by 1 ms or more) keeps its measured value -- a premature beat is
    premature either way."""
    return _fill_unknown_rr(rr_s, unknown, config, start, bounded)[0]


def _fill_unknown_rr(rr_s: np.ndarray, unknown: np.ndarray, config: WindowConfig, start: int,
                     bounded: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fill_unknown_rr`, and which ``bounded`` intervals kept their value."""
    out = np.array(rr_s, dtype=np.float64)
    unk = np.asarray(unknown, dtype=bool)
    if unk.shape != out.shape:
        raise SignalError(f"unknown mask {unk.shape} does not match the intervals {out.shape}")
    kept = np.zeros(out.shape, dtype=bool)
    nominal = float(np.clip(1.0, config.min_rr_s, config.max_rr_s))
    for i in np.flatnonzero(unk[start:]) + start:
        before = out[max(0, i - config.local_beats):i]
        fill = float(before.mean()) if before.size else nominal
        if bounded is not None and bounded[i] and out[i] < fill - 1e-3:  # 1 ms short
            kept[i] = True
        else:
            out[i] = fill
    return out, kept


def rr_features(beats: np.ndarray, config: WindowConfig, *,
                last_is_final: bool = True, intervals_s: np.ndarray | None = None
                ) -> np.ndarray:
    """RR features (seconds, float32, shape (n, 4)) of a sequence of beat positions.

    Row *i* depends only on ``beats[: i + 2]``. With ``last_is_final`` the last beat gets the
    local mean as its post RR (end of stream); otherwise its post RR is NaN-free only when a
    next beat exists, so callers pass the next beat and drop the last row. ``intervals_s``
    (n - 1,) replaces the clipped intervals ``diff(beats)`` (e.g. with unknown intervals
    filled by :func:`fill_unknown_rr`).
    """
    b = np.asarray(beats, dtype=np.int64)
    n = b.size
    if n == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if n == 1:
        return np.ones((1, 4), dtype=np.float32)  # a lone beat: nominal 1 s rhythm
    rr = _clip_rr(np.diff(b), config) if intervals_s is None else np.asarray(intervals_s)
    if rr.shape != (n - 1,):
        raise SignalError(f"need {n - 1} intervals for {n} beats, got shape {rr.shape}")
    c = _prefix_sums(rr)
    local_rr = _rolling_mean_prefix(rr, config.local_beats, c)
    long_rr = _rolling_mean_prefix(rr, config.long_beats, c)
    out = np.zeros((n, 4))
    out[1:, 0] = rr
    out[1:, 2] = local_rr
    out[1:, 3] = long_rr
    out[:-1, 1] = rr
    out[0, 0] = out[0, 2] = out[0, 3] = rr[0]  # the first beat: its post RR stands in
    out[-1, 1] = out[-1, 2] if last_is_final else np.nan
    return out.astype(np.float32)


def _rr_feature_rows(rr: np.ndarray, rows: range, config: WindowConfig, *,
                     last_is_final: bool) -> np.ndarray:
    """Rows ``rows`` of ``rr_features(beats, config, last_is_final=..., intervals_s=rr)``
    (``beats``: ``rr.size + 1`` positions) with its arithmetic (the same prefix sums, each
    mean the same difference over the same count), computed for those rows only: the
    windower releases a beat or two at a time from a history of ``long_beats``."""
    n = rr.size + 1
    if n == 1:
        return np.ones((len(rows), 4), dtype=np.float32)
    c = _prefix_sums(rr)
    out = np.empty((len(rows), 4))
    for j, i in enumerate(rows):
        if i == 0:  # the first beat: its post RR stands in
            pre = local = long_ = rr[0]
        else:
            k = i - 1  # the interval ending at beat i
            pre = rr[k]
            lo = max(0, k - config.local_beats + 1)
            local = (c[k + 1] - c[lo]) / (k + 1 - lo)
            lo = max(0, k - config.long_beats + 1)
            long_ = (c[k + 1] - c[lo]) / (k + 1 - lo)
        if i < n - 1:
            post = rr[i]
        else:
            post = local if last_is_final else np.nan
        out[j] = (pre, post, local, long_)
    return out.astype(np.float32)


class BeatWindower:
    """Streaming stage: conditioned chunks + detected beats -> :class:`BeatBatch`.

    A beat is released once its next beat is known (for ``post_rr_s``) and its window's last
    sample has arrived. ``flush()`` releases the remainder at the end of a stream.

    Beats may be reported late (the detector decides a beat up to
    :attr:`edge.dsp.rpeak.RPeakDetector.max_delay_ms` after it): the windower keeps ``history_s``
    of signal for them. A beat older than that is still windowed (edge-padded), and counted in
    ``n_late``.

    With the conditioned chunk's ``valid`` mask, intervals spanning invalid samples are
    replaced (:func:`fill_unknown_rr`) and flagged, as are windows touching them (see the
    module docstring); the runs of invalid samples are kept back to the last released beat.
    """

    def __init__(self, config: WindowConfig | None = None, *, history_s: float = 4.0) -> None:
        self.config = config or WindowConfig()
        if not history_s > 0:
            raise ConfigError("history_s", "must be positive")
        self.history_samples = int(round(history_s * self.config.fs_hz))
        cfg = self.config
        self._align, self._before = cfg.align_samples, cfg.before_samples
        self._core = int(round(BRIDGE_CORE_MS * cfg.fs_hz / 1000.0))
        self._spacing = int(round(MIN_BEAT_SPACING_MS * cfg.fs_hz / 1000.0))
        self._window_end = cfg.align_samples + cfg.after_samples  # last sample + 1, from R
        self._empty = BeatBatch.empty(cfg.length)  # size 0: shared by the calls with no beat
        self.reset()

    def reset(self) -> None:
        self._sig = SampleBuffer()  # conditioned samples, from the oldest window needed on
        self._n = 0
        self._pending: deque[int] = deque()
        # the last long_beats + 1 released beats, the interval (s) ending at each as used
        # (unknown ones replaced; NaN for a stream's first beat), and whether it was replaced
        self._history = SampleBuffer(np.int64)
        self._history_rr = SampleBuffer(np.float64)
        self._history_replaced: deque[bool] = deque(maxlen=self.config.long_beats + 1)
        self._n_replaced = 0  # True values in _history_replaced
        self._invalid_runs: deque[list[int]] = deque()  # [start, end, bridged] invalid runs
        self._bridges: deque[tuple[int, int]] = deque()  # [start, stop) announced by bridge()
        self._n_bridged_runs = 0  # runs in _invalid_runs inside a bridge
        self._last_released: int | None = None
        self.n_late = 0

    def process(self, conditioned_mv: np.ndarray, beats: np.ndarray,
                valid: np.ndarray | None = None) -> BeatBatch:
        """Feed the next conditioned samples, the beats detected so far (input-time indices,
        increasing) and, optionally, the samples' validity (bool, same length; all valid when
        omitted); returns the beats whose window and RR features are complete."""
        cfg = self.config
        x = np.asarray(conditioned_mv, dtype=np.float64)
        if x.ndim != 1:
            raise SignalError("BeatWindower expects a 1-D conditioned chunk")
        if valid is not None:
            v = np.asarray(valid, dtype=bool)
            if v.shape != x.shape:
                raise SignalError(f"valid mask {v.shape} does not match the chunk {x.shape}")
            self._add_invalid(v)
        self._sig.append(x)
        self._n += x.size
        for b in np.asarray(beats, dtype=np.int64).tolist():
            last = self._pending[-1] if self._pending else self._last_released
            if last is not None and b <= last:
                raise SignalError(f"beats must increase: {b} after {last}")
            if 0 < self._sig.start > b + cfg.align_samples - cfg.before_samples:
                self.n_late += 1
                logger.warning("beat at %d arrived after its window start left the %d-sample "
                               "history; its window is edge-padded", b, self.history_samples)
            self._pending.append(int(b))
        return self._release(final=False)

    @property
    def next_release_samples(self) -> int | None:
        """The fewest conditioned samples (counted from the stream's start) at which
        :meth:`process` releases a beat without being given a new one (a pending beat whose
        successor is known once its window is complete); ``None``: only a new beat can
        release one."""
        if len(self._pending) < 2:
            return None
        return self._pending[0] + self._window_end

    def flush(self) -> BeatBatch:
        """End of stream: release every pending beat (windows padded with the edge sample)."""
        return self._release(final=True)

    def bridge(self, start: int, stop: int) -> None:
        """Announce that samples ``[start, stop)`` (not yet fed) were lost in transit and are
        fed as a straight line (:meth:`edge.dsp.rpeak.RPeakDetector.bridge`): a beat's window
        that holds bridged samples only outside its QRS (``BRIDGE_CORE_MS`` around the R peak)
        is not flagged ``window_invalid``; an RR interval across them stays unknown (a beat
        may have been lost in them)."""
        if stop > start:
            self._bridges.append((int(start), int(stop)))

    def _add_invalid(self, valid: np.ndarray) -> None:
        if valid.all():
            return
        bad = np.concatenate([[False], ~valid, [False]])
        edges = np.flatnonzero(np.diff(bad.astype(np.int8)))
        for lo, hi in zip((edges[0::2] + self._n).tolist(), (edges[1::2] + self._n).tolist()):
            bridged = any(a <= lo and hi <= b for a, b in self._bridges)
            last = self._invalid_runs[-1] if self._invalid_runs else None
            if last is not None and last[1] == lo and last[2] == bridged:
                last[1] = hi
            else:
                self._invalid_runs.append([lo, hi, bridged])
                self._n_bridged_runs += bridged

    def _count_invalid(self, lo: np.ndarray, hi: np.ndarray,
                       bridged: bool | None = None) -> np.ndarray:
        """Invalid samples in ``[lo, hi)``: of every run, or only of the bridged (True) or the
        other (False) ones."""
        out = np.zeros(np.shape(lo), dtype=np.int64)
        for a, b, kind in self._invalid_runs:
            if bridged is None or kind == bridged:
                out += np.maximum(0, np.minimum(hi, b) - np.maximum(lo, a))
        return out

    def _interval_flags(self, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`invalid_flags`' interval flags, bridged samples counting only where a beat
        could have been lost (``MIN_BEAT_SPACING_MS`` or more from both beats); and which of
        the unknown intervals are so for a bridge alone (their measured value can only be too
        long: :func:`fill_unknown_rr`'s ``bounded``)."""
        b = np.asarray(beats, dtype=np.int64)
        hard = self._count_invalid(b[:-1], b[1:] + 1, bridged=False) > 0
        hidden = self._count_invalid(b[:-1] + self._spacing, b[1:] - self._spacing + 1,
                                     bridged=True) > 0
        return hard | hidden, hidden & ~hard

    def _window_flags(self, beats: np.ndarray) -> np.ndarray:
        """:func:`invalid_flags`' window flags, bridged samples counting only inside the
        QRS core."""
        cfg = self.config
        b = np.asarray(beats, dtype=np.int64)
        centre = b + cfg.align_samples
        hard = self._count_invalid(centre - cfg.before_samples, centre + cfg.after_samples,
                                   bridged=False) > 0
        return hard | (self._count_invalid(b - self._core, b + self._core + 1,
                                           bridged=True) > 0)

    def _release(self, *, final: bool) -> BeatBatch:
        cfg = self.config
        if not final and (len(self._pending) < 2
                          or self._pending[0] + self._window_end > self._n):
            self._trim()  # nothing to release (most calls)
            return self._empty
        ready: list[int] = []
        pend = list(self._pending)
        end, n = self._window_end, self._n
        for i, b in enumerate(pend):
            if final or (i + 1 < len(pend) and b + end <= n):
                ready.append(b)
            else:
                break
        if not ready:
            self._trim()
            return self._empty
        nxt = pend[len(ready):len(ready) + 1]
        hist = self._history.data
        n_hist = hist.size
        positions = np.concatenate((hist, np.array(ready + nxt, dtype=np.int64)))
        measured = _clip_rr(positions[1:] - positions[:-1], cfg)
        # intervals before first_new were decided when their end beat was released
        first_new = max(n_hist - 1, 0)
        new = positions[first_new:]
        r0 = n_hist - first_new  # index of ready[0] in ``new``
        bounded_new = None
        if self._invalid_runs:
            window_all, unknown_new = invalid_flags(new, cfg, self._count_invalid)
            window_bad = window_all[r0:r0 + len(ready)]
            if self._n_bridged_runs and window_bad.any():
                window_bad = self._window_flags(np.array(ready, dtype=np.int64))
            if self._n_bridged_runs and unknown_new.any():
                unknown_new, bounded_new = self._interval_flags(new)
        else:
            window_bad = np.zeros(len(ready), dtype=bool)
            unknown_new = np.zeros(max(new.size - 1, 0), dtype=bool)
        intervals = measured
        if unknown_new.any() or self._n_replaced:
            intervals = measured.copy()
            if first_new:
                intervals[:first_new] = self._history_rr.data[1:]
            mask = np.zeros(intervals.size, dtype=bool)
            mask[first_new:] = unknown_new
            bounded = None
            if bounded_new is not None and bounded_new.any():
                bounded = np.zeros(intervals.size, dtype=bool)
                bounded[first_new:] = bounded_new
            intervals, kept = _fill_unknown_rr(intervals, mask, cfg, first_new, bounded)
            if kept.any():  # a premature interval kept: known, as measured
                unknown_new = unknown_new & ~kept[first_new:]
        feats = _rr_feature_rows(intervals, range(n_hist, n_hist + len(ready)), cfg,
                                 last_is_final=not nxt)
        rr_unknown = np.zeros((len(ready), 2), dtype=bool)
        if unknown_new.any():
            # ready[j] is new[r0 + j]: its pre interval is unknown_new[r0 + j - 1], its post
            # unknown_new[r0 + j] (the first beat of a stream: its post stands in for its pre)
            post = np.zeros(len(ready), dtype=bool)
            m = min(len(ready), unknown_new.size - r0)
            post[:m] = unknown_new[r0:r0 + m]
            pre = np.concatenate([[post[0]] if r0 == 0 else unknown_new[r0 - 1:r0],
                                  post[:-1]])
            rr_unknown[:, 0], rr_unknown[:, 1] = pre, post
        win = extract_windows(self._sig.data, np.array(ready), cfg, offset=self._sig.start)
        rr_ready = []
        for j in range(len(ready)):
            self._pending.popleft()
            k = n_hist + j - 1  # the interval ending at ready[j]
            rr_ready.append(float(intervals[k]) if k >= 0 else float("nan"))
            replaced = bool(k >= first_new and k >= 0 and unknown_new[k - first_new])
            flags = self._history_replaced
            if len(flags) == flags.maxlen and flags[0]:
                self._n_replaced -= 1  # leaves the history
            flags.append(replaced)
            self._n_replaced += replaced
        keep = self.config.long_beats + 1
        self._history.append(positions[n_hist:n_hist + len(ready)])
        self._history_rr.append(np.array(rr_ready))
        self._history.trim_before(self._history.end - keep)
        self._history_rr.trim_before(self._history_rr.end - keep)
        self._last_released = ready[-1]
        self._trim()
        return BeatBatch(np.array(ready, dtype=np.int64), win, feats, window_bad, rr_unknown)

    def _trim(self) -> None:
        oldest = self._n - self.history_samples
        if self._pending:
            oldest = min(oldest, self._pending[0])
        first_needed = oldest + self._align - self._before - 1
        self._sig.trim_before(first_needed)
        if self._invalid_runs and self._last_released is not None:
            keep_from = self._last_released + min(0, self._align - self._before)
            while self._invalid_runs and self._invalid_runs[0][1] <= keep_from:
                self._n_bridged_runs -= self._invalid_runs.popleft()[2]
            while self._bridges and self._bridges[0][1] <= keep_from:
                self._bridges.popleft()
