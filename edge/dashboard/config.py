"""The dashboard's settings and the app's own command line (what follows ``--`` in
``streamlit run edge/dashboard/app.py -- --jsonl PATH --mqtt HOST:PORT --report DIR``).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

from edge.dashboard.feeds import JsonlFeedConfig, MqttFeedConfig, parse_host_port
from edge.dashboard.state import StateConfig
from edge.errors import ConfigError

__all__ = ["DEFAULT_REPORT_DIR", "DashboardConfig", "build_app_parser", "parse_app_args"]

#: Where ``training.evaluate`` writes the report the repository ships.
DEFAULT_REPORT_DIR = Path(__file__).resolve().parents[2] / "reports" / "beat_classifiers"


@dataclass(frozen=True, kw_only=True)
class DashboardConfig:
    """Everything the app needs.

    Attributes
    ----------
    jsonl : follow the daemon's JSONL file (None = not used).
    mqtt : subscribe to the daemon's MQTT topics (None = not used).
    report_dir : folder of an evaluation report (``report.json`` + PNG plots).
    state : buffer capacities.
    window_s : seconds of ECG strip shown.
    refresh_s : live view refresh period (s); <= 0.5 s for two updates a second.
    stale_after_s : no event for this long -> the device is shown as disconnected (s).
    hr_trend_s : heart-rate trend look-back (s of stream time).
    poll_interval_s : feed polling period of the background worker (s).
    db : the event store of ``ecg-edge ingest`` (URL or SQLite path) for the ward and
        history pages (None = those pages say how to enable them).
    """

    jsonl: JsonlFeedConfig | None = None
    mqtt: MqttFeedConfig | None = None
    report_dir: Path = DEFAULT_REPORT_DIR
    state: StateConfig = field(default_factory=StateConfig)
    window_s: float = 10.0
    refresh_s: float = 0.5
    stale_after_s: float = 5.0
    hr_trend_s: float = 60.0
    poll_interval_s: float = 0.1
    db: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "report_dir", Path(self.report_dir))
        for name in ("window_s", "refresh_s", "stale_after_s", "hr_trend_s",
                     "poll_interval_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(name, f"must be a finite number > 0 s, got {value!r}")
        if self.refresh_s < 0.1:
            raise ConfigError("refresh_s", f"must be >= 0.1 s (a faster redraw only loads the "
                                           f"gateway), got {self.refresh_s:g}")
        if self.window_s < 1.0:
            raise ConfigError("window_s", f"must be >= 1 s of ECG, got {self.window_s:g}")
        if self.db is not None and not str(self.db).strip():
            raise ConfigError("db", "must name the event store (a URL or an SQLite file)")
        if self.window_s > self.state.strip_history_s:
            raise ConfigError("window_s", f"must be <= {self.state.strip_history_s:g} s, the "
                                          f"ECG strip kept per device, got {self.window_s:g}")

    @property
    def sources(self) -> list[str]:
        """Human-readable list of the configured feeds."""
        out = []
        if self.jsonl is not None:
            out.append(f"JSONL file {self.jsonl.path}")
        if self.mqtt is not None:
            out.append(f"MQTT {self.mqtt.host}:{self.mqtt.port} "
                       f"(topics {self.mqtt.topic_prefix}/+/…)")
        return out


def add_mqtt_credentials(p: argparse.ArgumentParser) -> None:
    """The broker's credentials and TLS options (the app's and ``ecg-edge dashboard``'s)."""
    p.add_argument("--mqtt-username", default=None, help="MQTT user name")
    p.add_argument("--mqtt-password-file", default=None, metavar="PATH",
                   help="file whose first line is the MQTT password")
    p.add_argument("--mqtt-tls", action="store_true",
                   help="TLS to the broker (the system CA store unless --mqtt-tls-ca-file)")
    p.add_argument("--mqtt-tls-ca-file", default=None, metavar="PEM",
                   help="the site CA that signed the broker's certificate (turns TLS on)")
    p.add_argument("--mqtt-tls-cert-file", default=None, metavar="PEM",
                   help="client certificate (with --mqtt-tls-key-file)")
    p.add_argument("--mqtt-tls-key-file", default=None, metavar="PEM",
                   help="the client certificate's key")


#: The options :func:`add_mqtt_credentials` adds whose value is a file (made absolute when
#: ``ecg-edge dashboard`` passes them on).
MQTT_FILE_OPTIONS = ("mqtt_password_file", "mqtt_tls_ca_file", "mqtt_tls_cert_file",
                     "mqtt_tls_key_file")


def build_app_parser() -> argparse.ArgumentParser:
    """The app's options (also used by ``ecg-edge dashboard``)."""
    p = argparse.ArgumentParser(prog="edge/dashboard/app.py", add_help=False)
    p.add_argument("--jsonl", type=Path, default=None, metavar="PATH",
                   help="follow the daemon's JSON-lines event file (its --jsonl PATH)")
    p.add_argument("--mqtt", default=None, metavar="HOST[:PORT]",
                   help="subscribe to the daemon's MQTT topics")
    p.add_argument("--topic-prefix", default="ecg", help="MQTT topic prefix (default ecg)")
    add_mqtt_credentials(p)
    p.add_argument("--mqtt-password", default=None,
                   help="the password itself (visible in ps: prefer --mqtt-password-file)")
    p.add_argument("--report", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                   help=f"evaluation report folder (default {DEFAULT_REPORT_DIR})")
    p.add_argument("--db", default=None, metavar="URL",
                   help="event store of ecg-edge ingest (ward overview, wearer history)")
    p.add_argument("--window-s", type=float, default=10.0, help="seconds of ECG shown")
    p.add_argument("--refresh-s", type=float, default=0.5, help="live refresh period (s)")
    p.add_argument("--stale-after-s", type=float, default=5.0,
                   help="seconds without events before a device shows as disconnected")
    return p


def parse_app_args(argv: list[str]) -> DashboardConfig:
    """``argv`` (the app's arguments) -> :class:`DashboardConfig`; raises
    :class:`~edge.errors.ConfigError` on bad values."""
    try:
        a, _ = build_app_parser().parse_known_args(argv)
    except SystemExit as exc:  # argparse exits on bad values; we raise
        raise ConfigError("arguments", f"cannot parse {argv!r}") from exc
    mqtt = None
    if a.mqtt:
        host, port = parse_host_port(a.mqtt)
        mqtt = MqttFeedConfig(host=host, port=port, topic_prefix=a.topic_prefix,
                              username=a.mqtt_username, password=a.mqtt_password,
                              password_file=a.mqtt_password_file, tls=a.mqtt_tls,
                              tls_ca_file=a.mqtt_tls_ca_file, tls_cert_file=a.mqtt_tls_cert_file,
                              tls_key_file=a.mqtt_tls_key_file)
    elif any(getattr(a, k) for k in ("mqtt_username", "mqtt_password", "mqtt_tls",
                                     *MQTT_FILE_OPTIONS)):
        raise ConfigError("mqtt", "the MQTT credentials and TLS options need --mqtt HOST")
    return DashboardConfig(jsonl=JsonlFeedConfig(path=a.jsonl) if a.jsonl else None,
                           mqtt=mqtt, report_dir=a.report, window_s=a.window_s,
                           refresh_s=a.refresh_s, stale_after_s=a.stale_after_s, db=a.db)
