"""The quota of waiting suggestions: JOB_MAX_WAITING_PER_USER per sponsor.

A document's jobs count against its sponsor, whoever asked for them. Past
the quota a save still saves its revision (nothing typed is lost) but its
suggestion is held back: stored cancelled with detail "quota", which the
page explains, offering to ask for it again. "Try another" and "ask again"
past the quota are refused (HTTP 429) with the same words.

What is guaranteed: every new waiting job is counted in the transaction that
queues it, after taking the sponsor's lock, and is held back (or refused)
if that count passes the quota. On PostgreSQL the lock is the sponsor's
users row (SELECT ... FOR NO KEY UPDATE, which foreign key checks do not
wait for), so two admissions for one sponsor take turns, and the second
(READ COMMITTED: each statement sees what committed before it) counts the
first's job. On SQLite the transaction holds the database's write lock from
its first write, made before counting, so counts are exact as well. So
saves, "try another" and "ask again" never take a sponsor past the quota,
however many run at once. What can: the sweeper putting back in the queue
the running jobs of a worker that died (at most the jobs that sponsor had
running), and "retry" of a failed job (docdraft.jobs owns that path).
"""

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..jobs.queue import waiting_count
from ..models import JobStatus, User, utcnow

HELD = "quota"  # Autodoc.detail of a suggestion held back by the quota


class QuotaExceeded(Exception):
    """The sponsor has the most waiting suggestions allowed (HTTP 429)."""

    def __init__(self, document, limit):
        super().__init__(message(limit))
        self.message = message(limit)
        self.document = document


def limit():
    return current_app.config["JOB_MAX_WAITING_PER_USER"]


def message(most=None):
    """The words every refusal and held-back suggestion shows."""
    most = limit() if most is None else most
    return (
        f"Not queued: this document's sponsor already has {most} suggestions "
        "waiting to be written, the most allowed at once. Ask for this one "
        "again once some of those are written."
    )


def over_quota(document):
    """True when `document`'s sponsor has more queued jobs than allowed,
    counting those this transaction queued (flush them first). Takes the
    sponsor's lock, held until the transaction ends (see the docstring)."""
    db.session.flush()
    lock = select(User.id).where(User.id == document.sponsor_id)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(lock.with_for_update(key_share=True))
    return waiting_count(document.sponsor_id) > limit()


def hold_if_over(document, revision):
    """Hold back `revision`'s new suggestion past the quota; True if held.

    Called after the revision is staged, before its commit: the revision is
    saved either way."""
    if revision is None or revision.autodoc.status != JobStatus.queued:
        return False
    if not over_quota(document):
        return False
    held = revision.autodoc
    held.status = JobStatus.cancelled
    held.detail = HELD
    held.finished_at = utcnow()
    return True


def is_held(autodoc):
    return autodoc.status == JobStatus.cancelled and autodoc.detail == HELD
