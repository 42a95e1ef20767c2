"""The embedded default: one worker thread inside the app process.

It loads the model once, then serves the queue (serving.BatchWorker: claims
what waits, in fair order, into one running batch) until nothing waits, and
sleeps until a new job wakes it. At least every JOB_SWEEP_SECONDS it sweeps
(runner.sweep): jobs whose lease expired, in this process or another one on
the same database, are queued again. Leases make it safe to run two such
processes on one database.

Mail has a small thread of its own (`submit_mail` wakes it; it also looks
for due mail, retries included, every JOB_SWEEP_SECONDS), so that a
generation never delays a password-reset mail.
"""

import logging
import threading

from ..extensions import db
from .backend import JobBackend
from .generator import get_generator
from .runner import new_worker_id
from .serving import BatchWorker

log = logging.getLogger("docdraft.jobs")


class InProcessWorker(JobBackend):
    """A single daemon thread, woken when jobs are submitted."""

    name = "inprocess"

    def __init__(self, app):
        self.app = app
        self.owner = new_worker_id()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = None
        self._start_lock = threading.Lock()
        self._training = threading.Lock()  # one fine-tuning at a time here
        self._mail_wake = threading.Event()
        self._mail_thread = None
        self.load_error = None

    def submit(self, autodoc_ids):
        self.start()  # serve and wsgi start it with the app; this is a fallback
        self._wake.set()

    def submit_training(self, model_id):
        """Train in a thread of its own: generation goes on meanwhile."""
        thread = threading.Thread(
            target=self._train, args=(model_id,), name="docdraft-train", daemon=True
        )
        thread.start()

    def submit_mail(self):
        self._start_mail()
        self._mail_wake.set()

    def _start_mail(self):
        with self._start_lock:
            if self._mail_thread is None:
                self._mail_thread = threading.Thread(
                    target=self._send_mail, name="docdraft-mail", daemon=True
                )
                self._mail_thread.start()

    def _send_mail(self):
        from ..mail.sender import send_due

        with self.app.app_context():
            while not self._stopping.is_set():
                self._mail_wake.clear()
                try:
                    send_due(self.owner)
                except Exception:  # keep the thread alive; the mail waits
                    log.exception("mail sending crashed")
                finally:
                    db.session.remove()
                self._mail_wake.wait(self.app.config["JOB_SWEEP_SECONDS"])

    def _train(self, model_id):
        from ..training.jobs import run_training

        with self.app.app_context(), self._training:
            try:
                run_training(model_id, self.owner)
            except Exception:  # the sweeper fails it once its lease lapses
                log.exception("training of model=%s crashed", model_id)
            finally:
                db.session.remove()

    def start(self):
        """Start the generation and mail threads once; later calls do nothing."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="docdraft-worker", daemon=True
                )
                self._thread.start()
        self._start_mail()

    def stop(self):
        """Ask the thread to end once the rows in flight have ended (it is a
        daemon, so this matters only to a process that keeps running: tests)."""
        self._stopping.set()
        self._wake.set()
        self._mail_wake.set()

    def health(self):
        return {"worker": self.load_error}

    def _run(self):
        with self.app.app_context():
            if not self._prepare():
                return
            worker = BatchWorker(
                self.owner, self.app.config["JOB_BATCH_ROWS"], backend=self.name
            )
            sweep_seconds = self.app.config["JOB_SWEEP_SECONDS"]
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    worker.serve(self._stopping.is_set, sweep_every=sweep_seconds)
                except Exception:  # keep the worker alive; the sweeper recovers
                    log.exception("worker loop crashed")
                finally:
                    db.session.remove()
                self._wake.wait(sweep_seconds)

    def _prepare(self):
        try:
            get_generator(self.app)
        except Exception as exc:  # noqa: BLE001 - one clear line, then stop
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("worker not started, model unusable: %s", self.load_error)
            return False
        return True
