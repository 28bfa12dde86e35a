"""Helpers for the dashboard tests: daemon events in their JSON form (built with the daemon's
own event classes, so the tests follow the schema), and a small evaluation report written
with ``training.evaluate``'s own writers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.events.model import (
    AlertEvent,
    BeatEvent,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    Sequencer,
    StatusEvent,
    StripEvent,
    event_to_dict,
)

FS_HZ = 360.0
STRIP_FS_HZ = 90.0


class EventMaker:
    """Stamped event dicts of one device with a controllable wall clock.

    ``t0_s`` is the wall clock (Unix s) at stream time 0; ``time_s`` follows the stream
    (real-time replay) unless a clock is given.
    """

    def __init__(self, device_id: int = 1, t0_s: float = 1_800_000_000.0) -> None:
        self.device_id = device_id
        self.t0_s = t0_s
        self.now_s = t0_s
        self._seq = Sequencer(clock=lambda: self.now_s)

    def _emit(self, event, t_stream_s: float | None = None) -> dict:
        if t_stream_s is not None:
            self.now_s = self.t0_s + t_stream_s
        return event_to_dict(self._seq.stamp(event))

    def strip(self, t_start_s: float, n: int = 90, values=None) -> dict:
        si = round(t_start_s * FS_HZ)
        if values is None:
            t = t_start_s + np.arange(n) / STRIP_FS_HZ
            values = np.round(np.sin(2 * np.pi * 1.2 * t), 3).tolist()
        return self._emit(StripEvent(device_id=self.device_id, sample_index=si, fs_hz=FS_HZ,
                                     strip_fs_hz=STRIP_FS_HZ, samples_mv=list(values)),
                          t_start_s + len(values) / STRIP_FS_HZ)

    def beat(self, t_s: float, label: str = "N", p: float = 0.9,
             quality: str = "good", rhythm: str | None = None) -> dict:
        proba = {c: (p if c == label else (1 - p) / 4) for c in "NSVFQ"}
        return self._emit(BeatEvent(device_id=self.device_id, sample_index=int(t_s * FS_HZ),
                                    fs_hz=FS_HZ, label=label, proba=proba,
                                    rr_s={"pre": 0.8, "post": 0.8, "local": 0.8, "long": 0.8},
                                    quality=quality, rhythm=rhythm), t_s + 0.3)

    def hr(self, t_s: float, bpm: float | None = 75.0, af_burden_1h: float | None = None,
           af_burden_run: float | None = None) -> dict:
        return self._emit(HeartRateEvent(device_id=self.device_id,
                                         sample_index=int(t_s * FS_HZ), fs_hz=FS_HZ,
                                         hr_bpm=bpm, window_s=10.0, n_beats=10,
                                         af_burden_1h=af_burden_1h,
                                         af_burden_run=af_burden_run), t_s)

    def alert(self, t_s: float, kind: str = "v_run", state: str = "onset",
              severity: str = "alarm", **detail) -> dict:
        return self._emit(AlertEvent(device_id=self.device_id, kind=kind, state=state,
                                     severity=severity, sample_index=int(t_s * FS_HZ),
                                     fs_hz=FS_HZ, detail=detail), t_s)

    def quality(self, t_s: float, quality: str, previous: str = "good") -> dict:
        return self._emit(QualityEvent(device_id=self.device_id, quality=quality,
                                       previous=previous, sample_index=int(t_s * FS_HZ),
                                       fs_hz=FS_HZ), t_s)

    def link(self, state: str, detail: str = "") -> dict:
        return self._emit(LinkStatusEvent(device_id=self.device_id, state=state,
                                          detail=detail))

    def status(self, state: str = "running", model_version: str = "test-model",
               **fields) -> dict:
        return self._emit(StatusEvent(device_id=self.device_id, state=state, uptime_s=1.0,
                                      model_version=model_version, **fields))

    def session(self, seconds: int = 12, v_every: int = 4) -> list[dict]:
        """``seconds`` of a plausible stream: a strip piece per second, a beat per second
        (every ``v_every``-th a V), a heart rate every 2 s."""
        out = [self.link("connected", "test")]
        for k in range(seconds):
            out.append(self.strip(float(k)))
            out.append(self.beat(k + 0.2, "V" if v_every and k % v_every == v_every - 1
                                 else "N"))
            if k % 2 == 1:
                out.append(self.hr(k + 0.5, 70.0 + k))
        return out


def write_jsonl(path: Path, events) -> Path:
    path = Path(path)
    with path.open("a", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, separators=(",", ":")) + "\n")
    return path


def make_report(out_dir: Path, *, with_strips: bool = True) -> Path:
    """A small two-record evaluation report written by ``training.evaluate``'s own functions
    (``_summary``, ``plot_confusion``, ``plot_strips``, ``write_report``)."""
    from edge.aami import AAMI_CLASSES
    from edge.dsp.beats import WindowConfig
    from training.evaluate import (
        E2E_CLASSES,
        _summary,
        plot_confusion,
        plot_strips,
        write_report,
    )

    rng = np.random.default_rng(7)
    wcfg = WindowConfig()
    per_record = {}
    for rec, true in (("100", list("NNNNNNNNSNNNNNNNVNNN")), ("233", list("NNVNVNNVVVNNNVNFNNNV"))):
        pred = list(true)
        pred[3], pred[8] = "V", "N"  # one FP V, one FN (S or V)
        n = len(true)
        pos = (np.arange(n) * 0.8 * wcfg.fs_hz + wcfg.fs_hz).astype(np.int64)
        sig = 0.05 * rng.standard_normal(int(pos[-1] + 2 * wcfg.fs_hz))
        sig[pos] += 1.0
        per_record[rec] = {"true": true, "pred": pred, "sample_index": pos,
                           "rr_s": np.full((n, 4), 0.8), "signal": sig, "wcfg": wcfg}
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = _summary(per_record, AAMI_CLASSES)
    e2e = _summary(per_record, E2E_CLASSES)
    e2e["detection"] = {"tp": 40, "fn": 0, "fp": 0, "se": 1.0, "ppv": 1.0}
    plots, strips = {}, {}
    for mode, m, classes in (("reference", ref, AAMI_CLASSES), ("end_to_end", e2e, E2E_CLASSES)):
        p = out_dir / f"cnn_{mode}_confusion.png"
        plot_confusion(np.array(m["confusion"]["matrix"]), classes, f"CNN {mode}", p)
        plots[f"{mode}_confusion"] = p.name
    if with_strips:
        for key in (("V", "FP"), ("V", "FN"), ("S", "FN")):
            p = out_dir / f"cnn_reference_{key[0]}_{key[1]}_strips.png"
            info = plot_strips(per_record, key[0], key[1], p, n=2)
            if info:
                plots[f"{key[0]}_{key[1]}_strips"] = p.name
                strips[f"{key[0]}_{key[1]}"] = info
    result = {"model": "models/cnn", "kind": "cnn", "model_version": "cnn-test-1",
              "params": 1234, "keras_bytes": 20480,
              "training": {"records": ["101"], "validation_records": ["106"],
                           "selection": "val macro F1", "best_epoch": 3, "epochs_run": 5,
                           "seconds": 60.0},
              "reference": ref, "end_to_end": e2e, "plots": plots, "strips": strips,
              "eval_seconds": 1.0}
    write_report([result], out_dir)
    return out_dir
