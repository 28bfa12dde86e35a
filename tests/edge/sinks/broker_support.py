"""Helpers for the MQTT tests: a real Mosquitto broker on a free loopback port (started and
stopped by the test, never a system service), a collecting subscriber, and a test CA made
with ``openssl``."""
from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEPLOY_ACL = REPO / "deploy" / "mosquitto" / "acl"


def free_port() -> int:
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def wait_until(predicate, timeout_s: float = 60.0) -> bool:  # noqa: ANN001
    """Poll ``predicate`` every 50 ms until it holds or ``timeout_s`` passes; its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def need_mosquitto() -> None:
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto broker not installed (apt-get install mosquitto)")


class Broker:
    """A mosquitto process with a generated configuration; :meth:`stop` / :meth:`start`
    keep the port and the persistence directory (so queued messages of persistent sessions
    survive a restart, as with a real deployment)."""

    def __init__(self, workdir: Path, *, extra: str = "", port: int | None = None,
                 anonymous: bool = True, tls_port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        # "user": mosquitto started as root drops to this user; keep ours so it can read the
        # files the test wrote
        lines = [f"user {getpass.getuser()}", "per_listener_settings false",
                 f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {'true' if anonymous else 'false'}",
                 "persistence true", f"persistence_location {self.workdir}/",
                 "max_queued_messages 100000", "max_inflight_messages 100",
                 f"log_dest file {self.log}", "log_type error", "log_type warning",
                 "log_type notice", extra]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 5.0) -> Broker:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(f"mosquitto exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Subscriber:
    """Collects ``(topic, payload dict, t_receive_s)`` from ``ecg/#`` with a persistent
    session (QoS 1), so nothing published while it reconnects is lost."""

    def __init__(self, port: int, *, topic: str = "ecg/#", client_id: str = "test-sub",
                 username: str | None = None, password: str | None = None,
                 tls_ca: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict, float]] = []
        self._lock = threading.Lock()
        self.topic = topic
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False)
        if username:
            self.client.username_pw_set(username, password)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = {"raw": msg.payload}
        with self._lock:
            self.messages.append((msg.topic, payload, time.time()))

    def snapshot(self) -> list[tuple[str, dict, float]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout_s: float) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.05)
        return predicate(self.snapshot())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def events(messages: list[tuple[str, dict, float]], device_id: int = 1) -> list[dict]:
    """Event payloads (not presence) of one device, in arrival order."""
    return [p for t, p, _ in messages
            if t.startswith(f"ecg/{device_id}/") and p.get("type") not in (None, "presence")]


def make_test_ca(out: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 / localhost, with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    out.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, cwd=out, capture_output=True,
                       timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key",
        "-out", "ca.crt", "-subj", "/CN=ecg-edge test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (out / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return {"ca": out / "ca.crt", "cert": out / "server.crt", "key": out / "server.key"}


class Relay:
    """A TCP relay on a free loopback port in front of ``127.0.0.1:<upstream_port>`` that can
    stop forwarding without closing anything -- a half-open link as a dropped Wi-Fi makes it
    (no FIN, no RST; nothing leaves the machine).

    :meth:`freeze` kills every current connection silently (its bytes are no longer read or
    forwarded, its sockets stay open) and does the same to connections accepted while frozen;
    :meth:`heal` lets new connections through again (the frozen ones stay dead, as a TCP
    connection across a lost route does)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self.frozen = False
        self._closed = False
        self._lock = threading.Lock()
        self._conns: list[dict] = []
        self.n_accepted = 0
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.n_accepted += 1
            conn = {"client": client, "upstream": None, "dead": self.frozen}
            if not conn["dead"]:
                try:
                    conn["upstream"] = socket.create_connection(
                        ("127.0.0.1", self.upstream_port), timeout=2.0)
                except OSError:
                    client.close()  # broker down: refuse as the broker would
                    continue
            with self._lock:
                self._conns.append(conn)
            if conn["upstream"] is not None:
                for src, dst in (("client", "upstream"), ("upstream", "client")):
                    threading.Thread(target=self._pump, args=(conn, src, dst),
                                     daemon=True).start()

    def _pump(self, conn: dict, src: str, dst: str) -> None:
        import select

        a, b = conn[src], conn[dst]
        while not self._closed:
            if conn["dead"]:
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select.select([a], [], [], 0.05)
                if not ready or conn["dead"]:
                    continue
                data = a.recv(65536)
                if not data:
                    b.shutdown(socket.SHUT_WR)
                    return
                b.sendall(data)
            except OSError:
                return

    def freeze(self) -> None:
        """Stop forwarding, close nothing."""
        with self._lock:
            self.frozen = True
            for c in self._conns:
                c["dead"] = True

    def heal(self) -> None:
        """Forward new connections again."""
        self.frozen = False

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for c in self._conns:
                for k in ("client", "upstream"):
                    if c[k] is not None:
                        c[k].close()
