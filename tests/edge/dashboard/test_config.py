"""The app's arguments -> DashboardConfig."""
from __future__ import annotations

from pathlib import Path

import pytest

from edge.dashboard.config import DEFAULT_REPORT_DIR, DashboardConfig, parse_app_args
from edge.dashboard.state import StateConfig
from edge.errors import ConfigError


def test_parse_app_args():
    c = parse_app_args(["--jsonl", "ev.jsonl", "--mqtt", "pi.local:1884", "--topic-prefix",
                        "w3", "--report", "r", "--refresh-s", "0.25"])
    assert c.jsonl.path == Path("ev.jsonl")
    assert (c.mqtt.host, c.mqtt.port, c.mqtt.topic_prefix) == ("pi.local", 1884, "w3")
    assert c.report_dir == Path("r") and c.refresh_s == 0.25
    assert len(c.sources) == 2


def test_defaults_have_no_source_and_ignore_foreign_arguments():
    c = parse_app_args(["tests/edge/dashboard", "-q"])
    assert c.jsonl is None and c.mqtt is None and c.sources == []
    assert c.report_dir == DEFAULT_REPORT_DIR and c.refresh_s <= 0.5  # >= 2 updates/s


@pytest.mark.parametrize("field,kw", [("refresh_s", {"refresh_s": 0}),
                                      ("window_s", {"window_s": float("nan")}),
                                      ("window_s", {"window_s": 60.0,
                                                    "state": StateConfig(strip_history_s=30)})])
def test_errors_name_the_field(field, kw):
    with pytest.raises(ConfigError) as err:
        DashboardConfig(**kw)
    assert err.value.field == field


def test_bad_argument_values_raise_config_errors():
    with pytest.raises(ConfigError):
        parse_app_args(["--refresh-s", "fast"])
    with pytest.raises(ConfigError) as err:
        parse_app_args(["--mqtt", "host:port"])
    assert err.value.field == "mqtt"


def test_the_default_report_is_found_from_any_working_directory(tmp_path, monkeypatch):
    """Session 44 audit: the default was relative to the working directory, so the report
    page said "no report found" unless started from the repository."""
    monkeypatch.chdir(tmp_path)
    c = parse_app_args([])
    assert c.report_dir.is_absolute() and c.report_dir.is_dir()
