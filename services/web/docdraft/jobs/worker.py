"""The Celery worker process, with TensorFlow; web processes never import this.

    celery -A docdraft.jobs.worker worker --pool solo -Q generate
    celery -A docdraft.jobs.worker beat        # the sweeper, one per deployment

The model is loaded and compiled once, in `worker_init`, before the worker
takes work. The solo pool runs one task at a time in this process (TensorFlow
uses every core by itself): a task serves every waiting job in one running
batch of JOB_BATCH_ROWS rows (serving.py) until none waits. A job past its
time limit makes the process exit (runner.heartbeat) and its supervisor
starts a fresh one. A model that cannot
load: one log line, a note for /readyz, and a non-zero exit.
"""

import logging
import os
import threading
import time

from celery.signals import worker_init

from textgen import runtime

from .. import create_app
from ..extensions import db
from . import dispatch, status
from .generator import get_generator

log = logging.getLogger("docdraft.jobs")

# Named so that `celery -A` finds `celery`, not the Flask app.
flask_app = create_app({"JOB_BACKEND": "celery", "JOB_EXIT_ON_TIMEOUT": True})
celery = dispatch.backend(flask_app).celery


@worker_init.connect
def load_model(**_):
    runtime.setup()  # TensorFlow's settings, before the model loads it
    try:
        generator = get_generator(flask_app)
    except Exception as exc:  # noqa: BLE001 - one clear line, then exit
        problem = f"model unusable: {type(exc).__name__}: {exc}"
        log.error("worker not started, %s", problem)
        status.report_worker_problem(flask_app, problem)
        logging.shutdown()
        os._exit(3)
    status.report_worker_problem(flask_app, None)
    _register()
    log.info("worker ready: %s", generator.info.name)


def _register():
    """Show this worker on the admin's queue page now, and keep it there while
    it idles (serving, its lease heartbeat reports it too)."""
    worker = dispatch.backend(flask_app).worker
    interval = flask_app.config["JOB_SWEEP_SECONDS"]

    def keep_reporting():
        with flask_app.app_context():
            while True:
                worker.report()
                db.session.remove()
                time.sleep(interval)

    thread = threading.Thread(target=keep_reporting, name="docdraft-registry")
    thread.daemon = True  # ends with the worker process
    thread.start()
