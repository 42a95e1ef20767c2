"""The job queue: which waiting job runs next, claims in batches, the workers.

The autodoc rows are the queue. Admission is fair between people: a job's
*rank* is the number of its sponsor's jobs running now plus its place among
that sponsor's waiting jobs (oldest first); jobs run in order of rank, then
age. So sponsors take turns (round-robin), and one who has a single job
waiting gets the next free row even while another has 24 waiting and some
running.

`claim_batch` takes up to n jobs in that order in one statement: on
PostgreSQL `FOR UPDATE SKIP LOCKED`, so two workers claiming at once take
different jobs without waiting for each other; on SQLite, whose writes are
serialized, a conditional UPDATE. Either way no job is claimed twice.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Autodoc, Document, JobStatus, JobWorker, Revision, utcnow

# A worker silent this long is left off the admin's list (it stopped).
FORGET_WORKER_AFTER = timedelta(hours=1)


def _with_sponsor(*columns):
    """SELECT `columns` FROM autodocs joined to their document's sponsor."""
    return (
        select(*columns)
        .select_from(Autodoc)
        .join(Revision, Revision.id == Autodoc.revision_id)
        .join(Document, Document.id == Revision.document_id)
    )


def _fair_ranks():
    """Queued jobs with their rank (see the module's docstring), as a subquery.

    Window functions and FOR UPDATE may not share a query level, so the
    ranks live in this subquery and the claim locks autodocs outside it.
    """
    running = (
        _with_sponsor(Document.sponsor_id, func.count().label("running"))
        .where(Autodoc.status == JobStatus.running)
        .group_by(Document.sponsor_id)
        .subquery("running_per_sponsor")
    )
    place = func.row_number().over(
        partition_by=Document.sponsor_id, order_by=(Autodoc.queued_at, Autodoc.id)
    )
    return (
        _with_sponsor(
            Autodoc.id,
            Autodoc.queued_at,
            (func.coalesce(running.c.running, 0) + place).label("rank"),
        )
        .outerjoin(running, running.c.sponsor_id == Document.sponsor_id)
        .where(Autodoc.status == JobStatus.queued)
        .subquery("fair")
    )


def _fair_order(fair):
    return (fair.c.rank, fair.c.queued_at, fair.c.id)


def fair_order():
    """Ids of the queued jobs in the order workers take them."""
    fair = _fair_ranks()
    return db.session.scalars(select(fair.c.id).order_by(*_fair_order(fair))).all()


def claim_batch(owner, limit):
    """Lease up to `limit` queued jobs, in fair order, to `owner`; their ids.

    Sets them running with a lease, their start time, and one more attempt.
    """
    if limit < 1:
        return []
    now = utcnow()
    lease = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    if db.engine.dialect.name == "postgresql":
        picked = _pick_and_lock(limit)
        statement = update(Autodoc).where(Autodoc.id == picked.c.id)
    else:  # SQLite writes one statement at a time: no other claim interleaves
        fair = _fair_ranks()
        picked = select(fair.c.id).order_by(*_fair_order(fair)).limit(limit)
        statement = update(Autodoc).where(Autodoc.id.in_(picked.scalar_subquery()))
    claimed = db.session.scalars(
        statement.where(Autodoc.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            lease_owner=owner,
            lease_expires_at=now + lease,
            started_at=now,
            attempts=Autodoc.attempts + 1,
        )
        .returning(Autodoc.id)
    ).all()
    db.session.commit()
    return sorted(claimed)


def _pick_and_lock(limit):
    """PostgreSQL: the first `limit` queued jobs in fair order that no other
    claim holds, locked (FOR UPDATE SKIP LOCKED), as a CTE of ids.

    The ranks are sorted once; a LATERAL lookup by primary key then locks
    them in that order until `limit` are held. So the cost stays that of one
    sort, whatever the planner believes of the table (a burst of jobs after
    a quiet hour leaves its statistics saying that almost nothing waits), and
    rows past the limit are never locked. MATERIALIZED: the CTE runs once,
    where a subquery could be scanned again and lock more.
    """
    fair = _fair_ranks()
    ranked = select(fair).order_by(*_fair_order(fair)).subquery("ranked")
    locked = (
        select(Autodoc.id)
        .where(Autodoc.id == ranked.c.id, Autodoc.status == JobStatus.queued)
        .with_for_update(of=Autodoc, skip_locked=True)
        .lateral("locked")
    )
    return (
        select(locked.c.id)
        .select_from(ranked.join(locked, true()))
        .order_by(*_fair_order(ranked))
        .limit(limit)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )


def queue_position(autodoc):
    """1 for the job that runs next, 2 for the one after...; None unless queued."""
    if autodoc.status != JobStatus.queued:
        return None
    fair = _fair_ranks()
    places = select(
        fair.c.id, func.row_number().over(order_by=_fair_order(fair)).label("place")
    ).subquery("places")
    return db.session.scalar(select(places.c.place).where(places.c.id == autodoc.id))


def waiting_count(user_id):
    """How many queued jobs the documents `user_id` sponsors have."""
    return db.session.scalar(
        _with_sponsor(func.count())
        .where(Autodoc.status == JobStatus.queued)
        .where(Document.sponsor_id == user_id)
    )


def report_worker(name, backend, rows, running):
    """Record that worker `name` is alive, with `running` of `rows` in use."""
    now = utcnow()
    insert = (
        postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    )
    statement = insert(JobWorker).values(
        name=name,
        backend=backend,
        rows=rows,
        running=running,
        started_at=now,
        heartbeat_at=now,
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobWorker.name],
            set_={"rows": rows, "running": running, "heartbeat_at": now},
        )
    )
    db.session.commit()


def workers():
    """The workers heard from lately, the most recently heard first."""
    since = utcnow() - FORGET_WORKER_AFTER
    return db.session.scalars(
        select(JobWorker)
        .where(JobWorker.heartbeat_at > since)
        .order_by(JobWorker.heartbeat_at.desc(), JobWorker.name)
    ).all()
