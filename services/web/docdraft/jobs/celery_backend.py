"""Celery wakes workers through Redis; the database stays the record.

Wiring after Flask's own Celery example: every task runs inside the app
context, and settings come from the app's config. A generate message is a
nudge, not the unit of work: the task serves whatever waits (the same loop
as the in-process worker, serving.BatchWorker) until nothing waits, then
returns. So a duplicate message finds nothing to do, and a lost one is made
up by the next nudge or the sweeper's. Tasks are acknowledged late and given
back when a worker dies (`acks_late`, `reject_on_worker_lost`), one at a
time (prefetch 1).
"""

import logging
import math

import redis
from celery import Celery, Task

from ..mail.nudger import Nudger
from .backend import JobBackend
from .runner import new_worker_id, sweep
from .serving import BatchWorker
from .status import PROBLEM_KEY, redis_client

log = logging.getLogger("docdraft.jobs")
GENERATE = "docdraft.generate"
SWEEP = "docdraft.sweep"
TRAIN = "docdraft.train"
MAIL = "docdraft.mail"


def make_celery(app, worker):
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
            # The mail worker's own sweep (retries whose time came, nudges
            # lost), on its queue: never behind a long generation. Expired
            # ones are dropped, so a stopped mailer finds no pile of them.
            "mail": {
                "task": MAIL,
                "schedule": config["JOB_SWEEP_SECONDS"],
                "options": {
                    "queue": config["MAIL_QUEUE"],
                    "expires": config["JOB_SWEEP_SECONDS"],
                },
            },
        },
    )

    # shared=False: Celery otherwise adds every task to every app created
    # later, so an app could run another app's task of the same name (its
    # Flask app, its broker) when one process holds several (the tests).
    @celery.task(name=GENERATE, shared=False)
    def generate(autodoc_ids=None):
        """Serve what waits; the ids only say why the worker was woken.

        It sweeps too while it serves: the sweep tasks of beat queue up
        behind a long serve on a solo worker, so a dead worker's jobs would
        otherwise wait for this one to run out of work.
        """
        worker.serve(sweep_every=config["JOB_SWEEP_SECONDS"])

    @celery.task(name=TRAIN, shared=False)
    def train(model_id):
        """Fine-tune one model (a worker of the train queue: it runs long)."""
        from ..training.jobs import run_training

        run_training(model_id, worker.owner)

    @celery.task(name=MAIL, shared=False)
    def send_mail():
        """Send due mail until none is due (a mail worker: web image, no
        TensorFlow; docdraft.mail.worker). Beat sends it on schedule too."""
        from ..mail.sender import send_due

        send_due(worker.owner)

    @celery.task(name=SWEEP, shared=False)
    def sweep_jobs():
        # Enough nudges to wake a worker per batch of waiting jobs; each one
        # woken serves until nothing waits.
        waiting = len(sweep())
        for _ in range(math.ceil(waiting / worker.rows)):
            generate.delay()

    return celery


class CeleryBackend(JobBackend):
    name = "celery"

    def __init__(self, app):
        # The worker of this process, if it is a Celery worker (worker.py).
        self.worker = BatchWorker(
            new_worker_id(), app.config["JOB_BATCH_ROWS"], backend=self.name
        )
        self.celery = make_celery(app, self.worker)
        self.app = app
        self.queue = app.config["JOB_QUEUE"]
        self.train_queue = app.config["TRAIN_QUEUE"]
        self.mail_queue = app.config["MAIL_QUEUE"]
        self._mail_nudger = Nudger(self._publish_mail)

    def submit(self, autodoc_ids):
        try:
            self.celery.send_task(GENERATE, args=[autodoc_ids], queue=self.queue)
        except Exception as exc:  # noqa: BLE001 - the sweeper delivers it later
            log.warning(
                "broker unreachable, jobs %s wait for the sweeper: %s", autodoc_ids, exc
            )

    def submit_training(self, model_id):
        try:
            self.celery.send_task(TRAIN, args=[model_id], queue=self.train_queue)
        except Exception as exc:  # noqa: BLE001 - the sweeper nudges again
            log.warning("broker unreachable, model %s waits: %s", model_id, exc)

    def submit_mail(self):
        """Published from a thread of its own (mail.nudger): a broker that is
        down never holds the request."""
        self._mail_nudger()

    def _publish_mail(self):
        try:
            self.celery.send_task(MAIL, queue=self.mail_queue)
        except Exception as exc:  # noqa: BLE001 - the sweeper nudges again
            log.warning("broker unreachable, mail waits for the sweeper: %s", exc)

    def health(self):
        """The broker answers, and no worker left a reason it cannot start."""
        try:
            client = redis_client(self.app)
            client.ping()
        except redis.RedisError as exc:
            return {"broker": f"unreachable: {exc}"}
        problem = client.get(PROBLEM_KEY)
        return {"broker": None, "worker": problem.decode() if problem else None}
