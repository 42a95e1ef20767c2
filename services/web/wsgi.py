"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from docdraft import create_app

app = create_app()
