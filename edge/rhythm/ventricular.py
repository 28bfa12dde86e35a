"""Streaming ventricular flutter / fibrillation detector: conditioned ECG in, VF episodes out.

VF has no QRS complexes, so it is found from the waveform, not the beat stream: every
``step_s`` (1 s) the last ``window_s`` (4 s) of conditioned samples (the band-passed signal the
R-peak detector sees, :class:`edge.dsp.preprocess.Conditioned`, at the processing rate) give
the features of :mod:`edge.rhythm.vfeatures`, and the bundled tree model
(:mod:`edge.rhythm.model`, ``kind`` ``"vf_window"``) gives P(shockable) of that window. With
``net`` (on by default) P is the average of the trees' P and the VF network's
(:mod:`edge.rhythm.vf_net`: a small int8 CNN over the window's waveform; its share is its
file's ``blend_weight``). A window with fewer than ``min_valid_share`` valid samples
(lead-off, flat, saturated) gets no P (NaN) and counts as not shockable.

Episodes: an episode starts when ``onset_k`` of the last ``onset_n`` windows have P >=
``p_shockable`` (the alarm is raised at the end of the window that completes the count) and
ends after ``offset_windows`` windows in a row below it. The onset is dated at the middle of
the first shockable window of that count, the end at the middle of the last shockable window
(a window is called shockable once VF fills about half of it). Each change carries its
evidence (P, dominant frequency, the window's features) and the episode's character:
``VFL`` (ventricular flutter: most of the power at one frequency, ``peak_share`` >=
``flutter_peak_share`` on the median of the episode's windows so far) or ``VF``.

**Screening** (``screen``, on by default): most windows of organised rhythm are ruled out
before their features are computed. With the network, its P comes first (about a third of the
cost of the cheaper features): when even a tree P of 1 averaged with it stays below
``p_shockable``, the window needs no feature at all. Otherwise the model's trees are evaluated
over the cheaper :data:`~edge.rhythm.vfeatures.SCREEN_FEATURES` with every split on another
feature allowed to go either way (:meth:`~edge.rhythm.model.TreeModel.raw_upper`, exact); when
even that highest score, averaged with the network's P, stays below ``p_shockable``
the window cannot be shockable, and unless it
is the one window that could end an episode (``offset_windows`` after the last shockable one)
its P is never needed. Such a window has ``p`` NaN and ``p_max`` the bound; the episodes, their
dates, P and evidence are the same as without screening (on 48 MIT-BIH and 35 CUDB records,
and ``tests/edge/rhythm/test_ventricular.py``).

**Organised-rhythm veto** (``organised_veto``, on by default; needs the R-peak detector's
beats, :meth:`VfDetector.add_beats`): a window with P >= ``p_shockable`` is not shockable when
the beats inside it show an organised rhythm -- at least 3, at 40-150 bpm, intervals varying
by <= 10 % (coefficient of variation) and every QRS correlated >= 0.9 with their median QRS.
VF has no such beats (and the veto is given none of the detector's flutter beats,
:attr:`~edge.dsp.rpeak.RPeakDetector.flutter_peaks`); what it catches is an
organised rhythm under noise or a regular oscillation that the window features take for VF.
Only beats the detector had decided by the window's end minus its decision lag count
(:attr:`edge.dsp.rpeak.RPeakDetector.decided_at`), so the veto, too, is chunk-invariant. On
the out-of-fold design windows (CUDB + MIT-BIH DS1) it took CUDB window specificity from
0.926 to 0.937 at window sensitivity 0.843 -> 0.842, episodes found and latency unchanged, and
the false alarm episodes in DS1 from 1 to 0 (clean), 10 to 7 (NSTDB em 6 dB) and 6 to 4 (ma
6 dB) (benchmarks/results/ventricular.design.md).

**Changes only** (``VfDetector(changes_only=True)``, the daemon's and ``annotate``'s): an
onset needs ``onset_k`` shockable windows and an end ``offset_windows`` non-shockable ones, so
after a window that is not shockable the next one or two cannot change anything; those wait
and are scored in one batch with the first window that could
(:attr:`VfDetector.next_change_end`), which costs less per window than scoring each alone.
And a window the organised-rhythm veto rules out is never shockable, so the veto is tested
first and such a window is not scored (unless it could close an episode). Every change
leaves in the same call, with the same dates, P and evidence, as without it.

Window ends are fixed at ``first sample + window + k x step`` (processing-rate samples), so
feeding 1, 7 or all samples at a time gives identical windows, probabilities and episodes
(state: the last window of samples, the decision history, the open episode).
"""
from __future__ import annotations

import bisect
import logging
import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dsp.buffer import SampleBuffer
from edge.dsp.medians import median, numpy_sum
from edge.dsp.preprocess import PROCESSING_FS_HZ, Conditioned
from edge.errors import ConfigError, ModelError, SignalError
from edge.rhythm import vf_net as _vf_net
from edge.rhythm.model import TreeModel, default_model_path, load_tree_model
from edge.rhythm.vf_net import VfNet, load_vf_net
from edge.rhythm.vfeatures import (
    MIN_WINDOW_S,
    SCREEN_MASK,
    VF_FEATURE_NAMES,
    vf_windows_features,
)

__all__ = ["VF_KIND", "VentricularConfig", "VfWindow", "VfChange", "VfWindows",
           "VfDetector", "VfOutput", "load_vf_model", "VFL_PEAK_SHARE", "vf_episodes",
           "vf_change_episodes"]

logger = logging.getLogger(__name__)

#: The rate of the windows the VF network reads (the processing rate).
VF_NET_FS_HZ = _vf_net.NET_FS_HZ * _vf_net.DECIMATION
#: The window length the VF network reads (s).
VF_NET_WINDOW_S = _vf_net.WINDOW_S

#: The ``kind`` of the VF window model file.
VF_KIND = "vf_window"

#: The bundled (window model, network) pairs :attr:`VentricularConfig.models` names.
VF_MODEL_SETS: dict[str, tuple[Path, Path]] = {
    "monitor": (default_model_path(VF_KIND), _vf_net.default_vf_net_path()),
    "handheld": (default_model_path(VF_KIND).with_name("rhythm_vf_handheld.json"),
                 _vf_net.default_vf_net_path().with_name("rhythm_vf_net_handheld.tflite")),
}

#: Default ``flutter_peak_share``: above it an episode is flutter (``VFL``), else ``VF``.
VFL_PEAK_SHARE = 0.5

#: Most windows whose features are computed in one batch (bounds the memory of a long chunk).
#: Most windows a ``changes_only`` :class:`VfDetector` lets wait (bounds the samples it holds).
_MAX_DEFERRED = 16
_BATCH_WINDOWS = 64

_REST_COLS = np.flatnonzero(~SCREEN_MASK)[None, :]

_EVIDENCE = ("std_mv", "tcsc", "vf_leakage", "dom_freq_hz", "peak_share", "baseline_share")


@dataclass(frozen=True, kw_only=True)
class VentricularConfig:
    """Settings of :class:`VfDetector` (times in s, converted to samples once).

    Attributes
    ----------
    fs_hz : the conditioned signal's rate (the processing rate, Hz).
    window_s : window length (>= 2 s).
    step_s : window step (0 < step_s <= window_s).
    min_valid_share : fewest valid samples for a window to be analysed (0..1).
    p_shockable : P(shockable) at or above which a window is shockable (0..1).
    onset_k, onset_n : an episode starts when ``onset_k`` of the last ``onset_n`` windows are
        shockable (1 <= k <= n).
    offset_windows : non-shockable windows in a row that end it (>= 1).
    flutter_peak_share : spectral concentration above which an episode is ``VFL``.
    model_path : the window model (JSON); ``None``: the bundled one.
    screen : a window's features and P are computed only when the network's P (with a tree
        P of 1) and then the model's exact bound over the cheaper features
        (:meth:`TreeModel.raw_upper`) allow P >= ``p_shockable``, or when the window could
        close an episode (the costlier features, ``part="rest"`` of
        :func:`~edge.rhythm.vfeatures.vf_windows_features`, only then); a screened window
        has ``p`` NaN and ``p_max`` its bound. Episodes and alerts are the same either way
        (see :class:`VfDetector`).
    organised_veto : a window with P >= ``p_shockable`` is not shockable when the R-peak
        detector's beats in it (:meth:`VfDetector.add_beats`) show an organised rhythm: at
        least ``organised_min_beats`` beats, every interval between ``organised_min_rr_s``
        and ``organised_max_rr_s`` (40-150 bpm), their coefficient of variation <=
        ``organised_max_rr_cv``, and each beat's QRS (+-60 ms of the conditioned signal)
        correlated >= ``organised_min_corr`` with the beats' median QRS. Without beats fed
        nothing is vetoed.
    net : average the trees' P with the VF network's (:mod:`edge.rhythm.vf_net`; the
        network's share is its file's ``blend_weight``); needs 4-s windows at 360 Hz.
    net_path : the VF network (``.tflite``); ``None``: the bundled one.
    models : which bundled window model and network ``model_path`` / ``net_path`` default to
        (:data:`VF_MODEL_SETS`): ``"monitor"`` (fitted on CUDB + MIT-BIH DS1 with NSTDB
        noise; the default) or ``"handheld"`` (the same recipe with the CinC 2017 handheld
        recordings as not-shockable examples too: far fewer false alarms from hand-motion
        artefact, for a median alarm latency 0.18 s longer on CUDB; README, VT/VF section).
    """

    fs_hz: float = PROCESSING_FS_HZ
    window_s: float = 4.0
    step_s: float = 1.0
    min_valid_share: float = 0.9
    # chosen on the out-of-fold CUDB + MIT-BIH DS1 windows with the VF network's average
    # (ventricular.design.md section 7): every episode found, median latency <= 5 s, no
    # false episode in clean DS1 and window Se not below the trees' alone, with the fewest
    # false episodes (clean and NSTDB em / ma 6 dB)
    p_shockable: float = 0.65
    onset_k: int = 3
    onset_n: int = 3
    offset_windows: int = 12
    flutter_peak_share: float = VFL_PEAK_SHARE
    model_path: str | None = None
    screen: bool = True
    # chosen on the out-of-fold CUDB + MIT-BIH DS1 windows (ventricular.design.md section 6)
    organised_veto: bool = True
    organised_min_beats: int = 3
    organised_min_rr_s: float = 0.4
    organised_max_rr_s: float = 1.5
    organised_max_rr_cv: float = 0.1
    organised_min_corr: float = 0.9
    net: bool = True
    net_path: str | None = None
    models: str = "monitor"

    @property
    def model_file(self) -> Path:
        """The window model this configuration loads."""
        return Path(self.model_path) if self.model_path else VF_MODEL_SETS[self.models][0]

    @property
    def net_file(self) -> Path:
        """The VF network this configuration loads (when ``net``)."""
        return Path(self.net_path) if self.net_path else VF_MODEL_SETS[self.models][1]

    def __post_init__(self) -> None:
        if self.models not in VF_MODEL_SETS:
            raise ConfigError("models", f"must be one of {', '.join(VF_MODEL_SETS)}, "
                                        f"got {self.models!r}")
        if not (np.isfinite(self.fs_hz) and self.fs_hz >= 100):
            raise ConfigError("fs_hz", f"must be >= 100 Hz, got {self.fs_hz!r}")
        if not (np.isfinite(self.window_s) and self.window_s >= MIN_WINDOW_S):
            raise ConfigError("window_s", f"must be >= {MIN_WINDOW_S} s, got {self.window_s!r}")
        if not (np.isfinite(self.step_s) and 0 < self.step_s <= self.window_s):
            raise ConfigError("step_s", f"must lie in (0, window_s], got {self.step_s!r}")
        for name in ("min_valid_share", "p_shockable", "flutter_peak_share"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise ConfigError(name, f"must lie in [0, 1], got {v!r}")
        for name in ("screen", "organised_veto", "net"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be true or false, got {getattr(self, name)!r}")
        if self.net and self.window_s != VF_NET_WINDOW_S:
            raise ConfigError("window_s", f"the VF network reads {VF_NET_WINDOW_S:g}-s windows, "
                                          f"got {self.window_s!r}; set net = false for others")
        if not (isinstance(self.organised_min_beats, int)
                and not isinstance(self.organised_min_beats, bool)
                and self.organised_min_beats >= 2):
            raise ConfigError("organised_min_beats",
                              f"must be an integer >= 2, got {self.organised_min_beats!r}")
        lo, hi = self.organised_min_rr_s, self.organised_max_rr_s
        if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float))
                and 0 < lo < hi <= self.window_s):
            raise ConfigError("organised_min_rr_s",
                              f"need 0 < organised_min_rr_s < organised_max_rr_s <= window_s, "
                              f"got {lo!r}, {hi!r}")
        if not (isinstance(self.organised_max_rr_cv, (int, float))
                and self.organised_max_rr_cv >= 0):
            raise ConfigError("organised_max_rr_cv",
                              f"must be >= 0, got {self.organised_max_rr_cv!r}")
        if not (isinstance(self.organised_min_corr, (int, float))
                and -1 <= self.organised_min_corr <= 1):
            raise ConfigError("organised_min_corr",
                              f"must lie in [-1, 1], got {self.organised_min_corr!r}")
        for name in ("onset_k", "onset_n", "offset_windows"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(name, f"must be an integer >= 1, got {v!r}")
        if self.onset_k > self.onset_n:
            raise ConfigError("onset_k", f"must be <= onset_n ({self.onset_n}), "
                                         f"got {self.onset_k}")


#: Half-width of the QRS shapes the organised-rhythm veto compares (s).
QRS_HALF_S = 0.06


def organised_windows(ends: np.ndarray, rows: np.ndarray, beat_index: np.ndarray,
                      decided_at: np.ndarray, lag_samples: int,
                      config: VentricularConfig) -> np.ndarray:
    """The organised-rhythm test (:attr:`VentricularConfig.organised_veto`) of windows ending
    at ``ends`` (exclusive, processing rate) with samples ``rows`` (n_windows, n_window):
    True where the beats inside a window (R peak ``QRS_HALF_S`` or more from both edges) that
    the detector decided by ``end - lag_samples`` (``decided_at``,
    :attr:`edge.dsp.rpeak.RPeakDetector.decision_lag_samples`) show an organised rhythm.
    ``beat_index`` increasing. Only decided beats count, so the answer does not depend on
    how the stream was chunked.

    A window holds a few beats, so their intervals are checked on Python floats with
    numpy's arithmetic (``np.diff(r) / fs``, its min, max, mean and std in numpy's summation
    order: the same bits), and the median QRS is :func:`edge.dsp.medians.median`'s."""
    cfg = config
    fs = cfg.fs_hz
    n_w = rows.shape[1]
    h = int(round(QRS_HALF_S * fs))
    out = np.zeros(len(ends), dtype=bool)
    if beat_index.size < cfg.organised_min_beats:
        return out
    lo = np.searchsorted(beat_index, ends - n_w + h, side="left")
    hi = np.searchsorted(beat_index, ends - h, side="left")
    offs = np.arange(-h, h + 1)
    for i in np.flatnonzero(hi - lo >= cfg.organised_min_beats).tolist():
        e = int(ends[i])
        r = beat_index[lo[i]:hi[i]][decided_at[lo[i]:hi[i]] <= e - lag_samples]
        if r.size < cfg.organised_min_beats:
            continue
        r_l = r.tolist()
        rr = [(b - a) / fs for a, b in zip(r_l, r_l[1:])]
        if min(rr) < cfg.organised_min_rr_s or max(rr) > cfg.organised_max_rr_s:
            continue
        n_rr = len(rr)
        mean = numpy_sum(rr) / n_rr
        std = math.sqrt(numpy_sum([(v - mean) * (v - mean) for v in rr]) / n_rr)
        if std > cfg.organised_max_rr_cv * mean:
            continue
        qrs = rows[i][(r - (e - n_w))[:, None] + offs]
        qrs = qrs - qrs.sum(axis=1, keepdims=True) / qrs.shape[1]  # qrs.mean(axis=1)
        med = median(qrs, 0)
        den = np.sqrt((qrs * qrs).sum(axis=1) * float(med @ med))
        corr = (qrs @ med) / np.maximum(den, 1e-12)
        out[i] = bool(corr.min() >= cfg.organised_min_corr)
    return out


def load_vf_model(path: str | os.PathLike | None = None) -> TreeModel:
    """The VF window model (the bundled one by default), checked against this code's
    features (:class:`~edge.errors.ModelError` otherwise)."""
    return load_tree_model(path or default_model_path(VF_KIND), kind=VF_KIND,
                           feature_names=VF_FEATURE_NAMES)


@dataclass(frozen=True)
class VfWindow:
    """One analysed window: its end (processing-rate sample index, exclusive), P(shockable)
    (NaN when not analysed or screened), its features (NaN when not analysed; a screened
    window has only :data:`~edge.rhythm.vfeatures.SCREEN_FEATURES`, or none when the network
    alone ruled it out), ``p_max``: the highest P its network P and screen features allow
    (< ``p_shockable``; NaN unless screened), and
    ``organised``: a window with P >= ``p_shockable`` whose beats show an organised rhythm
    (the organised-rhythm veto: not shockable)."""

    end_index: int
    p: float
    features: np.ndarray
    p_max: float = float("nan")
    organised: bool = False


@dataclass(frozen=True)
class VfChange:
    """An episode onset (``state="onset"``) or end.

    ``sample_index``: where it is dated (processing rate); ``alarm_index``: the end of the
    window that confirmed it (when a device knows); ``rhythm``: ``VF`` or ``VFL``; ``p``:
    P(shockable) of the confirming window; ``evidence``: its features.
    """

    state: str
    sample_index: int
    alarm_index: int
    rhythm: str
    p: float
    evidence: dict[str, float]


@dataclass(frozen=True)
class VfOutput:
    """What one call released: the windows completed and the episode changes they confirmed."""

    windows: list[VfWindow]
    changes: list[VfChange]


class VfWindows:
    """Streaming 4-s windows of conditioned samples and their features (no model).

    Parameters
    ----------
    config : window, step and validity settings.
    """

    def __init__(self, config: VentricularConfig | None = None) -> None:
        self.config = config or VentricularConfig()
        cfg = self.config
        self.n_window = int(round(cfg.window_s * cfg.fs_hz))
        self.n_step = int(round(cfg.step_s * cfg.fs_hz))
        self.reset()

    def reset(self) -> None:
        # samples from the next window's start on (a small chunk costs what it appends)
        self._x = SampleBuffer()
        self._valid = SampleBuffer(bool)
        self._start: int | None = None  # absolute index of the stream's first sample
        self._end: int | None = None  # absolute index after the last sample fed
        self._next: int | None = None  # end of the next window
        self.n_windows = 0
        self.n_unanalysed = 0

    @property
    def end_index(self) -> int | None:
        """Absolute index after the last sample fed (``None`` before any)."""
        return self._end

    @property
    def next_window_end(self) -> int:
        """Absolute index (exclusive) of the end of the next window: :meth:`process` completes
        no window before samples up to there have been fed (0 before any sample)."""
        return 0 if self._next is None else self._next

    def process(self, chunk: Conditioned,
                features: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                ) -> list[tuple[int, np.ndarray | None]]:
        """Feed one chunk; returns ``(end_index, features or None)`` of each window it
        completes (``None``: too few valid samples): :meth:`append` then :meth:`complete`.

        ``features``: computes the features of analysable windows from their end indices and
        samples (rows), called in stream order on batches of at most 64 windows; ``None``:
        :func:`~edge.rhythm.vfeatures.vf_windows_features`.

        Raises
        ------
        SignalError
            When the chunk does not continue the stream (its ``sample_index`` is not the
            previous chunk's end).
        """
        self.append(chunk)
        return self.complete(features)

    def append(self, chunk: Conditioned) -> None:
        """Take one chunk's samples without computing the windows they complete (a later
        :meth:`complete` returns them: the same windows, features and order).

        Raises
        ------
        SignalError
            When the chunk does not continue the stream.
        """
        n = len(chunk)
        if self._start is None:
            if n == 0:
                return
            self._start = self._end = int(chunk.sample_index)
            self._x, self._valid = SampleBuffer(start=self._start), SampleBuffer(bool, self._start)
            self._next = self._start + self.n_window
        elif n and int(chunk.sample_index) != self._end:
            raise SignalError(f"conditioned chunk starts at {chunk.sample_index}, expected "
                              f"{self._end} (call reset() after a gap)")
        if n == 0:
            return
        self._x.append(chunk.filtered_mv)
        self._valid.append(chunk.valid)
        self._end += n

    @property
    def n_ready(self) -> int:
        """Windows the samples fed so far complete that :meth:`complete` has not returned."""
        if self._next is None or self._next > self._end:
            return 0
        return (self._end - self._next) // self.n_step + 1

    def complete(self, features: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> list[tuple[int, np.ndarray | None]]:
        """``(end_index, features or None)`` of every window the samples fed so far complete
        and no call has returned yet (see :meth:`process`)."""
        if self._next is None or self._next > self._end:
            return []
        x, v, base = self._x.data, self._valid.data, self._x.start
        out: list[tuple[int, np.ndarray | None]] = []
        cfg = self.config
        ends: list[int] = []
        while self._next <= self._end:
            ends.append(self._next)
            self._next += self.n_step
        if len(ends) == 1:  # the streaming case (a chunk shorter than a step): one window
            first = ends[0] - self.n_window - base
            row = x[first:first + self.n_window]
            good = (np.count_nonzero(v[first:first + self.n_window]) / self.n_window
                    >= cfg.min_valid_share) and bool(np.isfinite(row).all())
            self.n_windows += 1
            if good:
                rows = row[None, :]
                rows.flags.writeable = False  # a view of the buffer, as the strided rows are
                feats = self._features(np.array(ends, dtype=np.int64), rows, features)
                out = [(ends[0], feats[0])]
            else:
                self.n_unanalysed += 1
                out = [(ends[0], None)]
        elif ends:
            # every window this chunk completes, as rows of one strided view
            first = ends[0] - self.n_window - base
            rows = np.lib.stride_tricks.as_strided(
                x[first:], shape=(len(ends), self.n_window),
                strides=(self.n_step * x.strides[0], x.strides[0]), writeable=False)
            vrows = np.lib.stride_tricks.as_strided(
                v[first:], shape=(len(ends), self.n_window),
                strides=(self.n_step * v.strides[0], v.strides[0]), writeable=False)
            ok = ((vrows.sum(axis=1) / self.n_window >= cfg.min_valid_share)
                  & np.isfinite(rows).all(axis=1))
            good_rows = np.flatnonzero(ok)
            ends_arr = np.array(ends, dtype=np.int64)
            it = iter(row for k in range(0, good_rows.size, _BATCH_WINDOWS)  # bounded memory
                      for row in self._features(ends_arr[good_rows[k:k + _BATCH_WINDOWS]],
                                                rows[good_rows[k:k + _BATCH_WINDOWS]], features))
            self.n_windows += len(ends)
            self.n_unanalysed += int((~ok).sum())
            out = [(end, next(it) if good else None) for end, good in zip(ends, ok.tolist())]
        if ends:
            # nothing before the next window's start is needed any more
            self._x.trim_before(self._next - self.n_window)
            self._valid.trim_before(self._next - self.n_window)
        return out

    def _features(self, ends: np.ndarray, rows: np.ndarray,
                  features: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
                  ) -> np.ndarray:
        if features is None:
            return vf_windows_features(rows, self.config.fs_hz, checked=True)
        return features(ends, rows)


class VfDetector:
    """Windows, P(shockable) and VF episodes of one stream (see the module docstring).

    Parameters
    ----------
    config : settings.
    model : a loaded model (default: ``config.model_path`` or the bundled one).
    net : a loaded VF network (:class:`edge.rhythm.vf_net.VfNet`); ``None``: ``config.net_path``
        or the bundled one when ``config.net``; ``False``: the trees alone.
    changes_only : the caller uses the changes alone (the daemon, ``ecg-edge annotate``), so
        two savings apply. Windows are scored only when an episode could change
        (:attr:`next_change_end`): a window that cannot waits and is scored with the next one
        that can, in one batch (cheaper per window than one at a time); the windows come out
        in the call that scores them, not the one that completes them. And with the
        organised-rhythm veto and screening on, every window's veto is tested first and a
        vetoed window (never shockable) is not scored unless it could close an episode: its
        ``p`` and features stay NaN and ``organised`` is True whatever its P would have been.
        The changes, their dates, P and evidence, and the call that returns each change, are
        the same either way. ``False``: every window is scored, in the call that completes
        it.
    """

    def __init__(self, config: VentricularConfig | None = None,
                 model: TreeModel | None = None, net: VfNet | bool | None = None, *,
                 changes_only: bool = False) -> None:
        self.config = config or VentricularConfig()
        self.changes_only = bool(changes_only)
        self.model = model if model is not None else load_vf_model(self.config.model_file)
        if tuple(self.model.feature_names) != VF_FEATURE_NAMES:
            raise ModelError("the VF model was trained on other features than this code "
                             "computes", self.model.path)
        if net is True:
            raise ConfigError("net", "pass a loaded VfNet, None or False")
        if net is False or (net is None and not self.config.net):
            self.net: VfNet | None = None
        else:
            self.net = net if net is not None else load_vf_net(self.config.net_file)
        if self.net is not None and not (self.config.window_s == VF_NET_WINDOW_S
                                         and self.config.fs_hz == VF_NET_FS_HZ):
            raise ConfigError("net", f"the VF network reads {VF_NET_WINDOW_S:g}-s windows at "
                                     f"{VF_NET_FS_HZ:g} Hz (got {self.config.window_s:g} s at "
                                     f"{self.config.fs_hz:g} Hz); set net = false")
        self._w = self.net.blend_weight if self.net is not None else 0.0
        self.windows = VfWindows(self.config)
        self.half_window = self.windows.n_window // 2
        self._screen = self.config.screen and self.model.n_outputs == 1
        # (P, p_max, organised) of featured windows
        self._scores: deque[tuple[float, float, bool]] = deque()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new stream); an open episode is dropped (call
        :meth:`end` first to close it)."""
        self.windows.reset()
        self._recent: deque[tuple[int, bool]] = deque(maxlen=self.config.onset_n)
        self._in_vf = False
        self._below = 0
        self._last_shockable: int | None = None
        self._peak_shares: list[float] = []
        self._last_shock_end: int | None = None  # end of the last window with P >= p_shockable
        self._scores.clear()
        self._beat_index: list[int] = []  # R peaks fed (add_beats), processing rate
        self._beat_decided: list[int] = []
        self._beat_lag = 0
        self.n_episodes = 0
        self.n_screened = 0  # windows whose costlier features and P were not needed
        self.n_vetoed = 0  # windows with P >= p_shockable the organised-rhythm veto stopped
        # changes_only: windows vetoed before any feature (scored only to close an episode)
        self.n_vetoed_unscored = 0

    @property
    def in_vf(self) -> bool:
        """An episode is open."""
        return self._in_vf

    @property
    def next_change_end(self) -> int:
        """Absolute end index (exclusive, processing rate) of the first window that could
        change an episode: :meth:`process` returns no change before samples up to there have
        been fed (0 before any sample). Without ``changes_only``, the next window's end (every
        window is scored as it completes). With it, the episode rule bounds it: an onset
        needs ``onset_k`` shockable windows among the last ``onset_n`` (the windows not yet
        scored each count at most one), an end ``offset_windows`` non-shockable ones in a
        row; at most ``_MAX_DEFERRED`` windows wait."""
        nxt = self.windows.next_window_end
        if not self.changes_only or nxt == 0:
            return nxt
        cfg = self.config
        if self._in_vf:
            m = cfg.offset_windows - self._below
        else:
            # after m more windows, all shockable, the last onset_n hold those m and the
            # last onset_n - m of the windows scored so far
            flags = [shock for _, shock in self._recent]
            m = 1
            while m < cfg.onset_k and m + sum(flags[max(0, len(flags) - (cfg.onset_n - m)):]
                                              ) < cfg.onset_k:
                m += 1
        m = min(max(1, m), _MAX_DEFERRED)
        return nxt + (m - 1) * self.windows.n_step

    def add_beats(self, beat_index: np.ndarray, decided_at: np.ndarray, *,
                  lag_samples: int) -> None:
        """Feed the R-peak detector's beats for the organised-rhythm veto: ``beat_index``
        (processing rate, increasing) and ``decided_at`` as
        :meth:`edge.dsp.rpeak.RPeakDetector.process` returned them, ``lag_samples`` its
        :attr:`~edge.dsp.rpeak.RPeakDetector.decision_lag_samples`. Call it with a chunk's
        beats before :meth:`process` gets the same chunk's samples (the detector must have
        seen every sample this detector has)."""
        b = np.asarray(beat_index, dtype=np.int64)
        d = np.asarray(decided_at, dtype=np.int64)
        if b.shape != d.shape or b.ndim != 1:
            raise SignalError(f"beat_index and decided_at must be 1-D of one length, got "
                              f"{b.shape} and {d.shape}")
        if b.size and (np.any(np.diff(b) <= 0)
                       or (self._beat_index and b[0] <= self._beat_index[-1])):
            raise SignalError("beat_index must increase, within a call and across calls (the "
                              "R-peak detector's order)")
        self._beat_lag = int(lag_samples)
        if b.size and self.config.organised_veto:
            self._beat_index.extend(b.tolist())
            self._beat_decided.extend(d.tolist())
            # no later window starts before the next one (bounded while windows go unanalysed)
            self._forget_beats_before(self.windows.next_window_end - self.windows.n_window)

    def _forget_beats_before(self, index: int) -> None:
        k = bisect.bisect_left(self._beat_index, index)  # the list increases (add_beats)
        if k:
            del self._beat_index[:k], self._beat_decided[:k]

    def _organised(self, ends: np.ndarray, rows: np.ndarray, p: np.ndarray) -> np.ndarray:
        """The organised-rhythm veto of the windows with P >= ``p_shockable`` (False for the
        others); forgets beats no later window can hold."""
        cfg = self.config
        if not (cfg.organised_veto and self._beat_index):
            return np.zeros(len(ends), dtype=bool)
        org = self._veto(ends, rows, np.flatnonzero(p >= cfg.p_shockable))
        self.n_vetoed += int(org.sum())
        return org

    def _veto(self, ends: np.ndarray, rows: np.ndarray,
              idx: np.ndarray | None = None) -> np.ndarray:
        """The organised-rhythm test of windows ``idx`` (all when ``None``, without copying
        the rows; False for the others; beats fed), then forget the beats no later window can
        hold."""
        out = np.zeros(len(ends), dtype=bool)
        sel = slice(None) if idx is None else idx
        if idx is None or idx.size:
            out[sel] = organised_windows(ends[sel], rows[sel],
                                         np.array(self._beat_index, dtype=np.int64),
                                         np.array(self._beat_decided, dtype=np.int64),
                                         self._beat_lag, self.config)
        self._forget_beats_before(int(ends[-1]) + self.windows.n_step - self.windows.n_window)
        return out

    def _window_features(self, ends: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Features and P(shockable) of analysable windows (stream order; :class:`VfWindows`
        calls it). Screening (``config.screen``) computes the costlier features and P only for
        the windows that need them:

        * the network's P (with a tree P of 1), then the model's bound over the screen
          features, allow P >= ``p_shockable``: every shockable window is among these;
        * the window ends ``offset_windows`` windows after the last shockable one: the only
          non-shockable window whose P and features an episode uses (the one that ends it).

        Every other window is below ``p_shockable`` and is neither an onset, part of an
        onset count, a flutter share nor an end, so the episodes do not depend on its P.
        Which windows are screened depends on the windows alone (and the last shockable one
        before them), not on how the stream is chunked."""
        cfg = self.config
        w = self._w
        if not self._screen:
            feats = vf_windows_features(rows, cfg.fs_hz, checked=True)
            p = self.model.predict_proba(feats)[:, 1]
            if self.net is not None:
                p = (1.0 - w) * p + w * self.net.predict(rows, cfg.fs_hz)
            org = self._organised(ends, rows, p)
            self._scores.extend((v, float("nan"), o) for v, o in zip(p.tolist(), org.tolist()))
            return feats
        vetoed = self._vetoed_first(ends, rows)
        n = rows.shape[0]
        # the vetoed windows are never shockable: no features, a bound of P = 0
        live = np.arange(n) if vetoed is None else np.flatnonzero(~vetoed)
        feats = np.full((n, len(VF_FEATURE_NAMES)), np.nan)
        hi = np.full(n, -np.inf)
        hi[live] = np.inf  # a window without screen features: any tree P
        p_net = np.full(n, np.nan)
        if self.net is not None and live.size:
            # the network first (a third of the screen features' cost): where even a tree P
            # of 1 leaves the average below p_shockable, the window needs no feature
            p_net[live] = self.net.predict(rows[live], cfg.fs_hz)
            live = live[(1.0 - w) + w * p_net[live] >= cfg.p_shockable]
        if live.size:
            feats[live] = vf_windows_features(rows[live], cfg.fs_hz, checked=True, part="screen")
            hi[live] = self.model.raw_upper(feats[live], SCREEN_MASK)[:, 0]
        # P is the logistic of the score (monotone in floating point too); + 1e-9: the bound
        # and the score add the same leaves in another order (rounding ~1e-13)
        tree_hi = 1.0 / (1.0 + np.exp(-(hi + 1e-9)))
        need = (1.0 - w) * tree_hi + w * np.where(np.isnan(p_net), 1.0, p_net) >= cfg.p_shockable
        if vetoed is not None:
            need &= ~vetoed
        p = np.full(rows.shape[0], np.nan)
        self._complete(rows, feats, p, np.flatnonzero(need), p_net)
        org = self._organised(ends, rows, p) if vetoed is None else vetoed
        closing = cfg.offset_windows * self.windows.n_step
        extra: list[int] = []
        for i, (end, needed, pi, o) in enumerate(zip(ends.tolist(), need.tolist(), p.tolist(),
                                                     org.tolist())):
            if needed:
                if pi >= cfg.p_shockable and not o:
                    self._last_shock_end = end
            elif self._last_shock_end is not None and end - self._last_shock_end == closing:
                extra.append(i)
        if extra:
            need[extra] = True
            self._complete(rows, feats, p, np.array(extra), p_net)
        p_max = np.where(need, np.nan, (1.0 - w) / (1.0 + np.exp(-hi))
                         + w * np.where(np.isnan(p_net), 1.0, p_net))
        if vetoed is not None:
            p_max[vetoed] = np.nan
        self.n_screened += int(rows.shape[0] - np.count_nonzero(need | org))
        self._scores.extend(zip(p.tolist(), p_max.tolist(), org.tolist()))
        return feats

    def _vetoed_first(self, ends: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """``changes_only``: the organised-rhythm veto of every window, tested before any
        feature (forgets the beats no later window can hold); ``None`` when not used."""
        cfg = self.config
        if not (self.changes_only and cfg.organised_veto):
            return None
        vetoed = np.zeros(len(ends), dtype=bool)
        if self._beat_index:
            vetoed = self._veto(ends, rows)
            self.n_vetoed_unscored += int(vetoed.sum())
        return vetoed

    def _complete(self, rows: np.ndarray, feats: np.ndarray, p: np.ndarray,
                  idx: np.ndarray, p_net: np.ndarray) -> None:
        """Fill in the costlier features and P of rows ``idx`` (in place; the network's P,
        ``p_net``, too where it is still NaN; the screen features too where a vetoed window
        has none)."""
        if idx.size == 0:
            return
        bare = idx[np.isnan(feats[idx, 0])]  # std_mv: computed for every window screened
        if bare.size:
            feats[bare] = vf_windows_features(rows[bare], self.config.fs_hz, checked=True,
                                              part="screen")
        rest = vf_windows_features(rows[idx], self.config.fs_hz, checked=True, part="rest")
        feats[idx[:, None], _REST_COLS] = rest[:, _REST_COLS[0]]
        p[idx] = self.model.predict_proba(feats[idx])[:, 1]
        if self.net is not None:
            todo = idx[np.isnan(p_net[idx])]
            if todo.size:
                p_net[todo] = self.net.predict(rows[todo], self.config.fs_hz)
            p[idx] = (1.0 - self._w) * p[idx] + self._w * p_net[idx]

    def process(self, chunk: Conditioned) -> VfOutput:
        """Feed one chunk of conditioned samples (consecutive, processing rate)."""
        self.windows.append(chunk)
        if self.changes_only and (self.windows.end_index or 0) < self.next_change_end:
            return VfOutput([], [])  # no window before it can change an episode: wait
        return self._score()

    def score_waiting(self) -> VfOutput:
        """Score now the windows that are waiting (``changes_only``): what :meth:`process` would
        release for them later (nothing waits without ``changes_only``)."""
        return self._score()

    def _score(self) -> VfOutput:
        """Score the windows completed and not yet scored, and step the episodes."""
        done = self.windows.complete(self._window_features)
        windows: list[VfWindow] = []
        changes: list[VfChange] = []
        if not done:
            return VfOutput(windows, changes)
        nan_feats = np.full(len(VF_FEATURE_NAMES), np.nan)
        for end, f in done:
            if f is None:
                win = VfWindow(end, float("nan"), nan_feats)
            else:
                p, p_max, org = self._scores.popleft()
                win = VfWindow(end, p, f, p_max=p_max, organised=org)
            windows.append(win)
            change = self._step(win)
            if change is not None:
                changes.append(change)
        return VfOutput(windows, changes)

    def decide(self, window: VfWindow) -> VfChange | None:
        """The episode logic alone for one already-scored window (in stream order): what
        :meth:`process` does after the model (training and benchmarks replay cached windows
        through it)."""
        return self._step(window)

    def _evidence(self, win: VfWindow) -> dict[str, float]:
        ev = {k: round(float(win.features[VF_FEATURE_NAMES.index(k)]), 4) for k in _EVIDENCE}
        return {k: v for k, v in ev.items() if np.isfinite(v)}

    def _kind(self) -> str:
        share = float(np.median(self._peak_shares)) if self._peak_shares else 0.0
        return "VFL" if share >= self.config.flutter_peak_share else "VF"

    def shockable(self, win: VfWindow) -> bool:
        """A window the episode rule counts as shockable: P >= ``p_shockable`` (NaN, an
        unanalysed or screened window: no) and not stopped by the organised-rhythm veto."""
        return bool(win.p >= self.config.p_shockable) and not win.organised

    def _step(self, win: VfWindow) -> VfChange | None:
        cfg = self.config
        shock = self.shockable(win)
        self._recent.append((win.end_index, shock))
        if shock:
            self._last_shockable = win.end_index
            self._peak_shares.append(float(win.features[VF_FEATURE_NAMES.index("peak_share")]))
        if not self._in_vf:
            if not shock:
                self._peak_shares = self._peak_shares[-cfg.onset_n:]
            if sum(s for _, s in self._recent) >= cfg.onset_k and shock:
                first = next(e for e, s in self._recent if s)
                self._peak_shares = self._peak_shares[-cfg.onset_n:]
                self._in_vf, self._below = True, 0
                self.n_episodes += 1
                return VfChange("onset", first - self.half_window, win.end_index, self._kind(),
                                float(win.p), self._evidence(win))
            return None
        if shock:
            self._below = 0
            return None
        self._below += 1
        if self._below >= cfg.offset_windows:
            self._in_vf = False
            kind = self._kind()
            self._peak_shares = []
            self._recent.clear()
            last = self._last_shockable if self._last_shockable is not None else win.end_index
            return VfChange("end", last - self.half_window, win.end_index, kind,
                            float(win.p) if np.isfinite(win.p) else float("nan"),
                            self._evidence(win))
        return None

    def end(self) -> list[VfChange]:
        """End of stream: score the windows still waiting (``changes_only``; :meth:`score_waiting`
        first to have them), then close an open episode at the last shockable window."""
        changes = self._score().changes if self.windows.n_ready else []
        if not self._in_vf:
            return changes
        self._in_vf = False
        last = self._last_shockable if self._last_shockable is not None else 0
        kind = self._kind()
        self._peak_shares = []
        return [*changes, VfChange("end", last - self.half_window,
                                   self.windows.end_index or last, kind, float("nan"), {})]


def vf_episodes(x_mv: np.ndarray, fs_in_hz: float, *, config: VentricularConfig | None = None,
                model: TreeModel | None = None,
                chunk_samples: int | None = None) -> list[tuple[int, int, str]]:
    """VF/VFL episodes ``(start, end, "VF" | "VFL")`` (input-rate samples, dated as the
    changes are) of a whole signal, streamed ``chunk_samples`` at a time (default one second;
    the result does not depend on it) through the conditioning, the R-peak detector (its
    beats feed the organised-rhythm veto, as in the daemon) and :class:`VfDetector`."""
    from edge.dsp.preprocess import PreprocessConfig, Preprocessor  # noqa: PLC0415
    from edge.dsp.rpeak import DetectorConfig, RPeakDetector  # noqa: PLC0415

    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs_in_hz))
    cfg = config or VentricularConfig()
    det = VfDetector(cfg, model, changes_only=True)  # the episodes alone
    peaks = RPeakDetector(DetectorConfig(fs_hz=pre.config.fs_out_hz))
    lag = peaks.decision_lag_samples
    x = np.asarray(x_mv, dtype=np.float64)
    step = chunk_samples or max(1, int(fs_in_hz))
    changes: list[VfChange] = []
    for i in [*range(0, x.size, step), None]:  # None: the flush
        cond = pre.process(x[i:i + step]) if i is not None else pre.flush()
        r = peaks.process(cond) if i is not None else peaks.finish(cond)
        det.add_beats(r, peaks.decided_at, lag_samples=lag)
        changes += det.process(cond).changes
    changes += det.end()
    return vf_change_episodes(changes, fs_in_hz, pre.config.fs_out_hz)


def vf_change_episodes(changes: list[VfChange], fs_in_hz: float,
                       fs_proc_hz: float = PROCESSING_FS_HZ) -> list[tuple[int, int, str]]:
    """Episodes ``(start, end, "VF" | "VFL")`` (input-rate samples) of a stream's
    :class:`VfChange` list (onset/end pairs, processing-rate indices, ending with
    :meth:`VfDetector.end`'s)."""
    from edge.dsp.detection import to_input_index  # noqa: PLC0415

    out: list[tuple[int, int, str]] = []
    start: int | None = None
    for c in changes:
        at = int(to_input_index(np.array([max(0, c.sample_index)]), fs_in_hz, fs_proc_hz)[0])
        if c.state == "onset":
            start = at
        elif start is not None:
            out.append((start, max(at, start + 1), c.rhythm))
            start = None
    return out
