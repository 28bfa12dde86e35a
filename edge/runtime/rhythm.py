"""One device's rhythm in the daemon: the AF analyser on its beats, ``afib`` alert episodes and
the AF burden.

:class:`DeviceRhythm` feeds every released beat to a :class:`edge.rhythm.RhythmAnalyser`
(each beat event carries the rhythm confirmed when it left, and its call is read in that
rhythm: :meth:`DeviceRhythm.call`, :mod:`edge.rhythm.context`; :meth:`DeviceRhythm.beats`
takes a chunk's beats in one call, the analyser's windows computed in one batch, with the
results of feeding them one at a time) and turns the
analyser's rhythm changes into ``afib`` alert onsets and ends (severity ``warning``; the onset
carries P(AF) and the window's irregularity evidence, dated where the rhythm changed, so it
arrives about ``min_episode_s`` late). The analyser does not separate atrial flutter from
fibrillation (see :mod:`edge.rhythm.analyser`): its ``AF/AFL`` rhythm is reported as ``AFIB``.
A beat whose interval is not clean (signal quality not good, a gap) is passed to the analyser
as unreadable; a long unreadable stretch is the ``NOISE`` rhythm, which ends an open ``afib``
episode (``detail.reason`` ``unreadable``) -- AF is not declared on noise.

:class:`AfBurden` is the share of analysed stream time spent in AF -- over the last hour and
over the whole run -- counted in clean RR intervals (an interval across a gap, a reset or bad
signal is not analysed time), each in the rhythm of the episode it lies in: when a change is
confirmed and dated back, the intervals since its date take the new rhythm.
"""
from __future__ import annotations

import logging
import math
from collections import deque

from edge.events.model import AlertEvent
from edge.rhythm import (
    RHYTHM_AF,
    RHYTHM_NOISE,
    RhythmAnalyser,
    RhythmChange,
    RhythmConfig,
    SvtRunConfig,
    SvtRunTracker,
    beat_call,
)

__all__ = ["AfBurden", "DeviceRhythm", "event_rhythm"]

logger = logging.getLogger(__name__)


_EVENT_RHYTHM = {RHYTHM_AF: "AFIB", RHYTHM_NOISE: "NOISE"}


def event_rhythm(rhythm: str | None) -> str | None:
    """The beat events' rhythm label (``edge.events.model.RHYTHM_LABELS``) of an analyser
    rhythm: ``AF/AFL`` -> ``AFIB``, ``NOISE`` -> ``NOISE``, ``N`` -> ``N``, ``None`` (no window
    yet) -> ``None``."""
    if rhythm is None:
        return None
    return _EVENT_RHYTHM.get(rhythm, "N")


class AfBurden:
    """Share of analysed time in AF, over a sliding window and over the whole run.

    Parameters
    ----------
    window_s : the sliding window (s); 3600 for the last hour.
    """

    def __init__(self, window_s: float = 3600.0) -> None:
        if not (math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = float(window_s)
        self.reset()

    def reset(self) -> None:
        self._recent: deque[tuple[float, float, bool]] = deque()  # (end_s, duration_s, af)
        self._recent_s = 0.0
        self._recent_af_s = 0.0
        self.total_s = 0.0
        self.af_s = 0.0
        self._floor_s = -math.inf  # changes are not dated back before this (carried run)

    def add(self, end_s: float, duration_s: float, af: bool) -> None:
        """One analysed interval of ``duration_s`` seconds ending at stream time ``end_s``."""
        if not (math.isfinite(duration_s) and duration_s > 0):
            return
        self._recent.append((end_s, duration_s, af))
        self._recent_s += duration_s
        self.total_s += duration_s
        if af:
            self._recent_af_s += duration_s
            self.af_s += duration_s
        while self._recent and self._recent[0][0] <= end_s - self.window_s:
            _, d, was_af = self._recent.popleft()
            self._recent_s -= d
            if was_af:
                self._recent_af_s -= d

    def continue_from(self, earlier: AfBurden, at_s: float) -> None:
        """Carry ``earlier``'s run into this one, which starts at stream time ``at_s``: its
        intervals keep counting in the run and the sliding window, moved to end by ``at_s``
        (a stream on another time base, e.g. after a sample-rate change, continues the
        wearer's run; the time between the two is not known, so none is assumed)."""
        shift = (float(at_s) - earlier._recent[-1][0]) if earlier._recent else 0.0
        moved = deque((end_s + shift, d, af) for end_s, d, af in earlier._recent)
        moved.extend(self._recent)
        self._recent = moved
        self._recent_s += earlier._recent_s
        self._recent_af_s += earlier._recent_af_s
        self.total_s += earlier.total_s
        self.af_s += earlier.af_s
        self._floor_s = max(self._floor_s, float(at_s))

    def relabel_since(self, start_s: float, af: bool) -> None:
        """The rhythm changed (to AF when ``af``) at stream time ``start_s``: intervals
        already counted that end after it take the new rhythm (a change is confirmed after
        the fact and dated back; the burden follows the dating), never reaching intervals
        carried from an earlier stream (:meth:`continue_from`)."""
        start_s = max(start_s, self._floor_s)
        for k in range(len(self._recent) - 1, -1, -1):
            end_s, d, was_af = self._recent[k]
            if end_s <= start_s:
                break
            if was_af != af:
                self._recent[k] = (end_s, d, af)
                sign = 1.0 if af else -1.0
                self._recent_af_s += sign * d
                self.af_s += sign * d

    @property
    def window_share(self) -> float | None:
        """AF share of the window's analysed time (``None`` before any)."""
        if self._recent_s <= 0:
            return None
        return min(1.0, max(0.0, self._recent_af_s / self._recent_s))

    @property
    def run_share(self) -> float | None:
        """AF share of the run's analysed time (``None`` before any)."""
        return min(1.0, max(0.0, self.af_s / self.total_s)) if self.total_s > 0 else None


class DeviceRhythm:
    """The rhythm stage of one device (see the module docstring).

    Parameters
    ----------
    device_id, fs_hz : the device and its sample rate (Hz).
    config : analyser settings (default :class:`edge.rhythm.RhythmConfig`).
    analyser : a ready analyser (tests; overrides ``config``).
    beat_context : rhythm-aware beat calls (:meth:`call`); off, calls pass unchanged.
    svt : supraventricular runs in the beat calls (:class:`edge.rhythm.SvtRunTracker`; with
        ``beat_context`` only).
    """

    def __init__(self, *, device_id: int, fs_hz: float, config: RhythmConfig | None = None,
                 analyser: RhythmAnalyser | None = None, beat_context: bool = True,
                 svt: SvtRunConfig | None = None) -> None:
        self.device_id = int(device_id)
        self.fs_hz = float(fs_hz)
        self.beat_context = bool(beat_context)
        self.n_calls_changed = 0  # S calls reported N in confirmed AF/AFL
        self.n_svt_calls = 0  # N calls reported S in a supraventricular run
        self.svt = SvtRunTracker(svt)
        self._taken: tuple[str, str] | None = None  # (model call, run call) of the last beat
        self.analyser = analyser if analyser is not None else RhythmAnalyser(config)
        self.burden = AfBurden()
        self._onset: int | None = None  # open afib episode's onset (device samples)
        self.n_episodes = 0

    @property
    def rhythm(self) -> str | None:
        """The current beat-event rhythm label (``None`` before the first window)."""
        return event_rhythm(self.analyser.rhythm)

    def _alert(self, state: str, at: int, **detail: object) -> AlertEvent:
        return AlertEvent(device_id=self.device_id, kind="afib", state=state,
                          severity="warning", sample_index=int(at), fs_hz=self.fs_hz,
                          detail=dict(detail))

    def _change(self, change: RhythmChange) -> list[AlertEvent]:
        evidence = {k: round(float(v), 4) for k, v in change.evidence.items()}
        if change.rhythm == RHYTHM_AF and self._onset is None:
            self._onset = int(change.sample_index)
            self.n_episodes += 1
            return [self._alert("onset", change.sample_index, p_af=round(change.p_af, 4),
                                **evidence)]
        if change.rhythm == RHYTHM_NOISE and self._onset is not None:
            return self._end(int(change.sample_index), reason="unreadable")
        if change.rhythm != RHYTHM_AF and self._onset is not None:
            return self._end(int(change.sample_index), p_af=round(change.p_af, 4))
        return []

    def _end(self, at: int, **detail: object) -> list[AlertEvent]:
        onset, self._onset = self._onset, None
        if onset is None:
            return []
        return [self._alert("end", at, duration_s=round((at - onset) / self.fs_hz, 3),
                            **detail)]

    def beat(self, sample_index: int, label: str, rr_pre_s: float,
             clean: bool) -> tuple[str | None, list[AlertEvent]]:
        """Take one released beat (time order); returns its rhythm label for the beat event
        and the ``afib`` alerts it confirmed. ``rr_pre_s``/``clean``: the interval before it
        and whether it is analysed time (see :class:`AfBurden`). Its reported call:
        :meth:`call`."""
        rhythm, _, alerts = self._take([sample_index], [label], [rr_pre_s], [clean],
                                       calls=False)[0]
        return rhythm, alerts

    def beats(self, sample_index: list[int], labels: list[str], rr_pre_s: list[float],
              clean: list[bool], known: list[bool] | None = None
              ) -> list[tuple[str | None, str, list[AlertEvent]]]:
        """Take released beats (time order) in one call: for each, what :meth:`beat` then
        :meth:`call` give when fed one at a time -- its rhythm label, its reported call and
        the ``afib`` alerts it confirmed -- with the analyser's windows computed in one
        batch (:meth:`edge.rhythm.RhythmAnalyser.process_indexed`). ``clean``: the interval
        is readable; ``known`` (optional): False where a readable interval's timing is no
        evidence (a lost beat may hide in it; the analyser's windows skip it)."""
        return self._take(sample_index, labels, rr_pre_s, clean, calls=True, known=known)

    def _take(self, sample_index: list[int], labels: list[str], rr_pre_s: list[float],
              clean: list[bool], *, calls: bool, known: list[bool] | None = None
              ) -> list[tuple[str | None, str, list[AlertEvent]]]:
        if not sample_index:
            return []
        # the daemon's plain lists as they are; other element types through numpy arrays
        _, state, changes = self.analyser.process_list(sample_index, self.fs_hz, labels, clean,
                                                       known)
        by_beat: dict[int, list[RhythmChange]] = {}
        for i, c in changes:
            by_beat.setdefault(i, []).append(c)
        out: list[tuple[str | None, str, list[AlertEvent]]] = []
        for i, (at, label, rr, ok, now) in enumerate(zip(sample_index, labels, rr_pre_s, clean,
                                                         state)):
            alerts: list[AlertEvent] = []
            for c in by_beat.get(i, ()):
                alerts.extend(self._change(c))
            for c in by_beat.get(i, ()):
                self.burden.relabel_since(c.sample_index / self.fs_hz, c.rhythm == RHYTHM_AF)
            rhythm = event_rhythm(now or None)
            # unreadable (NOISE) time is not analysed time: counted as "not AF" it read a
            # patient in AF over a bad link as 0 % burden
            if ok and rhythm not in (None, "NOISE") and math.isfinite(rr):
                self.burden.add(at / self.fs_hz, rr, rhythm == "AFIB")
            call = label
            if self.beat_context:
                run_call = self.svt.call(label, rr, ok)
                if calls:
                    call = self._count(label, beat_call(run_call, now or None))
                else:
                    self._taken = (label, run_call)
            out.append((rhythm, call, alerts))
        return out

    def call(self, label: str) -> str:
        """The reported call of the beat just taken by :meth:`beat` that the model labelled
        ``label``: in a supraventricular run (:class:`edge.rhythm.SvtRunTracker`), then in
        the rhythm confirmed now (:func:`edge.rhythm.beat_call`)."""
        if not self.beat_context:
            return label
        run_call = self._taken[1] if self._taken and self._taken[0] == label else label
        return self._count(label, beat_call(run_call, self.analyser.rhythm))

    def _count(self, label: str, call: str) -> str:
        if label == "S" and call == "N":
            self.n_calls_changed += 1
        elif call == "S" and label != "S":
            self.n_svt_calls += 1
        return call

    def end(self, at: int, reason: str) -> list[AlertEvent]:
        """End of stream or restart: close an open episode at ``at`` and start over (the
        burden keeps counting over the run)."""
        out = self._end(int(at), reason=reason)
        self.analyser.reset()
        self.svt.reset()
        return out
