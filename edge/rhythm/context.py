"""Rhythm-aware beat calls: the beat classifier's label, read in the rhythm the beat lies in.

The beat model judges a beat from its waveform and its RR intervals; in atrial fibrillation or
flutter every conducted beat comes early or late, so the model calls many of them ``S``
(supraventricular ectopic) for their timing alone. There is no atrial ectopic beat in AF:
ANSI/AAMI EC57 counts supraventricular beats in AF/flutter as ``N``. This post-stage applies
that rule:

* in the rhythm the analyser had **confirmed** when the beat left (``AF/AFL``), a beat the
  model calls ``S`` is reported ``N``;
* every other call stands: an ``S`` in sinus rhythm (a real APC) stays ``S``, and ``V``, ``F``
  and ``Q`` are never changed -- a ventricular beat in AF is still ventricular. Lowering ``V``
  in AF was measured on the design sets (MIT-BIH DS1, SVDB) and cost VEB sensitivity, so it is
  not done.

**Supraventricular runs** (:class:`SvtRunTracker`): inside a run of supraventricular
tachycardia every beat is ``S`` for EC57, but after its first beat or two each beat comes on
time *for the run* -- its RR matches the beats before it -- so a model that judges a beat by
its prematurity against the local rhythm calls it ``N`` (on the design sets, out of fold:
1,612 of SVDB 865's 1,618 missed S beats and 135 of DS1 209's 156 lie in runs of >= 3). The
tracker keeps the sinus baseline (median of the last ``baseline_beats`` intervals ending at
beats called ``N`` outside runs; an interval over ``missed_beat_ratio`` times the baseline --
a missed beat, a pause -- does not enter it, unless ``relearn_beats`` such intervals come with
no baseline interval between them: then the rhythm did slow down and they become the baseline)
and reads a **run** as an abrupt rate change: a beat (called ``N`` or ``S``) whose interval is
at most ``max_rr_ratio`` of the baseline at >= ``min_rate_bpm`` starts one; each next beat
whose interval is as short and within ``rr_tolerance`` of the run's interval continues it and
is reported ``S``. Anything else ends the run: a slower beat, an irregular interval (AF), a
``V``/``F``/``Q`` call, an interval across unreadable signal. The baseline is frozen during a
run, so a run is an abrupt rate change against the rhythm before it, not sinus tachycardia
that built up beat by beat. The AF rule applies after it (a run inside confirmed AF/AFL is
``N``).

The rhythm is the *online* one (:attr:`edge.rhythm.RhythmResult.online`): what the device
knows as the beat leaves. The AF analyser confirms an episode after ``min_episode_s`` of AF,
so the first beats of an episode keep the model's call; ``ecg-edge annotate`` and the daemon
apply the same rule to the same state and so give the same labels (one difference: the
daemon also ends a run at an interval whose signal quality is not good, ``annotate`` only at
one across invalid samples). The model's probabilities are kept unchanged (a beat event's
``proba`` still says what the model saw).
"""
from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.dsp.medians import median_of
from edge.errors import ConfigError, SignalError
from edge.pipeline import ClassifiedBeats
from edge.rhythm.analyser import RHYTHM_AF, RhythmConfig, RhythmResult, analyse_beats
from edge.rhythm.model import TreeModel

__all__ = ["RHYTHM_CALLS", "beat_call", "beat_calls", "SvtRunConfig", "SvtRunTracker",
           "svt_run_calls", "RhythmAwareBeats", "rhythm_aware"]

#: rhythm -> {model's call: reported call}; a call not listed stands.
RHYTHM_CALLS: dict[str, dict[str, str]] = {RHYTHM_AF: {"S": "N"}}


def beat_call(label: str, rhythm: str | None) -> str:
    """The reported call of one beat the model labelled ``label`` in the analyser rhythm
    ``rhythm`` (``None``/``""``: not decided yet, the call stands)."""
    return RHYTHM_CALLS.get(rhythm or "", {}).get(label, label)


def beat_calls(labels: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    """:func:`beat_call` over arrays of labels and per-beat rhythms (same length)."""
    lab = np.asarray(labels).astype(str)
    rh = np.asarray(rhythm).astype(str)
    if lab.shape != rh.shape:
        raise SignalError(f"labels and rhythm must have the same shape, got {lab.shape} and "
                          f"{rh.shape}")
    out = lab.astype(object)
    for name, calls in RHYTHM_CALLS.items():
        in_rhythm = rh == name
        for model_call, reported in calls.items():
            out[in_rhythm & (lab == model_call)] = reported
    return out.astype(str)


@dataclass(frozen=True, kw_only=True)
class SvtRunConfig:
    """Settings of :class:`SvtRunTracker` (the ``[rhythm.svt]`` table).

    Attributes
    ----------
    enabled : report the beats of supraventricular runs ``S``; off, calls pass unchanged.
    max_rr_ratio : a run's intervals are at most this share of the sinus baseline.
    rr_tolerance : each interval of a run lies within this share of the run's interval (the
        running mean of the last two).
    min_rate_bpm : a run's rate is at least this (EC57's tachycardia: 100 bpm).
    baseline_beats : intervals in the sinus baseline (median).
    min_baseline_beats : no run before the baseline holds this many intervals.
    missed_beat_ratio : an interval longer than this times the baseline does not enter it (a
        beat the detector missed doubles an interval; end to end on SVDB 848's 160 bpm
        stretches such intervals raised the baseline and made a run of every beat).
    relearn_beats : that many too-long N intervals with no baseline interval between them
        replace the baseline (the rhythm did slow down).
    stale_gap_s : an interval across unreadable signal (a lost link, lead off) at least this
        long clears the baseline: the rate may have changed unseen, and a faster rhythm after
        it is not an abrupt change (an 11-s lead-off in record 208 made two sinus beats S).
    """

    enabled: bool = True
    max_rr_ratio: float = 0.7
    rr_tolerance: float = 0.15
    min_rate_bpm: float = 100.0
    baseline_beats: int = 8
    min_baseline_beats: int = 3
    missed_beat_ratio: float = 1.5
    relearn_beats: int = 16
    stale_gap_s: float = 3.0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError("enabled", f"must be true or false, got {self.enabled!r}")
        for name, lo, hi in (("max_rr_ratio", 0.0, 1.0), ("rr_tolerance", 0.0, 1.0)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and lo < v < hi):
                raise ConfigError(name, f"must lie in ({lo}, {hi}), got {v!r}")
        if not (isinstance(self.min_rate_bpm, (int, float)) and 0 < self.min_rate_bpm <= 400):
            raise ConfigError("min_rate_bpm", f"must lie in (0, 400] bpm, "
                                              f"got {self.min_rate_bpm!r}")
        if not (isinstance(self.missed_beat_ratio, (int, float))
                and 1 < self.missed_beat_ratio <= 10):
            raise ConfigError("missed_beat_ratio", f"must lie in (1, 10], "
                                                   f"got {self.missed_beat_ratio!r}")
        if not (isinstance(self.stale_gap_s, (int, float)) and not isinstance(
                self.stale_gap_s, bool) and 0 < self.stale_gap_s < math.inf):
            raise ConfigError("stale_gap_s", f"must be a number of seconds > 0, "
                                             f"got {self.stale_gap_s!r}")
        for name in ("baseline_beats", "min_baseline_beats", "relearn_beats"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ConfigError(name, f"must be an integer >= 1, got {v!r}")
        if self.min_baseline_beats > self.baseline_beats:
            raise ConfigError("min_baseline_beats", f"must be <= baseline_beats "
                                                    f"({self.baseline_beats}), got "
                                                    f"{self.min_baseline_beats}")


class SvtRunTracker:
    """Streaming: beats in time order -> their calls with supraventricular runs ``S``.

    State: the last ``baseline_beats`` sinus intervals, the too-long ones since the last
    (up to ``relearn_beats``), whether a run is open and its interval. Feeding beats one at
    a time or in arrays gives the same calls.
    """

    def __init__(self, config: SvtRunConfig | None = None) -> None:
        self.config = config if config is not None else SvtRunConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the baseline and any open run (a gap, a restart)."""
        self._baseline: deque[float] = deque(maxlen=self.config.baseline_beats)
        self._too_long: list[float] = []  # N intervals kept out since the last baseline one
        self._run_rr_s: float | None = None
        self.n_changed = 0  # N calls reported S

    def call(self, label: str, rr_pre_s: float, clean: bool = True) -> str:
        """The reported call of the next beat, which the model labelled ``label``;
        ``rr_pre_s``: the interval before it (s; NaN unknown); ``clean``: that interval is
        readable (False ends any run and is not a baseline interval; one of at least
        ``stale_gap_s`` also clears the baseline)."""
        cfg = self.config
        if not cfg.enabled:
            return label
        r = float(rr_pre_s)
        if not (clean and math.isfinite(r) and r > 0):
            self._run_rr_s = None
            if r >= cfg.stale_gap_s:  # NaN: not
                self._baseline.clear()
                self._too_long.clear()
            return label
        base = median_of(self._baseline) if len(self._baseline) >= cfg.min_baseline_beats \
            else math.nan
        fast = (label in ("N", "S") and r <= cfg.max_rr_ratio * base
                and 60.0 / r >= cfg.min_rate_bpm)
        run = self._run_rr_s
        if fast and run is not None and abs(r - run) <= cfg.rr_tolerance * run:
            self._run_rr_s = 0.5 * (run + r)
            if label != "S":
                self.n_changed += 1
            return "S"
        if fast:  # a run may start here; this beat keeps the model's call
            self._run_rr_s = r
            return label
        self._run_rr_s = None
        if label == "N":
            if not r > cfg.missed_beat_ratio * base:  # NaN (no baseline yet): taken
                self._baseline.append(r)
                self._too_long.clear()
            else:
                self._too_long.append(r)
                if len(self._too_long) >= cfg.relearn_beats:
                    self._baseline.clear()
                    self._baseline.extend(self._too_long)
                    self._too_long.clear()
        return label


def svt_run_calls(labels: np.ndarray, rr_pre_s: np.ndarray, clean: np.ndarray | None = None,
                  config: SvtRunConfig | None = None) -> tuple[np.ndarray, int]:
    """:class:`SvtRunTracker` over a record's beats: (calls, how many ``N`` became ``S``)."""
    lab = np.asarray(labels).astype(str)
    rr = np.asarray(rr_pre_s, dtype=np.float64)
    ok = np.ones(lab.size, dtype=bool) if clean is None else np.asarray(clean, dtype=bool)
    if not (lab.shape == rr.shape == ok.shape) or lab.ndim != 1:
        raise SignalError(f"labels, rr_pre_s and clean must be 1-D of one length, got "
                          f"{lab.shape}, {rr.shape} and {ok.shape}")
    tracker = SvtRunTracker(config)
    out = [tracker.call(a, r, c) for a, r, c in zip(lab.tolist(), rr.tolist(), ok.tolist())]
    return np.asarray(out, dtype=str).reshape(lab.shape), tracker.n_changed


@dataclass(frozen=True)
class RhythmAwareBeats:
    """Beats with rhythm-aware labels, the analyser's result over them, and how many calls
    the rhythm changed: ``n_changed`` in all, ``n_svt`` of them ``N`` calls in
    supraventricular runs reported ``S`` (the others: ``S`` in confirmed AF/AFL reported
    ``N``)."""

    beats: ClassifiedBeats
    rhythm: RhythmResult
    n_changed: int
    n_svt: int = 0


def rhythm_aware(beats: ClassifiedBeats, fs_hz: float, *, config: RhythmConfig | None = None,
                 model: TreeModel | None = None,
                 svt: SvtRunConfig | None = None) -> RhythmAwareBeats:
    """Run the AF analyser over a record's classified beats (input sample indices at
    ``fs_hz``) and return them with rhythm-aware labels: supraventricular runs
    (:func:`svt_run_calls`; an interval across invalid samples, ``rr_unknown``, ends a run),
    then :func:`beat_calls` on the online rhythm. The analyser reads the model's calls."""
    result = analyse_beats(beats.sample_index, fs_hz, beats.label, config=config, model=model)
    model_calls = np.asarray(beats.label).astype(str)
    idx = np.asarray(beats.sample_index, dtype=np.float64)
    rr_pre_s = np.diff(idx, prepend=np.nan) / float(fs_hz)
    clean = None if beats.rr_unknown is None else ~np.asarray(beats.rr_unknown)[:, 0]
    run_calls, _ = svt_run_calls(model_calls, rr_pre_s, clean, svt)
    calls = beat_calls(run_calls, result.online)
    n_changed = int(np.sum(calls != model_calls))
    out = dataclasses.replace(beats, label=calls.astype(object))
    return RhythmAwareBeats(out, result, n_changed, int(np.sum((calls == "S")
                                                                & (model_calls != "S"))))
