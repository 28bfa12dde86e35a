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
    assert not path.exists()  # created, nothing written: removed


def test_lines_carry_the_runs_boot_and_an_unused_new_file_is_removed(tmp_path, beat):
    """Session 48 audit: a run that failed to start (``--replay 999``) left an empty file.
    A file that existed before stays, even empty; every line carries the run's boot."""
    path = tmp_path / "ev.jsonl"
    RotatingJsonlSink(path).close()
    assert not path.exists()
    path.write_text("")
    RotatingJsonlSink(path).close()
    assert path.exists()
    s = RotatingJsonlSink(tmp_path / "new.jsonl", boot=7)
    s.emit(beat(1))
    s.emit(beat(2))
    s.close()
    lines = [json.loads(x) for x in (tmp_path / "new.jsonl").read_text().splitlines()]
    assert [(x["boot"], x["sample_index"]) for x in lines] == [(7, 1), (7, 2)]


def test_settings_types_are_event_types():
    assert JsonlSinkSettings(types=EVENT_TYPES).types == EVENT_TYPES
    with pytest.raises(ConfigError) as err:
        JsonlSinkSettings(types=("beats",))
    assert err.value.field == "types" and "unknown event type 'beats'" in err.value.rule
