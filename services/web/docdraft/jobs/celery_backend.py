"""Celery delivers job ids through Redis; the database stays the record.

Wiring after Flask's own Celery example: every task runs inside the app
context, and settings come from the app's config. Tasks are acknowledged
late and given back when a worker dies (`acks_late`,
`reject_on_worker_lost`), one at a time (prefetch 1); a redelivered job is
harmless because claiming it is a conditional UPDATE (runner.claim).
"""

import logging

from celery import Celery, Task

from .runner import new_worker_id, run_jobs, sweep

log = logging.getLogger("docdraft.jobs")
GENERATE = "docdraft.generate"
SWEEP = "docdraft.sweep"


def make_celery(app):
    """A Celery app bound to `app`, with the generate and sweep tasks."""

    class AppTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=AppTask)
    config = app.config
    celery.conf.update(
        broker_url=config["REDIS_URL"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=config["JOB_QUEUE"],
        # A web request must not hang on a broker that is down: the job is
        # committed already, and the sweeper delivers it later.
        task_publish_retry=False,
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        # The app configures logging (one format, UTC); Celery keeps to it.
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": config["JOB_SWEEP_SECONDS"]},
        },
    )
    owner = new_worker_id()

    # shared=False: Celery otherwise adds every task to every app created
    # later, so an app could run another app's task of the same name (its
    # Flask app, its broker) when one process holds several (the tests).
    @celery.task(name=GENERATE, shared=False)
    def generate(autodoc_ids):
        run_jobs(autodoc_ids, owner)

    @celery.task(name=SWEEP, shared=False)
    def sweep_jobs():
        for autodoc_id in sweep():
            generate.delay([autodoc_id])

    return celery


class CeleryBackend:
    def __init__(self, app):
        self.celery = make_celery(app)
        self.queue = app.config["JOB_QUEUE"]

    def submit(self, autodoc_ids):
        try:
            self.celery.send_task(GENERATE, args=[autodoc_ids], queue=self.queue)
        except Exception as exc:  # noqa: BLE001 - the sweeper delivers it later
            log.warning(
                "broker unreachable, jobs %s wait for the sweeper: %s", autodoc_ids, exc
            )
