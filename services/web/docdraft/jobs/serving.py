"""The worker loop: one running batch, fed from the fair queue.

A worker owns one running batch of JOB_BATCH_ROWS rows (textgen.running).
Each turn it claims as many waiting jobs as it has free rows (queue.py: fair
order, one statement), admits them, decodes one chunk, and writes every row
that ended, at once and under its lease; then again, until nothing runs and
nothing waits. Jobs that arrive while the batch decodes join it at the next
chunk boundary, where the engine allows; a row that ends frees its slot and
has its suggestion written at once.

Each job is written by the model its sponsor's documents are served by
(model_cache.py): rows of different models run in a running batch per
model, and share the worker's rows.

Every backend runs this loop: the in-process thread when woken, a Celery
task when a message nudges it. One heartbeat renews the leases of whatever
is in flight, and tells the worker registry how busy this worker is.
"""

import logging
import threading
import time
from dataclasses import dataclass
from itertools import islice

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Autodoc
from . import runner
from .model_cache import ModelCache, models_for
from .queue import claim_batch, report_worker

log = logging.getLogger("docdraft.jobs")


@dataclass
class Row:
    """A job in flight: what was asked, and since when it runs here."""

    request: object  # textgen.settings.Request
    prepared: object  # the engine's prepared prompt (tokens used and cut)
    started: float  # time.monotonic()
    model: str | None  # the model_cache key of the model that writes it


class BatchWorker:
    """Runs jobs in one running batch under `owner`'s leases.

    `backend` names the kind of worker in the registry; None (run_jobs, the
    tests) leaves the registry alone.
    """

    def __init__(self, owner, rows, backend=None):
        self.owner = owner
        self.rows = rows
        self.backend = backend
        self.models = None  # ModelCache, made on the first run
        self.batches = {}  # model key -> its running batch
        self._rows = {}  # autodoc id -> Row
        self._next_sweep = 0.0
        self._lock = threading.Lock()  # the heartbeat reads _rows

    def serve(self, stopping=lambda: False, sweep_every=None):
        """Run waiting jobs (fair order) until none runs and none waits.

        Once `stopping()` is true, no more are claimed; those in flight end.
        With `sweep_every` (seconds), it also sweeps (runner.sweep) that
        often, between chunks: a busy worker may serve for hours.
        """

        def take(free):
            if stopping():
                return []
            if sweep_every is not None and time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + sweep_every
                runner.sweep()
            return claim_batch(self.owner, free)

        self.report()
        self._run(take)

    def run(self, autodoc_ids):
        """Claim and run exactly these jobs (those still queued); their ids."""
        claimed = [i for i in dict.fromkeys(autodoc_ids) if runner.claim(i, self.owner)]
        pending = iter(claimed)
        self._run(lambda free: list(islice(pending, free)))
        return claimed

    def in_flight(self):
        """{autodoc id: monotonic start} of the rows in flight now."""
        with self._lock:
            return {key: row.started for key, row in self._rows.items()}

    def report(self, running=None):
        """Tell the registry this worker is alive (and how busy)."""
        if self.backend is None:
            return
        running = len(self._rows) if running is None else running
        try:
            report_worker(self.owner, self.backend, self.rows, running)
        except Exception:  # noqa: BLE001 - the registry is for people to read
            log.warning("could not update the worker registry", exc_info=True)
            db.session.rollback()

    def _run(self, take):
        """Fill free rows with `take(n)`, advance, write; until both are empty."""
        if self.models is None:
            self.models = ModelCache(current_app._get_current_object())
        self.batches = {}
        with self._lock:  # rows of a run that crashed: their leases lapse
            self._rows.clear()
        on_beat = self.report if self.backend else None
        with runner.heartbeat(self.owner, self.in_flight, on_beat):
            while self._admit(take(self.rows - len(self._rows))) or self._rows:
                self._advance()

    def _batch(self, model):
        """The running batch of `model`, loading the model if need be."""
        if model not in self.batches:
            in_use = {row.model for row in self._rows.values()}
            generator = self.models.get(model, in_use)
            for unloaded in set(self.batches) - set(self.models.loaded()):
                del self.batches[unloaded]
            self.batches[model] = generator.running_batch(self.rows)
        return self.batches[model]

    def _admit(self, autodoc_ids):
        """Admit these claimed jobs; a prompt the engine refuses, or a model
        that cannot be loaded, fails its job.

        Database errors are not the job's fault: they end the run (the
        sweeper queues its jobs again), never a job.
        """
        refused = {}
        models = models_for(autodoc_ids)
        for autodoc_id in autodoc_ids:
            request = self._request(db.session.get(Autodoc, autodoc_id))
            model = models[autodoc_id]
            try:
                prepared = self._batch(model).admit(autodoc_id, request)
            except SQLAlchemyError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure must end the job
                refused[autodoc_id] = runner.failure(exc)
                continue
            with self._lock:
                self._rows[autodoc_id] = Row(request, prepared, time.monotonic(), model)
        if refused:
            runner.finish(refused, self.owner)
        if autodoc_ids:
            self.report()
        return bool(autodoc_ids)

    @staticmethod
    def _request(autodoc):
        # Imported here: textgen brings TensorFlow, which web processes never load.
        from textgen.settings import LENGTHS, Request

        return Request(
            autodoc.revision.body,
            new_tokens=LENGTHS[autodoc.length],
            mode=autodoc.mode,
            seed=autodoc.seed,
        )

    def _advance(self):
        """One chunk of each model's batch; the rows that ended are written
        at once."""
        for model, batch in list(self.batches.items()):
            if not len(batch):
                continue
            try:
                finished = batch.advance(on_compile=self._compiling)
            except SQLAlchemyError:
                raise  # the database's trouble, not the engine's: the run ends
            except Exception as exc:  # noqa: BLE001 - any failure must end the jobs
                db.session.rollback()
                self._after_engine_error(model, exc)
                continue
            self._write({done.key: self._outcome(done) for done in finished})

    def _compiling(self, keys):
        runner.set_detail(list(keys), self.owner, "compiling")

    def _outcome(self, done):
        row = self._rows[done.key]
        generator = self.models.get(row.model)
        return runner.success(
            text=done.text,
            model_name=generator.info.name,
            weights_sha256=generator.info.weights_sha256,
            settings={
                **generator.settings.as_dict(),
                "new_tokens": row.prepared.new_tokens,
            },
            prompt_tokens=len(row.prepared.ids),
            prompt_tokens_cut=row.prepared.cut,
        )

    def _write(self, outcomes):
        if not outcomes:
            return
        runner.finish(outcomes, self.owner)
        with self._lock:
            for key in outcomes:
                self._rows.pop(key, None)
        self.report()

    def _after_engine_error(self, model, exc):
        """The batch of `model` is lost: run its rows again one by one, so
        that one bad request fails only its own job; but only the rows still
        leased here (a job the sweeper took back is someone else's now)."""
        keys = [key for key, row in self._rows.items() if row.model == model]
        del self.batches[model]
        if len(keys) == 1:
            self._write({keys[0]: runner.failure(exc)})
            return
        mine = runner.still_leased(keys, self.owner)
        for key in keys:
            if key in mine:
                self._write({key: self._alone(key)})
            else:
                log.warning("autodoc=%s not run again: the lease was lost", key)
                with self._lock:
                    self._rows.pop(key, None)

    def _alone(self, key):
        """The outcome of one row run in a batch of its own."""
        batch = self.models.get(self._rows[key].model).running_batch(1)
        try:
            batch.admit(key, self._rows[key].request)
            while len(batch):
                for done in batch.advance(on_compile=self._compiling):
                    return self._outcome(done)
            raise RuntimeError("the engine ended the row without its text")
        except SQLAlchemyError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure must end the job
            db.session.rollback()
            return runner.failure(exc)


def run_jobs(autodoc_ids, owner=None):
    """Claim and run the given jobs in one running batch; their Autodoc rows."""
    worker = BatchWorker(
        owner or runner.new_worker_id(), current_app.config["JOB_BATCH_ROWS"]
    )
    claimed = worker.run(autodoc_ids)
    return [db.session.get(Autodoc, i) for i in claimed]
