import io
import json

import pytest

from edge.errors import ConfigError
from edge.events.model import EVENT_TYPES
from edge.sinks.jsonl import JsonLinesSink, JsonlSinkSettings, RotatingJsonlSink


def test_json_lines_on_a_stream(beat):
    js = io.StringIO()
    JsonLinesSink(js).emit(beat(5))
    assert json.loads(js.getvalue())["sample_index"] == 5


def test_jsonl_rotation_and_reopen(tmp_path, beat):
    path = tmp_path / "ev.jsonl"
    s = RotatingJsonlSink(path, max_bytes=2000, backups=2)
    for i in range(40):
        s.emit(beat(i))
    s.flush()
    assert s.n_rotations >= 2 and (tmp_path / "ev.jsonl.1").exists()
    assert not (tmp_path / "ev.jsonl.3").exists()
    assert path.stat().st_size <= 2000
    path.rename(tmp_path / "moved.jsonl")  # logrotate moves the file, then SIGHUP
    s.reopen()
    s.emit(beat(99))
    s.close()
    assert json.loads(path.read_text())["sample_index"] == 99


def test_type_filter(tmp_path, beat):
    path = tmp_path / "ev.jsonl"
    s = RotatingJsonlSink(path, types=("hr",))
    s.emit(beat(1))
    s.close()
    assert path.read_text() == ""


def test_settings_types_are_event_types():
    assert JsonlSinkSettings(types=EVENT_TYPES).types == EVENT_TYPES
    with pytest.raises(ConfigError) as err:
        JsonlSinkSettings(types=("beats",))
    assert err.value.field == "types" and "unknown event type 'beats'" in err.value.rule
