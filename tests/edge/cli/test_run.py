"""``ecg-edge run``: the command line's options are typed values on top of the configuration;
bad inputs of issue 14 (5: --speed with a replay source from the file; 8: a channel the device
does not have)."""
import subprocess
import sys
import time

import pytest

from edge.cli.main import build_parser, main
from edge.cli.run import load_run_config, run_options
from edge.errors import ConfigError
from tests.edge.runtime.daemon_support import REPO, subprocess_env


def args_of(*argv):
    return build_parser().parse_args(["run", *argv])


def replay_file(tmp_path, mitdb_dir, duration_s=60):
    p = tmp_path / "replay.toml"
    p.write_text(f'[source]\nkind = "replay"\n[source.replay]\nrecord = "100"\n'
                 f'data_dir = "{mitdb_dir}"\nduration_s = {duration_s}\n')
    return p


def test_options_are_typed_values():
    o = run_options(args_of("--replay", "233", "--speed", "max", "--channel", "1", "--jsonl",
                            "e.jsonl", "--mqtt", "broker:8883", "--idle-exit-s", "2"))
    assert o["source.kind"] == "replay" and o["source.replay.record"] == "233"
    assert o["source.replay.speed"] is None and o["source.channel"] == 1
    assert o["sinks.jsonl.enabled"] is True and o["sinks.mqtt.port"] == 8883
    assert o["daemon.idle_exit_s"] == 2.0
    assert run_options(args_of("--replay", "100", "--speed", "2.5"))["source.replay.speed"] == 2.5
    assert "source.replay.speed" not in run_options(args_of("--replay", "100"))


def test_a_record_name_is_not_parsed_as_toml():
    """A record or path that looks like a TOML value stays a string (was quoted text)."""
    cfg = load_run_config(args_of("--replay", "1e3", "--jsonl", 'a "b".jsonl'))
    assert cfg.source.transport.record == "1e3" and cfg.sinks.jsonl.path == 'a "b".jsonl'


def test_speed_applies_to_a_replay_source_from_the_file(tmp_path, mitdb_dir):
    """Bad input 5: --speed was ignored unless --replay was given."""
    cfg = load_run_config(args_of("--config", str(replay_file(tmp_path, mitdb_dir)),
                                  "--speed", "max"))
    assert cfg.source.kind == "replay" and cfg.source.transport.speed is None
    cfg = load_run_config(args_of("--config", str(replay_file(tmp_path, mitdb_dir)),
                                  "--speed", "4"))
    assert cfg.source.transport.speed == 4.0


def test_speed_for_another_source_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_run_config(args_of("--port", "/dev/ttyACM0", "--speed", "2"))
    assert err.value.field == "--speed" and "replay" in err.value.rule


def test_data_dir_names_the_replayed_records_folder(svdb_dir):
    """Session 48 audit: a record not found said "check the name, --data-dir or
    $MITDB_DIR", and ``run`` had no --data-dir (only ``--set source.replay.data_dir=``)."""
    cfg = load_run_config(args_of("--replay", "824", "--data-dir", str(svdb_dir)))
    assert cfg.source.transport.data_dir == str(svdb_dir)
    with pytest.raises(ConfigError) as err:
        load_run_config(args_of("--port", "/dev/ttyACM0", "--data-dir", str(svdb_dir)))
    assert err.value.field == "--data-dir" and "replay" in err.value.rule


@pytest.mark.parametrize("argv,needle", [
    (["--port", "/dev/ttyACM0", "--speed", "2"], "--speed: applies to a replay source"),
    (["--replay", "100", "--mqtt", "host:port"], "--mqtt: expected HOST or HOST:PORT"),
    (["--replay", "100", "--set", "alerts.pause_s=long"],
     "alerts.pause_s: expected a number, got 'long'"),
    (["--replay", "100", "--set", 'sinks.jsonl.enabled="false"'],
     "sinks.jsonl.enabled: expected true or false, got 'false'"),
    (["--replay", "100", "--set", "alerts.vrun_min_beats=2.7"],
     "alerts.vrun_min_beats: expected an integer, got 2.7"),
    (["--port", "/dev/ttyACM0", "--set", "source.serial.baudrate=fast"],
     "source.serial.baudrate: expected an integer, got 'fast'"),
    (["--replay", "100", "--channel", "-1"], "source.channel: must be an integer >= 0"),
])
def test_bad_options_give_one_line_errors(capsys, argv, needle):
    assert main(["run", "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ecg-edge run: error: {err[0].split('error: ', 1)[1]}"]
    assert needle in err[0]


@pytest.mark.parametrize("speed", ["fast", "0", "-2", "inf"])
def test_bad_speed_is_a_usage_error(capsys, speed):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--replay", "100", "--speed", speed])
    assert exited.value.code == 2
    assert (f"argument --speed: must be a number > 0 (1 = real time) or 'max' (as fast as "
            f"possible), got '{speed}'") in capsys.readouterr().err


def _run(*argv, timeout_s=120):
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--quiet", *argv],
                          cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                          timeout=timeout_s)
    return proc, time.monotonic() - t0


def test_speed_max_from_the_command_line_over_a_config_replay(tmp_path, mitdb_dir):
    """Bad input 5 end to end: 60 s of a replay source named in the file, --speed max: it is
    not played at real time (it was: 60 s)."""
    proc, elapsed_s = _run("--config", str(replay_file(tmp_path, mitdb_dir, 60)),
                           "--speed", "max", timeout_s=90)
    assert proc.returncode == 0, proc.stderr
    assert "60.0 s of ECG" in proc.stderr and elapsed_s < 40


def test_a_channel_the_device_lacks_is_an_error(mitdb_dir):
    """Bad input 8: record 233 has 2 channels; --channel 5 logged three errors and exited 0
    with 0 beats. Now: one line naming source.channel, exit != 0."""
    proc, _ = _run("--replay", "233", "--channel", "5", "--speed", "max",
                   "--set", f'source.replay.data_dir="{mitdb_dir}"')
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "source.channel" in errors[0] and "2 channel" in errors[0], \
        proc.stderr


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
def test_a_sink_that_cannot_write_makes_the_run_fail(mitdb_dir):
    """Session 45 audit: with the JSONL sink on a full disk every event was lost, a few log
    lines said so, and the run exited 0 with a normal summary."""
    proc, _ = _run("--replay", "100", "--speed", "max", "--jsonl", "/dev/full",
                   "--set", f'source.replay.data_dir="{mitdb_dir}"',
                   "--set", "source.replay.duration_s=20")
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ecg-edge run: error: sink failures") and "jsonl:/dev/full" in last
    assert "Traceback" not in proc.stderr


def test_a_replay_without_its_data_folder_names_the_download(tmp_path, monkeypatch, capsys):
    """Audit (session 49): `run --replay 100` with no MIT-BIH folder lacked the download hint
    that annotate, detect and adapt give."""
    monkeypatch.delenv("MITDB_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--replay", "100", "--speed", "max", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the source: mitdb data directory not found" in err
    assert "ecg-edge download mitdb --out data/mitdb" in err


def test_jsonl_into_the_replayed_records_own_file_is_refused(mitdb_dir, tmp_path, capsys,
                                                              monkeypatch):
    """Audit C, defect 4: ``run --replay ./100 --jsonl 100.hea`` appended the events to the
    header of the record being replayed. A previous run's events file beside it is fine."""
    import shutil

    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"100.{ext}", tmp_path)
    monkeypatch.chdir(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for target, words in (("100.hea", "its header"), ("100.dat", "its signal file"),
                          ("100.atr", "an annotation file of the record")):
        assert main(["run", "--replay", "./100", "--speed", "max", "--quiet", "--jsonl",
                     target]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ecg-edge run: error: sinks.jsonl.path: --jsonl") and words in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    from edge.cli.run import check_replay_outputs

    (tmp_path / "100.jsonl").write_text('{"type": "status"}\n')  # a previous run's events
    check_replay_outputs(load_run_config(args_of("--replay", "./100", "--jsonl", "100.jsonl")))


def test_jsonl_dash_is_stdout():
    """Audit C: ``--jsonl -`` wrote a file named '-'."""
    o = run_options(args_of("--replay", "100", "--jsonl", "-"))
    assert o["sinks.stdout.enabled"] is True and "sinks.jsonl.enabled" not in o


@pytest.mark.parametrize("name", ["ward 3", "rec.v1", "ü", "a/b", ""])
def test_a_record_name_wfdb_cannot_write_is_refused_at_load(name, capsys):
    """Audit C, defect 6: ``--record-name "ward 3"`` was accepted, then every WFDB flush of
    the session failed; ``check --set`` accepted it too."""
    if name:
        with pytest.raises(ConfigError) as exc:
            load_run_config(args_of("--replay", "100", "--wfdb-dir", "w", "--record-name",
                                    name))
        assert exc.value.field in ("sinks.wfdb.record_name", "record_name")
    from edge.runtime.settings import load_config

    source = ["source.kind='replay'", "source.replay.record='100'"]
    with pytest.raises(ConfigError) as exc:
        load_config(None, [*source, "sinks.wfdb.enabled=true",
                           f"sinks.wfdb.record_name={name!r}"])
    assert "record_name" in str(exc.value) and "\n" not in str(exc.value)
    for good in ("ecg-edge", "ward_3", "100"):
        load_config(None, [*source, f"sinks.wfdb.record_name={good!r}"])


def test_a_closed_stdout_ends_the_run_quietly(mitdb_dir):
    """Session 50 audit: ``ecg-edge run --json | head -1`` processed the whole record, logged
    thousands of broken-pipe failures and exited 1. Now the run stops when its only output's
    reader goes away: exit 141, as ``rhythm`` and other Unix tools, nothing on stderr."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--replay", "100",
                             "--data-dir", str(mitdb_dir), "--speed", "max", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    _, err = proc.communicate(timeout=120)
    assert first.startswith(b'{"type":') and proc.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"sink failures" not in err
