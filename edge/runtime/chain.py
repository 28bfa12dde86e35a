"""Alarm chaining: while a ``vfib`` episode is open, the lower alerts wait under it.

A monitor in ventricular fibrillation has one thing to say. Without chaining, the beat
stream inside VF raised a storm of lower alerts beside the ``vfib`` alarm: on the 35 CUDB
records (shipped models) 368 onsets of the chained kinds dated while a ``vfib`` episode was
open -- 119 ``vflutter`` alarms, 183 ``v_run``, 28 ``svt``, 23 ``tachycardia``, 10
``bigeminy``, 5 ``bradycardia`` (``benchmarks/bench_alarm_chain.py``). Bedside monitors
chain such alarms under the higher one; :class:`AlarmChain` does the same, without losing
one that outlives the VF:

* an onset of a chained kind (:data:`CHAINED_KINDS`) dated while a ``vfib`` episode is open
  (from the sample the ``vfib`` onset was raised at, up to the sample its end was confirmed
  at) is held back;
* the end of a held episode dated before the ``vfib`` end drops both: the episode began and
  ended inside VF and is never raised (:attr:`AlarmChain.n_dropped` counts them per kind);
* an episode still open when the ``vfib`` episode ends is raised after it, dated at its own
  onset, with ``detail.chained_under = "vfib"`` (a bradycardia or a run of PVCs that goes on
  after the fibrillation is announced once the VF alarm has ended): as soon as its end,
  dated at or after the ``vfib`` end, arrives, or once the beats have gone
  ``release_after_s`` (2 s) past the ``vfib`` end without one -- an episode's end is dated
  at its last beat and arrives with the beat after it, so by then any end dated inside the
  VF has arrived;
* at the end of the stream (or a pipeline restart) inside VF the held episodes are dropped:
  the flush ends them too.

``pause`` (a single event dated at the beat that opens the interval, ``detail.end_index``
the beat that closes it) is not held but judged by its closing beat: a pause that closes
while a ``vfib`` episode is open is dropped (:attr:`AlarmChain.n_dropped`, ``pause``): the
beats of a fibrillating heart come and go with the detector, and their gaps are not pauses
(on the 35 CUDB records 181 of 217 ``pause`` alerts closed under an open ``vfib``, 177 of
them matching no reference pause, 4 a pause after the VF before the alarm's end was
confirmed: ``benchmarks/bench_pauses.py``). A pause that closes after the ``vfib`` end
is raised as it is: a pause after VF may be asystole. ``vt`` is not chained: the ventricular
stage already subordinates it to ``vfib`` (:mod:`edge.runtime.ventricular`), nor are
``afib``/``aflutter``, whose ends the rhythm analyser dates further back than a beat.

Chunk invariance: alerts are judged in sample order against the ``vfib`` changes once the
VF detector has analysed the signal up to them (``upto`` in :meth:`AlarmChain.filter`;
beats and their alerts usually come after the signal they sit in, so they seldom wait); the
alerts themselves come from the beats in beat order, so what is held, raised or dropped
does not depend on how the stream is chunked (only the call an alert that waited leaves in).
"""
from __future__ import annotations

from collections.abc import Iterable

from edge.events.model import AlertEvent, Event

__all__ = ["CHAINED_KINDS", "AlarmChain"]

#: Alert kinds held while a ``vfib`` episode is open.
CHAINED_KINDS = ("vflutter", "v_run", "tachycardia", "bradycardia", "svt", "bigeminy",
                 "trigeminy")

#: ``vfib`` episodes remembered (alerts are judged at most seconds after their date).
_KEEP_EPISODES = 16


def _judged_at(e: AlertEvent) -> int:
    """The sample an alert is judged at: a ``pause`` by the beat that closes it, the others
    by their own date."""
    if e.kind == "pause":
        return int(e.detail.get("end_index", e.sample_index))
    return e.sample_index


class AlarmChain:
    """Holds the onsets of :data:`CHAINED_KINDS` while a ``vfib`` episode is open (see the
    module docstring).

    Parameters
    ----------
    fs_hz : the device's sample rate (Hz).
    kinds : the alert kinds chained under ``vfib``.
    release_after_s : beats this far past a ``vfib`` end raise the episodes still held.
    """

    def __init__(self, fs_hz: float, kinds: Iterable[str] = CHAINED_KINDS,
                 release_after_s: float = 2.0) -> None:
        self.kinds = frozenset(kinds)
        if self.kinds & {"vfib", "pause"}:
            raise ValueError("vfib and pause cannot be chained under vfib (a pause is "
                             "judged by its closing beat)")
        if not release_after_s > 0:
            raise ValueError("release_after_s must be > 0")
        self.release_after = int(round(release_after_s * float(fs_hz)))
        self.n_held: dict[str, int] = {}
        self.n_dropped: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the ``vfib`` episodes and what waits (a pipeline restart)."""
        self._episodes: list[list[int | None]] = []  # [raised at, end confirmed at | None]
        self._pending: list[AlertEvent] = []  # waiting for the VF detector's analysis
        self._held: dict[str, AlertEvent] = {}
        self._held_in: list[int | None] | None = None  # the episode they are held under

    @property
    def held_kinds(self) -> list[str]:
        """Kinds whose onset is held now."""
        return sorted(self._held)

    def filter(self, events: list[Event], upto: int | None, beats_upto: int | None, *,
               final: bool = False) -> list[Event]:
        """One call's events in, the events to emit out.

        ``vfib`` alerts are read (and passed on); alerts of chained kinds wait until ``upto``
        (device index up to which, exclusive, the VF detector has analysed the signal;
        ``None``: all of them) and are then judged in sample order; all other events pass
        unchanged, in their order. ``beats_upto``: device index of the last beat the alerts
        have seen (``None``: none yet).

        ``final``: the events of a flush (end of stream, or before a restart), whose ``vfib``
        end is the stream's: the episodes held under it are not raised (the flush ends them
        too), they are dropped and counted; call :meth:`reset` afterwards.
        """
        out: list[Event] = []
        for e in events:
            if isinstance(e, AlertEvent):
                if e.kind == "vfib":
                    if not (final and e.state == "end"):
                        self._vfib(e)
                elif e.kind in self.kinds or e.kind == "pause":
                    self._pending.append(e)
                    continue
            out.append(e)
        if self._pending:
            out.extend(self._judge(upto))
        if final:
            self.discard()
        elif self._held and beats_upto is not None:
            end = self._held_in[1] if self._held_in is not None else None
            if end is not None and beats_upto >= end + self.release_after:
                out.extend(self._raise_held())
        return out

    def _vfib(self, e: AlertEvent) -> None:
        if e.state == "onset":
            self._episodes.append([e.sample_index, None])
            del self._episodes[:-_KEEP_EPISODES]
        elif self._episodes and self._episodes[-1][1] is None:
            self._episodes[-1][1] = e.sample_index

    def _in_vf(self, at: int) -> list[int | None] | None:
        """The ``vfib`` episode open at device sample ``at``, if any."""
        for ep in reversed(self._episodes):
            start, end = ep
            if start <= at and (end is None or at < end):
                return ep
        return None

    def _judge(self, upto: int | None) -> list[AlertEvent]:
        if upto is None:
            ready, self._pending = self._pending, []
        else:
            ready = [e for e in self._pending if _judged_at(e) < upto]
            self._pending = [e for e in self._pending if _judged_at(e) >= upto]
        ready.sort(key=lambda e: e.sample_index)  # stable: per kind, onset before end
        out: list[AlertEvent] = []
        for e in ready:
            if e.kind == "pause":
                if self._in_vf(_judged_at(e)) is not None:  # closed inside VF: not a pause
                    self.n_dropped["pause"] = self.n_dropped.get("pause", 0) + 1
                else:
                    out.append(e)
                continue
            held = self._held.get(e.kind)
            if held is not None and e.state == "end":
                end = self._held_in[1] if self._held_in is not None else None
                if end is None or e.sample_index < end:
                    del self._held[e.kind]  # began and ended inside VF: never raised
                    self.n_dropped[e.kind] = self.n_dropped.get(e.kind, 0) + 1
                    continue
                out.extend(self._raise_held(e.kind))  # it outlived the VF: raise, then end
            elif e.state == "onset":
                ep = self._in_vf(e.sample_index)
                if ep is not None:
                    if self._held_in is not None and ep is not self._held_in:
                        out.extend(self._raise_held())  # held under an earlier episode
                    self._held[e.kind] = e
                    self._held_in = ep
                    self.n_held[e.kind] = self.n_held.get(e.kind, 0) + 1
                    continue
            out.append(e)
        return out

    def _raise_held(self, kind: str | None = None) -> list[AlertEvent]:
        """The held onsets (of ``kind`` only, if given), marked, in sample order."""
        take = sorted((e for k, e in self._held.items() if kind is None or k == kind),
                      key=lambda e: e.sample_index)
        for e in take:
            e.detail["chained_under"] = "vfib"
            del self._held[e.kind]
        if not self._held:
            self._held_in = None
        return take

    def discard(self) -> list[str]:
        """Drop the held onsets (the stream ended inside VF, the flush ended them); returns
        their kinds."""
        kinds = sorted(self._held)
        for k in kinds:
            self.n_dropped[k] = self.n_dropped.get(k, 0) + 1
        self._held, self._held_in = {}, None
        return kinds
