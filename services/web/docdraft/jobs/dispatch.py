"""The one place that hands jobs to whichever backend the config selects.

Delivery is best effort: the autodoc rows are the record of every job, and
the sweeper (runner.sweep) delivers again whatever a queue lost. Every
backend implements backend.JobBackend; tests put their own in with
`install`.
"""

from flask import current_app

from .backend import JobBackend, ManualBackend

EXTENSION_KEY = "docdraft.job_backend"

__all__ = ["JobBackend", "ManualBackend", "backend", "enqueue", "init_app", "install"]


def _inprocess(app):
    from .inprocess import InProcessWorker

    return InProcessWorker(app)


def _celery(app):
    from .celery_backend import CeleryBackend

    return CeleryBackend(app)


BACKENDS = {
    "inprocess": _inprocess,
    "celery": _celery,
    "manual": lambda app: ManualBackend(),
}


def init_app(app):
    """Attach the job backend named by JOB_BACKEND."""
    name = app.config["JOB_BACKEND"]
    if name not in BACKENDS:
        raise ValueError(f"unknown JOB_BACKEND {name!r}")
    install(app, BACKENDS[name](app))


def install(app, job_backend):
    """Make `job_backend` the app's (a fake, in tests); the one it replaces
    is stopped. Returns it."""
    if not isinstance(job_backend, JobBackend):
        raise TypeError(f"{job_backend!r} does not implement JobBackend")
    previous = app.extensions.get(EXTENSION_KEY)
    if previous is not None:
        previous.stop()
    app.extensions[EXTENSION_KEY] = job_backend
    return job_backend


def backend(app=None):
    """The app's job backend."""
    return (app or current_app).extensions[EXTENSION_KEY]


def start_worker(app):
    """Start running jobs in this process where the backend does (in-process)."""
    backend(app).start()


def enqueue(autodoc_ids):
    """Deliver committed jobs to the worker. Call only after the commit."""
    backend().submit(list(autodoc_ids))
