"""WSGI entry point: ``gunicorn todo_project.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

from common.middleware import ChunkedBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

# Chunked request bodies would otherwise read as empty: see ChunkedBodyMiddleware.
application = ChunkedBodyMiddleware(get_wsgi_application())
