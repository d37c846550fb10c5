"""Gunicorn settings for production: ``gunicorn -c gunicorn.conf.py`` (``make serve`` locally)."""

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
# A header line past this gets gunicorn's own HTML 431, never seen by the app. 64 KiB (the body limit
# too) lets an absurd token reach the authentication, which refuses it with a JSON 401 like any other.
limit_request_field_size = 64 * 1024
# Likewise for the request line: 0 lets gunicorn take up to 1 MiB (its own hard cap) instead of 4 KiB, so a
# long query string meets the app's validation and a JSON 400 rather than gunicorn's HTML 414.
limit_request_line = 0


def pre_fork(server, worker):
    # What preload_app loaded (Django, the app, its settings) lives as long as the worker does. Frozen, the
    # garbage collector's full passes neither walk it on every run nor copy its shared pages into each worker.
    gc.freeze()
