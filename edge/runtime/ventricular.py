"""One device's ventricular-arrhythmia alerts in the daemon: ``vfib`` and ``vt``.

:class:`DeviceVentricular` runs two things per device:

* a :class:`edge.rhythm.ventricular.VfDetector` on the conditioned signal (the samples the
  R-peak detector sees): ``vfib`` (ventricular fibrillation or flutter, severity ``alarm``).
  The onset is emitted at the end of the window that confirmed it (``sample_index``: the alarm
  time, when a shock advisory would speak) with ``detail``: ``onset_index`` (where the episode
  is dated, device samples), ``rhythm`` (``VF`` or ``VFL``), ``p_shockable`` and the window's
  evidence (``dom_freq_hz``, ``tcsc``, ``vf_leakage``, ``peak_share``, ...); the end likewise
  (``sample_index``: when it was confirmed, ``detail.end_index``: where it is dated,
  ``duration_s``).
* ventricular tachycardia from the beat stream: ``vt`` (severity ``alarm``) once a run of
  consecutive ``V`` beats holds ``vt_min_beats`` (3) beats at ``vt_rate_bpm`` (100) or faster
  (the rate from the run's own first to last beat); onset at the run's first beat (``detail``:
  ``n_beats``, ``rate_bpm``, ``sustained`` false), end at its last V beat when another beat
  follows (``detail``: ``n_beats``, ``rate_bpm``, ``duration_s``, ``sustained`` = the run
  lasted ``sustained_s`` (30 s) or longer). With ``alarm_min_beats`` above ``vt_min_beats``
  (opt-in, e.g. 5, the V-Tach run limit of bedside monitors) a run is an ``alarm`` only once it
  holds that many V beats (onset raised on that beat, still dated at the first, ``n_beats`` the
  count then); a run that ends shorter -- non-sustained VT -- is raised as a ``warning``, onset
  and end together when it ends. A V beat after an untrustworthy interval starts a
  new run (a rate across a gap means nothing). Evidence: the run opens only once the sum over
  its beats of (P(V) - 0.5) reaches ``min_v_evidence`` (0.9; ``detail.v_evidence``): runs of
  doubtful V calls in electrode-motion noise (often a real couplet plus a noise spike called
  V) stay quiet, a longer run of doubtful beats still opens (dated at its first beat); on
  MIT-BIH DS1 records without VT with NSTDB em at 6 dB this took false ``vt`` alarms from 45
  to 9 in 8.0 h (benchmarks/results/ventricular.md). Learning: during the first ``learning_beats``
  (10) beats after the stream starts or restarts (the beat featurizer starts over, and the
  first beats are called V more often: :mod:`edge.runtime.alerts`) a ``vt`` onset is held; a
  run that ends within them is dropped (:attr:`VtTracker.n_learning_dropped`), one still going
  when they end is raised then, dated at its first beat, ``detail.learning_held`` true. The
  ``vfib`` detector is never held.

VF outranks VT: a beat dated while a ``vfib`` episode is open (from the sample its onset was
raised at, up to the sample its end was confirmed at) is not fed to the V-run tracker
(:attr:`DeviceVentricular.n_beats_in_vf` counts them), so no ``vt`` starts or goes on inside
VF. A ``vt`` episode still open at a ``vfib`` onset is ended, dated at the run's last V beat
(before the onset), with ``detail.ended_by = "vfib"``; that end is emitted with the first beat
released after the onset (or at the end of the stream), since only then is the run known
not to have ended on its own before it. Beats wait until the VF detector has analysed the
signal up to them (usually it already has: beats are released after the signal they sit in)
and meet the VF onsets and ends in sample order, so the alerts do not depend on how the
stream is chunked.

The older alerts stay (backwards compatible): ``vflutter`` (the R-peak detector's flutter flag)
and ``v_run`` (any run of >= 3 V beats, ``detail.vt`` at >= 100 bpm) are still raised by
:class:`edge.runtime.alerts.RhythmMonitor`; ``vfib`` and ``vt`` are the measured ones
(``benchmarks/results/ventricular.md``). With ``[rhythm.vflutter] confirm`` the VF stage
grades ``vflutter`` (:class:`FlutterConfirm`): the flag stops the beats of any stretch
without a baseline -- ventricular flutter, but also a hand moving on a handheld recorder's
electrodes -- so it is an alarm only when the VF stage sees a shockable window from
``lookback_s`` before its onset to ``hold_s`` after it, and a warning otherwise
(``benchmarks/results/flutter_grading.md``). While an onset waits, the windows the detector
has completed are scored at once instead of in its deferred batch (the same P and changes).
"""
from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from edge.dsp.detection import to_input_sample
from edge.dsp.preprocess import Conditioned
from edge.errors import ConfigError
from edge.events.model import AlertEvent
from edge.rhythm.ventricular import VentricularConfig, VfChange, VfDetector, VfOutput
from edge.runtime.alerts import BeatInfo, FastRun, Learning, LearningHold, RunSpan

__all__ = ["VtConfig", "VtTracker", "FlutterConfirmConfig", "FlutterConfirm",
           "DeviceVentricular"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class VtConfig:
    """Ventricular tachycardia from V runs.

    Attributes
    ----------
    vt_min_beats : consecutive V beats that can be VT (>= 3).
    vt_rate_bpm : their rate at or above which it is VT (> 0).
    sustained_s : a run this long or longer is sustained VT (> 0).
    learning_beats : beats after a start or restart during which onsets are held (>= 0).
    min_v_evidence : the run's evidence, sum over its beats of (P(V) - 0.5), needed before it
        is VT (>= 0; 0: no gate). 0.9 = three beats at P(V) 0.8, or more doubtful beats.
    alarm_min_beats : V beats the run must hold for the ``vt`` to be an ``alarm``
        (>= ``vt_min_beats``); a shorter run is raised as a ``warning`` when it ends. The
        default, 3 (= ``vt_min_beats``), makes every run an alarm at once; 5 is the V-Tach run
        limit bedside monitors default to (3-4-beat runs: non-sustained VT, a warning), opt-in
        (``benchmarks/results/ventricular.design.md`` section 11).
    """

    vt_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    sustained_s: float = 30.0
    learning_beats: int = 10
    min_v_evidence: float = 0.9
    alarm_min_beats: int = 3

    def __post_init__(self) -> None:
        v = self.min_v_evidence
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ConfigError("min_v_evidence", f"must be >= 0, got {v!r}")
        if not isinstance(self.learning_beats, int) or self.learning_beats < 0:
            raise ConfigError("learning_beats", f"must be an integer >= 0, got "
                                                f"{self.learning_beats!r}")
        if not isinstance(self.vt_min_beats, int) or self.vt_min_beats < 3:
            raise ConfigError("vt_min_beats", f"must be an integer >= 3, got "
                                              f"{self.vt_min_beats!r}")
        for name in ("vt_rate_bpm", "sustained_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(name, f"must be > 0, got {v!r}")
        v = self.alarm_min_beats
        if isinstance(v, bool) or not isinstance(v, int) or v < self.vt_min_beats:
            raise ConfigError("alarm_min_beats", f"must be an integer >= vt_min_beats "
                                                 f"({self.vt_min_beats}), got {v!r}")


class VtTracker(Learning):
    """``vt`` alerts from beats in time order (see the module docstring).

    A run that opens (``vt_min_beats`` fast V beats with enough evidence) is raised at once as
    an ``alarm`` if it already holds ``alarm_min_beats`` beats; otherwise its onset waits:
    raised as an ``alarm`` on the beat that brings the run to ``alarm_min_beats``, or, when the
    run ends shorter, as a ``warning`` together with its end. Counts: :attr:`n_episodes` (onsets
    raised), :attr:`n_alarms`, :attr:`n_warnings`."""

    def __init__(self, config: VtConfig | None = None, *, fs_hz: float,
                 device_id: int = 0) -> None:
        self.config = config or VtConfig()
        self.fs_hz = float(fs_hz)
        self.device_id = int(device_id)
        self._learning = LearningHold(self.config.learning_beats, ("vt",))
        self.n_alarms = 0
        self.n_warnings = 0
        self.reset()

    def reset(self) -> None:
        cfg = self.config
        self._run = FastRun("V", min_beats=cfg.vt_min_beats, rate_bpm=cfg.vt_rate_bpm,
                            fs_hz=self.fs_hz,
                            min_evidence=cfg.min_v_evidence if cfg.min_v_evidence > 0 else None)
        self._learning.reset()
        self.n_episodes = 0
        self._waiting: AlertEvent | None = None  # an open run's onset, short of an alarm
        self._severity = "alarm"  # of the open run's onset, once raised

    def _event(self, state: str, at: int, severity: str, **detail: object) -> AlertEvent:
        return AlertEvent(device_id=self.device_id, kind="vt", state=state, severity=severity,
                          sample_index=int(at), fs_hz=self.fs_hz, detail=dict(detail))

    def _onset(self, span: RunSpan, severity: str) -> AlertEvent:
        evidence = self._run.evidence
        return self._event("onset", span.first_index, severity, n_beats=span.n_beats,
                           rate_bpm=span.rate_bpm, sustained=False,
                           v_evidence=round(evidence, 3) if math.isfinite(evidence) else None)

    def _end(self, ended: RunSpan | None, out: list[AlertEvent]) -> None:
        if ended is None:
            return
        if self._waiting is not None:  # ended short of an alarm: a warning, raised now
            out.append(replace(self._waiting, severity="warning"))
            self._waiting, self._severity = None, "warning"
        dur = (ended.last_index - ended.first_index) / self.fs_hz
        out.append(self._event("end", ended.last_index, self._severity,
                               n_beats=ended.n_beats, rate_bpm=ended.rate_bpm,
                               duration_s=round(dur, 3),
                               sustained=dur >= self.config.sustained_s))

    def process(self, beats: list[BeatInfo]) -> list[AlertEvent]:
        alarm_at = self.config.alarm_min_beats
        out: list[AlertEvent] = []
        for b in beats:
            mine: list[AlertEvent] = []
            ended, opened = self._run.feed(b)
            self._end(ended, mine)
            if opened is not None:
                if opened.n_beats >= alarm_at:
                    mine.append(self._onset(opened, "alarm"))
                    self._severity = "alarm"
                else:
                    self._waiting = self._onset(opened, "warning")
            elif self._waiting is not None:  # waiting: the run is open (its end clears it)
                span = self._run.span()
                if span.n_beats >= alarm_at:  # the run reached the alarm's length: raised now
                    mine.append(replace(self._waiting, severity="alarm",
                                        detail={**self._waiting.detail,
                                                "n_beats": span.n_beats,
                                                "rate_bpm": span.rate_bpm}))
                    self._waiting, self._severity = None, "alarm"
            out.extend(self._counted(self._learning.filter(mine)))
        return out

    def _counted(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """``events`` as they leave, their onsets counted."""
        for e in events:
            if e.state == "onset":
                self.n_episodes += 1
                self.n_alarms += e.severity == "alarm"
                self.n_warnings += e.severity != "alarm"
        return events

    def skip(self, beat: BeatInfo) -> list[AlertEvent]:
        """A beat not analysed for VT (inside VF) still counts towards learning (an open run
        has been ended before it)."""
        return self._counted(self._learning.filter([]))

    def flush(self) -> list[AlertEvent]:
        """End of stream, a restart or a ``vfib`` onset: an open run ends (a run short of an
        alarm is raised as a warning with its end)."""
        out: list[AlertEvent] = []
        if self._learning.discard():  # a held run ends unraised
            self._run.end()
            self._waiting = None
        elif self._waiting is not None and self.learning:  # as a run ending in the learning
            self._run.end()
            self._waiting = None
            self._learning.n_dropped += 1
        self._end(self._run.end(), out)
        return self._counted(out)


#: Shockable windows kept this long (s) past the lookback for ``vflutter`` onsets to come.
_FLUTTER_KEEP_S = 30.0


@dataclass(frozen=True, kw_only=True)
class FlutterConfirmConfig:
    """The ``[rhythm.vflutter]`` table: ``vflutter`` confirmed by the VF stage.

    Attributes
    ----------
    confirm : a ``vflutter`` onset is an alarm only when the VF stage saw a shockable window
        (P >= ``p_shockable``, not vetoed) ending from ``lookback_s`` before it to ``hold_s``
        after it; otherwise it is raised as a warning. ``false``: every ``vflutter`` is an
        alarm at once, as before 2026-12-02.
    lookback_s : how far before the onset a shockable window's end may lie (>= 0, s).
    hold_s : how long after the onset the alarm may wait for one (>= 0, s).
    """

    confirm: bool = False
    lookback_s: float = 1.0
    hold_s: float = 4.0

    def __post_init__(self) -> None:
        if not isinstance(self.confirm, bool):
            raise ConfigError("confirm", f"must be true or false, got {self.confirm!r}")
        for name in ("lookback_s", "hold_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and 0 <= v <= 60):
                raise ConfigError(name, f"must be a number of seconds in 0-60, got {v!r}")


class FlutterConfirm:
    """``vflutter`` alerts graded by the VF stage (see :class:`DeviceVentricular`).

    Feed it the shockable windows as the VF detector scores them (:meth:`windows`, in stream
    order) and the ``vflutter`` onsets and ends as the R-peak detector's flutter flag raises
    them (:meth:`feed`); an onset waits until the windows decide it: an alarm as soon as a
    shockable window ends within ``lookback_s`` before to ``hold_s`` after the onset, raised
    at that window's end (at the onset when it lies before), else, once the windows up to
    ``hold_s`` after the onset have been scored without one, a warning raised then. The
    events keep the flutter flag's dates in ``detail``: ``onset_index`` (the onset) and
    ``end_index`` (the end), with ``vf_confirmed``; ``sample_index`` is when the device
    raised them (an end is never raised before its onset). The decision depends only on the
    windows and the onset, so it does not depend on how the stream is chunked (only the call
    it leaves in does).
    """

    def __init__(self, config: FlutterConfirmConfig | None = None, *, fs_hz: float) -> None:
        self.config = config or FlutterConfirmConfig()
        self.fs_hz = float(fs_hz)
        self.lookback = int(round(self.config.lookback_s * self.fs_hz))
        self.hold = int(round(self.config.hold_s * self.fs_hz))
        self.n_confirmed = 0
        self.n_unconfirmed = 0
        self.reset()

    def reset(self) -> None:
        """Forget the windows and what waits (a restart; :meth:`finish` first to keep it)."""
        self._shock: list[int] = []  # ends of shockable windows (device samples, increasing)
        self._scored_end: int | None = None  # end of the last window scored
        self._pending: list[list[AlertEvent | None]] = []  # [onset, end | None], in order
        self._decided: tuple[str, int, bool] | None = None  # open episode: severity, raised

    @property
    def pending(self) -> bool:
        """An onset waits for windows."""
        return bool(self._pending)

    def windows(self, ends: list[int], shockable: list[bool]) -> None:
        """The windows the VF detector scored (device-sample ends, in stream order). A
        ``vflutter`` onset must be fed within ``_FLUTTER_KEEP_S`` (30 s) of the windows that
        reach its date (the device feeds it within the R-peak detector's decision lag)."""
        if not ends:
            return
        self._scored_end = ends[-1]
        self._shock.extend(e for e, s in zip(ends, shockable) if s)
        # an onset still to come is dated at most the R-peak detector's decision lag before
        # the signal it has seen (which the VF detector has seen too): far less than the margin
        horizon = min([ends[-1] - int(_FLUTTER_KEEP_S * self.fs_hz)]
                      + [p[0].sample_index for p in self._pending[:1]]) - self.lookback
        k = bisect.bisect_left(self._shock, horizon)
        if k:
            del self._shock[:k]

    def feed(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """``vflutter`` onsets/ends in time order; returns those decided (graded)."""
        out: list[AlertEvent] = []
        for e in events:
            if e.state == "onset":
                self._pending.append([e, None])
            elif self._pending and self._pending[-1][1] is None:
                self._pending[-1][1] = e
            elif self._decided is not None:
                out.append(self._end(e, *self._decided))
                self._decided = None
        out.extend(self.decide())
        return out

    def decide(self, final: bool = False) -> list[AlertEvent]:
        """Grade the waiting onsets the scored windows decide (all of them when ``final``:
        the stream ended, no window is to come)."""
        out: list[AlertEvent] = []
        while self._pending:
            onset, end = self._pending[0]
            at = onset.sample_index
            k = bisect.bisect_left(self._shock, at - self.lookback)
            if k < len(self._shock) and self._shock[k] <= at + self.hold:
                confirmed, raised = True, max(at, self._shock[k])
            elif final or (self._scored_end is not None and self._scored_end >= at + self.hold):
                confirmed = False
                raised = at + self.hold if self._scored_end is None else \
                    max(at, min(at + self.hold, self._scored_end))
            else:
                break
            self._pending.pop(0)
            sev = "alarm" if confirmed else "warning"
            self.n_confirmed += confirmed
            self.n_unconfirmed += not confirmed
            out.append(replace(onset, severity=sev, sample_index=raised,
                               detail={**onset.detail, "onset_index": at,
                                       "vf_confirmed": confirmed}))
            if end is not None:
                out.append(self._end(end, sev, raised, confirmed))
            else:
                self._decided = (sev, raised, confirmed)
        return out

    def _end(self, end: AlertEvent, severity: str, raised: int,
             confirmed: bool) -> AlertEvent:
        return replace(end, severity=severity, sample_index=max(end.sample_index, raised),
                       detail={**end.detail, "end_index": end.sample_index,
                               "vf_confirmed": confirmed})

    def finish(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """End of stream (or before a restart): the last ``vflutter`` events, every onset
        still waiting graded on the windows scored."""
        out = self.feed(events)
        out.extend(self.decide(final=True))
        return out


class DeviceVentricular:
    """``vfib`` and ``vt`` alerts of one device.

    Parameters
    ----------
    device_id, fs_hz : the device and its sample rate (Hz).
    fs_proc_hz : the conditioned signal's rate (the processing rate).
    config : VF detector settings (its ``fs_hz`` is replaced by ``fs_proc_hz``).
    vt : VT settings.
    detector : a ready detector (tests; overrides ``config``).
    origin : device index of the first conditioned sample (the stream's first sample; a
        :meth:`restart` moves it).
    """

    def __init__(self, *, device_id: int, fs_hz: float, fs_proc_hz: float,
                 config: VentricularConfig | None = None, vt: VtConfig | None = None,
                 detector: VfDetector | None = None, origin: int = 0,
                 flutter: FlutterConfirmConfig | None = None) -> None:
        self.device_id = int(device_id)
        self.fs_hz = float(fs_hz)
        self.fs_proc_hz = float(fs_proc_hz)
        if detector is None:
            cfg = config or VentricularConfig()
            if cfg.fs_hz != self.fs_proc_hz:
                from dataclasses import replace  # noqa: PLC0415
                cfg = replace(cfg, fs_hz=self.fs_proc_hz)
            detector = VfDetector(cfg, changes_only=True)  # the daemon uses the changes alone
        self.detector = detector
        self.vt = VtTracker(vt, fs_hz=fs_hz, device_id=device_id)
        flutter = flutter or FlutterConfirmConfig()
        self.flutter_gate = FlutterConfirm(flutter, fs_hz=fs_hz) if flutter.confirm else None
        self._origin = int(origin)
        self._onset: int | None = None
        self._waiting: list[BeatInfo] = []  # beats past the signal the detector has analysed
        self._changes: list[tuple[int, str]] = []  # vfib (alarm index, state) beats have not met
        self._in_vf = False
        self.n_beats_in_vf = 0

    def _to_device(self, processing_index: int) -> int:
        return self._origin + to_input_sample(processing_index, self.fs_hz, self.fs_proc_hz)

    def _alert(self, change: VfChange) -> AlertEvent:
        at = self._to_device(change.alarm_index)
        dated = self._to_device(change.sample_index)
        detail: dict[str, object] = {"rhythm": change.rhythm}
        if change.state == "onset":
            self._onset = dated
            detail.update(onset_index=dated, p_shockable=round(change.p, 4), **change.evidence)
        else:
            onset, self._onset = self._onset, None
            detail.update(end_index=dated,
                          duration_s=round((dated - (onset if onset is not None else dated))
                                           / self.fs_hz, 3))
            if math.isfinite(change.p):
                detail["p_shockable"] = round(change.p, 4)
        return AlertEvent(device_id=self.device_id, kind="vfib", state=change.state,
                          severity="alarm", sample_index=at, fs_hz=self.fs_hz, detail=detail)

    def signal(self, cond: Conditioned, peaks: np.ndarray | None = None,
               decided_at: np.ndarray | None = None, lag_samples: int = 0
               ) -> list[AlertEvent]:
        """Feed the conditioned samples of the last pipeline call, with the R peaks its
        detector returned in that call (``peaks``, ``decided_at``: the pipeline's
        ``peaks`` / ``peaks_decided_at``; ``lag_samples``: the detector's
        ``decision_lag_samples``) for the organised-rhythm veto; returns ``vfib`` alerts (and
        the ``vt`` alerts of beats that waited for the signal)."""
        if peaks is not None and decided_at is not None:
            self.detector.add_beats(peaks, decided_at, lag_samples=lag_samples)
        if len(cond) == 0:
            return []
        out = self._scored(self.detector.process(cond))
        out.extend(self._flutter_decide())
        out.extend(self._feed_before(self._analysed_end()))
        return out

    def _scored(self, res: VfOutput) -> list[AlertEvent]:
        """The ``vfib`` alerts of the VF detector's changes; its windows to the ``vflutter``
        gate."""
        out: list[AlertEvent] = []
        for c in res.changes:
            self._changes.append((self._to_device(c.alarm_index), c.state))
            out.append(self._alert(c))
        if self.flutter_gate is not None and res.windows:
            self.flutter_gate.windows([self._to_device(w.end_index) for w in res.windows],
                                      [self.detector.shockable(w) for w in res.windows])
        return out

    def _flutter_decide(self) -> list[AlertEvent]:
        """While a ``vflutter`` onset waits, the windows completed are scored now (not
        deferred: :attr:`VfDetector.changes_only`) and the onsets they decide graded."""
        gate = self.flutter_gate
        if gate is None or not gate.pending:
            return []
        out = self._scored(self.detector.score_waiting()) if self.detector.windows.n_ready \
            else []
        out.extend(gate.decide())
        return out

    @property
    def flutter_pending(self) -> bool:
        """A ``vflutter`` onset waits for the VF stage's windows."""
        return self.flutter_gate is not None and self.flutter_gate.pending

    def flutter(self, events: list[AlertEvent], *, final: bool = False) -> list[AlertEvent]:
        """The ``vflutter`` onsets/ends of :class:`~edge.runtime.alerts.RhythmMonitor` (time
        order), graded by the VF stage (:class:`FlutterConfirm`; as they are without it);
        ``final``: the stream ended (after :meth:`end`), every onset is graded now. Returns
        the events decided (and ``vfib`` alerts of windows scored early for them)."""
        gate = self.flutter_gate
        if gate is None:
            return list(events)
        if final:
            return gate.finish(events)
        out = gate.feed(events)
        out.extend(self._flutter_decide())
        return out

    @property
    def analysed_end(self) -> int:
        """Device index up to which (exclusive) the VF detector has analysed the signal: every
        ``vfib`` change raised before it has been returned."""
        return self._analysed_end()

    def _analysed_end(self) -> int:
        """Device index up to which (exclusive) the VF detector has analysed the signal."""
        end = self.detector.windows.end_index
        return self._origin if end is None else self._to_device(end)

    def _cross(self, upto: int | None) -> list[AlertEvent]:
        """Meet the vfib changes raised at or before ``upto`` (all with None)."""
        out: list[AlertEvent] = []
        while self._changes and (upto is None or self._changes[0][0] <= upto):
            _, state = self._changes.pop(0)
            if state == "onset":
                out.extend(self._end_vt_for_vf())
            self._in_vf = state == "onset"
        return out

    def _feed_before(self, limit: int | None) -> list[AlertEvent]:
        """Feed the waiting beats dated before ``limit`` (all with None) to the VT tracker in
        sample order with the vfib changes, except those inside a ``vfib`` episode."""
        k = len(self._waiting)
        if limit is not None:
            k = next((i for i, b in enumerate(self._waiting) if b.sample_index >= limit), k)
        take, self._waiting = self._waiting[:k], self._waiting[k:]
        out: list[AlertEvent] = []
        for b in take:
            out.extend(self._cross(b.sample_index))
            if self._in_vf:
                self.n_beats_in_vf += 1
                out.extend(self.vt.skip(b))
            else:
                out.extend(self.vt.process([b]))
        return out

    def _end_vt_for_vf(self) -> list[AlertEvent]:
        """A ``vfib`` onset ends an open ``vt`` episode (``detail.ended_by = "vfib"``)."""
        ended = self.vt.flush()
        for e in ended:
            if e.state == "end":
                e.detail["ended_by"] = "vfib"
        return ended

    def beats(self, beats: list[BeatInfo]) -> list[AlertEvent]:
        """Feed released beats (time order); returns ``vt`` alerts (of the beats the VF
        detector has analysed the signal of; the others wait for :meth:`signal`)."""
        self._waiting.extend(beats)
        return self._feed_before(self._analysed_end())

    @property
    def in_vf(self) -> bool:
        return self.detector.in_vf

    def end(self) -> list[AlertEvent]:
        """End of stream or before a restart: close open episodes."""
        out = self._feed_before(None)
        if self.flutter_gate is not None and self.detector.windows.n_ready:
            out.extend(self._scored(self.detector.score_waiting()))  # its windows to the gate
        out.extend(self._alert(c) for c in self.detector.end())
        out.extend(self._cross(None))
        self._in_vf = False
        out.extend(self.vt.flush())
        return out

    def restart(self, origin: int) -> None:
        """The pipeline restarts; the next conditioned sample 0 is device sample ``origin``."""
        self.detector.reset()
        self.vt.reset()
        if self.flutter_gate is not None:
            self.flutter_gate.reset()
        self._origin = int(origin)
        self._onset = None
        self._waiting = []
        self._changes = []
        self._in_vf = False
