"""WSGI entry point for gunicorn: `gunicorn driftcontrol.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftcontrol.settings")
application = get_wsgi_application()
