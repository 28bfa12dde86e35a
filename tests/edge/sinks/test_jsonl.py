import io
import json
from pathlib import Path

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


_FULL = r"""
import json, resource, signal, sys
from edge.errors import SinkError
from edge.sinks.jsonl import RotatingJsonlSink
from tests.edge.sinks.conftest import stamped_beat
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG)
inf = resource.RLIM_INFINITY
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), inf))
s = RotatingJsonlSink(sys.argv[1])
errors, seq = [], 0
for k in range(40):
    for _ in range(10):
        s.emit(stamped_beat(360 * seq)); seq += 1
    if k == 30:
        resource.setrlimit(resource.RLIMIT_FSIZE, (inf, inf))  # space again
    try:
        s.flush()
    except SinkError as exc:
        errors.append(str(exc))
s.close()
print(json.dumps({"lost": s.n_lost, "errors": errors}))
"""


def test_a_full_disk_loses_whole_lines_counted_and_says_when_it_writes_again(tmp_path):
    """Audit (session 49): on a full disk the file ended in half a line, holes in seq went
    uncounted (the failures counted were flush calls) and the recovery went unsaid. A
    file-size limit (RLIMIT_FSIZE) fails writes the way a full disk does."""
    import subprocess
    import sys

    path = tmp_path / "ev.jsonl"
    run = subprocess.run([sys.executable, "-c", _FULL, str(path), "20000"],
                         capture_output=True, text=True, timeout=120,
                         cwd=str(Path(__file__).resolve().parents[3]))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a whole line
    written = [json.loads(x)["sample_index"] // 360 for x in lines[:-1]]
    assert out["lost"] > 0 and len(written) + out["lost"] == 400
    assert out["errors"] and all("lost" in e for e in out["errors"])
    assert "writing again" in run.stderr and written[-1] == 399
    assert written == sorted(written)


def test_a_file_removed_while_open_is_written_again(tmp_path, beat, caplog):
    """Audit (session 49): with its folder deleted the sink kept writing into the removed
    file until a SIGHUP; about 8 s of events were lost."""
    import shutil

    path = tmp_path / "d" / "ev.jsonl"
    s = RotatingJsonlSink(path)
    s.emit(beat(1))
    s.flush()
    shutil.rmtree(tmp_path / "d")
    s.emit(beat(2))
    s.flush()
    s.close()
    assert [json.loads(x)["sample_index"] for x in path.read_text().splitlines()] == [2]
    assert "removed while open" in caplog.text


@pytest.mark.parametrize("below", ["e.jsonl", "a/e.jsonl"])
def test_a_file_where_a_folder_should_be_is_named(tmp_path, below):
    """Audit (session 49): '[Errno 17] File exists: .../sub' for a folder replaced by a file."""
    from edge.errors import SinkError

    (tmp_path / "sub").write_text("x")
    with pytest.raises(SinkError, match=f"{tmp_path / 'sub'} is a file, not a folder"):
        RotatingJsonlSink(tmp_path / "sub" / below)
