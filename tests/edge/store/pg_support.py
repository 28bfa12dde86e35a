"""A real PostgreSQL server for the tests and the ingest benchmark: ``initdb`` of a temporary
cluster, started with ``pg_ctl`` on a free loopback port (never a system service), stopped and
deleted at the end. As root (CI), the server runs as the ``postgres`` user (``nobody`` when
there is none) through ``runuser``, since PostgreSQL refuses to run as root."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.edge.sinks.broker_support import free_port


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (``initdb``, ``pg_ctl``), or None."""
    for candidate in [shutil.which(name), f"/usr/local/bin/{name}",
                      *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def need_postgres() -> None:
    pytest.importorskip("psycopg")
    if pg_bin("initdb") is None or pg_bin("pg_ctl") is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")


class PostgresServer:
    """A throw-away cluster on ``127.0.0.1:<port>``, superuser ``ecg`` with trust auth.

    Parameters
    ----------
    fsync : ``False`` for the tests (faster; the tests kill ingest, not the server), ``True``
        for the benchmark (a real server's durability).
    """

    def __init__(self, *, fsync: bool = False) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ecg-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.fsync = fsync
        self.prefix = _run_as()
        if self.prefix:
            os.chmod(self.root, 0o755)
            user = self.prefix[2]
            pw = pwd.getpwnam(user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._n = 0

    def _cmd(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=timeout)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._cmd(pg_bin("initdb"), "-D", str(self.data), "-U", "ecg", "--auth=trust",
                      "-E", "UTF8", "--no-sync")
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.root} -c max_connections=50 "
                f"-c fsync={'on' if self.fsync else 'off'} "
                f"-c synchronous_commit={'on' if self.fsync else 'off'}")
        try:
            self._cmd(pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log),
                      "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r} {log}") from None
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._cmd(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                          "stop", timeout=60)
            except subprocess.CalledProcessError:
                pass

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://ecg@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
