import pytest

from edge.errors import StoreError
from edge.store import parse_store_url


@pytest.mark.parametrize("text, dialect, target", [
    ("night.db", "sqlite", "night.db"),
    ("sqlite:///tmp/x.db", "sqlite", "/tmp/x.db"),
    ("sqlite:rel.db", "sqlite", "rel.db"),
    ("postgresql://u:pw@h:5432/db", "postgresql", "postgresql://u:pw@h:5432/db"),
    ("postgres://h/db", "postgresql", "postgres://h/db"),
])
def test_parse(text, dialect, target):
    u = parse_store_url(text)
    assert (u.dialect, u.target) == (dialect, target)


def test_password_is_masked_in_display():
    assert parse_store_url("postgresql://u:pw@h/db").display == "postgresql://u:***@h/db"


@pytest.mark.parametrize("text, match", [("", "expected a database URL"),
                                         ("mysql://h/db", "unsupported database 'mysql'"),
                                         ("sqlite://", "without a file path")])
def test_refused(text, match):
    with pytest.raises(StoreError, match=match):
        parse_store_url(text)
