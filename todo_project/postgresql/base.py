"""Django's PostgreSQL backend, with two per-request costs taken out and a bound Django 5.2 lacks.

- The connection health check. With ``CONN_HEALTH_CHECKS`` Django checks a reused connection before each
  request's first query by sending ``SELECT 1``: a round trip on every request. An idle connection's socket
  has nothing to read unless the server wrote to it, and a server that drops a connection does (an error
  message, then the end of the stream; a proxy or a restart closes it). So only a readable socket needs
  the full check.
- A statement's parameters. With server-side binding (settings.py) PostgreSQL takes at most 65,535 per
  statement, which Django 5.2 does not know: a large ``bulk_create`` or deletion failed. Its batches are cut to
  fit, as Django 6.1 does (ticket #36822).
- Reading timestamps. Django reads each ``timestamptz`` with psycopg's pure-Python parser (its loader
  subclasses psycopg's Python class, not the C one): 150 of them on a page of tasks. A timestamp the server
  wrote in UTC is parsed by ``datetime.fromisoformat`` instead, in C; anything else takes Django's way.
"""

from __future__ import annotations

import select
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from django.db.backends.postgresql import base, features, operations
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.adapt import AdaptersMap, Buffer
from psycopg.pq import ConnStatus, TransactionStatus


class ServerBindingFeatures(features.DatabaseFeatures):
    @property
    def max_query_params(self) -> int | None:
        return 2**16 - 1 if self.connection.settings_dict["OPTIONS"].get("server_side_binding") else None


class ServerBindingOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields: list[Any], objs: list[Any]) -> int:
        limit = self.connection.features.max_query_params
        return len(objs) if limit is None or not fields else max(limit // len(fields), 1)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = ServerBindingFeatures
    ops_class = ServerBindingOperations

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.pgconn.status != ConnStatus.OK or connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN)
        return not poller.poll(0) or super().is_usable()

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["context"] = _with_fast_timestamps(params["context"], self.timezone)
        return params


class FastTzLoader(BaseTzLoader):
    """Django's timestamptz loader, taking a C shortcut for what PostgreSQL writes in UTC (ISO DateStyle)."""

    def load(self, data: Buffer) -> datetime:
        try:
            moment = datetime.fromisoformat(bytes(data).decode())
        except ValueError:  # another DateStyle, BC, beyond year 9999, infinity: Django's way, errors included
            return super().load(data)
        return moment if moment.tzinfo is self.timezone else super().load(data)


@lru_cache
def _with_fast_timestamps(template: AdaptersMap, zone: tzinfo | None) -> AdaptersMap:
    # Django's template adapters (one per time zone) with the loader swapped; create_cursor() compares
    # the loader's ``timezone`` with the connection's, so it must carry the same one.
    class Loader(FastTzLoader):
        timezone = zone

    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", Loader)
    return adapters
