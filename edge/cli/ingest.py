"""``ecg-edge ingest``: store the fleet's events (MQTT or JSON-lines files) in a database.

::

    ecg-edge ingest --db night.db --jsonl events.jsonl
    ecg-edge ingest --db postgresql://ecg@db/clinic --mqtt broker.site:8883 \\
        --username ingest --password-file /etc/ecg-edge/ingest.secret --tls-ca-file ca.crt \\
        --client-id ingest-1 --share ingest
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from edge.cli.common import add_common, positive_float, positive_int
from edge.errors import ConfigError

__all__ = ["add_parser", "cmd_ingest", "parse_mqtt_address"]

logger = logging.getLogger(__name__)


def parse_mqtt_address(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` -> ``(host, port)`` (port 1883 by default).

    Raises
    ------
    ConfigError
        A malformed address.
    """
    host, sep, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host or (sep and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ConfigError("--mqtt", f"expected HOST or HOST:PORT, got {text!r}")
    return host, int(port) if port else 1883


def cmd_ingest(args: argparse.Namespace) -> int:
    from edge.store import EventStore, parse_retention
    from edge.store.ingest import MqttIngest, MqttIngestSettings, import_jsonl

    retention = parse_retention(args.retention)
    if args.jsonl:
        from edge.store.ingest import IngestCounters, check_jsonl_paths

        counters = IngestCounters()
        check_jsonl_paths(args.jsonl)  # before the database is created or written
        with EventStore.open(args.db) as store:
            try:
                import_jsonl(store, args.jsonl, batch_max=args.batch_max, counters=counters)
            except KeyboardInterrupt:
                print(f"ecg-edge ingest: interrupted; {counters.stored} events committed "
                      f"before it (importing the same files again skips them)",
                      file=sys.stderr)
                return 130
            if not args.no_prune:
                removed = store.prune(retention)
                if any(removed.values()):
                    print("ecg-edge ingest: retention removed " + ", ".join(
                        f"{n} {t}" for t, n in removed.items() if n) + " (older than kept)",
                        file=sys.stderr)
    else:
        host, port = parse_mqtt_address(args.mqtt)
        settings = MqttIngestSettings(
            host=host, port=port, topic_prefix=args.topic_prefix, client_id=args.client_id,
            share_group=args.share, username=args.username, password_file=args.password_file,
            tls=args.tls, tls_ca_file=args.tls_ca_file, tls_cert_file=args.tls_cert_file,
            tls_key_file=args.tls_key_file, protocol=args.protocol, batch_max=args.batch_max)
        ingest = MqttIngest(settings, args.db, retention=None if args.no_prune else retention)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            if args.retire:
                counters = ingest.retire(stop, idle_s=args.idle_exit_s or 3.0,
                                         connect_timeout_s=args.connect_timeout_s)
                if stop.is_set():
                    print(f"ecg-edge ingest: interrupted; session {args.client_id!r} kept at "
                          f"{host}:{port} (run --retire again to finish)", file=sys.stderr)
                else:
                    print(f"ecg-edge ingest: session {args.client_id!r} retired at "
                          f"{host}:{port}", file=sys.stderr)
            else:
                counters = ingest.run(stop, idle_exit_s=args.idle_exit_s,
                                      connect_timeout_s=args.connect_timeout_s)
        finally:
            ingest.close()
    if args.json:
        print(json.dumps(counters.as_dict(), sort_keys=True))
    print(f"ecg-edge ingest: {counters.summary()}", file=sys.stderr)
    if counters.malformed:
        fields = ", ".join(f"{k} {n}" for k, n in counters.malformed_by_field.most_common(5))
        print(f"ecg-edge ingest: malformed payloads by field: {fields}", file=sys.stderr)
    if args.jsonl and counters.received and counters.malformed == counters.received:
        print("ecg-edge ingest: error: nothing stored: no line of the files is an ecg-edge "
              "event (ecg-edge run --jsonl writes them)", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:  # noqa: ANN001 - argparse's private type
    """Add ``ingest`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser(
        "ingest", help="store events from MQTT or JSON-lines files in SQLite or PostgreSQL",
        description="Store the fleet's events in a database (SQLite file or postgresql:// URL; "
        "schema created or upgraded on start), idempotent on (device_id, boot, seq). MQTT: "
        "a persistent QoS 1 session, each message acknowledged only after its row is "
        "committed. Malformed payloads are counted and logged, never fatal.")
    p.add_argument("--db", required=True, metavar="URL",
                   help="postgresql://user@host/db, sqlite:///path.db or a file path")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mqtt", metavar="HOST[:PORT]", help="subscribe to the fleet's broker")
    src.add_argument("--jsonl", nargs="+", metavar="FILE",
                     help="import JSON-lines files (ecg-edge run --jsonl) and exit")
    m = p.add_argument_group("MQTT (as the daemon's [sinks.mqtt])")
    m.add_argument("--topic-prefix", default="ecg", help="topic prefix (default ecg)")
    m.add_argument("--client-id", default="ecg-edge-ingest",
                   help="persistent session id, one per ingest process (default "
                        "ecg-edge-ingest)")
    m.add_argument("--share", metavar="GROUP", default=None,
                   help="shared subscription $share/GROUP/...: processes of one group split "
                        "the messages")
    m.add_argument("--retire", action="store_true",
                   help="retire the worker --client-id: unsubscribe, store what the broker "
                        "queued for it, delete its session, exit (an offline member of a "
                        "--share group keeps receiving its share)")
    m.add_argument("--username", default=None, help="MQTT user name")
    m.add_argument("--password-file", default=None, metavar="PATH",
                   help="file whose first line is the password")
    m.add_argument("--tls", action="store_true", help="TLS with the system CA store")
    m.add_argument("--tls-ca-file", default=None, metavar="PEM",
                   help="the site CA that signed the broker's certificate (turns TLS on)")
    m.add_argument("--tls-cert-file", default=None, metavar="PEM",
                   help="client certificate (with --tls-key-file)")
    m.add_argument("--tls-key-file", default=None, metavar="PEM",
                   help="the client certificate's key")
    m.add_argument("--protocol", default="3.1.1", choices=("5", "3.1.1"),
                   help="MQTT version of the session (default 3.1.1: less CPU per event in "
                        "paho; both keep a persistent session and support --share)")
    m.add_argument("--connect-timeout-s", type=positive_float, default=10.0,
                   help="give up at start when the broker does not answer (default 10 s; "
                        "later outages are waited out)")
    m.add_argument("--idle-exit-s", type=positive_float, default=None,
                   help="exit after this long without a message (default: run until "
                        "Ctrl-C / SIGTERM)")
    p.add_argument("--batch-max", type=positive_int, default=2000,
                   help="most events per transaction")
    p.add_argument("--retention", action="append", metavar="TYPE=DURATION",
                   help="keep TYPE (beat, alert, hr, strip, status/link/quality) this long, "
                        "e.g. strip=2d; 0 = for ever. Defaults: beat 30d, alert 365d, "
                        "hr 90d, strip 7d, status 30d")
    p.add_argument("--no-prune", action="store_true", help="never delete old rows")
    p.add_argument("--json", action="store_true", help="print the counters as JSON")
    add_common(p)
    p.set_defaults(func=cmd_ingest)
    return p
