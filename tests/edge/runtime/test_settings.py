import pytest

from edge.cli.main import main
from edge.errors import ConfigError, ConfigFileError
from edge.runtime.settings import apply_overrides, load_config


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_defaults_file_and_overrides(tmp_path):
    p = write(tmp_path, '[source]\nkind = "replay"\n[source.replay]\nrecord = "100"\n'
                        'speed = "max"\n[alerts]\npause_s = 3\n')
    cfg = load_config(p, ["alerts.tachy_bpm=160", "sinks.jsonl.enabled=true"])
    assert cfg.alerts.pause_s == 3.0 and cfg.alerts.tachy_bpm == 160
    assert cfg.source.transport_config().speed is None and cfg.sinks.jsonl.enabled
    assert apply_overrides({}, ["a.b=x y"]) == {"a": {"b": "x y"}}


@pytest.mark.parametrize("text,overrides,field", [
    ("", [], "source.serial.port"),
    ('[source.serial]\nport = "/dev/x"\nbaudrate = -5\n', [], "source.serial.baudrate"),
    ('[source.serial]\nport = "/dev/x"\n[alerts]\npause_s = 0\n', [], "alerts.pause_s"),
    ('[source.serial]\nport = "/dev/x"\n[sinks.jsonl]\nmaxbytes = 1\n', [],
     "sinks.jsonl.maxbytes"),
    ('[source.serial]\nport = "/dev/x"\n', ["quality.window_s=0.01"], "quality.window_s"),
    # session 49 audit: accepted, then no quality event within 20 s of a lead-off, or a
    # day-long outage "filled"
    ('[source.serial]\nport = "/dev/x"\n', ["quality.window_s=1000"], "quality.window_s"),
    ('[source.serial]\nport = "/dev/x"\n', ["pipeline.max_gap_fill_s=1e6"],
     "pipeline.max_gap_fill_s"),
    ('[source.serial]\nport = "/dev/x"\n', ["sinks.mqtt.port=70000"], "sinks.mqtt.port"),
    ('[source.serial]\nport = "/dev/x"\n', ["source.kind=\"usb\""], "source.kind"),
    ('[source.serial]\nport = "/dev/x"\n', ["outputs.strip_fs_hz=0"], "outputs.strip_fs_hz"),
    ('[source.serial]\nport = "/dev/x"\n[bogus]\n', [], "bogus"),
])
def test_errors_name_the_field(tmp_path, text, overrides, field):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), overrides)
    assert err.value.field == field and field in str(err.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigFileError):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigFileError) as err:
        load_config(write(tmp_path, "[source\n"))
    assert "TOML" in str(err.value)


def test_check_command(tmp_path, int8_model, capsys):
    good = write(tmp_path, f'[source.serial]\nport = "/dev/ttyACM0"\n[pipeline]\n'
                           f'model = "{int8_model}"\n')
    assert main(["check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["check", str(good), "--set", "alerts.brady_bpm=500"]) == 2
    assert "alerts.brady_bpm" in capsys.readouterr().err
    assert main(["check", str(good), "--set", 'pipeline.model="/nonexistent.tflite"']) == 2


# -- typed values (issue 14, bad input 6) ----------------------------------------------------

SERIAL = '[source.serial]\nport = "/dev/x"\n'


@pytest.mark.parametrize("text,field,rule", [
    ('[sinks.jsonl]\nenabled = "false"\n', "sinks.jsonl.enabled",
     "expected true or false, got 'false'"),
    ('[sinks.terminal]\nbeats = 1\n', "sinks.terminal.beats", "expected true or false, got 1"),
    ('[alerts]\nvrun_min_beats = 2.7\n', "alerts.vrun_min_beats",
     "expected an integer, got 2.7"),
    ('[alerts]\nrate_min_beats = true\n', "alerts.rate_min_beats",
     "expected an integer, got True"),
    ('[alerts]\npause_s = "long"\n', "alerts.pause_s", "expected a number, got 'long'"),
    ('baudrate = "fast"\n', "source.serial.baudrate",
     "expected an integer, got 'fast'"),
    ('[source]\nchannel = 1.0\n', "source.channel", "expected an integer, got 1.0"),
    ('[quality]\nqrs_band_hz = [5, "a"]\n', "quality.qrs_band_hz[1]",
     "expected a number, got 'a'"),
    ('[quality]\nqrs_band_hz = [5, 10, 15]\n', "quality.qrs_band_hz",
     "expected a list of 2 values, got [5, 10, 15]"),
    ('[sinks.jsonl]\ntypes = "beat"\n', "sinks.jsonl.types", "expected a list, got 'beat'"),
    ('[sinks.mqtt]\nprotocol = 5\n', "sinks.mqtt.protocol",
     'expected a string, got 5 (quote it: "5")'),
    ('[pipeline]\nmodel = 3\n', "pipeline.model", 'expected a string, got 3 (quote it: "3")'),
    ('[outputs]\nstrip = "yes"\n', "outputs.strip", "expected true or false, got 'yes'"),
])
def test_values_must_have_their_fields_type(tmp_path, text, field, rule):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SERIAL + text))
    assert err.value.field == field and err.value.rule == rule
    assert str(err.value) == f"{field}: {rule}"


def test_replay_tables_are_typed_too(tmp_path):
    base = '[source]\nkind = "replay"\n[source.replay]\nrecord = "100"\n'
    cfg = load_config(write(tmp_path, base + 'sample_format = "int24"\nchannels = [0]\n'
                                             "[source.replay.faults]\nber = 0.001\n"))
    replay = cfg.source.transport
    assert replay.sample_format.name == "INT24" and replay.channels == (0,)
    assert replay.faults.ber == 0.001
    for text, field in [('[source.replay.faults]\nber = "x"\n', "source.replay.faults.ber"),
                        ("[source.replay.faults]\nber = 0.9\n", "source.replay.faults.ber"),
                        ("[source.replay.faults]\nnope = 1\n", "source.replay.faults.nope"),
                        ('speed = "fast"\n', "source.replay.speed")]:
        with pytest.raises(ConfigError) as err:
            load_config(write(tmp_path, base + text))
        assert err.value.field == field, text


def test_ints_become_floats_and_lists_tuples(tmp_path):
    cfg = load_config(write(tmp_path, SERIAL + "[alerts]\npause_s = 3\n"
                                               "[quality]\nqrs_band_hz = [4, 16]\n"
                                               '[sinks.jsonl]\ntypes = ["beat", "alert"]\n'))
    assert type(cfg.alerts.pause_s) is float and cfg.alerts.pause_s == 3.0
    assert cfg.quality.qrs_band_hz == (4.0, 16.0)
    assert all(type(v) is float for v in cfg.quality.qrs_band_hz)
    assert cfg.sinks.jsonl.types == ("beat", "alert")


def test_rules_of_other_classes_are_rekeyed_from_attributes(tmp_path):
    """A rule broken in AlertConfig / QualityConfig / SerialConfig keeps its text and gains its
    table's name (carried in ``field``/``rule``, not parsed from the message)."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SERIAL + "[alerts]\nvrun_min_beats = 1\n"))
    assert err.value.field == "alerts.vrun_min_beats" and err.value.rule == "must be >= 2, got 1"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SERIAL + "[quality]\nwindow_s = 0.01\n"))
    assert err.value.field == "quality.window_s" and err.value.rule.startswith("must hold")


def test_quality_is_a_typed_dataclass_derived_from_quality_config(tmp_path):
    import dataclasses

    from edge.dsp.quality import QualityConfig
    from edge.runtime.settings import QualitySettings

    ours = {f.name: f.default for f in dataclasses.fields(QualitySettings)}
    theirs = {f.name: f.default for f in dataclasses.fields(QualityConfig) if f.name != "fs_hz"}
    assert ours == theirs
    cfg = load_config(write(tmp_path, SERIAL + "[quality]\nwindow_s = 1.5\n"))
    assert isinstance(cfg.quality, QualitySettings) and cfg.quality.window_s == 1.5
    q = cfg.quality_config(250.0)
    assert isinstance(q, QualityConfig) and q.fs_hz == 250.0 and q.window_s == 1.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.quality.window_s = 3.0
    with pytest.raises(ConfigError) as err:  # valid at 360 Hz, too short at 20 Hz
        load_config(write(tmp_path, SERIAL + "[quality]\nwindow_s = 0.1\n")).quality_config(60)
    assert err.value.field == "quality.window_s"
    with pytest.raises(ConfigFileError) as err:
        load_config(write(tmp_path, SERIAL + "[quality]\nfs_hz = 250\n"))
    assert err.value.field == "quality.fs_hz"


def test_typed_options_after_overrides(tmp_path):
    p = write(tmp_path, SERIAL + "[alerts]\npause_s = 3\n")
    cfg = load_config(p, ["alerts.pause_s=4", "source.channel=1"],
                      {"source.kind": "replay", "source.replay.record": "100",
                       "source.replay.speed": None, "source.channel": 0})
    assert cfg.alerts.pause_s == 4.0 and cfg.source.channel == 0
    assert cfg.source.kind == "replay" and cfg.source.transport.speed is None
    with pytest.raises(ConfigError) as err:
        load_config(p, [], {"sinks.jsonl.enabled": "false"})
    assert err.value.field == "sinks.jsonl.enabled"


def test_unknown_keys_name_the_file(tmp_path):
    p = write(tmp_path, SERIAL + "[alerts]\npause = 3\n")
    with pytest.raises(ConfigFileError) as err:
        load_config(p)
    assert err.value.field == "alerts.pause" and err.value.path == str(p)
    assert "pause_s" in err.value.rule and str(p) in str(err.value)


def test_an_unknown_key_from_set_is_not_blamed_on_the_file(tmp_path):
    """Audit (session 49): `--config base.toml --set foo.bar=1` said "(in base.toml)"."""
    p = write(tmp_path, SERIAL)
    with pytest.raises(ConfigFileError) as err:
        load_config(p, ["foo.bar=1"])
    assert err.value.field == "foo" and err.value.path is None
    assert str(err.value).endswith("(from --set)") and str(p) not in str(err.value)
    with pytest.raises(ConfigFileError) as err:  # in the file and set again: the file's
        load_config(write(tmp_path, SERIAL + "[alerts]\npause = 3\n"), ["alerts.pause=4"])
    assert err.value.path is not None


def test_deploy_example_loads():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[3] / "deploy" / "ecg-edge.toml")
    assert cfg.source.kind == "serial" and cfg.sinks.enabled() == ["jsonl"]
    assert cfg.sinks.mqtt.outbox_path and type(cfg.sinks.mqtt.drain_timeout_s) is float


def test_rhythm_preset_sets_the_handheld_defaults_a_key_of_its_own_wins(tmp_path):
    monitor = load_config(write(tmp_path, SERIAL))
    assert monitor.rhythm.preset == "monitor"
    assert (monitor.rhythm.vf.models, monitor.rhythm.vflutter.confirm,
            monitor.rhythm.vt.alarm_min_beats) == ("monitor", False, 3)
    hand = load_config(write(tmp_path, SERIAL + '[rhythm]\npreset = "handheld"\n'))
    assert (hand.rhythm.vf.models, hand.rhythm.vflutter.confirm,
            hand.rhythm.vt.alarm_min_beats) == ("handheld", True, 5)
    assert hand.rhythm.vf.model_file.name == "rhythm_vf_handheld.json"
    # keys of their own win, in the file or on the command line; other keys are untouched
    mixed = load_config(write(tmp_path, SERIAL + '[rhythm]\npreset = "handheld"\n'
                              "[rhythm.vt]\nalarm_min_beats = 4\nlearning_beats = 7\n"),
                        ["rhythm.vflutter.confirm=false"])
    assert (mixed.rhythm.vf.models, mixed.rhythm.vflutter.confirm,
            mixed.rhythm.vt.alarm_min_beats, mixed.rhythm.vt.learning_beats) == \
        ("handheld", False, 4, 7)
    by_override = load_config(write(tmp_path, SERIAL), ['rhythm.preset="handheld"'])
    assert by_override.rhythm == hand.rhythm
    # the deploy example's preset line switches it too (its three keys are commented out)
    from pathlib import Path

    deploy = Path(__file__).resolve().parents[3] / "deploy" / "ecg-edge.toml"
    assert load_config(deploy, ['rhythm.preset="handheld"']).rhythm.vt.alarm_min_beats == 5


@pytest.mark.parametrize("value, rule", [('"ward"', "must be one of 'monitor', 'handheld'"),
                                         ("1", "expected a string")])
def test_rhythm_preset_errors(tmp_path, value, rule):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SERIAL + f"[rhythm]\npreset = {value}\n"))
    assert err.value.field == "rhythm.preset" and rule in str(err.value)
