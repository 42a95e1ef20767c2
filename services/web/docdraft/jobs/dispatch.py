"""The one place that hands job ids to whichever queue the config selects.

Delivery is best effort: the autodoc rows are the record of every job, and
the sweeper (runner.sweep) delivers again whatever a queue lost.
"""

from flask import current_app

EXTENSION_KEY = "docdraft.job_backend"


class ManualBackend:
    """Delivers nothing: jobs stay queued until something runs them (tests)."""

    def __init__(self):
        self.delivered = []

    def submit(self, autodoc_ids):
        self.delivered.extend(autodoc_ids)


def init_app(app):
    """Attach the job backend named by JOB_BACKEND."""
    name = app.config["JOB_BACKEND"]
    if name == "inprocess":
        from .inprocess import InProcessWorker

        backend = InProcessWorker(app)
    elif name == "celery":
        from .celery_backend import CeleryBackend

        backend = CeleryBackend(app)
    elif name == "manual":
        backend = ManualBackend()
    else:
        raise ValueError(f"unknown JOB_BACKEND {name!r}")
    app.extensions[EXTENSION_KEY] = backend


def backend(app=None):
    return (app or current_app).extensions[EXTENSION_KEY]


def start_worker(app):
    """Start the in-process worker with the app (serve, wsgi); others: no-op."""
    worker = backend(app)
    if hasattr(worker, "start"):
        worker.start()


def enqueue(autodoc_ids):
    """Deliver committed jobs to the worker. Call only after the commit."""
    backend().submit(list(autodoc_ids))
