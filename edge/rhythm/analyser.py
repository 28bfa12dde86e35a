"""Streaming rhythm analyser: beats in, atrial-fibrillation episodes out.

For every beat, the RR intervals of the last ``window_beats`` beats (bounded look-back) give the
features of :mod:`edge.rhythm.features`, and the bundled tree model
(:mod:`edge.rhythm.model`) gives P(AF) of that window. Episodes come from a hysteresis on
P(AF): an AF episode starts once P(AF) >= ``p_onset`` for ``onset_beats`` consecutive beats
spanning at least ``min_episode_s`` (shorter runs are no episode), and ends once P(AF) <
``p_offset`` for ``offset_beats`` beats spanning ``offset_s``. Each change is dated at the first
beat of the run that confirmed it, moved back by ``lag_beats`` beats (the window's delay), so
the changes are emitted late but dated where the rhythm changed.

**Flutter is not separated from fibrillation.** From RR intervals alone atrial flutter with
variable block looks like AF and flutter with a fixed block like sinus tachycardia; the
analyser labels both :data:`RHYTHM_AF` (``"AF/AFL"``) and writes ``(AFIB`` for it in WFDB
aux notes (:data:`WFDB_AUX`). :data:`RHYTHM_OTHER` (``"N"``) is every rhythm that is not AF/AFL
(sinus and others).

With beat classes, an interval that starts or ends at a ventricular beat (``V``, ``F``) is left
out of the window (:func:`edge.rhythm.features.usable_intervals`): PVCs make sinus rhythm
irregular without any atrial disorder, and AF with PVCs stays irregular without them.
Ectopy the beat model misses (or calls ``S``) stays in the window; a repeating pattern of it
(bigeminy, trigeminy: irregular beat to beat, regular every 2 or 3 beats) does not start an
AF episode: a window whose :func:`~edge.rhythm.features.rr_windows_pattern_ratio` is below
``min_pattern_ratio`` does not count towards an onset (it does not end an episode either).

**Unreadable stretches** (:data:`RHYTHM_NOISE`): an interval outside ``min_rr_s``..``max_rr_s``
(a missed stretch, signal loss, noise detected as beats) or ending at a beat the caller marks
unreadable (``readable`` False: the signal-quality stage did not grade its signal good)
restarts the window -- no window ever spans it. A run of such intervals lasting ``noise_s`` or
longer changes the rhythm to ``NOISE`` (dated where the run began; an open AF episode ends
there), and the rhythm stays ``NOISE`` until a full window of readable intervals gives a P(AF)
again, when it changes to ``N`` (dated at the first readable beat) and AF must be confirmed
anew, its run never dated back before that change. AF is never declared from a window that
spans unreadable signal.

**Readable intervals whose timing is no evidence** (``known`` False,
:meth:`RhythmAnalyser.process_list`; the daemon: an interval across a bridged link gap that a
lost beat may lie in, or one ending at a beat whose window lost samples) neither enter the
window nor restart it, like a ventricular beat's intervals. Restarting on them made every
window of a lossy link unreadable (AF under 5 % frame loss read ``NOISE``); reading them made
a lost beat, or a PVC unclassified for its lost samples, look like irregularity.

Feeding beats one, seven or all at a time gives identical results (state is explicit: the
last ``window_beats`` beat positions and the episode state).
"""
from __future__ import annotations

import logging
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import ConfigError, SignalError
from edge.rhythm.features import (
    FEATURE_NAMES,
    MIN_INTERVALS,
    VENTRICULAR,
    SampenCounts,
    python_rows_exact,
    rr_window_row,
    rr_windows_features,
    rr_windows_pattern_ratio,
)
from edge.rhythm.model import TreeModel, default_model_path, load_tree_model

__all__ = ["RHYTHM_AF", "RHYTHM_OTHER", "RHYTHM_NOISE", "RHYTHMS", "WFDB_AUX", "RhythmConfig",
           "RhythmChange", "RhythmAnalyser", "RhythmResult", "analyse_beats", "load_af_model"]

logger = logging.getLogger(__name__)

RHYTHM_OTHER = "N"
RHYTHM_AF = "AF/AFL"
RHYTHM_NOISE = "NOISE"
RHYTHMS = (RHYTHM_OTHER, RHYTHM_AF, RHYTHM_NOISE)
#: MIT-BIH rhythm aux notes of our rhythm labels (``(NOISE``: unreadable, no rhythm judged).
WFDB_AUX = {RHYTHM_OTHER: "(N", RHYTHM_AF: "(AFIB", RHYTHM_NOISE: "(NOISE"}
#: Most windows whose features are computed in one batch (bounds the memory of a long call).
_BATCH_WINDOWS = 512
#: Most new windows in a call computed one by one in plain Python (a streaming call's few;
#: more go to the numpy batch, same bits either way -- where the plain-Python path would not
#: give this numpy's bits, :func:`~edge.rhythm.features.python_rows_exact` says so once and
#: numpy computes every window).
_PY_WINDOWS = 16
#: P(AF) of a NOISE change (none was computed); one object, so equal changes compare equal.
_NO_P_AF = float("nan")
_NAN = float("nan")  # P(AF) of a beat without a window
_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1
_EVIDENCE = ("nrmssd", "cosen", "turning_point_ratio", "pnn50", "short_long_share")
_EVIDENCE_AT = tuple((k, FEATURE_NAMES.index(k)) for k in _EVIDENCE)


@dataclass(frozen=True, kw_only=True)
class RhythmConfig:
    """Settings of :class:`RhythmAnalyser`.

    Attributes
    ----------
    window_beats : RR intervals in the look-back window (>= 8).
    min_window_beats : fewest intervals for a P(AF) (8..window_beats).
    min_rr_s, max_rr_s : plausible RR range (s); an interval outside it restarts the window.
    p_onset, p_offset : hysteresis thresholds on P(AF) (0 < p_offset <= p_onset < 1).
    onset_beats, offset_beats : consecutive beats above / below them to start / end.
    min_episode_s : shortest AF episode (s); shorter AF runs are not reported.
    offset_s : shortest non-AF run that ends an episode (s).
    lag_beats : beats a change is dated back (0..window_beats).
    noise_s : shortest run of unreadable intervals that makes the rhythm ``NOISE`` (s, > 0;
        ``inf``: never).
    min_pattern_ratio : a window whose irregularity is a repeating pattern
        (:func:`~edge.rhythm.features.rr_windows_pattern_ratio` below this; bigeminy,
        trigeminy) does not count towards an AF onset (0..1; 0: off).
    model_path : the AF window model (JSON); ``None``: the bundled one.
    """

    window_beats: int = 40
    min_window_beats: int = 12
    min_rr_s: float = 0.2
    max_rr_s: float = 3.0
    p_onset: float = 0.6
    p_offset: float = 0.4
    onset_beats: int = 10
    offset_beats: int = 10
    min_episode_s: float = 30.0
    offset_s: float = 10.0
    lag_beats: int = 20
    noise_s: float = 10.0
    min_pattern_ratio: float = 0.8
    model_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("window_beats", "min_window_beats", "onset_beats", "offset_beats",
                     "lag_beats"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(name, f"must be an integer, got {v!r}")
        if self.window_beats < MIN_INTERVALS:
            raise ConfigError("window_beats", f"must be >= {MIN_INTERVALS}, got "
                                              f"{self.window_beats}")
        if not MIN_INTERVALS <= self.min_window_beats <= self.window_beats:
            raise ConfigError("min_window_beats", f"must be in {MIN_INTERVALS}..window_beats "
                                                  f"({self.window_beats}), got "
                                                  f"{self.min_window_beats}")
        if not (np.isfinite(self.min_rr_s) and np.isfinite(self.max_rr_s)
                and 0 < self.min_rr_s < self.max_rr_s):
            raise ConfigError("min_rr_s", f"need 0 < min_rr_s < max_rr_s, got {self.min_rr_s}, "
                                          f"{self.max_rr_s}")
        if not 0 < self.p_onset < 1:
            raise ConfigError("p_onset", f"must be in (0, 1), got {self.p_onset}")
        if not 0 < self.p_offset <= self.p_onset:
            raise ConfigError("p_offset", f"must be in (0, p_onset], got {self.p_offset}")
        if self.onset_beats < 1:
            raise ConfigError("onset_beats", f"must be >= 1, got {self.onset_beats}")
        if self.offset_beats < 1:
            raise ConfigError("offset_beats", f"must be >= 1, got {self.offset_beats}")
        if not (np.isfinite(self.min_episode_s) and self.min_episode_s >= 0):
            raise ConfigError("min_episode_s", f"must be >= 0 s, got {self.min_episode_s}")
        if not (np.isfinite(self.offset_s) and self.offset_s >= 0):
            raise ConfigError("offset_s", f"must be >= 0 s, got {self.offset_s}")
        if (isinstance(self.noise_s, bool) or not isinstance(self.noise_s, (int, float))
                or not self.noise_s > 0):  # NaN fails too
            raise ConfigError("noise_s", f"must be > 0 s (inf: never), got {self.noise_s}")
        if (isinstance(self.min_pattern_ratio, bool)
                or not isinstance(self.min_pattern_ratio, (int, float))
                or not 0 <= self.min_pattern_ratio <= 1):
            raise ConfigError("min_pattern_ratio", f"must be in 0..1, got "
                                                   f"{self.min_pattern_ratio}")
        if not 0 <= self.lag_beats <= self.window_beats:
            raise ConfigError("lag_beats", f"must be in 0..window_beats ({self.window_beats}), "
                                           f"got {self.lag_beats}")


@dataclass(frozen=True)
class RhythmChange:
    """The rhythm changes to ``rhythm`` at ``sample_index`` (input samples); ``p_af`` is P(AF)
    of the window that confirmed it, ``evidence`` that window's main features."""

    sample_index: int
    rhythm: str
    p_af: float
    evidence: dict[str, float] = field(default_factory=dict)


def load_af_model(path: str | os.PathLike | None = None) -> TreeModel:
    """The AF window model at ``path`` (default: bundled), checked against our features."""
    return load_tree_model(default_model_path("af_window") if path is None else Path(path),
                           kind="af_window", feature_names=FEATURE_NAMES)


def _flags(name: str, value: object, idx: np.ndarray) -> np.ndarray | None:
    """Per-beat bool flags ``value`` (or ``None``) checked against the beats ``idx``."""
    if value is None:
        return None
    out = np.asarray(value)
    if out.shape != idx.shape or out.dtype != bool:
        raise SignalError(f"{name} must be a bool array like sample_index: shape {out.shape} "
                          f"dtype {out.dtype} vs {idx.shape}")
    return out


class RhythmAnalyser:
    """Streaming AF/AFL episode detector over beat positions (explicit state).

    Parameters
    ----------
    config : settings; default :class:`RhythmConfig`.
    model : a loaded model (overrides ``config.model_path``): a :class:`TreeModel`, or any
        object whose ``predict_proba(rows)`` gives P(not AF), P(AF) per window (a baseline
        fitted elsewhere, as the benchmark's).
    """

    def __init__(self, config: RhythmConfig | None = None, model: TreeModel | None = None):
        self.config = config or RhythmConfig()
        self.model = model if model is not None else load_af_model(self.config.model_path)
        # one window's P(AF) without arrays, where the model offers it
        self._p_row = bool(getattr(self.model, "has_p_row", False))
        self.reset()

    def reset(self) -> None:
        """Forget every beat and the episode state."""
        n = self.config.window_beats + 1
        self._rr: deque[float] = deque(maxlen=n - 1)  # usable intervals (s) of the window
        self._lab: deque[str] = deque(maxlen=n)  # labels of the last beats (evidence)
        self._last_label = ""
        self._recent: deque[int] = deque(maxlen=self.config.lag_beats + 1)  # for dating back
        self._fs_hz: float | None = None
        self._last: int | None = None
        self._rhythm: str | None = None  # None until the first P(AF)
        self._first: int | None = None
        self._run_start: int | None = None  # first beat of the run against the current rhythm
        self._run_beats = 0
        self._changed_at: int | None = None  # date of the last change (changes stay in order)
        self._noise_start: int | None = None  # start of the open run of unreadable intervals
        self._readable_since: int | None = None  # first readable beat after NOISE
        self.n_beats = 0
        self.n_window_restarts = 0
        self.n_unreadable = 0  # intervals not read (implausible RR or marked unreadable)
        # the last beat's window result (features, P(AF), pattern ratio) while its window,
        # ``_rr``, is unchanged (a beat that adds no interval has the same window)
        self._last_window: tuple[list[float], float, float] | None = None
        self._sampen = SampenCounts()  # sample-entropy pair counts of successive windows

    @property
    def rhythm(self) -> str | None:
        """The current rhythm (``None`` before the first window)."""
        return self._rhythm

    def _check(self, sample_index: np.ndarray, fs_hz: float, labels: np.ndarray | None,
               readable: np.ndarray | None, known: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        idx = np.asarray(sample_index)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise SignalError(f"sample_index must be a 1-D integer array, got shape {idx.shape} "
                              f"dtype {idx.dtype}")
        self._check_rate(fs_hz)
        if idx.dtype != np.int64:
            idx = idx.astype(np.int64)
        if idx.size:
            if idx.size < 32:  # a daemon call's few beats: cheaper in Python than np.diff
                seq = idx.tolist()
                increasing = all(a < b for a, b in zip(seq, seq[1:]))
            else:
                increasing = not np.any(np.diff(idx) <= 0)
            self._check_order(int(idx[0]), increasing)
        lab = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.dtype.kind != "U":
                lab = lab.astype(str)
            if lab.shape != idx.shape:
                raise SignalError(f"labels must match sample_index: shape {lab.shape} vs "
                                  f"{idx.shape}")
        return idx, lab, _flags("readable", readable, idx), _flags("known", known, idx)

    def _check_rate(self, fs_hz: float) -> None:
        if not (math.isfinite(fs_hz) and fs_hz > 0):
            raise SignalError(f"fs_hz must be > 0, got {fs_hz}")
        if self._fs_hz is not None and fs_hz != self._fs_hz:
            raise SignalError(f"fs_hz changed from {self._fs_hz} to {fs_hz} (reset first)")

    def _check_order(self, first: int, increasing: bool) -> None:
        """A call's beats (first ``first``, ``increasing`` among themselves) must follow the
        last one taken."""
        if not increasing or (self._last is not None and first <= self._last):
            raise SignalError("sample_index must be strictly increasing (across calls too)")

    def process_beats(self, sample_index: np.ndarray, fs_hz: float,
                      labels: np.ndarray | None = None, readable: np.ndarray | None = None
                      ) -> tuple[np.ndarray, list[RhythmChange]]:
        """Like :meth:`process`, also returning each beat's P(AF) (NaN before a full window)."""
        p_out, _, changes = self.process_online(sample_index, fs_hz, labels, readable)
        return p_out, changes

    def process_online(self, sample_index: np.ndarray, fs_hz: float,
                       labels: np.ndarray | None = None, readable: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, list[RhythmChange]]:
        """Like :meth:`process_beats`, also returning the rhythm confirmed when each beat was
        taken (what a device knows as the beat leaves: ``""`` before the first window); the
        changes are dated back, this state is not."""
        p_out, state, changes = self.process_indexed(sample_index, fs_hz, labels, readable)
        return p_out, state, [c for _, c in changes]

    def process_indexed(self, sample_index: np.ndarray, fs_hz: float,
                        labels: np.ndarray | None = None, readable: np.ndarray | None = None,
                        known: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, RhythmChange]]]:
        """Like :meth:`process_online`, each change paired with the position (in this
        call's beats) of the beat that confirmed it -- what a caller needs to handle many
        beats in one call as if it had fed them one at a time. ``known`` (bool, optional):
        False where a readable beat's interval is no evidence (module docstring)."""
        idx, lab, ok, kn = self._check(sample_index, fs_hz, labels, readable, known)
        self._fs_hz = float(fs_hz)
        if idx.size == 0:
            return np.full(0, np.nan), np.full(0, "", dtype=object).astype(str), []
        p, states, changes = self._run(idx.tolist(), None if lab is None else lab.tolist(),
                                       None if ok is None else ok.tolist(),
                                       None if kn is None else kn.tolist())
        return np.array(p, dtype=np.float64), np.array(states, dtype=str), changes

    def process_list(self, sample_index: list[int], fs_hz: float,
                     labels: list[str] | None = None, readable: list[bool] | None = None,
                     known: list[bool] | None = None
                     ) -> tuple[list[float], list[str], list[tuple[int, RhythmChange]]]:
        """:meth:`process_indexed` on Python lists -- ``int`` sample indices, ``str`` labels,
        ``bool`` flags -- giving lists (P(AF) floats, rhythm labels): the same numbers and
        errors, without the arrays around a streaming call's one or few beats. Lists of
        other element types go through :meth:`process_indexed` (their ``np.asarray``)."""
        if not (self.plain_lists(sample_index, labels, readable)
                and (known is None or self.plain_lists(sample_index, None, known))):
            p, states, changes = self.process_indexed(
                np.asarray(sample_index), fs_hz, None if labels is None else np.asarray(labels),
                None if readable is None else np.asarray(readable),
                None if known is None else np.asarray(known))
            return p.tolist(), states.tolist(), changes
        self._check_rate(fs_hz)  # _check's rules, on the lists
        self._check_order(sample_index[0],
                          all(a < b for a, b in zip(sample_index, sample_index[1:])))
        self._fs_hz = float(fs_hz)
        return self._run(sample_index, labels, readable, known)

    @staticmethod
    def plain_lists(sample_index: object, labels: object = None, readable: object = None
                    ) -> bool:
        """Whether :meth:`process_list` takes these as they are: non-empty lists of ``int``
        sample indices (in int64's range), of ``str`` labels (no trailing NUL, which numpy's
        strings drop) and of ``bool`` flags, of one length (or ``None``)."""
        if type(sample_index) is not list or not sample_index:
            return False
        for s in sample_index:
            if type(s) is not int or not _INT64_MIN <= s <= _INT64_MAX:
                return False
        n = len(sample_index)
        if labels is not None:
            if type(labels) is not list or len(labels) != n:
                return False
            for c in labels:
                if type(c) is not str or c[-1:] == "\0":
                    return False
        if readable is not None:
            if type(readable) is not list or len(readable) != n:
                return False
            for r in readable:
                if type(r) is not bool:
                    return False
        return True

    def _run(self, idx_l: list[int], labels_l: list[str] | None, ok_l: list[bool] | None,
             known_l: list[bool] | None = None
             ) -> tuple[list[float], list[str], list[tuple[int, RhythmChange]]]:
        """:meth:`process_indexed` of checked, non-empty lists: each beat's P(AF) (NaN
        without a window) and rhythm, and the changes with the beats that confirmed them."""
        cfg = self.config
        n = len(idx_l)
        changes: list[tuple[int, RhythmChange]] = []
        with_labels = labels_l is not None
        if labels_l is None:
            labels_l = [""] * n
        # 1. the windows (cheap, beat by beat): the usable intervals (s) of this call follow
        #    the carried-over window in ``stream``; beat i's window is
        #    stream[starts[i]:ends[i]]
        prev: list[int] = []  # each beat's previous beat (-1: none)
        stream: list[float] = list(self._rr)
        n_carried = len(stream)
        seg = 0  # where the current window's run of intervals starts in ``stream``
        starts: list[int] = []
        ends: list[int] = []
        restart: list[bool] = []
        last, last_label = self._last, self._last_label
        lo_rr, hi_rr, fs = cfg.min_rr_s, cfg.max_rr_s, self._fs_hz
        wb = cfg.window_beats
        for i, s in enumerate(idx_l):
            label = labels_l[i]
            prev.append(-1 if last is None else last)
            again = False
            if last is not None:
                rr = (s - last) / fs  # (numpy's int64 / float64: the same double)
                if not (lo_rr <= rr <= hi_rr and (ok_l is None or ok_l[i])):
                    seg = len(stream)  # unreadable: restart the window
                    again = True
                elif known_l is not None and not known_l[i]:
                    pass  # it may hide a lost beat: no evidence, and no restart
                elif label not in VENTRICULAR and last_label not in VENTRICULAR:
                    stream.append(rr)
            restart.append(again)
            last, last_label = s, label
            end = len(stream)
            ends.append(end)
            starts.append(max(seg, end - wb))
        self._last, self._last_label = last, last_label
        n_restarts = sum(restart)
        self.n_window_restarts += n_restarts
        self.n_unreadable += n_restarts
        self._rr.clear()
        self._rr.extend(stream[starts[-1]:ends[-1]])
        # 2. features and P(AF) of every window: a beat whose window is its previous beat's
        #    (it added no interval) takes that beat's numbers; a call's few new windows are
        #    computed one by one in plain Python, many at once in numpy (grouped by length)
        lengths = [e - b for b, e in zip(starts, ends)]
        min_len = cfg.min_window_beats
        has_l = [k >= min_len for k in lengths]
        same_l = [not restart[0] and starts[0] == 0 and ends[0] == n_carried]
        same_l += [starts[i] == starts[i - 1] and ends[i] == ends[i - 1] for i in range(1, n)]
        new_rows = [i for i in range(n) if has_l[i] and not (same_l[i] and (
            i > 0 or self._last_window is not None))]
        feats: list = [None] * n
        pattern = [1.0] * n
        p_list = [_NAN] * n
        fill = cfg.min_pattern_ratio > 0
        if new_rows and len(new_rows) <= _PY_WINDOWS and python_rows_exact():
            for i in new_rows:
                feats[i], ratio = rr_window_row(stream[starts[i]:ends[i]], self._sampen)
                if fill:
                    pattern[i] = ratio
            if self._p_row:  # one row at a time, the batch's bits (TreeModel.p_row)
                for i in new_rows:
                    p_list[i] = self.model.p_row(feats[i])
            else:
                p_new = self.model.predict_proba(np.array([feats[i] for i in new_rows]))[:, 1]
                for i, p in zip(new_rows, p_new.tolist()):
                    p_list[i] = p
        elif new_rows:
            rows_all = np.asarray(new_rows, dtype=np.int64)
            f_new = np.zeros((n, len(FEATURE_NAMES)))
            pat_new = np.ones(n)
            rr_s = np.asarray(stream, dtype=np.float64)
            w_start = np.asarray(starts, dtype=np.int64)
            len_new = np.asarray(lengths, dtype=np.int64)[rows_all]
            for n_int in np.unique(len_new).tolist():
                rows = rows_all[len_new == n_int]
                for k in range(0, rows.size, _BATCH_WINDOWS):  # bounded memory
                    part = rows[k:k + _BATCH_WINDOWS]
                    w = rr_s[w_start[part][:, None] + np.arange(n_int)]
                    f_new[part] = rr_windows_features(w)
                    if fill:
                        pat_new[part] = rr_windows_pattern_ratio(w)
            p_new = self.model.predict_proba(f_new[rows_all])[:, 1]
            for i, p in zip(new_rows, p_new.tolist()):
                feats[i] = f_new[i]
                pattern[i] = float(pat_new[i])
                p_list[i] = p
        last_window = self._last_window
        for i in range(n):  # same window as the beat before: the same numbers
            if has_l[i]:
                if feats[i] is None:
                    feats[i], p_list[i], pattern[i] = last_window
                last_window = (feats[i], p_list[i], pattern[i])
            else:
                last_window = None
        self._last_window = last_window
        # 3. the episode state, beat by beat
        states: list[str] = []
        for i, s in enumerate(idx_l):
            self.n_beats += 1
            self._recent.append(s)
            if self._first is None:
                self._first = s
            if restart[i]:
                self._lab.clear()
                change = self._unreadable(s, prev[i])
                if change is not None:
                    changes.append((i, change))
            elif prev[i] >= 0:
                self._noise_start = None
                if self._rhythm == RHYTHM_NOISE and self._readable_since is None:
                    self._readable_since = prev[i]
            self._lab.append(labels_l[i])
            if has_l[i]:
                change = self._step(s, p_list[i], feats[i], with_labels, lengths[i],
                                    pattern[i])
                if change is not None:
                    changes.append((i, change))
            states.append(self._rhythm or "")
        return p_list, states, changes

    def process(self, sample_index: np.ndarray, fs_hz: float,
                labels: np.ndarray | None = None,
                readable: np.ndarray | None = None) -> list[RhythmChange]:
        """Take the next beats (input sample indices at ``fs_hz``, optional beat classes,
        optional ``readable`` flags: False where the interval ending at the beat lies in
        unreadable signal); return the rhythm changes they confirm, in order.

        Raises
        ------
        SignalError
            On a non-integer or non-increasing ``sample_index``, a bad or changing ``fs_hz``,
            or ``labels`` / ``readable`` of another length (``readable`` must be bool).
        """
        return self.process_beats(sample_index, fs_hz, labels, readable)[1]

    def _unreadable(self, s: int, prev: int) -> RhythmChange | None:
        """The interval from beat ``prev`` to beat ``s`` is not read (the window restarts); a
        run of such intervals lasting ``noise_s`` is a NOISE stretch, dated where it began."""
        if self._noise_start is None:
            self._noise_start = prev
        start = self._noise_start
        fs = self._fs_hz or 1.0
        if self._rhythm != RHYTHM_NOISE and (s - start) / fs >= self.config.noise_s:
            self._rhythm = RHYTHM_NOISE
            self._run_start, self._run_beats = None, 0
            self._readable_since = None
            self._changed_at = start
            return RhythmChange(start, RHYTHM_NOISE, _NO_P_AF,
                                {"unreadable_s": round((s - start) / fs, 3)})
        return None

    def flush(self) -> list[RhythmChange]:
        """End of stream: an unconfirmed run is dropped (too short to be an episode)."""
        return []

    def _evidence(self, feats, with_labels: bool,  # noqa: ANN001 (a row: array or list)
                  window_beats: int) -> dict[str, float]:
        ev = {k: round(float(feats[j]), 4) for k, j in _EVIDENCE_AT}
        ev["window_beats"] = float(window_beats)
        if with_labels:
            labs = list(self._lab)[1:]
            ev["ectopic_share"] = round(sum(c in ("S", "V") for c in labs) / max(1, len(labs)), 4)
        return ev

    def _step(self, s: int, p: float, feats: np.ndarray, with_labels: bool,
              window_beats: int, pattern: float = 1.0) -> RhythmChange | None:
        cfg = self.config
        if self._rhythm is None:
            self._rhythm = RHYTHM_OTHER
            first = self._first if self._first is not None else s
            self._changed_at = first
            return RhythmChange(first, RHYTHM_OTHER, p,
                                self._evidence(feats, with_labels, window_beats))
        if self._rhythm == RHYTHM_NOISE:  # readable again: judge the rhythm anew
            self._rhythm = RHYTHM_OTHER
            self._run_start, self._run_beats = None, 0
            start = self._readable_since if self._readable_since is not None else s
            self._readable_since = None
            self._changed_at = start
            return RhythmChange(start, RHYTHM_OTHER, p,
                                self._evidence(feats, with_labels, window_beats))
        against = (p >= cfg.p_onset and pattern >= cfg.min_pattern_ratio
                   if self._rhythm == RHYTHM_OTHER else p < cfg.p_offset)
        if not against:
            self._run_start, self._run_beats = None, 0
            return None
        if self._run_start is None:  # dated back by up to lag_beats beats, never before
            self._run_start = max(self._recent[0], self._changed_at or 0)  # the last change
        self._run_beats += 1
        need_beats, need_s = ((cfg.onset_beats, cfg.min_episode_s)
                              if self._rhythm == RHYTHM_OTHER
                              else (cfg.offset_beats, cfg.offset_s))
        fs = self._fs_hz or 1.0
        if self._run_beats >= need_beats and (s - self._run_start) / fs >= need_s:
            self._rhythm = RHYTHM_AF if self._rhythm == RHYTHM_OTHER else RHYTHM_OTHER
            start = self._run_start
            self._run_start, self._run_beats = None, 0
            self._changed_at = start
            return RhythmChange(start, self._rhythm, p,
                                self._evidence(feats, with_labels, window_beats))
        return None


@dataclass(frozen=True)
class RhythmResult:
    """Whole-record result: per-beat rhythm (changes dated back), P(AF) (NaN before a
    window), the rhythm confirmed when each beat was taken (``online``: what the device
    knows as the beat leaves; ``""`` before the first window), and the changes."""

    rhythm: np.ndarray  # str per beat
    p_af: np.ndarray  # float per beat
    changes: list[RhythmChange]
    online: np.ndarray  # str per beat


def analyse_beats(sample_index: np.ndarray, fs_hz: float, labels: np.ndarray | None = None,
                  config: RhythmConfig | None = None,
                  model: TreeModel | None = None,
                  readable: np.ndarray | None = None) -> RhythmResult:
    """Run :class:`RhythmAnalyser` over all beats of a record (optional per-beat ``readable``
    flags, see :meth:`RhythmAnalyser.process`); a beat's rhythm is that of the last change at
    or before it (``N`` before the first)."""
    an = RhythmAnalyser(config, model)
    p, online, changes = an.process_online(sample_index, fs_hz, labels, readable)
    changes += an.flush()
    idx = np.asarray(sample_index, dtype=np.int64)
    rhythm = np.full(idx.size, RHYTHM_OTHER, dtype=object)
    for ch in changes:
        rhythm[idx >= ch.sample_index] = ch.rhythm
    return RhythmResult(rhythm.astype(str), p, changes, online)
