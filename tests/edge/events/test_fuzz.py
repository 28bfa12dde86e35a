"""Fuzzing (hypothesis, bounded): the frame decoder, the configuration loader and the event
decoder never fail with anything but their documented errors.

Each property runs ``FUZZ_EXAMPLES`` examples (default 300, a few seconds each); a longer
campaign: ``FUZZ_EXAMPLES=20000 python -m pytest tests/edge/events/test_fuzz.py``."""
import dataclasses
import json
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.dsp.quality import QualityConfig
from edge.errors import ConfigError, EventDecodeError
from edge.events.decode import parse_event
from edge.events.model import event_to_json
from edge.runtime.alerts import AlertConfig
from edge.runtime.settings import (
    DaemonSettings,
    JsonlSinkSettings,
    MqttSinkSettings,
    OutputSettings,
    PipelineSettings,
    TerminalSinkSettings,
    WfdbSinkSettings,
    load_config,
)
from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.protocol import EncoderConfig, FrameEncoder, SampleFormat
from firmware_bridge.replay import ReplayConfig
from tests.edge.events.test_decode import sample_events

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- frame decoder --------------------------------------------------------------------------

def _frames() -> bytes:
    rng = np.random.default_rng(20261125)
    x = rng.integers(-30000, 30000, (400, 2)).astype(np.int32)
    enc = FrameEncoder(EncoderConfig(fs_hz=360.0, adc_gain=(200.0, 200.0), baseline=(0, 0),
                                     device_id=5, sample_format=SampleFormat.INT24,
                                     samples_per_frame=40))
    return b"".join(enc.process(x) + enc.flush())


FRAMES = _frames()


@FUZZ
@given(data=st.data())
def test_frame_decoder_never_raises_on_damaged_bytes(data):
    blob = bytearray(FRAMES)
    for _ in range(data.draw(st.integers(0, 12))):  # flips, cuts and insertions
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(0, len(blob) - 1)))
        if op == "flip" and blob:
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del blob[i:i + data.draw(st.integers(1, 64))]
        else:
            blob[i:i] = data.draw(st.binary(min_size=1, max_size=64))
    blob += data.draw(st.binary(max_size=256))
    dec = FrameDecoder()
    step = data.draw(st.integers(1, 4096))
    n = 0
    for j in range(0, len(blob), step):
        for f in dec.process(bytes(blob[j:j + step])):
            assert f.samples.shape[0] > 0
            n += f.samples.shape[0]
    assert dec.buffered_bytes < 6208
    assert dec.stats.bytes_in == len(blob)


# -- configuration loader -------------------------------------------------------------------

def _keys() -> list[str]:
    out = ["source.kind", "source.channel", "quality.fs_hz", "nosuch.key", "sinks.nosuch.x"]
    for section, cls in [("pipeline", PipelineSettings), ("outputs", OutputSettings),
                         ("daemon", DaemonSettings), ("alerts", AlertConfig),
                         ("quality", QualityConfig), ("source.replay", ReplayConfig),
                         ("sinks.terminal", TerminalSinkSettings),
                         ("sinks.jsonl", JsonlSinkSettings), ("sinks.wfdb", WfdbSinkSettings),
                         ("sinks.mqtt", MqttSinkSettings)]:
        out += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return out


KEYS = _keys()
_scalar = st.one_of(st.integers(-10**6, 10**7), st.floats(allow_nan=False, width=32),
                    st.booleans(), st.text(max_size=12))
TOML_VALUES = st.recursive(_scalar, lambda c: st.lists(c, max_size=4), max_leaves=6)


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if v == v and abs(v) != float("inf") else "nan"
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(_toml(x) for x in v) + "]"


@FUZZ
@given(items=st.lists(st.tuples(st.sampled_from(KEYS), TOML_VALUES), max_size=6),
       replay=st.booleans())
def test_config_loader_overrides_only_raise_config_errors(items, replay):
    base = ['source.kind="replay"', 'source.replay.record="100"'] if replay else []
    try:
        load_config(None, base + [f"{k}={_toml(v)}" for k, v in items])
    except ConfigError:
        pass


@FUZZ
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=400).map(
    lambda b: b.decode("latin-1"))))
def test_config_loader_files_only_raise_config_errors(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text("[source]\nkind = \"replay\"\n[source.replay]\nrecord = \"100\"\n" + text,
                    encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError:
        pass


# -- event decoder ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c,
                                                                  max_size=4)),
    max_leaves=10)
EVENTS = [json.loads(event_to_json(e)) for e in sample_events()]


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_event_decoder_random_documents(text):
    try:
        parse_event(text)
    except EventDecodeError:
        pass


@FUZZ
@given(base=st.sampled_from(EVENTS), data=st.data())
def test_event_decoder_mutated_events(base, data):
    d = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.one_of(st.sampled_from(sorted(d)), st.text(max_size=6)))
        if data.draw(st.booleans()):
            d.pop(key, None)
        else:
            d[key] = data.draw(JSON_VALUES)
    try:
        text = json.dumps(d)
    except (ValueError, TypeError):
        return
    try:
        event = parse_event(text)
    except EventDecodeError:
        return
    assert parse_event(event_to_json(event)) is not None  # what decodes, re-encodes
