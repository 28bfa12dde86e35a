"""``ecg-edge dashboard``: start the Streamlit live view (``edge/dashboard/app.py``).

Hooked into ``edge.cli.main.build_parser()`` with::

    from edge.dashboard.cli import add_parser as add_dashboard_parser
    add_dashboard_parser(sub)

The server binds to 127.0.0.1 unless ``--address`` or ``--expose`` says otherwise: the
dashboard has no authentication, so exposing it on a network is an explicit choice.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import subprocess
import sys
import threading
from pathlib import Path

from edge.dashboard.config import (
    DEFAULT_REPORT_DIR,
    MQTT_FILE_OPTIONS,
    add_mqtt_credentials,
    parse_app_args,
)
from edge.errors import ConfigError

__all__ = ["APP_PATH", "add_parser", "main", "run_dashboard", "streamlit_command"]

logger = logging.getLogger(__name__)

#: The Streamlit script.
APP_PATH = Path(__file__).resolve().parent / "app.py"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``dashboard`` sub-command to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "dashboard", help="live monitoring dashboard in the browser (Streamlit): ECG strip, "
        "heart rate, beat classes, alerts; and the model evaluation report",
        description=" ".join(__doc__.split("\n\n")[0].replace("``", "").split()))
    p.add_argument("--jsonl", type=Path, default=None, metavar="PATH",
                   help="follow the daemon's JSON-lines events (ecg-edge run --jsonl PATH)")
    p.add_argument("--mqtt", default=None, metavar="HOST[:PORT]",
                   help="subscribe to the daemon's MQTT topics")
    p.add_argument("--topic-prefix", default="ecg", help="MQTT topic prefix (default ecg)")
    add_mqtt_credentials(p)
    p.add_argument("--db", default=None, metavar="URL",
                   help="event store of ecg-edge ingest: adds the ward overview and each "
                        "wearer's history (postgresql://... or an SQLite file)")
    p.add_argument("--report", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                   help=f"evaluation report folder (default {DEFAULT_REPORT_DIR})")
    p.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--expose", action="store_true",
                   help="bind 0.0.0.0: reachable from the network (no authentication!)")
    p.add_argument("--refresh-s", type=float, default=0.5, help="live refresh period (s)")
    p.add_argument("--window-s", type=float, default=10.0, help="seconds of ECG shown")
    p.add_argument("--print-command", action="store_true",
                   help="print the streamlit command instead of running it")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.set_defaults(func=run_dashboard)
    return p


def _app_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    if args.jsonl is not None:
        out += ["--jsonl", str(Path(args.jsonl).resolve())]
    if args.mqtt:
        out += ["--mqtt", args.mqtt, "--topic-prefix", args.topic_prefix]
    if args.mqtt_username:
        out += ["--mqtt-username", args.mqtt_username]
    if args.mqtt_tls:
        out += ["--mqtt-tls"]
    for key in MQTT_FILE_OPTIONS:
        if getattr(args, key):
            out += ["--" + key.replace("_", "-"),
                    str(Path(getattr(args, key)).expanduser().resolve())]
    if args.db:
        db = args.db if "://" in args.db or args.db.startswith("sqlite:") \
            else str(Path(args.db).resolve())
        out += ["--db", db]
    out += ["--report", str(Path(args.report).resolve()), "--refresh-s", f"{args.refresh_s:g}",
            "--window-s", f"{args.window_s:g}"]
    return out


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``python -m streamlit run ...`` command for parsed ``dashboard`` arguments.

    Raises
    ------
    ConfigError
        On a bad port, address or app option.
    """
    if not 0 < args.port < 65536:
        raise ConfigError("port", f"must lie in 1..65535, got {args.port}")
    if args.expose and args.address != "127.0.0.1":
        raise ConfigError("expose", f"binds 0.0.0.0 (every address); give it or --address "
                                    f"{args.address}, not both")
    if args.db is not None and not args.db.strip():
        raise ConfigError("db", "must name the event store (a URL or an SQLite file)")
    if args.jsonl is not None and Path(args.jsonl).is_dir():
        raise ConfigError("jsonl", f"{args.jsonl} is a folder; give the events file "
                                   f"(ecg-edge run --jsonl PATH)")
    if Path(args.report).exists() and not Path(args.report).is_dir():
        raise ConfigError("report", f"{args.report} is a file; give the report folder")
    address = "0.0.0.0" if args.expose else args.address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if address != "localhost":
            raise ConfigError("address", f"must be an IP address or localhost, got "
                                         f"{address!r}") from None
        ip = ipaddress.ip_address("127.0.0.1")
    if not ip.is_loopback:
        logger.warning("the dashboard will be reachable from the network on %s:%d and has no "
                       "authentication", address, args.port)
    app_args = _app_args(args)
    try:
        config = parse_app_args(app_args)  # validate now, not in the browser
        if config.mqtt is not None:
            config.mqtt.check_files()
    except ConfigError as exc:  # named by the option typed
        option = {"password_file": "--mqtt-password-file", "username": "--mqtt-username",
                  "tls": "--mqtt-tls",
                  "tls_ca_file": "--mqtt-tls-ca-file", "tls_cert_file": "--mqtt-tls-cert-file",
                  "tls_key_file": "--mqtt-tls-key-file"}.get(exc.field)
        if option is None:
            raise
        raise ConfigError(option, exc.rule) from None
    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
            "--server.address", address, "--server.port", str(args.port),
            "--server.headless", "true", "--server.runOnSave", "false",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer",
            "--", *app_args]


def run_dashboard(args: argparse.Namespace) -> int:
    """Handler of ``ecg-edge dashboard``: run streamlit until it exits (Ctrl-C stops it)."""
    cmd = streamlit_command(args)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    if args.db:  # the store opens now, or its error is one line here, not in the browser
        from edge.store import EventStore

        with EventStore.open(args.db, must_exist=True, connect_timeout_s=5.0):
            pass
    import importlib.util
    if importlib.util.find_spec("streamlit") is None:
        print("ecg-edge dashboard: error: the dashboard needs Streamlit: "
              "pip install 'ecg-edge[dashboard]'", file=sys.stderr)
        return 2
    if args.jsonl is None and not args.mqtt and not args.db:
        logger.warning("no --jsonl, --mqtt or --db: the live view will show no data")
    address = cmd[cmd.index("--server.address") + 1]
    print(f"ecg-edge dashboard: http://{address}:{args.port}/ (Ctrl-C to stop)",
          file=sys.stderr)
    proc = subprocess.Popen(cmd)
    return _serve(proc)


def _serve(proc: subprocess.Popen) -> int:
    """Wait for the Streamlit server; Ctrl-C or SIGTERM (a service manager stopping the
    dashboard) stops it too -- it held the port after its parent was gone."""
    import signal

    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        proc.terminate()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
        return 128 + stopped[0] if stopped else code
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """``python -m edge.dashboard.cli [options]``: the ``dashboard`` sub-command on its own
    (an entry point: configures logging)."""
    parser = argparse.ArgumentParser(prog="python -m edge.dashboard.cli")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["dashboard", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_dashboard(args)
    except ConfigError as exc:
        print(f"ecg-edge dashboard: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
