"""The edge daemon's main loop: it only wires stages together.

``source.read`` -> per-device :class:`~edge.runtime.device.DeviceStream`
-> :class:`~edge.events.model.Sequencer`
-> :class:`~edge.sinks.SinkSet`.

* Bounded buffers: each loop turn handles what one ``read`` returned (the serial source reads
  at most ``max_read_bytes``), events are handed to the sinks in the same turn, and the MQTT
  client bounds its own queue; nothing accumulates without limit. When processing falls
  behind, the kernel's serial buffer fills and the decoder reports the loss as a gap.
* Link: source state changes become ``link`` events of the device the source delivers; the
  ones that come before the first samples (``connected``) are held until the first chunk
  names the device (at most ``LINK_HOLD_S``, then they go out as device 0: no device is
  known). A device whose sample rate changes gets a new pipeline (``link`` event
  ``rate_change``); its AF burden (run and last hour) and status counts carry on.
* AF burden: with the rhythm analysis on, a ``status`` event carries its device's burden in
  ``af_burden_1h`` / ``af_burden_run`` and every device's in ``counters.af_burden``
  (``{"<device_id>": {"af_burden_1h": ..., "af_burden_run": ...}}``); off, neither is there.
* Timing: every stage's ``time.perf_counter`` total is kept in a :class:`StageTimer` and
  published in the periodic ``status`` event and at exit, with the latency from a chunk's
  arrival (``SampleChunk.t_host_s``) to the emission of the beats it released.
* Channel: ``source.channel`` when set; unset, a replayed record's channel named as the
  model's lead (MIT-BIH's MLII, or a standard lead II; ``edge.io.records.lead_channel``),
  else channel 0, chosen at the first chunk and logged.
* A device whose chunks lack ``source.channel`` is a configuration error: the loop stops
  with a :class:`~edge.errors.DaemonError` naming the key (other chunks a stage refuses are
  dropped and counted in ``chunks_rejected``).
* Alarm path: every loop turn the alert backlog of the forwarding sinks (the MQTT outbox) is
  handed to :class:`~edge.runtime.fallback.AlarmFallback`; alerts undelivered for
  ``alarm_fallback.after_s`` raise a ``link`` event ``alarms_delayed`` and the local hook,
  their delivery a ``link`` event ``alarms_delivered``.
* Signals (installed by the command line, not here): :meth:`Daemon.request_stop` (SIGTERM,
  SIGINT) ends the loop, flushes the pipelines -- every beat already computed, and those still
  inside the detector's look-ahead, is emitted -- then flushes and closes the sinks;
  :meth:`Daemon.request_reopen` (SIGHUP) reopens output files at the next loop turn.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from edge.dsp.quality import MAX_FS_HZ, MIN_FS_HZ
from edge.errors import DaemonError, SignalError
from edge.events.model import BeatEvent, Event, LinkStatusEvent, Sequencer, StatusEvent
from edge.model.classifier import BeatClassifier
from edge.runtime.device import DeviceStream
from edge.runtime.fallback import AlarmFallback
from edge.runtime.settings import DaemonConfig
from edge.runtime.timing import LatencyStats, StageTimer
from edge.sinks import EventSink, SinkSet
from firmware_bridge.sources import SampleChunk, SampleSource

__all__ = ["Daemon", "DaemonResult", "LINK_HOLD_S"]

logger = logging.getLogger(__name__)

#: Device id used for events not tied to a device before any data arrived.
_NO_DEVICE = 0

#: Longest time (s) a link event that came before any data waits for the device's id.
LINK_HOLD_S = 2.0


def _add(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    out = dict(into)
    for k, v in more.items():
        out[k] = out.get(k, 0) + v
    return out


def _stream_totals(streams: Iterable[DeviceStream], base: dict[str, Any]) -> dict[str, Any]:
    """The status counters the device streams keep, summed over ``streams`` and on top of
    ``base`` (the same of streams already replaced: a rate change starts a new stream, and
    its predecessor's beats still count)."""
    out: dict[str, Any] = {
        "beats_per_class": dict(base.get("beats_per_class", {})),
        "gaps": base.get("gaps", 0), "lost_samples": base.get("lost_samples", 0),
        "pipeline_resets": base.get("pipeline_resets", 0),
        "s_calls_in_af": base.get("s_calls_in_af", 0),
        "svt_run_calls": base.get("svt_run_calls", 0),
        "alerts_chained": dict(base.get("alerts_chained", {})),
        "alerts_chained_dropped": dict(base.get("alerts_chained_dropped", {})),
        "stream_s": base.get("stream_s", 0.0)}
    for s in streams:
        out["beats_per_class"] = _add(out["beats_per_class"], s.beats_per_class)
        out["gaps"] += s.n_gaps
        out["lost_samples"] += s.n_lost_samples
        out["pipeline_resets"] += s.n_resets
        if s.rhythm is not None:
            out["s_calls_in_af"] += s.rhythm.n_calls_changed
            out["svt_run_calls"] += s.rhythm.n_svt_calls
        if s.chain is not None:
            out["alerts_chained"] = _add(out["alerts_chained"], s.chain.n_held)
            out["alerts_chained_dropped"] = _add(out["alerts_chained_dropped"],
                                                 s.chain.n_dropped)
        out["stream_s"] += s.n_samples / s.fs_hz
    return out


#: A loop turn whose wall time exceeds its CPU time and read wait by this much means the
#: daemon did not run (stopped or starved): said as a stall (s).
_SUSPENDED_S = 5.0


@dataclass
class DaemonResult:
    """What a run did: ``counters`` and ``stages`` as in the final status event (its
    ``sink_errors`` also counting the sinks' failures when they closed), and ``reason`` the
    loop stopped (``"stop requested"``, ``"source finished"``, ``"idle"``, ``"output
    closed"``: every sink was a stream whose reader went away)."""

    reason: str
    counters: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)


class Daemon:
    """Runs one source through the per-device pipelines into the sinks.

    Parameters
    ----------
    config : DaemonConfig
    source : any :class:`~firmware_bridge.sources.SampleSource` (serial, BLE, replay).
    classifier : the loaded model. A per-wearer model (``AdaptedClassifier``, from
        ``ecg-edge adapt``) classifies one wearer's device only: ``adapted_device``, else the
        first device heard; every other device on the link gets its base model, with a
        warning (patient 100's head on record 208 missed 82 of its real PVCs).
    sinks : the outputs.
    adapted_device : the device id the per-wearer model belongs to (None: the first heard).
    """

    def __init__(self, config: DaemonConfig, *, source: SampleSource,
                 classifier: BeatClassifier, sinks: Iterable[EventSink],
                 adapted_device: int | None = None) -> None:
        self.config = config
        self.source = source
        self.classifier = classifier
        self.adapted_device = adapted_device
        self.sinks = sinks if isinstance(sinks, SinkSet) else SinkSet(sinks)
        self.sequencer = Sequencer()
        self.timer = StageTimer()
        self.latency = LatencyStats()
        self.streams: dict[int, DeviceStream] = {}
        self._retired: dict[str, Any] = {}  # counts of streams a rate change replaced
        self.counters: dict[str, int] = {"chunks": 0, "samples": 0, "chunks_rejected": 0,
                                         "stalls": 0, "suspensions": 0,
                                         "rate_changes": 0}
        self.events_by_type: dict[str, int] = {}
        self._stop = False
        self._reopen = False
        self._last_device = _NO_DEVICE
        self._dev_last: dict[int, float] = {}  # when each device last sent (monotonic s)
        self._dev_stalled: set[int] = set()  # devices said stalled among others
        self._device_known = False
        self._held_links: list[tuple[float, LinkStatusEvent]] = []
        self._t_start = time.monotonic()
        self.fallback = AlarmFallback(config.alarm_fallback)

    # -- control (signal-handler safe: only set flags) ------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to stop after the current turn (then flush everything); asked again,
        the sinks stop waiting to deliver what they hold (the MQTT sink's drain at close)."""
        if self._stop:
            for sink in self.sinks.sinks:
                give_up = getattr(sink, "give_up_drain", None)
                if callable(give_up):
                    give_up()
        self._stop = True

    def request_reopen(self) -> None:
        """Ask the sinks to reopen their files at the next turn (SIGHUP)."""
        self._reopen = True

    # -- loop -----------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Stamp ``event`` and hand it to every sink."""
        t0 = time.perf_counter()
        stamped = self.sequencer.stamp(event)
        self.sinks.emit(stamped)
        self.events_by_type[event.type] = self.events_by_type.get(event.type, 0) + 1
        self.timer.add("sinks", time.perf_counter() - t0)

    def _stream(self, chunk: SampleChunk) -> DeviceStream:
        dev = chunk.device_id
        stream = self.streams.get(dev)
        if stream is not None and stream.fs_hz != chunk.fs_hz:
            for ev in stream.flush(f"pipeline restarted: sample rate {stream.fs_hz:g} -> "
                                   f"{chunk.fs_hz:g} Hz"):
                self.emit(ev)
            self._retired = _stream_totals([stream], self._retired)  # its counts stay counted
            self.emit(LinkStatusEvent(device_id=dev, state="rate_change",
                                      detail=f"{stream.fs_hz:g} Hz -> {chunk.fs_hz:g} Hz; "
                                             f"pipeline restarted",
                                      sample_index=chunk.sample_index, fs_hz=chunk.fs_hz))
            self.counters["rate_changes"] += 1
        if stream is None or stream.fs_hz != chunk.fs_hz:
            previous = stream
            stream = DeviceStream(self._classifier_for(dev), self.config, device_id=dev,
                                  fs_hz=chunk.fs_hz, first_index=chunk.sample_index,
                                  timer=self.timer)
            if previous is not None:
                stream.continue_run(previous)  # the wearer's AF burden goes on
            self.streams[dev] = stream
            logger.info("device %d: %g Hz, %d channel(s), starting at sample %d", dev,
                        chunk.fs_hz, chunk.n_channels, chunk.sample_index)
        return stream

    def _handle_chunk(self, chunk: SampleChunk) -> None:
        self.counters["chunks"] += 1
        self.counters["samples"] += chunk.n_samples
        self._last_device = chunk.device_id
        channel = self.config.source.channel
        if channel is None:
            channel = self._choose_channel()
        running = chunk.device_id in self.streams
        if chunk.n_channels <= channel:
            why = (f"source.channel = {channel}: device {chunk.device_id} sends "
                   f"{chunk.n_channels} channel(s) (0..{chunk.n_channels - 1})")
            if not running:
                # a configuration error, not a damaged chunk: every chunk of this device will
                # lack the channel; stop with one clear error instead of dropping them all
                raise DaemonError(why)
            self._reject(why, "chunk")  # one odd frame of a running device: not a reason
            return  # to stop monitoring it
        if not MIN_FS_HZ <= chunk.fs_hz <= MAX_FS_HZ:  # a QRS would span a few samples, or a
            # rate no ECG front end has: not analysable
            why = (f"device {chunk.device_id} sends {'a chunk at ' if running else ''}"
                   f"{chunk.fs_hz:g} Hz; the device analyses ECG at {MIN_FS_HZ:g}-"
                   f"{MAX_FS_HZ:g} Hz")
            if not running:
                raise DaemonError(why)
            self._reject(why, "chunk")
            return
        if not self._device_known:
            self._device_known = True
            self._release_links(force=True)
        stream = self._stream(chunk)
        t0 = time.perf_counter()
        x_mv = chunk.to_mv()
        self.timer.add("convert", time.perf_counter() - t0)
        events = self._guarded(lambda: stream.process(chunk.sample_index, x_mv), "chunk")
        for ev in events:
            self.emit(ev)
            if isinstance(ev, BeatEvent):
                self.latency.add(time.monotonic() - chunk.t_host_s)

    def _choose_channel(self) -> int:
        """Set the unset ``source.channel`` (once, before any device's pipeline starts): the
        channel the source names as the model's lead or its equivalent, else 0; logged."""
        from edge.io.records import choose_lead_channel  # noqa: PLC0415 (once, at the first chunk)

        names = getattr(self.source, "channel_names", None) or ()
        channel, why = choose_lead_channel(names, self.classifier.contract.lead)
        logger.info("source.channel not set: channel %d (%s)", channel, why)
        self.config = replace(self.config, source=replace(self.config.source, channel=channel))
        return channel

    def _guarded(self, feed: Callable[[], list[Event]], what: str) -> list[Event]:
        """``feed()``'s events; a :class:`SignalError` drops ``what`` (the chunk, or the
        queued samples), counted in ``chunks_rejected`` and logged at the 1st, 10th, 100th
        and 1000th."""
        try:
            return feed()
        except SignalError as exc:
            self._reject(str(exc), what)
            return []

    def _reject(self, why: str, what: str) -> None:
        """Count a dropped chunk in ``chunks_rejected``; log the 1st, 10th, 100th, 1000th."""
        self.counters["chunks_rejected"] += 1
        if self.counters["chunks_rejected"] in (1, 10, 100, 1000):
            logger.error("%s (%s dropped; %d so far)", why, what,
                         self.counters["chunks_rejected"])

    def _drain_streams(self) -> None:
        """The source had nothing to read: process the samples waiting for a full block
        (``pipeline.min_block_ms``) now, so a stalled link does not hold them back."""
        for stream in self.streams.values():
            if stream.queued_samples:
                for ev in self._guarded(stream.drain, "queued samples"):
                    self.emit(ev)

    def _link_events(self, *, final: bool = False) -> None:
        now = time.monotonic()
        for le in self.source.drain_events():
            ev = LinkStatusEvent(device_id=self._last_device, state=le.state.value,
                                 detail=le.detail)
            if self._device_known:
                self.emit(ev)
            else:
                self._held_links.append((now, ev))
        self._release_links(force=final, now=now)

    def _release_links(self, *, force: bool, now: float | None = None) -> None:
        """Emit held link events: all of them with the device now known (or ``force``), else
        those older than :data:`LINK_HOLD_S` as device 0."""
        while self._held_links:
            t, ev = self._held_links[0]
            if not (force or self._device_known or (now or 0.0) - t >= LINK_HOLD_S):
                break
            self._held_links.pop(0)
            self.emit(replace(ev, device_id=self._last_device))

    def status_event(self, state: str) -> StatusEvent:
        """A status event with the current counters and stage times."""
        counters: dict[str, Any] = dict(self.counters)
        totals = _stream_totals(self.streams.values(), self._retired)  # incl. before rate changes
        counters["beats"] = sum(totals["beats_per_class"].values())
        counters.update(totals)
        stream_s = counters.pop("stream_s")
        gates = [s.ventricular.flutter_gate for s in self.streams.values()
                 if s.ventricular is not None and s.ventricular.flutter_gate is not None]
        if gates:  # vflutter graded by the VF stage
            counters["vflutter_graded"] = {"alarm": sum(g.n_confirmed for g in gates),
                                           "warning": sum(g.n_unconfirmed for g in gates)}
        counters["events"] = dict(self.events_by_type)
        counters["latency"] = self.latency.summary_ms()
        counters["sink_errors"] = dict(self.sinks.errors)
        counters["sink_events_lost"] = self.sinks.events_lost()
        counters["alarm_fallback"] = self.fallback.counters()
        stats = getattr(self.source, "link_stats", None)
        if stats is not None:
            counters["link"] = stats.as_dict()
        adapt_stats = getattr(self.classifier, "adaptation_stats", None)
        if callable(adapt_stats):
            counters["adaptation"] = adapt_stats()
        dstats = getattr(self.source, "decoder_stats", None)
        if dstats is not None:
            counters["decoder"] = dstats.as_dict()
        counters["stream_s"] = round(stream_s, 3)
        busy = self.timer.total(exclude=("read",))
        counters["processing_s"] = round(busy, 4)
        counters["x_real_time"] = round(stream_s / busy, 1) if busy > 0 else None
        burden = {dev: s.af_burden() for dev, s in sorted(self.streams.items())
                  if s.rhythm is not None}
        if burden:
            counters["af_burden"] = {str(dev): b for dev, b in burden.items()}
        own = burden.get(self._last_device, {})
        return StatusEvent(device_id=self._last_device, state=state,
                           uptime_s=round(time.monotonic() - self._t_start, 3),
                           counters=counters, stages=self.timer.as_dict(),
                           model_version=self.classifier.model_version,
                           af_burden_1h=own.get("af_burden_1h"),
                           af_burden_run=own.get("af_burden_run"))

    def run(self) -> DaemonResult:
        """Run until :meth:`request_stop`, the source finishes, or ``idle_exit_s`` passes
        without samples; then flush the pipelines and close sinks and source.

        Raises
        ------
        DaemonError
            When the source cannot be opened, or its device lacks ``source.channel`` (after
            the shutdown: sinks flushed and closed).
        """
        cfg = self.config
        read_timeout = cfg.daemon.read_timeout_s
        idle_exit = cfg.daemon.idle_exit_s
        status_every = cfg.outputs.status_interval_s
        self._t_start = time.monotonic()
        try:
            self.source.open()
        except Exception as exc:  # noqa: BLE001 - any transport failure to start
            self.sinks.close()
            from firmware_bridge.errors import RecordNotFoundError  # noqa: PLC0415

            why = exc
            if isinstance(exc, RecordNotFoundError):  # with the download hint, as elsewhere
                from edge.io.records import record_not_found  # noqa: PLC0415

                why = record_not_found(exc)
            raise DaemonError(f"cannot open the source: {why}") from exc
        next_status = time.monotonic() + status_every if status_every else float("inf")
        last_data = time.monotonic()
        seen_data = False
        stall_s = cfg.daemon.stall_s
        stalled = False
        reason = "stop requested"
        turn = (time.monotonic(), time.process_time())
        try:
            while not self._stop:
                turn = self._check_suspended(turn, read_timeout)
                t0 = time.thread_time()  # CPU, not the wait for data (it blocks)
                chunks = self.source.read(read_timeout)
                self.timer.add("read", time.thread_time() - t0)
                self._link_events()
                if chunks and stalled:
                    stalled = False
                    waited = time.monotonic() - last_data
                    self.emit(LinkStatusEvent(
                        device_id=chunks[0].device_id, state="resumed",
                        detail=(f"samples again after {waited:.1f} s" if seen_data else
                                f"first samples {waited:.1f} s after the source opened")))
                for chunk in chunks:
                    self._handle_chunk(chunk)
                if not chunks:
                    self._drain_streams()
                now = time.monotonic()
                if stall_s:
                    self._device_stalls(chunks, now, stall_s)
                if chunks:
                    last_data = now
                    seen_data = True
                    t0 = time.perf_counter()
                    self.sinks.flush()
                    self.timer.add("sinks", time.perf_counter() - t0)
                elif stall_s and not stalled and now - last_data >= stall_s:
                    # connected or not, nothing comes: say so once (also when nothing ever
                    # came: a wearable that connects and never streams is no better)
                    stalled = True
                    self.counters["stalls"] += 1
                    what = (f"no samples for {stall_s:g} s" if seen_data else
                            f"no samples in the {stall_s:g} s since the source opened")
                    logger.warning("%s", what)
                    self.emit(LinkStatusEvent(device_id=self._last_device, state="stalled",
                                              detail=what))
                    self.sinks.flush()
                if self._reopen:
                    self._reopen = False
                    logger.info("reopening output files")
                    self.sinks.reopen()
                self._check_alarm_path()
                if now >= next_status:
                    self.emit(self.status_event("running"))
                    self.sinks.flush()
                    next_status = now + status_every
                if self.sinks.pipes_closed and not self.sinks.sinks:
                    reason = "output closed"  # stdout's reader went away, nothing else left
                    break
                if idle_exit and seen_data and now - last_data >= idle_exit:
                    reason = "idle"
                    break
                if self.source.finished:
                    reason = "source finished"
                    break
        finally:
            result = self._shutdown(reason)
        return result

    def _device_stalls(self, chunks: list, now: float, stall_s: float) -> None:
        """Per device on a link that several share: one that sends nothing for ``stall_s``
        while another still does is ``stalled`` (once; ``resumed`` when it sends again). The
        source-wide stall (nothing at all) is said by the loop; a wearable that went silent
        among others was said by nothing."""
        for chunk in chunks:
            dev = chunk.device_id
            if dev in self._dev_stalled:
                self._dev_stalled.discard(dev)
                waited = now - self._dev_last.get(dev, now)
                self.emit(LinkStatusEvent(device_id=dev, state="resumed",
                                          detail=f"device {dev}: samples again after "
                                                 f"{waited:.1f} s"))
            self._dev_last[dev] = now
        if len(self._dev_last) < 2 or not chunks:  # one device, or the source-wide stall
            return
        for dev, last in self._dev_last.items():
            if dev not in self._dev_stalled and now - last >= stall_s:
                self._dev_stalled.add(dev)
                self.counters["stalls"] += 1
                what = (f"device {dev}: no samples for {stall_s:g} s while other devices on "
                        f"the link still send")
                logger.warning("%s", what)
                self.emit(LinkStatusEvent(device_id=dev, state="stalled", detail=what))

    def _classifier_for(self, dev: int) -> BeatClassifier:
        """The model for device ``dev``: a per-wearer model only for its own device."""
        base = getattr(self.classifier, "base", None)
        if base is None:  # a plain model serves every device
            return self.classifier
        if self.adapted_device is None:
            self.adapted_device = dev
            logger.info("the per-wearer model (%s) classifies device %d; any other device "
                        "on this link gets its base model", self.classifier.model_version, dev)
        if dev == self.adapted_device:
            return self.classifier
        logger.warning("device %d is not the wearer the per-wearer model was fitted for "
                       "(device %d): its beats are classified by the base model %s", dev,
                       self.adapted_device, base.model_version)
        return base

    def _check_suspended(self, last: tuple[float, float], read_timeout_s: float
                         ) -> tuple[float, float]:
        """Say when the loop did not run between two turns -- the process was stopped
        (SIGSTOP, a debugger) or starved of CPU: wall time passed with neither CPU used nor a
        read waiting. Its samples are processed late and their events leave late, so this is
        a ``link`` ``stalled`` / ``resumed`` pair (the dashboard shows it) and a warning.
        Returns this turn's (wall, CPU) clock."""
        wall, cpu = time.monotonic(), time.process_time()
        idle = (wall - last[0]) - (cpu - last[1]) - read_timeout_s
        if idle >= _SUSPENDED_S:
            self.counters["suspensions"] += 1
            what = (f"the daemon did not run for {idle:.1f} s (stopped, starved of CPU, or blocked "
                    "on a slow disk): "
                    "the samples of that time are processed late, their events leave late")
            logger.warning("%s", what)
            for state in ("stalled", "resumed"):
                self.emit(LinkStatusEvent(device_id=self._last_device, state=state,
                                          detail=what if state == "stalled" else
                                          f"running again after {idle:.1f} s"))
            self.sinks.flush()
        return wall, cpu

    def _check_alarm_path(self) -> None:
        """Hand the sinks' alert backlog to the local fallback; emit what it raises."""
        events = self.fallback.check(time.time(), self.sinks.alarm_backlogs(),
                                     device_id=self._last_device)
        for ev in events:
            self.emit(ev)
        if events:
            self.sinks.flush()

    def _shutdown(self, reason: str) -> DaemonResult:
        logger.info("stopping (%s): flushing pipelines and sinks", reason)
        try:
            self._link_events(final=True)
        except Exception:  # noqa: BLE001 - the source may be broken; keep flushing
            logger.exception("draining link events failed")
        for stream in self.streams.values():
            try:
                events = stream.flush()
            except Exception:  # noqa: BLE001
                logger.exception("flushing device %d failed", stream.device_id)
                continue
            for ev in events:
                self.emit(ev)
        final = self.status_event("stopped")
        self.emit(final)
        self.sinks.flush()
        self.sinks.close()
        self.fallback.close()
        try:
            self.source.close()
        except Exception:  # noqa: BLE001
            logger.exception("closing the source failed")
        # the sinks' last writes (the WFDB file's, the drain) come after the final status:
        # their failures count in the result (the exit code) too
        counters = {**final.counters, "sink_errors": dict(self.sinks.errors),
                    "sink_events_lost": self.sinks.events_lost()}
        return DaemonResult(reason=reason, counters=counters, stages=final.stages)
