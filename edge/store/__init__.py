"""The clinic side: a durable store of the fleet's events (SQLite or PostgreSQL), its ingest
from MQTT or JSON-lines files, and the queries behind ``ecg-edge history`` and the dashboard's
ward view.

Rooms: ``url`` (the ``--db`` URL), ``schema`` (tables, versions, migrations), ``retention``
(how long each type is kept; durations), ``db`` (:class:`EventStore`: open/upgrade, idempotent
batch writes, retention), ``ingest`` (MQTT with acknowledgement after commit; JSON-lines
import), ``history`` (read queries).
"""
from edge.store.db import EventStore, StoredEvent, WriteResult
from edge.store.retention import RetentionPolicy, parse_duration_s, parse_retention
from edge.store.schema import SCHEMA_VERSION
from edge.store.url import StoreURL, parse_store_url

__all__ = ["EventStore", "StoredEvent", "WriteResult", "RetentionPolicy", "parse_duration_s",
           "parse_retention", "SCHEMA_VERSION", "StoreURL", "parse_store_url"]
