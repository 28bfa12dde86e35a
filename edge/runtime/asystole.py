"""``asystole``: no heartbeat for ``alerts.asystole_s`` seconds, raised while it lasts.

A ``pause`` is known only when the beat that ends it arrives; if the heart has stopped, no
beat arrives and nothing would be said (and the rolling heart rate would keep showing the
last beats' rate). :class:`AsystoleWatch` follows the R-peak detector instead: once the
detector has analysed the signal ``asystole_s`` past the last beat (plus its look-ahead, so
that a beat found there would already have been emitted) and found none, an ``asystole``
onset (severity ``alarm``) is raised, dated ``asystole_s`` after the last beat (``detail``:
``last_beat_index``, ``after_s``); its end is dated at the next beat (``duration_s``: the
time without a beat).

Not asystole: a stretch whose signal quality is ``lead_off`` or ``saturated`` (a flat line or
an amplifier at its rail is an electrode problem, reported by the ``quality`` events: the clock
starts again after it), a link gap filled with invalid samples and the detector's settling
after it (beats lost on the radio link are not a stopped heart: the clock starts again after
it; a lossy link raised false alarms), and the time while the detector's ventricular-flutter
flag is up or a ``vfib`` episode is open (no QRS there is VF's, not asystole: the clock starts
again when they end). Learning: until the ``learning_beats``-th beat of a stream (or after a
restart; ``alerts.learning_beats``, 10) the clock's limit is ``alerts.asystole_learning_s``
instead -- a detector that learned its thresholds on a hand-held recorder's first seconds of
motion can miss the beats after them until it re-learns (8 s): on the 5,970 CinC 2017
recordings that was 33 of 38 ``asystole`` alarms at 4 s (``README.md``, issue 17). The clock
runs from the stream's first sample, so a stream that never shows a beat (a stopped heart at
connection, or a signal the detector cannot read) is an alarm too, not silence; such an onset
says ``learning: true`` and the beats seen (``beats_seen``).

The state is the last beat, the clock's start and the open episode, and every date is fixed
by the signal (the beats, the quality windows ending by the onset), so the events do not
depend on how the stream is chunked (``tests/edge/runtime/test_asystole.py``).
"""
from __future__ import annotations

from collections.abc import Callable

from edge.events.model import AlertEvent

__all__ = ["AsystoleWatch", "TECHNICAL"]

#: Signal-quality levels under which no beat means an electrode problem, not asystole.
TECHNICAL = ("lead_off", "saturated")


class AsystoleWatch:
    """``asystole`` alerts of one device (see the module docstring). Device sample indices
    throughout."""

    def __init__(self, *, after_s: float, fs_hz: float, device_id: int = 0,
                 learning_beats: int = 0, learning_after_s: float | None = None,
                 start_index: int | None = None) -> None:
        self.after_s = float(after_s)
        self.learning_beats = int(learning_beats)
        # the limit until learning_beats beats (None: the clock waits for them)
        self.learning_after_s = None if learning_after_s is None else float(learning_after_s)
        self.fs_hz = float(fs_hz)
        self.after = int(round(self.after_s * self.fs_hz))
        self.learning_after = (None if self.learning_after_s is None
                               else int(round(self.learning_after_s * self.fs_hz)))
        self.device_id = int(device_id)
        self.n_episodes = 0
        self.n_technical = 0  # clocks restarted because the signal was lead-off or saturated
        self.n_unseen = 0  # clocks restarted after a link gap the detector could not see
        self.reset(start_index)

    def reset(self, start_index: int | None = None) -> None:
        """A new stream (or a restart) whose first sample is ``start_index``: no beat yet; the
        clock runs from there with the learning limit (if there is one), else it is stopped
        until the beats start it."""
        self._n_beats = 0  # beats since the start
        self._last: int | None = None  # the last beat
        # the clock's start (the stream's start, the last beat, or a later hold)
        self._since: int | None = None
        if start_index is not None and self._limit() is not None:
            self._since = int(start_index)
        self._open: int | None = None  # the open episode's onset

    @property
    def last_beat_index(self) -> int | None:
        """The last beat of the stream (device samples; None before the first)."""
        return self._last

    @property
    def learning(self) -> bool:
        """Fewer than ``learning_beats`` beats since the start."""
        return self._n_beats < self.learning_beats

    def _limit(self) -> int | None:
        """The clock's limit now (samples): ``after``, or ``learning_after`` while learning
        (None there: the clock waits)."""
        return self.learning_after if self.learning else self.after

    @property
    def is_open(self) -> bool:
        return self._open is not None

    @property
    def due_index(self) -> int | None:
        """Where the clock would reach ``asystole_s`` (None: stopped or already raised)."""
        if self._since is None or self._open is not None:
            return None
        return self._since + self._limit()

    def _event(self, state: str, at: int, **detail: object) -> AlertEvent:
        return AlertEvent(device_id=self.device_id, kind="asystole", state=state,
                          severity="alarm", sample_index=int(at), fs_hz=self.fs_hz,
                          detail=dict(detail))

    def beats(self, indices: list[int]) -> list[AlertEvent]:
        """R peaks the detector emitted (time order): each restarts the clock; the first ends
        an open episode."""
        out: list[AlertEvent] = []
        for at in indices:
            if self._open is not None:
                out.append(self._close(at))
            self._n_beats += 1
            self._last = int(at)
            if self._limit() is not None:
                self._since = self._last
        return out

    def interrupt(self, at: int, by: str) -> list[AlertEvent]:
        """VF or ventricular flutter declared at ``at``: an open episode ends there (a
        flat-looking start of VF is VF), and the clock starts again from it."""
        out: list[AlertEvent] = []
        if self._open is not None:
            out.append(self._close(max(at, self._open), ended_by=by))
        if self._since is not None:
            self._since = max(self._since, int(at))
        return out

    def check(self, decided: int, worst_quality: Callable[[int, int, int], str],
              blocked: Callable[[int], bool],
              unseen: Callable[[int, int], int | None] | None = None) -> list[AlertEvent]:
        """The detector has looked for beats up to ``decided`` and found none after the last:
        the onset if the clock has reached ``asystole_s`` by then. ``worst_quality(a, b,
        horizon)``: the worst signal quality of the windows over ``[a, b)`` graded by
        ``horizon`` (:meth:`edge.dsp.quality.SignalQuality.worst_between`); ``blocked(t)``:
        VF or ventricular flutter was declared and not over at ``t``; ``unseen(a, b)``: where
        the last stretch the detector could not see (a link gap filled with invalid samples,
        and its settling) inside ``[a, b)`` ends, or ``None`` -- the clock starts again there:
        beats lost in a gap are not a stopped heart."""
        out: list[AlertEvent] = []
        while (due := self.due_index) is not None and decided >= due:
            since = self._since
            if blocked(due):  # VF's, not asystole: look again one period later
                self._since = due
                continue
            gap_end = unseen(since, due) if unseen is not None else None
            if gap_end is not None:  # the detector was blind there: count from after it
                self.n_unseen += 1
                self._since = max(since + 1, min(gap_end, due))
                continue
            if worst_quality(since, due, due) in TECHNICAL:  # an electrode problem
                self.n_technical += 1
                self._since = due
                continue
            self._open = due
            self.n_episodes += 1
            learning = self.learning
            detail: dict[str, object] = {
                "last_beat_index": self._last,
                "after_s": self.learning_after_s if learning else self.after_s,
                "since_s": round((due - (self._last if self._last is not None else since))
                                 / self.fs_hz, 3)}
            if learning:  # not yet learned: the detector may be missing the beats
                detail.update(learning=True, beats_seen=self._n_beats)
            out.append(self._event("onset", due, **detail))
        return out

    def flush(self, at: int) -> list[AlertEvent]:
        """End of stream (or before a restart): an open episode ends at ``at``."""
        out = [self._close(at, ended_by="end of stream")] if self._open is not None else []
        self.reset()
        return out

    def _close(self, at: int, **detail: object) -> AlertEvent:
        """The open episode's end at ``at`` (``duration_s``: the time without a beat)."""
        last = self._last if self._last is not None else self._open
        self._open = None
        return self._event("end", at, duration_s=round((at - last) / self.fs_hz, 3), **detail)
