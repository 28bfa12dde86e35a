"""``ecg-edge ingest`` and ``ecg-edge history`` as a user runs them: a JSONL night into a
database and its history; wrong values, a missing server, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.events.model import event_to_json
from tests.edge.sinks.broker_support import Broker, free_port, need_mosquitto
from tests.edge.store.support import mixed

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def night(tmp_path) -> Path:
    path = tmp_path / "night.jsonl"
    events = mixed(3, 90, t0=round(time.time() - 600, 3), step_s=1.0)
    path.write_text("".join(event_to_json(e.event) + "\n" for e in events) + "garbage\n")
    return path


def test_ingest_then_history(night, tmp_path, capsys):
    db = str(tmp_path / "ward.db")
    assert main(["ingest", "--db", db, "--jsonl", str(night), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["stored"] == 90 and "1 malformed" in err
    assert "malformed payloads by field: $ 1" in err
    assert main(["ingest", "--db", f"sqlite:///{db}", "--jsonl", str(night)]) == 0
    assert "0 stored, 90 duplicates" in capsys.readouterr().err
    assert main(["history", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "device 3" in text and "beats 30: N 18  S 10  V 2" in text and "alerts 10" in text
    assert main(["history", "--db", db, "--device", "3", "--since", "2h", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["beats_total"] == 30 and report["beats"] == {"N": 18, "S": 10, "V": 2}
    assert main(["history", "--db", db, "--device", "4"]) == 1
    assert "no events of device 4" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["history", "--db", "mysql://h/x"], "unsupported database 'mysql'"),
    (["history", "--db", "x.db", "--since", "yesterday"], "--since: expected a positive"),
    # session 48 audit: argparse took "-1d" for an option ("expected one argument")
    (["history", "--db", "x.db", "--since", "-1d"], "--since: expected a positive duration"),
    (["ingest", "--db", "x.db", "--jsonl", "x", "--retention", "strips=1d"], "--retention"),
    (["ingest", "--db", "x.db", "--mqtt", "host:notaport"], "expected HOST or HOST:PORT"),
    (["ingest", "--db", "x.db", "--jsonl", "/nonexistent.jsonl"], "cannot read"),
    # session 44 audit: a password file without a username was silently not used
    (["ingest", "--db", "x.db", "--mqtt", "localhost", "--password-file", "pw"],
     "needs a username"),
    # A reader does not create an empty store at a mistyped path ("no events" would be a lie).
    (["history", "--db", "typo.db"], "no such database file"),
    # session 45 audit: numbers past the store's 64-bit columns were tracebacks
    (["history", "--db", "x.db", "--since", "99999999999d"], "at most 1000 years"),
    (["ingest", "--db", "x.db", "--jsonl", "x", "--retention", "strip=99999999999d"],
     "at most 1000 years"),
    (["ingest", "--db", "x/y.db", "--jsonl", "x"], "x is a file, not a folder"),
])
def test_bad_values_are_one_line_errors(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text("")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "typo.db").exists()


def test_a_file_of_no_events_stores_nothing_and_says_so(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("# notes\nnot an event\n")
    assert main(["ingest", "--db", str(tmp_path / "w.db"), "--jsonl", str(path)]) == 1
    err = capsys.readouterr().err
    assert "2 malformed" in err and "nothing stored: no line of the files" in err


def test_jsonl_ingest_says_what_retention_removed_and_what_ctrl_c_kept(night, tmp_path,
                                                                        capsys, monkeypatch):
    db = str(tmp_path / "ward.db")
    assert main(["ingest", "--db", db, "--jsonl", str(night), "--retention", "beat=60s"]) == 0
    assert "retention removed " in capsys.readouterr().err
    from edge.store import ingest as ingest_module

    real = ingest_module.EventWriter.flush
    calls = []

    def flush_then_ctrl_c(self):  # the second batch is cut short by Ctrl-C
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self)
    monkeypatch.setattr(ingest_module.EventWriter, "flush", flush_then_ctrl_c)
    db2 = str(tmp_path / "ward2.db")
    assert main(["ingest", "--db", db2, "--jsonl", str(night), "--batch-max", "40"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == ("ecg-edge ingest: interrupted; 40 events committed before it (importing "
                   "the same files again skips them)")


def test_an_unreadable_file_is_named_before_any_database_is_made(night, tmp_path, capsys):
    """Session 48 audit: ``--jsonl good missing`` stored part of the good file; a directory
    left a new empty database behind."""
    db = tmp_path / "ward.db"
    for bad in (tmp_path / "missing.jsonl", tmp_path):
        assert main(["ingest", "--db", str(db), "--jsonl", str(night), str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"cannot read {bad}" in err and "nothing was imported" in err
        assert "Traceback" not in err and not db.exists()


def test_history_af_burden_is_the_devices_own(mitdb_dir, tmp_path, capsys, monkeypatch):
    """Session 48 audit: ``history`` gave the AF burden as a share of beats (201: 40.7 %
    against the device's 31.8 %), then of the beats' own rhythm time, which misses what the
    device dates back when it confirms an onset (SVDB 867: 25.7 / 33.1 %). It now counts as
    the device does; a replayed DS1 record with AF: the same number as the last hr event."""
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    events = tmp_path / "201.jsonl"
    assert main(["run", "--replay", "201", "--speed", "max", "--jsonl", str(events), "--quiet",
                 "--set", "source.replay.duration_s=600"]) == 0
    hr = [json.loads(line) for line in events.read_text().splitlines()
          if '"type":"hr"' in line][-1]
    assert 0.2 < hr["af_burden_run"] < 0.9
    db = str(tmp_path / "h.db")
    assert main(["ingest", "--db", db, "--jsonl", str(events)]) == 0
    assert main(["history", "--db", db, "--since", "1d", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["af_burden"]["time"] == pytest.approx(hr["af_burden_run"], abs=0.01)
    assert report["af_burden"]["max_1h"] is None  # 10 min: no full hour to report


def test_a_device_id_past_64_bits_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["history", "--db", "x.db", "--device", "99999999999999999999"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "expected a device id, an integer 0 .. 2**63 - 1" in err and "Traceback" not in err


def test_history_leaves_a_file_without_the_schema_as_it_found_it(tmp_path, capsys):
    """Session 44 audit: ``history`` wrote the ecg-edge schema into an empty file (and would
    into any SQLite database without it) and reported "no events"."""
    import sqlite3

    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert main(["history", "--db", str(empty)]) == 2
    assert "is an empty file, not an ecg-edge event store" in capsys.readouterr().err
    assert empty.read_bytes() == b""
    bare = tmp_path / "bare.db"
    with sqlite3.connect(bare) as conn:  # an SQLite file with no table at all
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    assert main(["history", "--db", str(bare)]) == 2
    assert "holds no ecg-edge schema" in capsys.readouterr().err
    with sqlite3.connect(bare) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_missing_servers_are_clear_errors(tmp_path, capsys):
    pg = f"postgresql://ecg:pw@127.0.0.1:{free_port()}/clinic"
    assert main(["history", "--db", pg]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and ":pw@" not in err
    argv = ["ingest", "--db", str(tmp_path / "x.db"), "--mqtt", f"127.0.0.1:{free_port()}",
            "--connect-timeout-s", "1"]
    assert main(argv) == 2
    assert "no connection within 1 s" in capsys.readouterr().err


def test_ctrl_c_stops_mqtt_ingest_cleanly(tmp_path):
    need_mosquitto()
    with Broker(tmp_path / "broker") as b:
        log = tmp_path / "ingest.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "ingest", "--db", str(tmp_path / "x.db"),
                 "--mqtt", f"127.0.0.1:{b.port}", "-v"], cwd=REPO,
                env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=fh, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "subscribing" not in log.read_text():
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)  # running: its handlers are installed
        proc.wait(30)
        err = log.read_text()
    assert proc.returncode == 0, err
    assert "ecg-edge ingest: 0 received" in err and "Traceback" not in err
