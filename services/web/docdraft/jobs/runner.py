"""Jobs under a lease: claim, renew, store, and the sweeper.

The autodoc row is the job; a queue only says that jobs wait, and may say it
twice or not at all. A worker takes jobs with a *lease*: a conditional
UPDATE (queued -> running) that sets the worker as owner and an expiry, so of
two workers only one wins each job (queue.claim_batch takes several at once).
A heartbeat renews the leases while the jobs run, and a result is written
only while the lease is still held (`WHERE lease_owner = me AND status =
'running'`): a worker that lost its lease, to a sweeper or to the time
limit, has its late result discarded. The worker loop is in serving.py.

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
from ..notifications import events as notifications

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


@contextmanager
def heartbeat(owner, in_flight, on_beat=None):
    """Renew the leases of the jobs in flight every third of a lease while
    the block runs; `in_flight()` gives {autodoc id: monotonic start} as it
    is now (rows join and leave a running batch). `on_beat(n_in_flight)`
    follows each renewal (the worker registry).

    Past the hard time limit a job's lease is no longer renewed (the sweeper
    fails it as timed out). A worker process configured with
    JOB_EXIT_ON_TIMEOUT then exits, since a hung generation cannot be
    stopped from another thread; its supervisor starts a fresh one.
    """
    app = current_app._get_current_object()
    limits = JobLimits.from_config(app.config)
    stop = threading.Event()

    def beat():
        with app.app_context():
            while not stop.wait(limits.lease / 3):
                jobs = in_flight()
                late = time.monotonic() - limits.time_limit
                if app.config["JOB_EXIT_ON_TIMEOUT"] and any(
                    started < late for started in jobs.values()
                ):
                    _exit_past_time_limit(list(jobs))
                try:
                    if jobs:
                        renew(list(jobs), owner)
                    if on_beat is not None:
                        on_beat(len(jobs))
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


def set_detail(autodoc_ids, owner, detail):
    """Say what running jobs wait for (status.json shows it), lease permitting."""
    db.session.execute(
        update(Autodoc)
        .where(
            Autodoc.id.in_(autodoc_ids),
            Autodoc.lease_owner == owner,
            Autodoc.status == JobStatus.running,
        )
        .values(detail=detail)
    )
    db.session.commit()


def still_leased(autodoc_ids, owner):
    """Those of `autodoc_ids` that `owner` still runs under its lease."""
    return set(
        db.session.scalars(
            select(Autodoc.id).where(
                Autodoc.id.in_(autodoc_ids),
                Autodoc.lease_owner == owner,
                Autodoc.status == JobStatus.running,
            )
        )
    )


def failure(exc):
    """The stored outcome of a job that failed with `exc`."""
    return {
        "status": JobStatus.failed,
        "error": f"{type(exc).__name__}: {exc}"[:ERROR_MAX],
    }


def success(**result):
    """The stored outcome of a job that wrote its text."""
    return {**result, "status": JobStatus.done, "error": None}


def finish(outcomes, owner):
    """Store {autodoc id: outcome} in one transaction, each job only while
    `owner` still holds its lease; the ids written."""
    written = []
    for autodoc_id, outcome in outcomes.items():
        result = db.session.execute(
            update(Autodoc)
            .where(
                Autodoc.id == autodoc_id,
                Autodoc.lease_owner == owner,
                Autodoc.status == JobStatus.running,
            )
            .values(
                finished_at=utcnow(),
                lease_owner=None,
                lease_expires_at=None,
                detail=None,
                **outcome,
            )
        )
        if result.rowcount == 1:
            written.append(autodoc_id)
    notifications.suggestions_written(
        [i for i in written if outcomes[i]["status"] == JobStatus.done]
    )
    db.session.commit()
    for autodoc_id, outcome in outcomes.items():
        _log_outcome(autodoc_id, outcome, autodoc_id in written)
    return written


def _log_outcome(autodoc_id, outcome, written):
    if not written:
        log.warning("autodoc=%s result discarded: the lease was lost", autodoc_id)
    elif outcome["status"] == JobStatus.failed:
        log.warning("autodoc=%s failed: %s", autodoc_id, outcome["error"])
    else:
        log.info("autodoc=%s done (%d chars)", autodoc_id, len(outcome["text"]))


def requeue(condition, new_series=False):
    """Put the jobs matching `condition` back in the queue, every field of a
    run cleared; the ids (the caller commits). `new_series`: attempts start
    again from 0 and the job queues as new (a person asked again)."""
    values = {
        "status": JobStatus.queued,
        "error": None,
        "detail": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "started_at": None,
        "finished_at": None,
    }
    if new_series:
        values.update(attempts=0, queued_at=utcnow())
    return db.session.scalars(
        update(Autodoc).where(condition).values(**values).returning(Autodoc.id)
    ).all()


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
    requeued = requeue(running & expired)
    db.session.commit()
    for autodoc_id in requeued:
        log.warning("autodoc=%s lease expired; queued again", autodoc_id)
    stale = queued_job_ids(older_than=now - timedelta(seconds=limits.redeliver_after))
    from ..training.jobs import sweep_training  # training imports the jobs package

    sweep_training()
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
