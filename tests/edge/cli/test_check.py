"""``ecg-edge check`` (:mod:`edge.cli.check`): it loads and runs the configured model, refuses
one that loads but cannot run in one line, and no command prints LiteRT's start-up INFO line."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.model.bundled import default_model_path

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "deploy" / "ecg-edge.toml"


def damaged_model(tmp_path: Path, *, resealed: bool = True) -> Path:
    """The bundled model with bytes 22000-23000 zeroed: it loads, but cannot run (the range is
    tied to the shipped file's layout; 20000-21000 in the model before issue 16). Resealed: a
    model converted wrong, which its seal cannot catch; else the seal refuses it first."""
    from edge.model.seal import seal_tflite
    from edge.model.tflite_meta import contract_span

    data = bytearray(default_model_path().read_bytes())
    data[22000:23000] = bytes(1000)
    path = tmp_path / "damaged.tflite"
    path.write_bytes(seal_tflite(bytes(data), contract_span(bytes(data))) if resealed
                     else bytes(data))
    return path


def test_check_loads_and_runs_the_model(capsys):
    assert main(["check", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"{CONFIG}: OK" in out and "model run: OK (one zero beat" in out


@pytest.mark.parametrize("command", ["check", "annotate"])
def test_a_model_that_loads_but_cannot_run_is_one_line_and_exit_2(command, tmp_path, mitdb_dir,
                                                                  capsys):
    """Issue 14, bad input 1: `check` passed this model and `annotate`/`run`/`demo` died on
    the first beat with ``RuntimeError: Input tensor 24 lacks data``."""
    bad = damaged_model(tmp_path)
    argv = {"check": ["check", str(CONFIG), "--set", f'pipeline.model="{bad}"'],
            "annotate": ["annotate", "100", "--model", str(bad), "--out-dir", str(tmp_path),
                         "--data-dir", str(mitdb_dir)]}[command]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert re.fullmatch(re.escape(f"ecg-edge {command}: error: {bad}: the model loads but cannot "
                                  "run (Input tensor ") + r"\d+" + re.escape(
        " lacks data): the file is damaged; copy or convert it again"), err), err
    assert "OK" not in captured.out and not (tmp_path / "100.cls").exists()


@pytest.mark.parametrize("command", ["check", "annotate", "run"])
def test_a_model_changed_after_sealing_is_one_line_and_exit_2(command, tmp_path, mitdb_dir,
                                                               capsys):
    bad = damaged_model(tmp_path, resealed=False)
    argv = {"check": ["check", str(CONFIG), "--set", f'pipeline.model="{bad}"'],
            "annotate": ["annotate", "100", "--model", str(bad), "--out-dir", str(tmp_path),
                         "--data-dir", str(mitdb_dir)],
            "run": ["run", "--replay", str(mitdb_dir / "100"), "--model", str(bad),
                    "--jsonl", str(tmp_path / "e.jsonl")]}[command]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert re.fullmatch(re.escape(f"ecg-edge {command}: error: {bad}: the file is damaged: its "
                                  "content no longer matches the SHA-256 sealed in it (content ")
                        + r"[0-9a-f]{12}\.\.\., seal [0-9a-f]{12}\.\.\.\); copy the model again "
                        r"from its source", err), err
    assert "OK" not in captured.out and not (tmp_path / "100.cls").exists()
    assert not (tmp_path / "e.jsonl").exists() or not (tmp_path / "e.jsonl").read_text().strip()


@pytest.mark.parametrize("argv", [["check", str(CONFIG)],
                                  ["annotate", "100", "--reference-beats", "atr"]])
def test_no_command_prints_the_litert_delegate_line(argv, tmp_path, mitdb_dir):
    """Issue 14, bad input 10: every command printed ``INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU.`` (LiteRT's C++ runtime, on fd 2, when the interpreter is created)."""
    if argv[0] == "annotate":
        argv = argv + ["--out-dir", str(tmp_path), "--data-dir", str(mitdb_dir)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "edge.cli.main", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "XNNPACK" not in proc.stderr and "INFO:" not in proc.stderr, proc.stderr
    assert proc.stdout.strip()


def test_check_names_the_source_in_one_line(capsys):
    assert main(["check", str(REPO / "deploy" / "ecg-edge.toml"), "--set",
                 'source.kind="replay"', "--set", 'source.replay.record="100"']) == 0
    out = capsys.readouterr().out
    # the record read as `run` reads it (session 44 audit: a missing record was "OK")
    assert ("  source: replay (record='100', speed=1.0, channels=None): 2 channel(s) at "
            "360 Hz, 1805.6 s replayed\n") in out
    assert "ReplayConfig(" not in out and "  sinks: jsonl" in out
    assert "  channel: 0\n" in out  # the file sets it


def test_check_says_a_replay_at_max_speed_and_its_injected_faults(capsys):
    """Session 47 audit: ``speed = "max"`` printed ``speed=None``, and faults configured on the
    replay were not mentioned."""
    assert main(["check", str(REPO / "deploy" / "ecg-edge.toml"), "--set",
                 'source.kind="replay"', "--set", 'source.replay.record="100"', "--set",
                 'source.replay.speed="max"', "--set",
                 "source.replay.faults.drop_frame_prob=0.1"]) == 0
    out = capsys.readouterr().out
    assert "(record='100', speed='max', channels=None, faults drop_frame_prob=0.1)" in out


@pytest.mark.parametrize("kind, said", [
    ('"replay"\n[source.replay]\nrecord = "100"',
     "not set: the record's channel named as the model's lead, else 0"),
    ('"serial"\n[source.serial]\nport = "/dev/null"', "not set: 0")])
def test_check_says_how_an_unset_channel_is_chosen(capsys, tmp_path, kind, said):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[source]\nkind = {kind}\n")
    assert main(["check", str(cfg)]) == 0
    assert f"  channel: {said}\n" in capsys.readouterr().out


def _argv_with(command, tmp_path, setting):
    """``ecg-edge check`` or ``run`` of the test configuration with ``setting`` and a replay
    source that cannot open (so only a check before opening it can fail first)."""
    config = ["--set", 'source.kind="replay"', "--set",
              f'source.replay.record="{tmp_path / "no_such_record"}"', "--set", setting]
    return {"check": ["check", str(CONFIG), *config],
            "run": ["run", "--config", str(CONFIG), *config]}[command]


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_vf_model_is_refused_before_any_sample(command, tmp_path, capsys):
    """The VF window model is loaded when the configuration is checked or the daemon starts,
    before the source is opened (it used to fail only once samples arrived; here the source
    cannot even open, so a daemon that opened it first would report that instead)."""
    bad = tmp_path / "vf.json"
    bad.write_text('{"format": "something else"}')
    assert main(_argv_with(command, tmp_path, f'rhythm.vf.model_path="{bad}"')) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"ecg-edge {command}: error: {bad}: not a rhythm model "
                                    "(format must be 'ecg-edge-rhythm-trees')"), captured.err
    assert "OK" not in captured.out and "connected" not in captured.out


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_bad_vf_network_is_refused_before_any_sample(command, tmp_path, capsys):
    """Likewise the VF network: a damaged file is one line before the source is opened."""
    bad = tmp_path / "vf_net.tflite"
    bad.write_bytes(b"TFL3" + b"\0" * 64)
    assert main(_argv_with(command, tmp_path, f'rhythm.vf.net_path="{bad}"')) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith(f"ecg-edge {command}: error: {bad}") and "\n" not in err, err
    assert "OK" not in captured.out and "connected" not in captured.out


def test_check_names_the_vf_detector(capsys):
    assert main(["check", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert ("  ventricular: VF detector (rhythm_vf.json + rhythm_vf_net.tflite, network share "
            "0.5, alarm after 3 of 3 windows; lower alerts wait under vfib; vflutter ") in out
    assert main(["check", str(CONFIG), "--set", "rhythm.vf.net=false", "--set",
                 "rhythm.alarm_chain=false", "--set", "rhythm.vflutter.confirm=false"]) == 0
    assert ("  ventricular: VF detector (rhythm_vf.json, alarm after 3 of 3 windows; lower "
            "alerts not chained to vfib; vflutter always an alarm; vt an alarm from 3 V "
            "beats; preset monitor)\n") in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", "rhythm.vflutter.confirm=true", "--set",
                 "rhythm.vflutter.hold_s=3", "--set", "rhythm.vt.alarm_min_beats=5"]) == 0
    assert ("vflutter an alarm when the VF stage sees a shockable window 1 s before to 3 s "
            "after it, else a warning; vt an alarm from 5 V beats, a shorter run from 3 a "
            "warning; preset monitor)\n") in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", 'rhythm.vf.models="handheld"']) == 0
    assert ("  ventricular: VF detector (rhythm_vf_handheld.json + "
            "rhythm_vf_net_handheld.tflite, network share 0.5,") in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", 'rhythm.preset="handheld"']) == 0
    out = capsys.readouterr().out
    assert ("  ventricular: VF detector (rhythm_vf_handheld.json + "
            "rhythm_vf_net_handheld.tflite, network share 0.5,") in out
    assert ("vflutter an alarm when the VF stage sees a shockable window 1 s before to 4 s "
            "after it, else a warning; vt an alarm from 5 V beats, a shorter run from 3 a "
            "warning; preset handheld)\n") in out
    assert main(["check", str(CONFIG), "--set", 'rhythm.preset="handheld"', "--set",
                 "rhythm.vflutter.confirm=false"]) == 0  # a key of its own wins
    assert "vflutter always an alarm; vt an alarm from 5 V beats" in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", 'rhythm.preset="ward"']) == 2
    assert "rhythm.preset: must be one of 'monitor', 'handheld', got 'ward'" in \
        capsys.readouterr().err
    assert main(["check", str(CONFIG), "--set", 'rhythm.vf.models="ward"']) == 2
    err = capsys.readouterr().err
    assert "rhythm.vf.models" in err and "Traceback" not in err


@pytest.mark.parametrize("setting, words", [
    ('source.replay.record="nothere"', "cannot open the source: record 'nothere' not found"),
    ("source.replay.start_s=1e6", "cannot open the source: start_s"),
    ("source.channel=7", "source.channel: 7: the replayed record sends 2 channel(s)"),
])
def test_check_refuses_a_replay_run_would_refuse(capsys, setting, words):
    """Session 44 audit: `check` said OK for a record `run` could not open."""
    assert main(["check", str(REPO / "deploy" / "ecg-edge.toml"), "--set",
                 'source.kind="replay"', "--set", 'source.replay.record="100"', "--set",
                 setting]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("sink", ['sinks.jsonl.path="{f}/x.jsonl"', 'sinks.wfdb.out_dir="{f}/d"',
                                  'sinks.jsonl.path="{d}"'])
def test_check_refuses_an_output_place_the_daemon_cannot_create(capsys, tmp_path, sink):
    (tmp_path / "afile").write_text("x")
    enable = "sinks.jsonl.enabled=true" if "jsonl" in sink else "sinks.wfdb.enabled=true"
    assert main(["check", str(REPO / "deploy" / "ecg-edge.toml"), "--set", enable, "--set",
                 sink.format(f=tmp_path / "afile", d=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert ("is not a folder" in err or "is a folder, not a file" in err) and \
        "Traceback" not in err


@pytest.mark.parametrize("sink", ['sinks.jsonl.path="{d}/events.jsonl"',
                                  'sinks.mqtt.outbox_path="{d}/events.jsonl"'])
def test_check_passes_a_file_an_earlier_run_left(capsys, tmp_path, sink):
    """Audit (session 49): once the daemon had written its events file, `check` refused the
    configuration ("events.jsonl is not a folder") while `run` appended to it."""
    from edge.sinks.outbox import Outbox, OutboxConfig

    path = tmp_path / "events.jsonl"
    if "jsonl" in sink:
        path.write_text('{"type": "status"}\n')
        enable = ["sinks.jsonl.enabled=true"]
    else:
        Outbox(OutboxConfig(path=str(path))).close()
        enable = ["sinks.mqtt.enabled=true", 'sinks.mqtt.host="localhost"']
    argv = ["check", str(REPO / "deploy" / "ecg-edge.toml")]
    for setting in enable + [sink.format(d=tmp_path)]:
        argv += ["--set", setting]
    assert main(argv) == 0, capsys.readouterr().err
    path.chmod(0o444)
    try:
        if os.geteuid() != 0:  # root writes anyway
            assert main(argv) == 2
            assert "is not writable" in capsys.readouterr().err
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("free_bytes, code, words", [(0, 2, "no space left"),
                                                     (50e6, 0, "only 50 MB free")])
def test_check_says_when_an_output_has_no_space(capsys, caplog, tmp_path, monkeypatch,
                                                 free_bytes, code, words):
    """Audit (session 49): on a full file system `check` said OK and `run` then stopped
    ('cannot open: database or disk is full'). The file system's free space is what
    shutil.disk_usage reports; it is set here (filling a real one needs a mount)."""
    import collections
    import shutil

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1e9, 1e9 - free_bytes,
                                                               free_bytes))
    assert main(["check", str(CONFIG), "--set", "sinks.jsonl.enabled=true", "--set",
                 f'sinks.jsonl.path="{tmp_path / "ev.jsonl"}"']) == code
    assert words in capsys.readouterr().err + caplog.text


def test_check_refuses_a_serial_port_that_can_never_work_and_notes_a_missing_one(capsys,
                                                                                 tmp_path):
    """Audit (session 49): a regular file as the port passed `check`, then `run` retried it for
    ever; a missing port (a wearable not plugged in yet) is said, not refused."""
    (tmp_path / "ttyUSB0").write_text("")
    base = ["check", str(CONFIG), "--set"]
    assert main(base + [f'source.serial.port="{tmp_path / "ttyUSB0"}"']) == 2
    assert "not a serial port" in capsys.readouterr().err
    assert main(base + [f'source.serial.port="{tmp_path / "ttyACM9"}"']) == 0
    assert "not present now" in capsys.readouterr().out


@pytest.mark.parametrize("settings,words", [
    (['sinks.mqtt.tls_ca_file="{m}/ca.pem"'], "cannot read sinks.mqtt.tls_ca_file {m}/ca.pem"),
    (['sinks.mqtt.tls_cert_file="{m}/c.pem"', 'sinks.mqtt.tls_key_file="{m}/k.pem"'],
     "cannot read sinks.mqtt.tls_cert_file {m}/c.pem"),
    (['sinks.mqtt.username="1"', 'sinks.mqtt.password_file="{m}/pw"'],
     "cannot read sinks.mqtt.password_file {m}/pw"),
    (['sinks.mqtt.outbox_path="{f}/ob.sqlite"'], "is not a folder"),
])
def test_check_refuses_mqtt_files_run_would_refuse(capsys, tmp_path, settings, words):
    """Session 48 audit: ``check`` passed a missing TLS or password file and an outbox under a
    regular file, which ``run`` then refused at once (a restart loop under systemd)."""
    pytest.importorskip("paho.mqtt.client")
    (tmp_path / "afile").write_text("x")
    fill = {"m": tmp_path / "missing", "f": tmp_path / "afile"}
    argv = ["check", str(CONFIG), "--set", "sinks.mqtt.enabled=true"]
    for setting in settings:
        argv += ["--set", setting.format(**fill)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words.format(**fill) in err and "Traceback" not in err and err.count("\n") == 1


def test_check_states_the_quality_grading_and_refuses_a_floor_meant_in_microvolts(capsys):
    assert main(["check", str(CONFIG)]) == 0
    assert ("  quality: 2-s windows; noisy when HF/QRS energy > 0.35 unless quiet (HF RMS <= "
            "0.015 mV) or QRS-band amplitude > 5 mV\n") in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", "quality.quiet_hf_rms_mv=0"]) == 0
    assert "HF/QRS energy > 0.35 (quiet floor off) or" in capsys.readouterr().out
    for bad in ("15", "1e200", "inf", "-0.01"):
        assert main(["check", str(CONFIG), "--set", f"quality.quiet_hf_rms_mv={bad}"]) == 2
        err = capsys.readouterr().err.strip()
        assert "quality.quiet_hf_rms_mv: must be a number in 0..0.05 mV" in err
        assert "\n" not in err and "Traceback" not in err


def test_check_refuses_a_replay_rate_run_refuses(capsys, tmp_path, mitdb_dir):
    """Session 45 audit: a record declaring 30000 Hz passed check ("OK") while run stopped."""
    import shutil

    shutil.copy(mitdb_dir / "100.dat", tmp_path / "100.dat")
    header = (mitdb_dir / "100.hea").read_text().replace("100 2 360 ", "100 2 30000 ", 1)
    (tmp_path / "100.hea").write_text(header)
    assert main(["check", str(CONFIG), "--set", 'source.kind="replay"', "--set",
                 f'source.replay.record="{tmp_path / "100"}"']) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("the replayed record is at 30000 Hz; the device analyses ECG at "
                        "50-10000 Hz") and "\n" not in err


def test_check_states_how_link_gaps_are_handled(capsys):
    assert main(["check", str(CONFIG)]) == 0
    assert ("  link gaps: up to 3 s filled, bridged by a line (pipeline.bridge_gaps); longer "
            "ones restart the pipeline\n") in capsys.readouterr().out
    assert main(["check", str(CONFIG), "--set", "pipeline.bridge_gaps=false", "--set",
                 "pipeline.max_gap_fill_s=1.5"]) == 0
    assert "link gaps: up to 1.5 s filled, the last value held and blanked" in \
        capsys.readouterr().out
