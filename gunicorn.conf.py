"""Gunicorn settings for production, behind the edge: deploy/serve.py runs both (``make serve`` locally)."""

import gc
import multiprocessing
import os

from todo_project.settings import LOGGING

wsgi_app = "todo_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Load the app before forking: a bad configuration stops the master at once, with its message.
preload_app = True
timeout = 30
graceful_timeout = 30
# The app logs every request as JSON, without the query string; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
# Gunicorn's own lines (start-up, worker timeouts, "Error handling request /path?query") go to the app's
# stderr handler: the same JSON, and the same redaction of query strings and long lines.
logconfig_dict = {**LOGGING, "loggers": {**LOGGING["loggers"], "gunicorn.error": {"level": "INFO", "propagate": True}}}
# Clients reach gunicorn only through the edge (deploy/nginx.conf), which bounds the request line and the
# headers and answers past them in JSON. Gunicorn's own limits sit at or above the edge's, so it never
# answers first in its HTML or plain text: the request line at its maximum (8 KiB, like the edge's); a
# header at 64 KiB, above all the headers the edge lets through together (about 33 KiB), since the edge
# joins repeated X-Forwarded-For headers into one; as many headers as it allows (the edge bounds their size).
limit_request_line = 8190
limit_request_field_size = 64 * 1024
limit_request_fields = 32768


def pre_fork(server, worker):
    # What preload_app loaded (Django, the app, its settings) lives as long as the worker does. Frozen, the
    # garbage collector's full passes neither walk it on every run nor copy its shared pages into each worker.
    gc.freeze()
