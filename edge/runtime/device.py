"""One device's processing chain: sample chunks in, events out.

:class:`DeviceStream` keeps time across link gaps and runs the stages on the configured
channel::

    SampleChunk -> gap handling -> Preprocessor -> RPeakDetector -> BeatWindower
                -> BeatFeaturizer -> BeatClassifier -> beat events
                \\-> SignalQuality (quality events; beats in bad signal are flagged)
                \\-> RhythmMonitor (alert events), rolling rate (hr events)
                \\-> AsystoleWatch (asystole: no beat from the detector for asystole_s)
                \\-> DeviceRhythm (beat rhythm, afib alerts, AF burden in hr events)
                \\-> DeviceVentricular (vfib from the conditioned signal, vt from V runs;
                                   vflutter graded when [rhythm.vflutter] confirm)
                \\-> AlarmChain (lower alerts wait under an open vfib episode)
                \\-> StripDecimator (strip events)

It runs a :class:`~edge.pipeline.BeatPipeline` whose stage hook adds each stage's time to a
:class:`StageTimer` (stages ``preprocess detect window featurize classify``, then this
module's ``quality strip events rhythm alerts``).

Beats next to invalid samples (a filled gap, a flat line): the pipeline labels a beat whose
window touches them ``Q`` and replaces RR intervals across them by the local mean; such a
beat's event carries ``quality="link_gap"`` when a filled link gap lies there and the signal
is not worse than noisy, else ``"lead_off"`` (or worse), and an interval across them is not
trusted by the alerts (no pause; the rate counts it as the intervals it most likely holds).

Heart rate: an ``hr`` event every ``outputs.hr_interval_s`` of ECG, whatever the chunk size
(a chunk is processed in pieces that end where an ``hr`` event is due, so a replay at
``--speed max`` reports at the same ECG times as one in real time).

Blocks: chunks shorter than ``pipeline.min_block_ms`` wait in a queue until that much ECG
has arrived and are processed together (:meth:`DeviceStream.drain` processes the queue at
once; the daemon calls it when its source has nothing more to read). The stages are
chunk-invariant, so every event is the same as without the queue; only the per-call cost
(and, for chunks shorter than a block, up to one block of latency) changes.

Idle blocks: at the end of a block the queue is processed only if some stage could emit an
event by then (:meth:`DeviceStream.next_due_index`: the detector's next possible beat
(:attr:`~edge.dsp.rpeak.RPeakDetector.next_emission_samples`: noise candidates passed
over), a beat window completing, the next ECG-strip piece, signal-quality window, VF window
that could change an episode (:attr:`~edge.rhythm.ventricular.VfDetector.next_change_end`:
the VF stage scores the windows that cannot in one batch with the next that can) or ``hr``
event); otherwise the block stays queued and is processed with the next one that
is due. A block processed only for the strip or a quality window is conditioned, and its
samples wait for the R-peak detector until a beat, flutter or VF change could come
(:meth:`DeviceStream.next_detection_index`).
Every event leaves in the same call as when every block is processed (a block in which
nothing is due emits nothing), so latency is unchanged; a 100-ms block stream is processed
about 2.7 times a second instead of ten (``lazy_blocks=False`` processes every block, for
comparison). The queue never holds more than ``_MAX_HOLD_S`` of ECG.

Gaps: a chunk whose ``sample_index`` is past the expected one lost samples. Gaps up to
``max_gap_fill_s`` are filled: invalid samples whose values are a straight line between the
samples around the gap (``pipeline.bridge_gaps``; off: NaN, the last value held), announced
to the detector and the windower so the beats around the gap are found and classified
(:meth:`_bridge`); classification continues with correct sample indices. Longer gaps -- or a
counter that went backwards -- flush the pipeline and restart it at the new index. Either
way a ``link`` event with ``state="gap"`` reports the lost-sample count.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np

from edge.dsp.detection import to_input_sample
from edge.dsp.quality import QUALITY_RANK, SignalQuality
from edge.dsp.rate import ONE_INTERVAL_MAX
from edge.dsp.strip import StripConfig, StripDecimator
from edge.errors import SignalError
from edge.events.model import (
    AlertEvent,
    BeatEvent,
    Event,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    StripEvent,
)
from edge.model.classifier import BeatClassifier
from edge.pipeline import BeatPipeline, ClassifiedBeats
from edge.runtime.alerts import BeatInfo, RhythmMonitor, v_probabilities
from edge.runtime.asystole import AsystoleWatch
from edge.runtime.chain import AlarmChain
from edge.runtime.rhythm import DeviceRhythm
from edge.runtime.settings import DaemonConfig
from edge.runtime.timing import StageTimer
from edge.runtime.ventricular import DeviceVentricular

__all__ = ["DeviceStream"]

logger = logging.getLogger(__name__)

_RR_NAMES = ("pre", "post", "local", "long")

#: Quality level of a beat next to invalid samples (:data:`edge.events.model.QUALITY_LEVELS`).
_NEAR_INVALID = "lead_off"
#: ... when they are a filled link gap and the signal is not worse than noisy.
_NEAR_GAP = "link_gap"


#: Most ECG (s) that idle blocks may hold in the queue before it is processed anyway.
_MAX_HOLD_S = 5.0


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class DeviceStream:
    """Streaming processing of one device (see the module docstring).

    Parameters
    ----------
    classifier : loaded model.
    config : daemon configuration (channel, unset read as 0; gap filling, quality, alerts,
        outputs).
    device_id : the device.
    fs_hz : the device's sample rate (Hz).
    first_index : absolute sample index of the first sample that will be fed.
    timer : where stage times are added (a new one if omitted).
    lazy_blocks : hold back blocks in which no stage can emit anything (see the module
        docstring; the events and the calls they leave in are the same either way).
    """

    def __init__(self, classifier: BeatClassifier, config: DaemonConfig, *, device_id: int,
                 fs_hz: float, first_index: int = 0, timer: StageTimer | None = None,
                 lazy_blocks: bool = True) -> None:
        self.classifier = classifier
        self.config = config
        self.device_id = int(device_id)
        self.fs_hz = float(fs_hz)
        self.channel = 0 if config.source.channel is None else config.source.channel
        self.timer = timer or StageTimer()
        self.pipeline = BeatPipeline(classifier, fs_hz, on_stage=self.timer.add,
                                     flutter_beats=config.pipeline.flutter_beats)
        self.fs_proc_hz = self.pipeline.preprocessor.config.fs_out_hz
        self.quality = SignalQuality(config.quality_config(fs_hz), first_index)
        # With the ventricular stage on, its evidence-gated ``vt`` alert is the VT alarm and a
        # fast ``v_run`` is a warning (ungated, it raised 4.2 false alarms per hour in
        # electrode-motion noise: benchmarks/results/ventricular.md).
        self.monitor = RhythmMonitor(config.alerts, fs_hz=fs_hz, device_id=device_id,
                                     vt_alarm=not config.rhythm.ventricular)
        self.rhythm = (DeviceRhythm(device_id=device_id, fs_hz=fs_hz,
                                    config=config.rhythm.analyser,
                                    beat_context=config.rhythm.beat_context,
                                    svt=config.rhythm.svt)
                       if config.rhythm.enabled else None)
        self.ventricular = (DeviceVentricular(device_id=device_id, fs_hz=fs_hz,
                                              fs_proc_hz=self.fs_proc_hz,
                                              config=config.rhythm.vf, vt=config.rhythm.vt,
                                              detector=None, origin=first_index,
                                              flutter=config.rhythm.vflutter)
                            if config.rhythm.ventricular else None)
        # no heartbeat for alerts.asystole_s: raised while it lasts (edge.runtime.asystole);
        # decided once the detector has analysed that far plus its look-ahead
        self.asystole = AsystoleWatch(after_s=config.alerts.asystole_s, fs_hz=fs_hz,
                                      device_id=device_id,
                                      learning_beats=config.alerts.learning_beats,
                                      learning_after_s=config.alerts.asystole_learning_s,
                                      start_index=first_index)
        self._asy_lag = int(math.ceil(self.pipeline.detector.lookahead_ms * self.fs_proc_hz
                                      / 1000.0))
        self._declared: list[tuple[int, str, bool]] = []  # (at, vfib|vflutter, on), recent
        self._declared_base = {"vfib": False, "vflutter": False}  # before the oldest kept
        self._new_declared: list[tuple[int, str, bool]] = []  # flag changes not yet seen
        # filled link gaps and the detector's settling after them (device samples, recent)
        self._unseen_spans: list[tuple[int, int]] = []
        self._tail_mv = math.nan  # the last finite sample queued (a gap's bridge starts there)
        self._settle = int(math.ceil(self.pipeline.detector.config.settle_ms * fs_hz / 1000.0))
        # where invalid samples flag a beat: its window, and its intervals (up to max_rr_s)
        win = self.pipeline.windower.config
        self._near_before = int(math.ceil(win.before_ms * fs_hz / 1000.0))
        self._near_after = int(math.ceil(max(win.after_ms / 1000.0, win.max_rr_s) * fs_hz))
        # lower alerts wait under an open vfib episode (edge.runtime.chain)
        self.chain = (AlarmChain(fs_hz) if self.ventricular is not None
                      and config.rhythm.alarm_chain else None)
        out = config.outputs
        self.strip = (StripDecimator(StripConfig(fs_in_hz=self.fs_proc_hz,
                                                 strip_fs_hz=min(out.strip_fs_hz,
                                                                 self.fs_proc_hz),
                                                 interval_s=out.strip_interval_s))
                      if out.strip else None)
        self.max_fill = int(round(config.pipeline.max_gap_fill_s * fs_hz))
        self.bridge_gaps = config.pipeline.bridge_gaps
        # A beat is released at least the detector's look-ahead after its R peak; its quality
        # is judged on the windows graded by then (``horizon``), whatever the chunking.
        self._quality_lag = max(0, int(self.pipeline.detector.n_lookahead * self.fs_hz
                                       / self.fs_proc_hz) - 2)
        self.block = int(round(config.pipeline.min_block_ms * fs_hz / 1000.0))
        self._queue: list[np.ndarray] = []  # chunks waiting for a block to fill
        self._queued = 0  # samples in the queue
        self._in_block = 0  # samples since the last block end (or drain)
        self.lazy_blocks = bool(lazy_blocks)
        self._due_cache: int | None = None  # next_due_index() until the stages' state changes
        self._detect_cache: int | None = None  # next_detection_index(), likewise
        self._max_hold = max(self.block, int(round(_MAX_HOLD_S * fs_hz)))
        # processing-rate sample counts -> device samples: exact when the rates are equal,
        # else rounded down (a due point found early only costs one call)
        self._same_rate = self.pipeline.preprocessor.resampler.identity
        self.n_blocks_held = 0  # block ends at which nothing was due (processed later)
        self.first_index = int(first_index)  # absolute index of the stream's first sample
        self._origin = int(first_index)  # absolute index of pipeline input sample 0
        self.expected = int(first_index)  # absolute index of the next sample
        self._quality_level = "good"
        self._prev_beat: int | None = None
        self._barrier = int(first_index)  # intervals must not reach back across this index
        self._prev_window_bad = False  # the previous beat's window held invalid samples
        self._hr_every = int(round(out.hr_interval_s * fs_hz)) if out.hr_interval_s else 0
        self._next_hr = self._origin + self._hr_every
        self.n_samples = 0
        self.n_beats = 0
        self.n_gaps = 0
        self.n_lost_samples = 0
        self.n_resets = 0
        self.n_near_invalid = 0  # beats next to invalid samples (flagged)
        self.beats_per_class = {c: 0 for c in classifier.classes}

    # -- public -------------------------------------------------------------------------

    def af_burden(self) -> dict[str, float | None]:
        """``{"af_burden_1h": ..., "af_burden_run": ...}``: the share of analysed stream time
        in AF over the last hour and the run (0..1, rounded to 4 decimals; ``None`` when the
        rhythm analysis is off or has analysed nothing yet), as the ``hr`` and ``status``
        events carry it."""
        if self.rhythm is None:
            return {"af_burden_1h": None, "af_burden_run": None}
        return {"af_burden_1h": _share(self.rhythm.burden.window_share),
                "af_burden_run": _share(self.rhythm.burden.run_share)}

    def continue_run(self, previous: DeviceStream) -> None:
        """This stream replaces ``previous`` for the same wearer (its sample rate changed):
        the AF burden of the run and of the last hour keep what ``previous`` counted, as
        they do across a pipeline restart. Call it before feeding any sample."""
        if self.rhythm is not None and previous.rhythm is not None:
            self.rhythm.burden.continue_from(previous.rhythm.burden,
                                             self.first_index / self.fs_hz)

    def process(self, start_index: int, samples: np.ndarray) -> list[Event]:
        """Feed one chunk: ``samples`` (n, channels) in mV at :attr:`fs_hz` whose first sample
        is ``start_index``; returns the events it produced (time order per kind).

        Raises
        ------
        SignalError
            When the chunk lacks the configured channel.
        """
        if samples.ndim != 2 or samples.shape[1] <= self.channel:
            raise SignalError(f"device {self.device_id}: chunk has "
                              f"{samples.shape[1] if samples.ndim == 2 else 0} channel(s); "
                              f"source.channel = {self.channel}")
        events: list[Event] = []
        start = int(start_index)
        x = np.ascontiguousarray(samples[:, self.channel], dtype=np.float64)
        if start != self.expected + self._queued:
            events.extend(self.drain())
            events.extend(self._gap(start, float(x[0]) if x.size else math.nan))
        if x.size and x[-1] == x[-1]:  # finite: the bridge over a later gap starts here
            self._tail_mv = float(x[-1])
        self._queue.append(x)
        self._queued += x.size
        self._in_block += x.size
        if self._in_block >= self.block:  # a block ends here
            self._in_block = 0
            if not self.lazy_blocks or self._queued >= self._max_hold:
                events.extend(self.drain())
            elif self.expected + self._queued >= self._due():
                events.extend(self._feed(self._take_queue(), hold_idle=True))
            else:
                self.n_blocks_held += 1
        return events

    def next_due_index(self) -> int:
        """Absolute device index: no stage can emit an event before the samples up to there
        (exclusive) have been processed -- the earliest of the detector's next possible beat, a
        pending beat's window, the next strip piece, quality window, VF change and ``hr``
        event (the beats' own stages, rhythm and alerts only act on released beats)."""
        due = min(self.quality.next_window_end, self._detection_due())
        if self._hr_every:
            due = min(due, self._next_hr)
        if self.strip is not None:
            due = min(due, self._device_index(self.strip.next_piece_samples))
        return due

    def next_detection_index(self) -> int:
        """Absolute device index: no beat, flutter change or VF change can come before the
        samples up to there (exclusive) have been through the R-peak detector -- the earliest
        of the detector's next possible beat, a pending beat's window and the VF stage's next
        possible change. A block that ends before it is conditioned (for the strip and the
        quality windows) and its samples wait for the detector (``BeatPipeline.process(...,
        detect=False)``)."""
        proc = self.pipeline.detector.next_emission_samples
        release = self.pipeline.windower.next_release_samples
        if release is not None:
            proc = min(proc, release)
        if self.ventricular is not None:
            vf = self.ventricular.detector
            proc = min(proc, vf.next_change_end)
            if self.ventricular.flutter_pending:  # the next window may grade a vflutter
                proc = min(proc, vf.windows.next_window_end)
        due = self.asystole.due_index  # the detector must look when asystole can be decided
        if due is not None:
            proc = min(proc, self._processing_count(due) + self._asy_lag)
        return self._device_index(proc)

    def _processing_count(self, index: int) -> int:
        """Processing-rate samples (counted from the pipeline's start) that cover the device
        samples before absolute ``index`` (rounded up: a due point found early only costs one
        call)."""
        n = index - self._origin
        if self._same_rate:
            return n
        return int(math.ceil(n * self.fs_proc_hz / self.fs_hz)) + 2

    def _device_index(self, proc: int) -> int:
        """Absolute device index by which ``proc`` processing-rate samples (counted from the
        pipeline's start) exist: exact when the rates are equal, else rounded down (a due
        point found early only costs one call)."""
        if self._same_rate:
            return self._origin + proc
        return self._origin + max(0, int((proc - 2) * self.fs_hz / self.fs_proc_hz))

    def _due(self) -> int:
        """:meth:`next_due_index`, computed once per state: it depends only on the stages'
        state, which changes only when samples are processed (or on a flush or restart)."""
        if self._due_cache is None:
            self._due_cache = self.next_due_index()
        return self._due_cache

    def _detection_due(self) -> int:
        """:meth:`next_detection_index`, computed once per state (as :meth:`_due`)."""
        if self._detect_cache is None:
            self._detect_cache = self.next_detection_index()
        return self._detect_cache

    @property
    def queued_samples(self) -> int:
        """Samples received but not yet processed (waiting for ``pipeline.min_block_ms``)."""
        return self._queued

    def drain(self) -> list[Event]:
        """Process the samples waiting in the block queue now; returns their events."""
        if not self._queue:
            return []
        self._in_block = 0
        return self._feed(self._take_queue())

    def _take_queue(self) -> np.ndarray:
        """The queued samples as one array (the queue emptied)."""
        x = np.concatenate(self._queue) if len(self._queue) > 1 else self._queue[0]
        self._queue, self._queued = [], 0
        return x

    def flush(self, reason: str = "end of stream") -> list[Event]:
        """End of stream (or before a restart): release the beats still in the pipeline and
        end open alert episodes (the rhythm's with ``reason``: why the stream ended). The
        stream can go on after :meth:`restart`."""
        events = self.drain()
        n_fed = len(events)  # drain's events have been through the alarm chain
        events.extend(self._beats(self.pipeline.flush(), limit=self.expected))
        events.extend(self._flutter_changes())
        if self.ventricular is not None:
            t0 = time.perf_counter()
            events.extend(self._vf_signal())
            events.extend(self.ventricular.end())
            self.timer.add("ventricular", time.perf_counter() - t0)
        ended = self.monitor.flush(self.expected) + self.asystole.flush(self.expected)
        if self.ventricular is not None:  # vflutter graded by the VF stage
            fl = [e for e in ended if e.kind == "vflutter"]
            ended = [e for e in ended if e.kind != "vflutter"]
            ended.extend(self.ventricular.flutter(fl, final=True))
        events.extend(ended)
        if self.rhythm is not None:
            events.extend(self.rhythm.end(self.expected, reason))
        if self.chain is not None:
            events[n_fed:] = self.chain.filter(events[n_fed:], None, None, final=True)
            self.chain.reset()
        self._due_cache = self._detect_cache = None
        return events

    def restart(self, start_index: int) -> None:
        """Reset every stage; the next sample fed has absolute index ``start_index`` (samples
        still queued are dropped: :meth:`flush` first to keep them)."""
        self._due_cache = self._detect_cache = None
        self._queue, self._queued, self._in_block = [], 0, 0
        self.pipeline.reset()
        self.quality.reset(start_index)
        self.monitor.reset()
        self.asystole.reset(start_index)
        self._declared, self._new_declared = [], []
        self._unseen_spans = []
        self._tail_mv = math.nan
        self._declared_base = {"vfib": False, "vflutter": False}
        if self.ventricular is not None:
            self.ventricular.restart(start_index)
        if self.chain is not None:
            self.chain.reset()
        if self.strip is not None:
            self.strip.reset()
        self._origin = self.expected = self._barrier = int(start_index)
        self._prev_beat = None
        self._prev_window_bad = False
        self._next_hr = self._origin + self._hr_every
        self.n_resets += 1

    # -- internals ----------------------------------------------------------------------

    def _gap(self, start: int, next_mv: float) -> list[Event]:
        lost = start - self.expected
        events: list[Event] = []
        if 0 < lost <= self.max_fill:
            action = "filled"
            gap_start = self.expected
            bridge = self._bridge(start, next_mv)
            events.extend(self._feed(np.full(lost, np.nan), bridge=bridge))
            if bridge is None:
                self._barrier = start  # not bridged: no interval across it is trusted
            # bridged: an interval across it is trusted unless a beat could hide in it
            # (the windower's rr_unknown, edge.dsp.beats.BeatWindower.bridge); one that could
            # is still real time for the heart rate and the rhythm (BeatInfo.rr_unknown)
            self._unseen_spans.append((gap_start, start + self._settle))
            del self._unseen_spans[:-16]
            detail = f"{lost} samples lost; filled with invalid samples"
        else:
            action = "reset"
            gap_start = self.expected
            events.extend(self.flush("pipeline restarted: " + (
                "link gap too long to fill" if lost > 0 else "sample counter went back")))
            self.restart(start)
            detail = (f"{lost} samples lost; pipeline restarted" if lost > 0 else
                      f"sample counter jumped back by {-lost}; pipeline restarted")
        self.n_gaps += 1
        self.n_lost_samples += max(0, lost)
        if action == "filled" and self.n_gaps > 1:  # a lossy link: one line per gap is noise
            logger.info("device %d: gap at %d: %s", self.device_id, gap_start, detail)
        else:
            logger.warning("device %d: gap at %d: %s%s", self.device_id, gap_start, detail,
                           "; later filled gaps are logged at INFO level (each is a link "
                           "event and counted in the status)" if action == "filled" else "")
        events.append(LinkStatusEvent(device_id=self.device_id, state="gap", detail=detail,
                                      lost_samples=max(0, lost),
                                      gap_s=round(max(0, lost) / self.fs_hz, 6),
                                      action=action, sample_index=start, fs_hz=self.fs_hz))
        return events

    def _bridge(self, start: int, next_mv: float) -> np.ndarray | None:
        """The values of the lost samples from :attr:`expected` to ``start``: a straight line
        from the last sample received to the first after the gap (either end unknown: the
        other; both, or ``pipeline.bridge_gaps`` off: ``None``, the last value held),
        announced to the R-peak detector and the beat windower
        (:meth:`edge.dsp.rpeak.RPeakDetector.bridge`, :meth:`edge.dsp.beats.BeatWindower.bridge`)
        so the beats around the gap are found and classified. The samples stay invalid."""
        lost = start - self.expected
        a = self._tail_mv if self._tail_mv == self._tail_mv else next_mv
        b = next_mv if next_mv == next_mv else a
        if not self.bridge_gaps or a != a:
            return None
        ratio = self.fs_proc_hz / self.fs_hz
        spread = 0 if self._same_rate else int(math.ceil(
            self.pipeline.preprocessor.lookahead_in_samples * ratio)) + 2
        a_proc = int(math.floor((self.expected - self._origin) * ratio)) - spread
        b_proc = int(math.ceil((start - self._origin) * ratio)) + spread
        self.pipeline.detector.bridge(a_proc, b_proc)
        self.pipeline.windower.bridge(a_proc, b_proc)
        return np.linspace(a, b, lost + 2)[1:-1]

    def _feed(self, x: np.ndarray, *, hold_idle: bool = False,
              bridge: np.ndarray | None = None) -> list[Event]:
        """Feed samples in pieces that end where an ``hr`` event is due (ECG time).

        ``hold_idle`` (a block end with something due): the samples after an ``hr`` piece
        go back to the queue when nothing is due by their end -- they would emit nothing now,
        so they wait for the next block that is due, as idle blocks do (the same events in
        the same calls, one pipeline call fewer). ``bridge``: the values of lost (NaN)
        samples, :meth:`_bridge`'s (never with ``hold_idle``)."""
        if not self._hr_every:
            return self._feed_piece(x, bridge)
        events: list[Event] = []
        pos = 0
        while pos < x.size:
            take = min(x.size - pos, max(1, self._next_hr - self.expected))
            events.extend(self._feed_piece(x[pos:pos + take], None if bridge is None
                                           else bridge[pos:pos + take]))
            pos += take
            if hold_idle and pos < x.size and self.expected + (x.size - pos) < self._due():
                self._queue, self._queued = [x[pos:]], x.size - pos
                self.n_blocks_held += 1
                break
        return events

    def _feed_piece(self, x: np.ndarray, bridge: np.ndarray | None = None) -> list[Event]:
        # detection only when a beat, flutter or VF change can come by the piece's end
        detect = not self.lazy_blocks or self.expected + x.size >= self._detection_due()
        self._due_cache = self._detect_cache = None
        pipe, timer = self.pipeline, self.timer
        events: list[Event] = []
        beats = pipe.process(x, detect=detect, bridge_mv=bridge)
        cond = pipe.conditioned
        self.expected += x.size
        self.n_samples += x.size
        # signal quality
        t0 = time.perf_counter()
        for win in self.quality.process(x):
            if win.level != self._quality_level:
                events.append(QualityEvent(device_id=self.device_id, quality=win.level,
                                           previous=self._quality_level,
                                           sample_index=win.start_index, fs_hz=self.fs_hz,
                                           metrics=win.metrics))
                self._quality_level = win.level
        timer.add("quality", time.perf_counter() - t0)
        # strip
        if self.strip is not None and len(cond):
            t0 = time.perf_counter()
            for piece in self.strip.process(cond.sample_index, cond.filtered_mv, cond.valid):
                events.append(StripEvent(device_id=self.device_id,
                                         sample_index=self._to_device(piece.processing_index),
                                         fs_hz=self.fs_hz, strip_fs_hz=piece.strip_fs_hz,
                                         samples_mv=piece.samples_mv))
            timer.add("strip", time.perf_counter() - t0)
        events.extend(self._beats(beats, limit=None))
        if self.ventricular is not None and len(pipe.detected):
            t0 = time.perf_counter()
            events.extend(self._vf_signal())
            timer.add("ventricular", time.perf_counter() - t0)
        # flutter flag and heart rate
        t0 = time.perf_counter()
        events.extend(self._flutter_changes())
        if detect:
            events.extend(self._asystole(events))
        if self._hr_every and self.expected >= self._next_hr:
            rate = self.monitor.rate
            # lead off: unknown, not the last beats' rate; in VF there is no heart rate (the
            # detector's "beats" there are fibrillation waves: 82-142 bpm read in CUDB's VF,
            # session 50 audit)
            # and no rate when the last beat is older than twice asystole_s (the rate is kept
            # as of the last beat: while no asystole episode can open -- the first beats of a
            # stream, a technical stretch -- an event long after a stop read the rate before
            # it; session 50 audit)
            now_s = (self.expected - 1) / self.fs_hz
            last = self.asystole.last_beat_index
            gone = last is None or self.expected - 1 - last > 2 * self.asystole.after
            hr = None if (rate.rate_bpm is None or self._quality_level == "lead_off"
                          or self._declared_at(self.expected - 1)["vfib"] or gone) \
                else round(rate.rate_bpm, 1)
            stale = hr is None or self.asystole.is_open  # no rate from the last beats: count
            events.append(HeartRateEvent(  # the beats left in the window now, not then
                device_id=self.device_id, sample_index=self.expected - 1, fs_hz=self.fs_hz,
                hr_bpm=0.0 if self.asystole.is_open else hr,  # not the last beats' rate
                window_s=rate.config.window_s,
                n_beats=rate.n_beats_at(now_s) if stale else rate.n_beats,
                **self.af_burden()))
            while self._next_hr <= self.expected:
                self._next_hr += self._hr_every
        if self.chain is not None:
            events = self.chain.filter(events, self.ventricular.analysed_end, self._prev_beat)
        timer.add("alerts", time.perf_counter() - t0)
        return events

    def _asystole(self, call_events: list[Event]) -> list[Event]:
        """The detector's R peaks of the last pipeline call to the asystole watch, then how
        far it has looked for beats (its fed samples less its look-ahead). VF and the
        detector's flutter flag, by the sample each was declared at (``call_events``' ``vfib``
        alerts, the flag changes of :meth:`_flutter_changes`), end an open episode and hold
        the clock, in time order with the beats: dated by the signal, whatever the
        chunking."""
        pipe, watch = self.pipeline, self.asystole
        new, self._new_declared = self._new_declared, []
        if self.ventricular is not None and call_events:
            new += [(e.sample_index, "vfib", e.state == "onset") for e in call_events
                    if e.type == "alert" and e.kind == "vfib" and e.state != "event"]
        if new:
            new.sort(key=lambda d: d[0])
            declared = sorted(self._declared + new, key=lambda d: d[0])
            for _, what, on in declared[:-16]:  # the states they leave, kept as the base
                self._declared_base[what] = on
            self._declared = declared[-16:]
        fed = pipe.detected.sample_index + len(pipe.detected.filtered_mv)
        decided = self._to_device(max(0, fed - self._asy_lag))
        if not new and not len(pipe.peaks):  # nothing new: only whether the clock ran out
            due = watch.due_index
            if due is None or decided < due:
                return []
        # each beat is returned once the detector has been fed its decision time plus the
        # decision lag; the watch is asked first how far it had looked just before that, so an
        # asystole decided before the beat came is raised (then ended by it) in any chunking
        lag = pipe.detector.decision_lag_samples
        beats = [(self._to_device(p), max(0, d + lag - 1 - self._asy_lag))
                 for p, d in zip(pipe.peaks.tolist(), pipe.peaks_decided_at.tolist())]
        out: list[Event] = []
        i = 0
        for at, what, on in [*new, (None, "", False)]:
            while i < len(beats) and (at is None or beats[i][0] < at):
                r, before = beats[i]
                out.extend(watch.check(self._to_device(before), self.quality.worst_between,
                                       self._blocked_at, self._unseen))
                out.extend(watch.beats([r]))
                i += 1
            if on:
                out.extend(watch.interrupt(at, what))
        out.extend(watch.check(decided, self.quality.worst_between, self._blocked_at,
                               self._unseen))
        return out

    def _unseen(self, a: int, b: int) -> int | None:
        """End of the last filled link gap (with the detector's settling after it) that
        overlaps ``[a, b)`` (device samples), or ``None``: the asystole clock starts after
        it."""
        for start, end in reversed(self._unseen_spans):
            if start < b and end > a:
                return end
        return None

    def _declared_at(self, index: int) -> dict[str, bool]:
        """Whether VF (``vfib``) and the flutter flag (``vflutter``) were declared and not
        over at ``index`` (device samples)."""
        state = dict(self._declared_base)
        for at, what, on in self._declared:
            if at > index:
                break
            state[what] = on
        return state

    def _blocked_at(self, index: int) -> bool:
        """VF or the flutter flag declared and not over at ``index`` (device samples)."""
        state = self._declared_at(index)
        return state["vfib"] or state["vflutter"]

    def _vf_signal(self) -> list[Event]:
        """The last pipeline call's detected samples and R peaks to the VF stage."""
        pipe = self.pipeline
        return self.ventricular.signal(pipe.detected, pipe.peaks, pipe.peaks_decided_at,
                                       pipe.detector.decision_lag_samples)

    def _flutter_changes(self) -> list[AlertEvent]:
        """``vflutter`` onsets/ends, dated at the beat decision that changed the detector's
        flutter flag (not at the end of the chunk that carried it: chunk-invariant)."""
        events: list[AlertEvent] = []
        for at, state in self.pipeline.detector.pop_flutter_changes():
            events.extend(self.monitor.process([], state, now_index=self._to_device(at)))
            self._new_declared.append((self._to_device(at), "vflutter", bool(state)))
        if self.ventricular is not None:  # graded by the VF stage (edge.runtime.ventricular)
            return self.ventricular.flutter(events)
        return events

    def _to_device(self, processing_index: int) -> int:
        """Absolute device sample index of a processing-rate index of the current pipeline."""
        return self._origin + to_input_sample(processing_index, self.fs_hz, self.fs_proc_hz)

    def _beats(self, beats: ClassifiedBeats, *, limit: int | None) -> list[Event]:
        if len(beats) == 0:
            return []
        t0 = time.perf_counter()
        idx = self._origin + beats.sample_index
        near = beats.near_invalid
        events: list[Event] = []
        infos: list[BeatInfo] = []
        t_rhythm = 0.0
        classes = self.classifier.classes
        p_v = v_probabilities(beats.proba, classes)  # for the vt gate
        taken: list[tuple[int, int, str, float, bool, str, bool, bool]] = []
        # Python lists once per call, not numpy scalars per beat (the same values)
        idx_l, label_l, near_l = idx.tolist(), beats.label.tolist(), near.tolist()
        pre_unknown = beats.rr_unknown[:, 0].tolist()
        window_bad = beats.window_invalid.tolist()
        rr_l, proba_l, p_v_l = beats.rr_s.tolist(), beats.proba.tolist(), p_v.tolist()
        for k in range(len(beats)):
            at = idx_l[k]
            if at < self._origin or (limit is not None and at >= limit):
                continue
            label = str(label_l[k])
            horizon = at + self._quality_lag
            quality = self.quality.level_at(at, horizon)
            prev = self._prev_beat
            if near_l[k]:
                self.n_near_invalid += 1
                if QUALITY_RANK[quality] <= QUALITY_RANK["noisy"] and self._unseen(
                        min(at, prev if prev is not None else at) - self._near_before,
                        at + self._near_after) is not None:
                    quality = _NEAR_GAP  # the radio's fault, not the electrode's
                elif QUALITY_RANK[quality] < QUALITY_RANK[_NEAR_INVALID]:
                    quality = _NEAR_INVALID
            # readable: good signal, no restart or unfilled gap between the two beats;
            # clean: also no bridged gap in which a beat could hide (else rr_unknown)
            readable = (prev is not None and prev >= self._barrier
                        and self.quality.worst_between(prev, at + 1, horizon) == "good")
            clean = readable and not pre_unknown[k]
            # the rhythm reads an interval's timing if no lost beat can hide in it (clean, or
            # shorter than ONE_INTERVAL_MAX local mean intervals, as the heart rate counts it:
            # a lost beat would make it about twice as long) and neither beat's window held
            # invalid samples: such a beat is unclassified (Q), under frame loss often a PVC
            # whose coupling and pause are no atrial evidence (as V, F). The others it skips:
            # no evidence, and no restart.
            rr_pre = rr_l[k][0] if prev is None else (at - prev) / self.fs_hz
            rr_pre = rr_pre if math.isfinite(rr_pre) else math.nan
            known = ((clean or (readable and rr_pre < ONE_INTERVAL_MAX * rr_l[k][2]))
                     and not window_bad[k] and not self._prev_window_bad)
            self._prev_beat, self._prev_window_bad = at, window_bad[k]
            taken.append((k, at, label, rr_pre, clean, quality, readable, known))
        if self.rhythm is not None:  # all beats of the call in one batch, as if one by one
            t1 = time.perf_counter()
            rhythms = self.rhythm.beats([b[1] for b in taken], [b[2] for b in taken],
                                        [b[3] for b in taken], [b[6] for b in taken],
                                        [b[7] for b in taken])
            t_rhythm = time.perf_counter() - t1
        else:
            rhythms = [(None, b[2], []) for b in taken]
        for (k, at, _, rr_pre, clean, quality, readable, _), (rhythm, label, afib) in zip(
                taken, rhythms):
            events.append(BeatEvent(
                device_id=self.device_id, sample_index=at, fs_hz=self.fs_hz, label=label,
                # a window with invalid samples is not classified (Q): no probabilities
                proba=({c: math.nan for c in classes} if window_bad[k] else
                       {c: round(p, 4) for c, p in zip(classes, proba_l[k])}),
                rr_s={n: round(v, 4) for n, v in zip(_RR_NAMES, rr_l[k])},
                quality=quality, rhythm=rhythm))
            events.extend(afib)
            infos.append(BeatInfo(at, label, rr_pre, clean, p_v_l[k],
                                  rr_unknown=readable and not clean))
            self.n_beats += 1
            self.beats_per_class[label] = self.beats_per_class.get(label, 0) + 1
        events.extend(self.monitor.process(infos, self.monitor.in_flutter,
                                           now_index=self.expected))
        if self.ventricular is not None:
            events.extend(self.ventricular.beats(infos))
        if self.rhythm is not None:
            self.timer.add("rhythm", t_rhythm)
        self.timer.add("events", time.perf_counter() - t0 - t_rhythm)
        return events
