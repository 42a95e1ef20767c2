"""Running generation jobs under a lease: claim, generate, store.

The autodoc row is the job; a queue only delivers its id, and may deliver it
twice or not at all. A worker takes a job with a *lease*: one conditional
UPDATE (queued -> running) that sets the worker as owner and an expiry, so of
two workers only one wins. A heartbeat renews the lease while the job runs,
and the result is written only while the lease is still held (`WHERE
lease_owner = me AND status = 'running'`): a worker that lost its lease, to a
sweeper or to the time limit, has its late result discarded.

`sweep` (run periodically by one timer or Celery beat; every step is a
conditional UPDATE, so two sweepers at once are harmless) fails jobs past the
hard time limit, puts jobs whose lease expired back in the queue (or fails
them after MAX_ATTEMPTS), and returns the ids that need delivering again.
"""

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import ERROR_MAX, Autodoc, JobStatus, utcnow
from .generator import get_generator

log = logging.getLogger("docdraft.jobs")
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class JobLimits:
    """Lease length, hard time limit and redelivery delay, in seconds."""

    lease: float
    time_limit: float
    redeliver_after: float

    @classmethod
    def from_config(cls, config):
        return cls(
            lease=config["JOB_LEASE_SECONDS"],
            time_limit=config["JOB_TIME_LIMIT"],
            redeliver_after=config["JOB_REDELIVER_AFTER"],
        )


def new_worker_id():
    """A lease owner name that is unique per process and start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _limits():
    return JobLimits.from_config(current_app.config)


def claim(autodoc_id, owner):
    """Lease a queued job to `owner`; True only for the one caller that won it."""
    now = utcnow()
    result = db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == autodoc_id, Autodoc.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=_limits().lease),
            started_at=now,
            attempts=Autodoc.attempts + 1,
        )
    )
    db.session.commit()
    return result.rowcount == 1


def renew(autodoc_ids, owner):
    """Extend `owner`'s leases on running jobs still within the time limit."""
    limits, now = _limits(), utcnow()
    result = db.session.execute(
        update(Autodoc)
        .where(
            Autodoc.id.in_(autodoc_ids),
            Autodoc.lease_owner == owner,
            Autodoc.status == JobStatus.running,
            Autodoc.started_at > now - timedelta(seconds=limits.time_limit),
        )
        .values(lease_expires_at=now + timedelta(seconds=limits.lease))
    )
    db.session.commit()
    return result.rowcount


def run_jobs(autodoc_ids, owner=None):
    """Claim and run the given jobs as one batch; each ends done or failed."""
    owner = owner or new_worker_id()
    claimed = [db.session.get(Autodoc, i) for i in autodoc_ids if claim(i, owner)]
    if not claimed:
        return []
    with heartbeat([autodoc.id for autodoc in claimed], owner):
        try:
            _generate_into(claimed, owner)
        except Exception as exc:  # noqa: BLE001 - any failure must end the job
            db.session.rollback()
            if len(claimed) == 1:
                _finish(claimed[0], owner, failed=exc)
            else:
                # One by one, so that one bad prompt fails only its own job.
                for autodoc in claimed:
                    _run_one(autodoc, owner)
    return claimed


@contextmanager
def heartbeat(autodoc_ids, owner):
    """Renew the leases every third of a lease while the block runs.

    Past the hard time limit the leases are no longer renewed (the sweeper
    fails the jobs as timed out). A worker process configured with
    JOB_EXIT_ON_TIMEOUT then exits, since a hung generation cannot be
    stopped from another thread; its supervisor starts a fresh one.
    """
    app = current_app._get_current_object()
    limits = JobLimits.from_config(app.config)
    deadline = time.monotonic() + limits.time_limit
    stop = threading.Event()

    def beat():
        with app.app_context():
            while not stop.wait(limits.lease / 3):
                if time.monotonic() > deadline and app.config["JOB_EXIT_ON_TIMEOUT"]:
                    _exit_past_time_limit(autodoc_ids)
                try:
                    renew(autodoc_ids, owner)
                except Exception:  # noqa: BLE001 - a missed beat is not fatal
                    log.warning("lease renewal failed", exc_info=True)
                    db.session.rollback()
            db.session.remove()

    thread = threading.Thread(target=beat, name="docdraft-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _exit_past_time_limit(autodoc_ids):
    log.error("jobs %s ran past the time limit; this worker exits", autodoc_ids)
    try:
        sweep()  # record them as timed out now rather than at the next sweep
    finally:
        logging.shutdown()
        os._exit(70)


def _run_one(autodoc, owner):
    try:
        _generate_into([autodoc], owner)
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        _finish(autodoc, owner, failed=exc)


def _generate_into(autodocs, owner):
    # Imported here: textgen brings TensorFlow, which web processes never load.
    from textgen.settings import LENGTHS, Request

    generator = get_generator()
    requests = [
        Request(
            autodoc.revision.body,
            new_tokens=LENGTHS[autodoc.length],
            mode=autodoc.mode,
            seed=autodoc.seed,
        )
        for autodoc in autodocs
    ]

    def compiling(*_program):
        _set_detail(autodocs, owner, "compiling")

    texts = generator.generate(requests, on_compile=compiling)
    settings = generator.settings.as_dict()
    for autodoc, request, text in zip(autodocs, requests, texts, strict=True):
        prepared = generator.prepare(request.prompt, request.new_tokens)
        _finish(
            autodoc,
            owner,
            text=text,
            model_name=generator.info.name,
            weights_sha256=generator.info.weights_sha256,
            settings={**settings, "new_tokens": prepared.new_tokens},
            prompt_tokens=len(prepared.ids),
            prompt_tokens_cut=prepared.cut,
        )


def _set_detail(autodocs, owner, detail):
    """Say what running jobs wait for (status.json shows it), lease permitting."""
    db.session.execute(
        update(Autodoc)
        .where(
            Autodoc.id.in_([autodoc.id for autodoc in autodocs]),
            Autodoc.lease_owner == owner,
            Autodoc.status == JobStatus.running,
        )
        .values(detail=detail)
    )
    db.session.commit()


def _finish(autodoc, owner, failed=None, **result):
    """Store the outcome, but only while `owner` still holds the lease."""
    if failed is not None:
        result = {
            "status": JobStatus.failed,
            "error": f"{type(failed).__name__}: {failed}"[:ERROR_MAX],
        }
    else:
        result.update(status=JobStatus.done, error=None)
    written = db.session.execute(
        update(Autodoc)
        .where(
            Autodoc.id == autodoc.id,
            Autodoc.lease_owner == owner,
            Autodoc.status == JobStatus.running,
        )
        .values(
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
            detail=None,
            **result,
        )
    )
    db.session.commit()
    if written.rowcount != 1:
        log.warning("autodoc=%s result discarded: the lease was lost", autodoc.id)
    elif failed is not None:
        log.warning("autodoc=%s failed: %s", autodoc.id, result["error"])
    else:
        log.info("autodoc=%s done (%d chars)", autodoc.id, len(result["text"]))


def sweep():
    """Time out, requeue or give up on lost jobs; return ids to deliver again."""
    limits, now = _limits(), utcnow()
    running = Autodoc.status == JobStatus.running
    expired = Autodoc.lease_expires_at < now
    cleared = {"lease_owner": None, "lease_expires_at": None, "detail": None}
    _end(
        running & (Autodoc.started_at < now - timedelta(seconds=limits.time_limit)),
        f"TimeoutError: timed out after {limits.time_limit:g} s",
        cleared,
    )
    _end(
        running & expired & (Autodoc.attempts >= MAX_ATTEMPTS),
        f"WorkerLost: gave up after {MAX_ATTEMPTS} attempts; the worker stopped "
        "during each of them",
        cleared,
    )
    requeued = db.session.scalars(
        update(Autodoc)
        .where(running & expired)
        .values(status=JobStatus.queued, started_at=None, **cleared)
        .returning(Autodoc.id)
    ).all()
    db.session.commit()
    for autodoc_id in requeued:
        log.warning("autodoc=%s lease expired; queued again", autodoc_id)
    stale = queued_job_ids(older_than=now - timedelta(seconds=limits.redeliver_after))
    return list(dict.fromkeys([*requeued, *stale]))


def _end(condition, error, cleared):
    ended = db.session.scalars(
        update(Autodoc)
        .where(condition)
        .values(status=JobStatus.failed, error=error, finished_at=utcnow(), **cleared)
        .returning(Autodoc.id)
    ).all()
    for autodoc_id in ended:
        log.warning("autodoc=%s %s", autodoc_id, error)


def queued_job_ids(older_than=None):
    """Ids of queued jobs (queued before `older_than`, if given), oldest first."""
    query = select(Autodoc.id).where(Autodoc.status == JobStatus.queued)
    if older_than is not None:
        query = query.where(Autodoc.queued_at < older_than)
    return db.session.scalars(query.order_by(Autodoc.queued_at, Autodoc.id)).all()
