"""Gunicorn settings for production: ``gunicorn -c gunicorn.conf.py`` (``make serve`` locally)."""

import multiprocessing
import os

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
