"""The embedded default: one worker thread inside the app process.

It loads the model once, then runs jobs in order, batching those that wait
together. Between jobs, and at least every JOB_SWEEP_SECONDS, it sweeps
(runner.sweep): jobs whose lease expired, in this process or another one on
the same database, are queued again, and jobs queued too long are delivered
again. Leases make it safe to run two such processes on one database.
"""

import logging
import queue
import threading

from ..extensions import db
from .generator import get_generator
from .runner import new_worker_id, queued_job_ids, run_jobs, sweep

log = logging.getLogger("docdraft.jobs")
MAX_BATCH = 8


class InProcessWorker:
    """A single daemon thread fed by an in-memory queue of autodoc ids."""

    def __init__(self, app):
        self.app = app
        self.queue = queue.Queue()
        self.owner = new_worker_id()
        self._stopping = threading.Event()
        self._thread = None
        self._start_lock = threading.Lock()
        self.load_error = None

    def submit(self, autodoc_ids):
        self.start()  # serve and wsgi start it with the app; this is a fallback
        for autodoc_id in autodoc_ids:
            self.queue.put(autodoc_id)

    def start(self):
        """Start the thread once; later calls do nothing."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="docdraft-worker", daemon=True
                )
                self._thread.start()

    def stop(self):
        """Ask the thread to end after its current batch (it is a daemon, so
        this matters only to a process that keeps running: tests)."""
        self._stopping.set()
        self.queue.put(None)  # wakes a waiting thread

    def _run(self):
        with self.app.app_context():
            if not self._prepare():
                return
            while not self._stopping.is_set():
                batch = self._next_batch()
                if self._stopping.is_set():
                    break
                try:
                    if batch:
                        run_jobs(batch, self.owner)
                    else:
                        self.submit(sweep())
                except Exception:  # keep the worker alive; the sweeper recovers
                    log.exception("worker batch %s crashed", batch)
                finally:
                    db.session.remove()

    def _prepare(self):
        try:
            get_generator(self.app)
        except Exception as exc:  # noqa: BLE001 - one clear line, then stop
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("worker not started, model unusable: %s", self.load_error)
            return False
        self.submit([*sweep(), *queued_job_ids()])
        return True

    def _next_batch(self):
        """Waiting ids (up to MAX_BATCH), or [] when it is time to sweep."""
        try:
            batch = [self.queue.get(timeout=self.app.config["JOB_SWEEP_SECONDS"])]
        except queue.Empty:
            return []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return [i for i in dict.fromkeys(batch) if i is not None]
