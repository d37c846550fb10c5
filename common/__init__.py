"""What every app shares, and the bottom layer: it imports none of the apps and none of ``todo_project``.

The layering (``.importlinter``, checked by ``make test``): ``todo_project`` → ``tasks`` → ``authjwt`` →
``common``. An app may import from here; nothing here may import an app, so no loop can form through it.

- ``errors``: the one JSON error shape, the API's error vocabulary (413, 412, 503: any app may raise them,
  the schema describes them) and the handlers that answer in it, for DRF's views and Django's alike.
- ``schema``: the OpenAPI components of that shape, for the statuses drf-standardized-errors does not describe.
- ``parsers``, ``metadata``: the JSON every DRF view reads (DRF's own renderer writes it), and its OPTIONS answers.
- ``throttling``: the rate throttles, which count refusals too (so ``errors`` needs them), and the client
  address they, the admin's lockout and the security log agree on.
- ``cache``: the Redis cache backend and its circuit breaker. Here, not in ``todo_project``, because code
  below the project catches its ``CacheUnavailable``: the throttles, and authjwt's JWKS copy.
- ``middleware``, ``logsafe``, ``limits``: what wraps every request whichever app serves it: the request log
  and request id, chunked bodies made readable, the log redaction, the bound on the query string.
- ``admin``, ``apps``: Django's admin site with its login throttled, locked out and logged. Every app
  registers on it; its protection is built of ``throttling`` and ``errors`` and knows no app.
- ``probes``: ``/health`` and ``/ready``, which check the database and the cache, not any app.
- ``idempotency``, ``models``: the ``Idempotency-Key`` of unsafe requests, for any viewset that mixes it in, and its
  table (``CommonConfig`` makes common/ an app for it: its migrations stay apart from every app's); the
  ``purge_idempotency_keys`` command deletes the keys past their life.

``todo_project`` keeps what wires these together and nothing else: settings, URLs, the WSGI and ASGI
entries, and the PostgreSQL backend, which nothing imports (settings name it) and is Django's own with two
per-request costs taken out.
"""
