"""Running generation jobs: claim, generate, store. Safe to deliver twice.

A job is claimed with one conditional UPDATE (queued -> running), so two
workers, or one job delivered twice, can never both write its autodoc.
"""

import logging

from sqlalchemy import select, update

from ..extensions import db
from ..models import ERROR_MAX, Autodoc, JobStatus, utcnow
from .generator import get_generator

log = logging.getLogger("docdraft.jobs")


def claim(autodoc_id):
    """Mark a queued job running; True only for the one caller that won it."""
    result = db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == autodoc_id, Autodoc.status == JobStatus.queued)
        .values(
            status=JobStatus.running,
            started_at=utcnow(),
            attempts=Autodoc.attempts + 1,
        )
    )
    db.session.commit()
    return result.rowcount == 1


def run_jobs(autodoc_ids):
    """Run the given jobs as one batch; each ends done or failed."""
    claimed = [db.session.get(Autodoc, i) for i in autodoc_ids if claim(i)]
    if not claimed:
        return []
    try:
        _generate_into(claimed)
    except Exception as exc:  # noqa: BLE001 - any failure must end the job
        db.session.rollback()
        if len(claimed) == 1:
            _finish_failed(claimed[0], exc)
        else:
            # One by one, so that one bad prompt fails only its own job.
            for autodoc in claimed:
                _run_one(autodoc)
    return claimed


def _run_one(autodoc):
    try:
        _generate_into([autodoc])
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        _finish_failed(autodoc, exc)


def _generate_into(autodocs):
    generator = get_generator()
    texts = generator.generate([autodoc.revision.body for autodoc in autodocs])
    for autodoc, text in zip(autodocs, texts, strict=True):
        _finish_done(autodoc, text, generator)


def _finish_done(autodoc, text, generator):
    prepared = generator.prepare(autodoc.revision.body)
    autodoc.prompt_tokens = len(prepared.ids)
    autodoc.prompt_tokens_cut = prepared.cut
    autodoc.text = text
    autodoc.model_name = generator.info.name
    autodoc.settings = generator.settings.as_dict()
    autodoc.status = JobStatus.done
    autodoc.error = None
    autodoc.finished_at = utcnow()
    db.session.commit()
    log.info("autodoc=%s done (%d chars)", autodoc.id, len(text))


def _finish_failed(autodoc, exc):
    autodoc.status = JobStatus.failed
    autodoc.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    autodoc.finished_at = utcnow()
    db.session.commit()
    log.warning("autodoc=%s failed: %s", autodoc.id, autodoc.error)


def requeue_interrupted():
    """Put jobs left running by a stopped process back in the queue."""
    db.session.execute(
        update(Autodoc)
        .where(Autodoc.status == JobStatus.running)
        .values(status=JobStatus.queued, started_at=None)
    )
    db.session.commit()


def queued_job_ids():
    """Ids of all queued jobs, oldest first."""
    return db.session.scalars(
        select(Autodoc.id)
        .where(Autodoc.status == JobStatus.queued)
        .order_by(Autodoc.queued_at, Autodoc.id)
    ).all()
