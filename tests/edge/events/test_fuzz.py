"""Fuzzing (hypothesis, bounded): the frame decoder, the configuration loader and the event
decoder never fail with anything but their documented errors; a configuration that loads holds
only values of its fields' declared types; an event that decodes survives a round trip.

Each property runs ``FUZZ_EXAMPLES`` examples (default 300, a few seconds each); a longer
campaign: ``FUZZ_EXAMPLES=20000 python -m pytest tests/edge/events/test_fuzz.py``."""
import dataclasses
import enum
import json
import math
import os
import types
import typing

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import ConfigError, EventDecodeError
from edge.events.decode import parse_event
from edge.events.model import event_to_json
from edge.runtime.alerts import AlertConfig
from edge.runtime.settings import (
    DaemonConfig,
    DaemonSettings,
    JsonlSinkSettings,
    MqttSinkSettings,
    OutputSettings,
    PipelineSettings,
    QualitySettings,
    StdoutSinkSettings,
    TerminalSinkSettings,
    WfdbSinkSettings,
    load_config,
)
from firmware_bridge import BleConfig, ReplayConfig, SerialConfig
from firmware_bridge.decoder import FrameDecoder
from firmware_bridge.faults import FaultConfig
from firmware_bridge.protocol import EncoderConfig, FrameEncoder, SampleFormat
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
                         ("quality", QualitySettings), ("source.replay", ReplayConfig),
                         ("source.replay.faults", FaultConfig),
                         ("source.serial", SerialConfig), ("source.ble", BleConfig),
                         ("sinks.terminal", TerminalSinkSettings),
                         ("sinks.stdout", StdoutSinkSettings),
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


def _fits(value, tp) -> bool:
    """``value`` is of the declared field type ``tp`` (bool is not an int, int not a float)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return type(value) is float
    if tp in (bool, int, str):
        return type(value) is tp
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return isinstance(value, tp)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, tp) and _all_typed(value)
    return True


def _all_typed(obj) -> bool:
    """Every field of the settings dataclass ``obj`` (recursively) has its declared type."""
    if isinstance(obj, DaemonConfig):
        src = obj.source
        return ((src.channel is None or type(src.channel) is int) and _all_typed(src.transport)
                and all(_all_typed(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                        if f.name != "source"))
    hints = typing.get_type_hints(type(obj))
    return all(_fits(getattr(obj, f.name), hints[f.name]) for f in dataclasses.fields(obj))


def test_typed_check_can_fail():
    assert not _fits(1, bool) and not _fits(True, int) and not _fits(1, float)
    assert not _all_typed(AlertConfig(vrun_min_beats=2.7))  # what the loader refuses


@FUZZ
@given(items=st.lists(st.tuples(st.sampled_from(KEYS), TOML_VALUES), max_size=6),
       replay=st.booleans())
def test_config_loader_overrides_only_raise_config_errors(items, replay):
    base = ['source.kind="replay"', 'source.replay.record="100"'] if replay else []
    try:
        config = load_config(None, base + [f"{k}={_toml(v)}" for k, v in items])
    except ConfigError:
        return
    assert _all_typed(config)


@FUZZ
@given(items=st.dictionaries(st.sampled_from(KEYS),
                             st.one_of(st.none(), TOML_VALUES), max_size=6),
       replay=st.booleans())
def test_config_loader_typed_options_only_raise_config_errors(items, replay):
    """The command line's typed options (Python values, None included) take the same checks."""
    base = {"source.kind": "replay", "source.replay.record": "100"} if replay else {}
    try:
        config = load_config(None, [], base | items)
    except ConfigError:
        return
    assert _all_typed(config)


@FUZZ
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=400).map(
    lambda b: b.decode("latin-1"))))
def test_config_loader_files_only_raise_config_errors(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text("[source]\nkind = \"replay\"\n[source.replay]\nrecord = \"100\"\n" + text,
                    encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path)
    except ConfigError:
        return
    assert _all_typed(config)


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
    again = parse_event(event_to_json(event))  # what decodes, re-encodes to the same event
    assert type(again) is type(event) and _same(again, event), (event, again)


def _same(a, b) -> bool:
    """Equality in which NaN equals NaN (a JSON ``null`` in a map decodes as NaN)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k])
                                                                    for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def test_same_can_fail():
    e = sample_events()[0]
    assert _same(e, e) and not _same(e, dataclasses.replace(e, label="N"))
    assert _same(float("nan"), float("nan")) and not _same(1, 1.0)

