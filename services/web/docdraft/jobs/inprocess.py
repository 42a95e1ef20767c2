"""The embedded default: one worker thread inside the app process.

It loads the model once, re-queues whatever a previous process left queued or
running, then runs jobs in order, batching those that wait together.
"""

import logging
import queue
import threading

from ..extensions import db
from .generator import get_generator
from .runner import queued_job_ids, requeue_interrupted, run_jobs

log = logging.getLogger("docdraft.jobs")
MAX_BATCH = 8


class InProcessWorker:
    """A single daemon thread fed by an in-memory queue of autodoc ids."""

    def __init__(self, app):
        self.app = app
        self.queue = queue.Queue()
        self._thread = None
        self._start_lock = threading.Lock()
        self.load_error = None

    def submit(self, autodoc_ids):
        self.start()
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

    def _run(self):
        with self.app.app_context():
            if not self._prepare():
                return
            while True:
                batch = self._next_batch()
                try:
                    run_jobs(batch)
                except Exception:  # keep the worker alive for the next jobs
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
        requeue_interrupted()
        for autodoc_id in queued_job_ids():
            self.queue.put(autodoc_id)
        return True

    def _next_batch(self):
        batch = [self.queue.get()]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return list(dict.fromkeys(batch))
