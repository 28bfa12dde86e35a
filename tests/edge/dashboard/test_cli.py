"""``ecg-edge dashboard``: the streamlit command line, localhost unless told otherwise."""
from __future__ import annotations

import argparse
import logging

import pytest

from edge.dashboard.cli import APP_PATH, add_parser, main, streamlit_command
from edge.dashboard.config import parse_app_args
from edge.errors import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ecg-edge")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["dashboard", *argv])


def opt(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_defaults_bind_localhost_headless_without_telemetry(tmp_path):
    cmd = streamlit_command(parse("--jsonl", str(tmp_path / "ev.jsonl")))
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP_PATH)
    assert opt(cmd, "--server.address") == "127.0.0.1"
    assert opt(cmd, "--server.port") == "8501"
    assert opt(cmd, "--server.headless") == "true"
    assert opt(cmd, "--browser.gatherUsageStats") == "false"
    app = cmd[cmd.index("--") + 1:]
    assert opt(app, "--jsonl") == str(tmp_path / "ev.jsonl")


def test_exposing_is_explicit_and_warned(caplog):
    with caplog.at_level(logging.WARNING, logger="edge.dashboard.cli"):
        cmd = streamlit_command(parse("--expose", "--mqtt", "broker:1884"))
    assert opt(cmd, "--server.address") == "0.0.0.0"
    assert "no authentication" in caplog.text
    app = cmd[cmd.index("--") + 1:]
    assert opt(app, "--mqtt") == "broker:1884"


@pytest.mark.parametrize("argv,field", [(("--port", "0"), "port"),
                                        (("--address", "my host"), "address"),
                                        (("--refresh-s", "0"), "refresh_s"),
                                        # session 44 audit: silently bound 0.0.0.0
                                        (("--address", "10.0.0.5", "--expose"), "expose"),
                                        (("--jsonl", "."), "jsonl"),
                                        (("--report", __file__), "report"),
                                        (("--window-s", "1e9"), "window_s"),
                                        # session 49 audit: a redraw storm, a blank view,
                                        # a store silently not used
                                        (("--refresh-s", "1e-9"), "refresh_s"),
                                        (("--window-s", "1e-6"), "window_s"),
                                        (("--db", ""), "db"),
                                        (("--mqtt-username", "u"), "mqtt"),
                                        (("--mqtt", "h", "--mqtt-password-file", "/nope"),
                                         "--mqtt-username"),
                                        (("--mqtt", "h", "--mqtt-username", "u",
                                          "--mqtt-password-file", "/nope"),
                                         "--mqtt-password-file"),
                                        (("--mqtt", "h", "--mqtt-tls-ca-file", "/nope.pem"),
                                         "--mqtt-tls-ca-file"),
                                        (("--mqtt", "h", "--mqtt-tls-cert-file", __file__),
                                         "--mqtt-tls-key-file")])
def test_bad_options_raise_config_errors(argv, field):
    with pytest.raises(ConfigError) as err:
        streamlit_command(parse(*argv))
    assert err.value.field == field


def test_mqtt_credentials_and_tls_files_reach_the_app_absolute(tmp_path, monkeypatch):
    """Audit (session 49): the project's own broker (TLS with a site CA, a `dashboard` user)
    could not be used; the password goes as a file, never on the command line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pw").write_text("pw-dash\n")
    (tmp_path / "ca.pem").write_text("not read here")
    cmd = streamlit_command(parse("--mqtt", "gw:8883", "--mqtt-username", "dashboard",
                                  "--mqtt-password-file", "pw", "--mqtt-tls-ca-file",
                                  "ca.pem"))
    app = cmd[cmd.index("--") + 1:]
    assert opt(app, "--mqtt-username") == "dashboard"
    assert opt(app, "--mqtt-password-file") == str(tmp_path / "pw")
    assert opt(app, "--mqtt-tls-ca-file") == str(tmp_path / "ca.pem")
    assert "pw-dash" not in " ".join(cmd)
    config = parse_app_args(app)
    assert config.mqtt.read_password() == "pw-dash" and config.mqtt.uses_tls


def test_main_prints_the_command(capsys):
    assert main(["--print-command", "--port", "8600"]) == 0
    assert "--server.port 8600" in capsys.readouterr().out
    assert main(["--port", "70000"]) == 2


@pytest.mark.parametrize("db, expected", [("night.db", "{cwd}/night.db"),
                                          ("postgresql://ecg@db/clinic",
                                           "postgresql://ecg@db/clinic")])
def test_db_reaches_the_app_absolute(db, expected, tmp_path, monkeypatch):
    from edge.dashboard.config import parse_app_args

    monkeypatch.chdir(tmp_path)
    cmd = streamlit_command(parse("--db", db))
    app = cmd[cmd.index("--") + 1:]
    assert opt(app, "--db") == expected.format(cwd=tmp_path)
    assert parse_app_args(app).db == expected.format(cwd=tmp_path)


def test_a_store_that_cannot_be_opened_is_refused_before_the_server_starts(tmp_path, capsys):
    from edge.cli.main import main as ecg_edge

    empty = tmp_path / "events.jsonl"
    empty.write_text("")
    for db, words in ((tmp_path / "missing.db", "no such database file"),
                      (empty, "not an ecg-edge event store")):
        assert ecg_edge(["dashboard", "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and "http://" not in err
