"""The admin's view of the job queue at /admin/jobs, and cancelling any job.

Waiting jobs are listed in the order workers take them (jobs.queue's fair
order), running ones by the worker holding them; both are summed up per
sponsor. Documents are named by number only: admins decide who gets in, they
do not read what people write.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..forms import ActionForm
from ..jobs.queue import fair_order, workers
from ..models import Autodoc, Document, JobStatus, Revision, utcnow
from ..services.cancel import NotCancellable, cancel_any
from . import bp

# Waiting jobs listed one by one; past this the page gives their count only.
LISTED_MAX = 200


@dataclass
class SponsorLine:
    """One person's jobs: how many wait and run, and since when the oldest waits."""

    sponsor: object
    waiting: int = 0
    running: int = 0
    oldest_queued_at: datetime | None = None


@dataclass
class WorkerLine:
    """A worker as it reported itself (None: it never did), and its jobs."""

    name: str
    worker: object = None
    jobs: list = field(default_factory=list)


@bp.get("/jobs")
def jobs():
    active = _active_jobs()
    waiting = _in_fair_order([job for job in active if job.status == JobStatus.queued])
    running = [job for job in active if job.status == JobStatus.running]
    return render_template(
        "admin/jobs.html",
        waiting=waiting[:LISTED_MAX],
        waiting_total=len(waiting),
        oldest_wait=_oldest_wait(waiting),
        by_sponsor=_by_sponsor(active),
        by_worker=_by_worker(running),
        running_total=len(running),
        now=utcnow(),
        form=ActionForm(),
    )


@bp.post("/jobs/<int:autodoc_id>/cancel")
def cancel_job(autodoc_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        cancelled = cancel_any(current_user, autodoc_id)
    except NotCancellable as refused:
        flash(f"Job {autodoc_id}: {refused}")
        return redirect(url_for("admin.jobs"))
    if cancelled is None:
        abort(404)
    flash(f"Job {autodoc_id} cancelled.")
    return redirect(url_for("admin.jobs"))


def _active_jobs():
    """Waiting and running jobs with their revision, document and sponsor."""
    return db.session.scalars(
        select(Autodoc)
        .where(Autodoc.status.in_((JobStatus.queued, JobStatus.running)))
        .options(
            joinedload(Autodoc.revision)
            .joinedload(Revision.document)
            .joinedload(Document.sponsor)
        )
        .order_by(Autodoc.queued_at, Autodoc.id)
    ).all()


def _in_fair_order(waiting):
    order = {autodoc_id: place for place, autodoc_id in enumerate(fair_order())}
    return sorted(waiting, key=lambda job: order.get(job.id, len(order)))


def _oldest_wait(waiting):
    oldest = min((job.queued_at for job in waiting), default=None)
    return None if oldest is None else seconds_since(oldest)


def _by_sponsor(active):
    lines = {}
    for job in active:
        sponsor = job.revision.document.sponsor
        line = lines.setdefault(sponsor.id, SponsorLine(sponsor))
        if job.status == JobStatus.running:
            line.running += 1
            continue
        line.waiting += 1
        if line.oldest_queued_at is None or job.queued_at < line.oldest_queued_at:
            line.oldest_queued_at = job.queued_at
    return sorted(lines.values(), key=lambda line: (-line.waiting, line.sponsor.id))


def _by_worker(running):
    """Every worker heard from lately, and any other lease owner of a job."""
    lines = {worker.name: WorkerLine(worker.name, worker) for worker in workers()}
    for job in running:
        name = job.lease_owner or "(no lease)"
        lines.setdefault(name, WorkerLine(name)).jobs.append(job)
    return list(lines.values())


def seconds_since(moment, now=None):
    """Seconds from `moment` to now; SQLite hands back naive UTC datetimes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, ((now or utcnow()) - moment).total_seconds())


def duration(seconds):
    """3 s, 4 min 05 s, 2 h 03 min: a wait, as people read it."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def waited(moment, now=None):
    """How long ago `moment` was, in `duration`'s words."""
    return duration(seconds_since(moment, now))


bp.add_app_template_filter(duration)
bp.add_app_template_filter(waited)
