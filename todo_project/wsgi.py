"""WSGI entry point: ``gunicorn todo_project.wsgi``, behind the edge (deploy/serve.py).

nginx hands gunicorn every body with a Content-Length, chunked ones included (it buffers them whole), so Django
reads them as it reads any other.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

application = get_wsgi_application()
