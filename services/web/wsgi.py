"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from docdraft import create_app
from docdraft.jobs import dispatch

app = create_app()
# JOB_BACKEND=inprocess: the web process is the worker, so it starts with the
# app (never with --preload: each gunicorn worker must load its own model).
dispatch.start_worker(app)
