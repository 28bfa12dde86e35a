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


