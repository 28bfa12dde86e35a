"""Rhythm alerts: a streaming stage over classified beats.

:class:`RhythmMonitor` takes beats in time order (:class:`BeatInfo`: position, AAMI class,
preceding RR interval, whether that interval is trustworthy) plus the detector's
flutter/fibrillation flag, and returns :class:`~edge.events.model.AlertEvent` records:

``v_run``        ``vrun_min_beats`` (3) or more consecutive V beats; onset when the run reaches
                 that length, end at the first non-V beat (``detail``: ``n_beats``,
                 ``rate_bpm``, ``vt`` = rate >= ``vt_rate_bpm``). Severity alarm when ``vt``,
                 unless the monitor is built with ``vt_alarm=False``: the daemon does so when
                 its ventricular stage runs, whose evidence-gated ``vt`` alert
                 (:mod:`edge.runtime.ventricular`) then carries the alarm, and a fast
                 ``v_run`` is a warning (a "run of PVCs", as bedside monitors grade it).
``svt``          ``svt_min_beats`` (3) or more consecutive S beats whose rate (from the run's
                 own RR intervals: first to last beat) is at least ``svt_rate_bpm`` (100);
                 onset at the run's first beat once both hold (``detail``: ``n_beats``,
                 ``rate_bpm``), end at its last S beat when a non-S beat follows (same detail
                 and ``duration_s``). An S beat whose interval is not trustworthy
                 (``clean`` False) starts a new run: a rate across a link gap means nothing.
``bigeminy``     every other beat is V (N V N V ...) for ``bigeminy_min_cycles`` V beats in a
                 row; ends when two non-V or two V beats follow each other.
``trigeminy``    every third beat is V (N N V N N V ...) for ``trigeminy_min_cycles`` V beats.
``bradycardia``  rolling rate below ``brady_bpm``; ends above ``brady_bpm + hysteresis_bpm``.
``tachycardia``  rolling rate above ``tachy_bpm``; ends below ``tachy_bpm - hysteresis_bpm``.
``pause``        a trustworthy RR interval longer than ``pause_s`` (single ``event``, raised
                 when the beat that ends it arrives; no heartbeat at all for ``asystole_s``
                 is the device chain's ``asystole`` alarm, raised while it lasts:
                 :mod:`edge.runtime.asystole`).
``vflutter``     the detector reports ventricular flutter/fibrillation (a stretch without
                 baseline: its beats are dropped unless they keep a regular rhythm, as a
                 wide-complex VT does); onset / end, severity alarm.

Intervals that span a link gap or bad signal (``BeatInfo.clean`` False) never raise a pause
and are left out of the rate. Episodes still open are ended by :meth:`RhythmMonitor.flush`.

Learning: the first ``learning_beats`` (10) beats after the monitor starts or is reset (a
pipeline restart, which also resets the beat featurizer's running template and RR context)
are classified worse than later ones (on MIT-BIH DS1 streams started every 2 min, a non-V
beat is called V 4.3 % of the time in beats 2-5, 1.4 % after beat 10), so the beat-pattern
alerts of :data:`LEARNING_KINDS` (``v_run``, ``bigeminy``, ``trigeminy``) are held while the
stream is learning: an episode that opens and ends within the learning beats is dropped
(counted in :attr:`RhythmMonitor.n_learning_dropped`); one still open when learning ends is
raised then, dated at its own onset, with ``detail.learning_held = True``. The other alerts
(rate, pause, ``svt``, ``vflutter``) are never held.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from edge.dsp.rate import RateConfig, RollingRate
from edge.errors import ConfigError
from edge.events.model import AlertEvent

__all__ = ["AlertConfig", "BeatInfo", "FastRun", "LEARNING_KINDS", "Learning", "LearningHold",
           "RunSpan", "RhythmMonitor", "v_probabilities"]

#: ``asystole_learning_s`` when unset (s): chosen on CinC 2017, whose hand-held recordings' first
#: seconds of motion leave beat gaps of up to 12.8 s while the detector re-learns (README).
ASYSTOLE_LEARNING_S = 15.0

#: Beat-pattern alerts of :class:`RhythmMonitor` held while the stream is learning.
LEARNING_KINDS = ("v_run", "bigeminy", "trigeminy")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class AlertConfig:
    """Thresholds of :class:`RhythmMonitor` (rates in beats per minute, times in s).

    Attributes
    ----------
    vrun_min_beats : consecutive V beats that make a run (>= 2).
    vt_rate_bpm : a V run at or above this rate is ventricular tachycardia.
    svt_min_beats : consecutive S beats that make a supraventricular run (>= 2).
    svt_rate_bpm : an S run raises ``svt`` at or above this rate.
    bigeminy_min_cycles, trigeminy_min_cycles : V beats in the pattern before the alert.
    brady_bpm, tachy_bpm : rate limits.
    hysteresis_bpm : how far back across the limit the rate must come to end the episode.
    rate_window_s, rate_min_beats : rolling-rate window (s) and fewest intervals.
    pause_s : longest acceptable RR interval (s).
    asystole_s : no beat for this long (s, 2-30) raises ``asystole`` while it lasts
        (:mod:`edge.runtime.asystole`; the device's chain).
    asystole_learning_s : the same limit (s, ``asystole_s``-60) before ``learning_beats``
        beats, counted from the stream's start: a stream that never shows a beat is an alarm.
        Unset (None): 15 s, or ``asystole_s`` when that is longer.
    learning_beats : beats after a start or reset during which :data:`LEARNING_KINDS` alerts
        are held (>= 0; 0: never held).
    """

    vrun_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    svt_min_beats: int = 3
    svt_rate_bpm: float = 100.0
    bigeminy_min_cycles: int = 4
    trigeminy_min_cycles: int = 4
    brady_bpm: float = 40.0
    tachy_bpm: float = 150.0
    hysteresis_bpm: float = 5.0
    rate_window_s: float = 10.0
    rate_min_beats: int = 4
    pause_s: float = 2.5
    asystole_s: float = 4.0
    asystole_learning_s: float | None = None
    learning_beats: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.learning_beats, int) or self.learning_beats < 0:
            raise ConfigError("learning_beats", f"must be an integer >= 0, got "
                                                f"{self.learning_beats!r}")
        if self.vrun_min_beats < 2:
            raise ConfigError("vrun_min_beats", f"must be >= 2, got {self.vrun_min_beats}")
        if self.svt_min_beats < 2:
            raise ConfigError("svt_min_beats", f"must be >= 2, got {self.svt_min_beats}")
        for name in ("bigeminy_min_cycles", "trigeminy_min_cycles", "rate_min_beats"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be >= 1, got {getattr(self, name)}")
        if not 0 < self.brady_bpm < self.tachy_bpm:
            raise ConfigError("brady_bpm", f"need 0 < brady_bpm < tachy_bpm, got "
                                           f"{self.brady_bpm} / {self.tachy_bpm}")
        if not 0 <= self.hysteresis_bpm < (self.tachy_bpm - self.brady_bpm) / 2:
            raise ConfigError("hysteresis_bpm", "must be >= 0 and below half the gap between "
                                                "brady_bpm and tachy_bpm")
        # finite too: an infinite threshold would silently switch the alert off
        for name, unit in (("vt_rate_bpm", "bpm"), ("svt_rate_bpm", "bpm"),
                           ("rate_window_s", "s"), ("pause_s", "s")):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(name, f"must be a finite number > 0 {unit}, got {v!r}")
        v = self.asystole_s
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)
                                       and 2.0 <= v <= 30.0):
            raise ConfigError("asystole_s", f"must be a number of seconds in 2-30, got {v!r}")
        v = self.asystole_learning_s
        if v is None:  # unset: follows a longer asystole_s
            v = max(ASYSTOLE_LEARNING_S, float(self.asystole_s))
            object.__setattr__(self, "asystole_learning_s", v)
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)
                                       and self.asystole_s <= v <= 60.0):
            raise ConfigError("asystole_learning_s", f"must be a number of seconds from "
                                                     f"asystole_s ({self.asystole_s}) to 60, "
                                                     f"got {v!r}")


def v_probabilities(proba: np.ndarray, classes) -> np.ndarray:  # noqa: ANN001
    """:attr:`BeatInfo.p_v` of each beat: the ``V`` column of the classifier's ``proba``
    (n, len(classes)), NaN when the classes have no ``V``."""
    classes = list(classes)
    if "V" not in classes:
        return np.full(len(proba), np.nan)
    return np.asarray(proba, dtype=float)[:, classes.index("V")]


@dataclass(frozen=True)
class BeatInfo:
    """What the monitor needs of a beat.

    ``sample_index`` device sample of the R peak; ``label`` AAMI class; ``rr_pre_s`` interval
    from the previous beat (s, NaN for the first); ``clean`` False when that interval spans a
    link gap in which a beat could have been lost, a pipeline reset or bad signal; ``p_v``
    the classifier's probability that the beat is V (NaN: not known); ``rr_unknown`` True
    when the interval is not clean only because it spans a bridged link gap in which a beat
    could be lost (its signal otherwise good): real time, which the heart rate counts as the
    intervals it most likely holds (:class:`edge.dsp.rate.RollingRate`).
    """

    sample_index: int
    label: str
    rr_pre_s: float
    clean: bool = True
    p_v: float = math.nan
    rr_unknown: bool = False


@dataclass(frozen=True)
class RunSpan:
    """A run of beats: first and last R peak (device samples), beats, rate (bpm, None below
    two beats or over no time)."""

    first_index: int
    last_index: int
    n_beats: int
    rate_bpm: float | None


class FastRun:
    """Consecutive beats of one class that open an episode once ``min_beats`` of them reach
    ``rate_bpm`` (the rate from the run's own first to last beat): the run behind ``svt`` and
    ``vt``. A beat of the class after an untrustworthy interval (``clean`` False) starts a new
    run: a rate across a link gap means nothing. With ``min_evidence``, the run must also hold
    that much evidence, the sum over its beats of ``p_v - 0.5`` (a beat whose ``p_v`` is
    unknown passes), before it opens: confident V beats open a run at ``min_beats``, doubtful
    ones need more beats. State: first and last index, the count and the evidence."""

    def __init__(self, label: str, *, min_beats: int, rate_bpm: float, fs_hz: float,
                 min_evidence: float | None = None) -> None:
        self.label = label
        self.min_beats = int(min_beats)
        self.rate_bpm = float(rate_bpm)
        self.fs_hz = float(fs_hz)
        self.min_evidence = min_evidence
        self._first = self._last = 0
        self._n = 0
        self.evidence = 0.0
        self.is_open = False

    def span(self) -> RunSpan:
        rate = None
        if self._n >= 2:
            span_s = (self._last - self._first) / self.fs_hz
            rate = round(60.0 * (self._n - 1) / span_s, 1) if span_s > 0 else None
        return RunSpan(self._first, self._last, self._n, rate)

    def end(self) -> RunSpan | None:
        """Forget the run; the span of an open one (its episode ends), else None."""
        ended = self.span() if self.is_open else None
        self._n, self.is_open = 0, False
        return ended

    def feed(self, b: BeatInfo) -> tuple[RunSpan | None, RunSpan | None]:
        """One beat in time order: (the open run it ended, the run it opened), each or None."""
        ended = None
        if b.label != self.label or (self._n and not b.clean):
            ended = self.end()
            if b.label != self.label:
                return ended, None
        if self._n == 0:
            self._first = int(b.sample_index)
            self.evidence = 0.0
        self._last = int(b.sample_index)
        self._n += 1
        self.evidence += b.p_v - 0.5  # NaN (unknown) stays NaN: passes the gate
        if self.is_open or self._n < self.min_beats:
            return ended, None
        if self.min_evidence is not None and self.evidence < self.min_evidence:
            return ended, None
        span = self.span()
        if span.rate_bpm is not None and span.rate_bpm >= self.rate_bpm:
            self.is_open = True
            return ended, span
        return ended, None


class LearningHold:
    """Holds the onsets of some alert kinds during the first ``n_beats`` beats of a stream.

    Call :meth:`filter` once per beat with the events that beat produced (after the beat was
    processed): while learning, an onset of a held kind is kept back, and the end of a
    kept-back episode drops both (counted in :attr:`n_dropped`); on the beat that ends
    learning the onsets still kept back are returned, marked ``detail.learning_held = True``
    and dated at their own onset. :meth:`discard` drops what is kept back (the stream ended
    while learning); :meth:`reset` starts learning again.
    """

    def __init__(self, n_beats: int, kinds: tuple[str, ...]) -> None:
        self.n_beats = int(n_beats)
        self.kinds = tuple(kinds)
        self.n_dropped = 0
        self.reset()

    def reset(self) -> None:
        self.n_seen = 0
        self._held: dict[str, AlertEvent] = {}

    @property
    def learning(self) -> bool:
        return self.n_seen < self.n_beats

    def is_held(self, kind: str) -> bool:
        return kind in self._held

    def filter(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """The events of one beat, with held onsets (and the ends of held episodes) removed
        while learning, and the held onsets released on the beat that ends it."""
        if not self.learning:
            return events
        out: list[AlertEvent] = []
        for e in events:
            if e.kind in self.kinds and e.state == "onset":
                self._held[e.kind] = e
            elif e.kind in self.kinds and e.state == "end" and e.kind in self._held:
                del self._held[e.kind]
                self.n_dropped += 1
            else:
                out.append(e)
        self.n_seen += 1
        if not self.learning and self._held:
            for e in sorted(self._held.values(), key=lambda e: e.sample_index):
                e.detail["learning_held"] = True
                out.append(e)
            self._held = {}
        return out

    def discard(self) -> list[str]:
        """Drop the held onsets (their episodes end unraised); returns their kinds."""
        kinds = list(self._held)
        self.n_dropped += len(kinds)
        self._held = {}
        return kinds


class Learning:
    """Read-only view of a :class:`LearningHold` kept in ``self._learning`` (mixed into the
    trackers that hold onsets while the stream is learning)."""

    _learning: LearningHold

    @property
    def learning(self) -> bool:
        """The stream is in its learning beats (onsets of held kinds are kept back)."""
        return self._learning.learning

    @property
    def n_learning_dropped(self) -> int:
        """Held episodes that opened and ended (or were cut) while learning: never raised."""
        return self._learning.n_dropped


class RhythmMonitor(Learning):
    """Streaming rhythm-alert rules for one device (see the module docstring).

    Parameters
    ----------
    config : AlertConfig
    fs_hz : device sample rate (Hz), for the events' time base.
    device_id : put in the events.
    vt_alarm : a ``v_run`` at VT rate (``detail.vt``) is severity ``alarm`` (True) or
        ``warning`` (False: another stage raises the VT alarm).
    """

    def __init__(self, config: AlertConfig | None = None, *, fs_hz: float,
                 device_id: int = 0, vt_alarm: bool = True) -> None:
        self.config = config or AlertConfig()
        self.fs_hz = float(fs_hz)
        self.device_id = int(device_id)
        self.vt_alarm = bool(vt_alarm)
        self._learning = LearningHold(self.config.learning_beats, LEARNING_KINDS)
        self.reset()

    def reset(self) -> None:
        """Forget the rhythm history (closes nothing: call :meth:`flush` first)."""
        cfg = self.config
        self._learning.reset()
        self.rate = RollingRate(RateConfig(window_s=cfg.rate_window_s,
                                           min_beats=cfg.rate_min_beats))
        self._vrun: list[BeatInfo] = []
        self._vrun_open = False
        self._srun = FastRun("S", min_beats=cfg.svt_min_beats, rate_bpm=cfg.svt_rate_bpm,
                             fs_hz=self.fs_hz)
        self._since_v: int | None = None  # non-V beats since the last V (None: no V yet)
        self._big = 0
        self._trig = 0
        self._open: dict[str, int] = {}  # kind -> onset sample index
        self._flutter = False
        self._last_index: int | None = None

    def _event(self, kind: str, state: str, at: int, severity: str = "warning",
               **detail: object) -> AlertEvent:
        return AlertEvent(device_id=self.device_id, kind=kind, state=state, severity=severity,
                          sample_index=int(at), fs_hz=self.fs_hz, detail=dict(detail))

    def _end(self, kind: str, at: int, out: list[AlertEvent], **detail: object) -> None:
        onset = self._open.pop(kind, None)
        if onset is None:
            return
        sev = "alarm" if kind == "vflutter" else "warning"
        out.append(self._event(kind, "end", at, sev,
                               duration_s=round((at - onset) / self.fs_hz, 3), **detail))

    @property
    def in_flutter(self) -> bool:
        """The flutter flag as last fed to :meth:`process`."""
        return self._flutter

    def process(self, beats: list[BeatInfo], in_flutter: bool = False,
                now_index: int | None = None) -> list[AlertEvent]:
        """Feed the beats released since the last call (time order) and the detector's
        flutter flag; returns the alerts raised or ended. ``now_index`` (device samples) dates
        flutter changes (default: the last beat)."""
        out: list[AlertEvent] = []
        for b in beats:
            if self._learning.learning:
                mine: list[AlertEvent] = []
                self._beat(b, mine)
                out.extend(self._learning.filter(mine))
            else:
                self._beat(b, out)
        at = now_index if now_index is not None else (self._last_index or 0)
        if in_flutter and not self._flutter:
            self._open["vflutter"] = at
            out.append(self._event("vflutter", "onset", at, "alarm"))
        elif not in_flutter and self._flutter:
            self._end("vflutter", at, out)
        self._flutter = bool(in_flutter)
        return out

    def _close_vrun(self, out: list[AlertEvent]) -> None:
        """End the V run under way (its ``end`` when it had reached an onset)."""
        if self._vrun_open:
            rate = self._run_rate()
            self._end("v_run", self._vrun[-1].sample_index, out, n_beats=len(self._vrun),
                      rate_bpm=rate, vt=rate is not None and rate >= self.config.vt_rate_bpm)
        self._vrun = []
        self._vrun_open = False

    def _beat(self, b: BeatInfo, out: list[AlertEvent]) -> None:
        cfg = self.config
        t_s = b.sample_index / self.fs_hz
        is_v = b.label == "V"
        self._last_index = b.sample_index
        # pause
        if b.clean and b.rr_pre_s == b.rr_pre_s and b.rr_pre_s > cfg.pause_s:
            start = b.sample_index - int(round(b.rr_pre_s * self.fs_hz))
            out.append(self._event("pause", "event", start, rr_s=round(b.rr_pre_s, 3),
                                   end_index=int(b.sample_index)))
        # V runs: a run does not continue across bad signal or a pipeline reset (a bridged
        # link gap, the signal good around it, does not break it: ``rr_unknown``)
        broken = not (b.clean or b.rr_unknown)
        if is_v and broken:
            self._close_vrun(out)
        if is_v:
            self._vrun.append(b)
            if len(self._vrun) == cfg.vrun_min_beats:
                self._vrun_open = True
                rate = self._run_rate()
                vt = rate is not None and rate >= cfg.vt_rate_bpm
                self._open["v_run"] = self._vrun[0].sample_index
                out.append(self._event("v_run", "onset", self._vrun[0].sample_index,
                                       "alarm" if vt and self.vt_alarm else "warning",
                                       n_beats=len(self._vrun), rate_bpm=rate, vt=vt))
        else:
            self._close_vrun(out)
        self._svt(b, out)
        # bigeminy / trigeminy: count V beats preceded by exactly 1 (2) non-V beats (counted
        # afresh after bad signal or a reset, as V runs)
        if broken and self._since_v is not None:
            self._end("bigeminy", b.sample_index, out)
            self._end("trigeminy", b.sample_index, out)
            self._since_v, self._big, self._trig = None, 0, 0
        if is_v:
            gap = self._since_v
            if gap == 1:
                self._big += 1
            else:
                self._end("bigeminy", b.sample_index, out)
                self._big = 1
            if gap == 2:
                self._trig += 1
            else:
                self._end("trigeminy", b.sample_index, out)
                self._trig = 1
            if self._big >= cfg.bigeminy_min_cycles and "bigeminy" not in self._open:
                self._open["bigeminy"] = b.sample_index
                out.append(self._event("bigeminy", "onset", b.sample_index,
                                       n_cycles=self._big))
            if self._trig >= cfg.trigeminy_min_cycles and "trigeminy" not in self._open:
                self._open["trigeminy"] = b.sample_index
                out.append(self._event("trigeminy", "onset", b.sample_index,
                                       n_cycles=self._trig))
            self._since_v = 0
        elif self._since_v is not None:
            self._since_v += 1
            if self._since_v > 1:
                self._big = 0
                self._end("bigeminy", b.sample_index, out)
            if self._since_v > 2:
                self._trig = 0
                self._end("trigeminy", b.sample_index, out)
        # rate limits with hysteresis
        hr = self.rate.process(t_s, b.rr_pre_s, b.clean or b.rr_unknown,
                               may_hide_beat=b.rr_unknown)
        if hr is not None:
            if "bradycardia" not in self._open and hr < cfg.brady_bpm:
                self._open["bradycardia"] = b.sample_index
                out.append(self._event("bradycardia", "onset", b.sample_index,
                                       rate_bpm=round(hr, 1)))
            elif "bradycardia" in self._open and hr > cfg.brady_bpm + cfg.hysteresis_bpm:
                self._end("bradycardia", b.sample_index, out, rate_bpm=round(hr, 1))
            if "tachycardia" not in self._open and hr > cfg.tachy_bpm:
                self._open["tachycardia"] = b.sample_index
                out.append(self._event("tachycardia", "onset", b.sample_index,
                                       rate_bpm=round(hr, 1)))
            elif "tachycardia" in self._open and hr < cfg.tachy_bpm - cfg.hysteresis_bpm:
                self._end("tachycardia", b.sample_index, out, rate_bpm=round(hr, 1))

    def _svt(self, b: BeatInfo, out: list[AlertEvent]) -> None:
        """Runs of S beats: onset once long and fast enough, end at the first other beat."""
        ended, opened = self._srun.feed(b)
        if ended is not None:
            self._end("svt", ended.last_index, out, n_beats=ended.n_beats,
                      rate_bpm=ended.rate_bpm)
        if opened is not None:
            self._open["svt"] = opened.first_index
            out.append(self._event("svt", "onset", opened.first_index, n_beats=opened.n_beats,
                                   rate_bpm=opened.rate_bpm))

    def _run_rate(self) -> float | None:
        """Rate of the V run (bpm) from its first to its last beat."""
        run = self._vrun
        if len(run) < 2:
            return None
        span_s = (run[-1].sample_index - run[0].sample_index) / self.fs_hz
        return round(60.0 * (len(run) - 1) / span_s, 1) if span_s > 0 else None

    @property
    def open_episodes(self) -> dict[str, int]:
        """Episodes in progress: kind -> onset sample index."""
        return dict(self._open)

    def flush(self, at_index: int | None = None) -> list[AlertEvent]:
        """End every open episode (end of stream, or before a pipeline reset)."""
        at = at_index if at_index is not None else (self._last_index or 0)
        out: list[AlertEvent] = []
        for kind in self._learning.discard():
            self._open.pop(kind, None)
        for kind in list(self._open):
            self._end(kind, at, out)
        self._vrun, self._vrun_open = [], False
        self._srun.end()
        self._since_v, self._big, self._trig = None, 0, 0
        self._flutter = False
        self.rate.reset()
        return out
