"""Fixtures of the store tests: one real PostgreSQL server per session, and ``db_url``, a
fresh empty database on each backend (SQLite file, PostgreSQL database)."""
from __future__ import annotations

import pytest

from tests.edge.store.pg_support import PostgresServer, need_postgres


@pytest.fixture(scope="session")
def pg_server():
    need_postgres()
    server = PostgresServer().start()
    yield server
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return request.getfixturevalue("pg_server").new_database()
