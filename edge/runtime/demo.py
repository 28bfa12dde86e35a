"""``ecg-edge demo``: the whole device path on a laptop, with no hardware and no data directory.

A simulated wearable (:func:`firmware_bridge.replay.start_replay`) replays the bundled excerpt
of MIT-BIH record 233 (``edge/data/mitdb_233_excerpt``, 300 s with normal, ventricular,
fusion and supraventricular beats; see ``edge/data/ATTRIBUTION.md``) as protocol-v1 frames
into a pseudo-terminal; the daemon reads that pty with a :class:`SerialSource`, exactly as it
reads a USB wearable, classifies with the bundled int8 model and prints beats, heart rate and
alerts live. At the end it prints beats per class and the EC57 agreement with the excerpt's
reference annotations over the span that was played (all of it, ``duration_s``, or up to
Ctrl-C).
"""
from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from edge.errors import ConfigError, DaemonError, DataError, ModelError
from edge.eval.compare import Agreement, compare_beats
from edge.events.model import AlertEvent, BeatEvent, Event
from edge.model.bundled import DEMO_RECORD

__all__ = ["DEMO_RECORD", "DemoResult", "BeatCollector", "run_demo", "format_summary"]

logger = logging.getLogger(__name__)

#: The bundled excerpt (WFDB record path without extension).


class BeatCollector:
    """An in-memory sink keeping beats and alerts (for summaries and tests)."""

    def __init__(self) -> None:
        self.name = "collector"
        self.beats: list[BeatEvent] = []
        self.alerts: list[AlertEvent] = []
        self.events: list[Event] = []
        self.t_first_beat: float | None = None

    def emit(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, BeatEvent):
            if self.t_first_beat is None:
                self.t_first_beat = time.monotonic()
            self.beats.append(event)
        elif isinstance(event, AlertEvent):
            self.alerts.append(event)

    def flush(self) -> None:
        return None

    def reopen(self) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass
class DemoResult:
    """What the demo did: beats per class, alerts, the agreement with the reference over the
    span played (``played_s`` seconds of ECG), and the seconds from start to the first printed
    beat."""

    beats_per_class: dict[str, int]
    n_alerts: int
    agreement: Agreement | None
    first_beat_s: float | None
    wall_s: float
    counters: dict = field(default_factory=dict)
    played_s: float = 0.0


def _excerpt_s() -> float:
    """Length (s) of the bundled excerpt, from its header."""
    from edge.io.records import record_layout  # noqa: PLC0415

    layout = record_layout(str(DEMO_RECORD))
    return layout.n_samples / layout.fs_hz if layout.n_samples else 300.0


def format_summary(result: DemoResult) -> str:
    """Human-readable summary."""
    lines = ["", "=== summary ===",
             "beats per class: " + ", ".join(f"{k} {v}" for k, v in
                                              result.beats_per_class.items()),
             f"alerts raised: {result.n_alerts}"]
    if result.first_beat_s is not None:
        lines.append(f"first classified beat printed {result.first_beat_s:.1f} s after start")
    ag = result.agreement
    if ag is not None:
        d = ag.detection
        lines.append(f"EC57 detection vs reference (the {result.played_s:.0f} s played): "
                     f"Se {100 * d.se:.2f}%  +P {100 * d.ppv:.2f}%  (TP {d.tp}, FN {d.fn}, "
                     f"FP {d.fp})")
        lines.append("class confusion of matched beats (rows reference, columns model):")
        classes = list(ag.metrics["per_class"])
        lines.append("        " + "".join(f"{c:>7}" for c in classes))
        for c, row in zip(classes, ag.confusion):
            lines.append(f"     {c:>3}" + "".join(f"{int(v):>7}" for v in row))
        per = ag.metrics["per_class"]
        lines.append("per class Se / +P: " + ", ".join(
            f"{c} {_pct(per[c]['se'])}/{_pct(per[c]['ppv'])}" for c in classes
            if per[c]["tp"] + per[c]["fn"] > 0))
        lines.append(f"accuracy {_pct(ag.metrics['accuracy'])}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def run_demo(*, speed: float | None = 1.0, model: str | Path | None = None,
             duration_s: float | None = None, stream: IO[str] | None = None,
             show_beats: bool = True, color: str = "auto",
             install_signals: bool = False) -> DemoResult:
    """Run the demo and return its result (the live output goes to ``stream``).

    Parameters
    ----------
    speed : replay speed (1 = real time; None = as fast as possible).
    model : int8 model (default: the bundled model).
    duration_s : replay only this much of the excerpt (s).
    stream : text stream for the live output (default stdout).
    show_beats : print one line per beat.
    color : "auto", "always" or "never".
    install_signals : stop cleanly on SIGINT/SIGTERM (command line only).

    Raises
    ------
    ConfigError
        When ``speed`` or ``duration_s`` is not a number > 0 (``speed`` may be None).
    ModelError
        When no model is found.
    DataError
        When the bundled excerpt is missing (broken install).
    """
    if speed is not None and not (math.isfinite(speed) and speed > 0):
        raise ConfigError("speed", f"must be > 0 (1 = real time) or None (as fast as "
                                   f"possible), got {speed}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError("duration_s", f"must be > 0 s or None (the whole excerpt), got "
                                        f"{duration_s}")
    from edge.io.records import read_annotations  # noqa: PLC0415
    from edge.model.classifier import BeatClassifier  # noqa: PLC0415
    from edge.runtime.daemon import Daemon  # noqa: PLC0415
    from edge.runtime.settings import load_config  # noqa: PLC0415
    from edge.sinks import TerminalSink  # noqa: PLC0415
    from firmware_bridge.replay import ReplayConfig, start_replay  # noqa: PLC0415
    from firmware_bridge.serial_source import SerialConfig, SerialSource  # noqa: PLC0415

    t_start = time.monotonic()
    out = stream if stream is not None else sys.stdout
    if not Path(f"{DEMO_RECORD}.hea").is_file():
        raise DataError(f"the bundled demo excerpt is missing: {DEMO_RECORD}.hea "
                        f"(reinstall ecg-edge)")
    if model is None:
        from edge.model.bundled import default_model_path  # noqa: PLC0415

        model = default_model_path()
        if not Path(model).is_file():
            raise ModelError(f"the bundled model {model} is not installed yet; pass --model "
                             f"PATH.tflite")
    clf = BeatClassifier(model)
    config = load_config(options={
        "source.kind": "serial", "source.serial.port": "(demo)", "daemon.idle_exit_s": 1.5,
        "outputs.status_interval_s": 0.0, "outputs.strip": False})
    replay_cfg = ReplayConfig(record=str(DEMO_RECORD), speed=speed, duration_s=duration_s)
    excerpt_s = _excerpt_s()
    span = (f"first {duration_s:g} s" if duration_s is not None and duration_s < excerpt_s
            else f"all {excerpt_s:g} s")
    out.write(f"ecg-edge demo: simulated wearable replaying MIT-BIH record 233 ({span}, "
              f"{'max' if speed is None else f'{speed:g}x'} speed) "
              f"-> pty -> daemon with {Path(model).name} ({clf.model_version})\n")
    out.flush()
    collector = BeatCollector()
    terminal = TerminalSink(out, color=color, beats=show_beats)
    with start_replay(replay_cfg) as handle:
        out.write(f"simulated device on {handle.device_path}\n")
        out.flush()
        source = SerialSource(SerialConfig(port=handle.device_path))
        daemon = Daemon(config, source=source, classifier=clf, sinks=[terminal, collector])
        if install_signals:
            import signal  # noqa: PLC0415

            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: daemon.request_stop())
        try:
            result = daemon.run()
        except DaemonError:
            raise
    # score only the span that was played: to its end, the duration, or Ctrl-C
    start = min((st.first_index for st in daemon.streams.values()), default=0)
    end = max((st.expected for st in daemon.streams.values()), default=start)
    fs = next(iter(daemon.streams.values())).fs_hz if daemon.streams else 0.0
    ref = read_annotations(str(DEMO_RECORD), "atr")
    agreement = None
    if collector.beats:
        keep = (ref.sample_index >= start) & (ref.sample_index < end)
        agreement = compare_beats(ref.sample_index[keep], ref.symbol[keep],
                                  np.array([b.sample_index for b in collector.beats]),
                                  [b.label for b in collector.beats], fs)
    counts = {c: 0 for c in clf.classes}
    for b in collector.beats:
        counts[b.label] = counts.get(b.label, 0) + 1
    res = DemoResult(beats_per_class=counts,
                     n_alerts=sum(1 for a in collector.alerts if a.state != "end"),
                     agreement=agreement,
                     first_beat_s=(None if collector.t_first_beat is None
                                   else collector.t_first_beat - t_start),
                     wall_s=time.monotonic() - t_start, counters=result.counters,
                     played_s=(end - start) / fs if fs else 0.0)
    out.write(format_summary(res) + "\n")
    out.flush()
    return res
