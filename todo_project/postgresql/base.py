"""Django's PostgreSQL backend, with a connection health check that costs a round trip only when needed.

With ``CONN_HEALTH_CHECKS`` Django checks a reused connection before each request's first query by
sending ``SELECT 1``: a round trip on every request. An idle connection's socket has nothing to read
unless the server wrote to it, and a server that drops a connection does (an error message, then the
end of the stream; a proxy or a restart closes it). So only a readable socket needs the full check.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import ConnStatus, TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.pgconn.status != ConnStatus.OK or connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN)
        return not poller.poll(0) or super().is_usable()
