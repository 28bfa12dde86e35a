"""Events for the store tests: a synthetic wearer's night with known content, and a QoS 1
MQTT publisher of raw payloads."""
from __future__ import annotations

import json
import threading
from dataclasses import replace

from edge.events.model import (
    AlertEvent,
    BeatEvent,
    HeartRateEvent,
    LinkStatusEvent,
    QualityEvent,
    StatusEvent,
    StripEvent,
    event_to_dict,
)
from edge.store import StoredEvent

T0 = 1_790_000_000.0  # a fixed wall-clock origin (s); tests pass now_s explicitly
FS = 360.0


def beat(dev: int, seq: int, t: float, label: str = "N", rhythm: str | None = "N",
         boot: int = 1, rr_pre_s: float = 0.8) -> StoredEvent:
    return StoredEvent(boot, BeatEvent(
        device_id=dev, seq=seq, time_s=t, sample_index=int((t - T0) * FS), fs_hz=FS,
        label=label, rhythm=rhythm, proba={"N": 0.9, "S": 0.05, "V": 0.05, "F": 0.0, "Q": 0.0},
        rr_s={"pre": rr_pre_s, "post": 0.8, "local": 0.8, "long": 0.8}))


def hr(dev: int, seq: int, t: float, bpm: float | None, burden: float | None = None,
       boot: int = 1) -> StoredEvent:
    return StoredEvent(boot, HeartRateEvent(
        device_id=dev, seq=seq, time_s=t, sample_index=int((t - T0) * FS), fs_hz=FS,
        hr_bpm=bpm, window_s=10.0, n_beats=10, af_burden_1h=burden, af_burden_run=burden))


def alert(dev: int, seq: int, t: float, kind: str, state: str, severity: str = "alarm",
          boot: int = 1) -> StoredEvent:
    return StoredEvent(boot, AlertEvent(
        device_id=dev, seq=seq, time_s=t, kind=kind, state=state, severity=severity,
        sample_index=int((t - T0) * FS), fs_hz=FS, detail={"n_beats": 5, "rate_bpm": 180.0}))


def strip(dev: int, seq: int, t: float, boot: int = 1, n: int = 125) -> StoredEvent:
    return StoredEvent(boot, StripEvent(
        device_id=dev, seq=seq, time_s=t, sample_index=int((t - T0) * FS), fs_hz=FS,
        strip_fs_hz=125.0, samples_mv=[None if i == 3 else round(0.01 * i, 3)
                                       for i in range(n)]))


def link(dev: int, seq: int, t: float, state: str = "gap", boot: int = 1) -> StoredEvent:
    gap = state == "gap"
    return StoredEvent(boot, LinkStatusEvent(
        device_id=dev, seq=seq, time_s=t, state=state, detail="test",
        lost_samples=720 if gap else 0, gap_s=2.0 if gap else 0.0,
        action="filled" if gap else "", sample_index=int((t - T0) * FS) if gap else None,
        fs_hz=FS if gap else None))


def quality(dev: int, seq: int, t: float, level: str, boot: int = 1) -> StoredEvent:
    return StoredEvent(boot, QualityEvent(
        device_id=dev, seq=seq, time_s=t, quality=level, previous="good",
        sample_index=int((t - T0) * FS), fs_hz=FS, metrics={"noise_ratio": 0.5}))


def status(dev: int, seq: int, t: float, boot: int = 1) -> StoredEvent:
    return StoredEvent(boot, StatusEvent(device_id=dev, seq=seq, time_s=t, state="running",
                                         uptime_s=t - T0, counters={"beats": 3}))


def mixed(dev: int, n: int, *, boot: int = 1, t0: float = T0, step_s: float = 0.1
          ) -> list[StoredEvent]:
    """``n`` events of every type in seq order 0..n-1 (mostly beats, as a gateway sends)."""
    makers = [lambda s, t: beat(dev, s, t, "NNNNV"[s % 5], boot=boot),
              lambda s, t: beat(dev, s, t, boot=boot),
              lambda s, t: hr(dev, s, t, 60.0 + s % 7, 0.1, boot=boot),
              lambda s, t: strip(dev, s, t, boot=boot, n=25),
              lambda s, t: beat(dev, s, t, "S", boot=boot),
              lambda s, t: alert(dev, s, t, "v_run", "onset", boot=boot),
              lambda s, t: link(dev, s, t, boot=boot),
              lambda s, t: quality(dev, s, t, "noisy", boot=boot),
              lambda s, t: status(dev, s, t, boot=boot)]
    return [makers[i % len(makers)](i, round(t0 + i * step_s, 6)) for i in range(n)]


def payload(e: StoredEvent) -> bytes:
    """The MQTT payload of a gateway: the event's JSON plus ``boot``."""
    d = event_to_dict(e.event)
    d["boot"] = e.boot
    return json.dumps(d, separators=(",", ":")).encode()


TOPIC_LEAF = {"beat": "beats", "alert": "alerts", "hr": "hr", "strip": "strip"}


def topic(e: StoredEvent, prefix: str = "ecg") -> str:
    return f"{prefix}/{e.event.device_id}/{TOPIC_LEAF.get(e.event.type, 'status')}"


class Publisher:
    """A QoS 1 publisher (a stand-in for gateways' MQTT sinks: raw payloads, so malformed
    ones can be sent too); :meth:`publish` waits until the broker acknowledged all."""

    def __init__(self, port: int, client_id: str = "test-gateway") -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(200)
        self._connected = threading.Event()
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_disconnect = lambda *a: self._connected.clear()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("publisher could not connect")

    def publish(self, items: list[tuple[str, bytes]], timeout_s: float = 60.0) -> None:
        if not self._connected.wait(timeout_s):
            raise RuntimeError("publisher is not connected")
        infos = [self.client.publish(t, p, qos=1) for t, p in items]
        for info in infos:
            info.wait_for_publish(timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def with_time(e: StoredEvent, t: float) -> StoredEvent:
    return StoredEvent(e.boot, replace(e.event, time_s=t))
