"""Cancelling suggestions: a waiting one by its document's sponsor or editor,
any waiting or running one by an admin.

A cancel is one conditional UPDATE from the states it may start from, so it
races a worker's claim safely: either the cancel lands first (the claim,
`WHERE status = 'queued'`, then takes nothing) or the claim does (a sponsor's
cancel then changes nothing and says so). An admin's cancel of a running job
clears its lease, so the worker's late result is discarded (the runner writes
only `WHERE lease_owner = me AND status = 'running'`). Either way the job
ends exactly once. Each cancel is recorded in the document's timeline and
in the audit log; the suggestion can be asked for again.
"""

from sqlalchemy import select, update

from .. import audit
from ..extensions import db
from ..models import Autodoc, EventKind, JobStatus, Revision, utcnow
from .timeline import record

CANCELLED = "cancelled"  # Autodoc.detail of a suggestion a person cancelled


class NotCancellable(Exception):
    """The job is no longer in a state this user may cancel it from."""


def cancel_waiting(document, user, suggestion_id):
    """Cancel a waiting suggestion of `document` (its sponsor or editor, who
    got it through access.get_document_for). Raises NotCancellable when it
    started or ended meanwhile; LookupError when it is not this document's."""
    autodoc = db.session.scalar(
        select(Autodoc)
        .join(Revision)
        .where(Autodoc.id == suggestion_id, Revision.document_id == document.id)
    )
    if autodoc is None:
        raise LookupError(suggestion_id)
    return _cancel(autodoc, user, (JobStatus.queued,))


def cancel_any(admin, autodoc_id):
    """An admin cancels a waiting or running job; None if there is no such job.
    Raises NotCancellable when it ended meanwhile."""
    autodoc = db.session.get(Autodoc, autodoc_id)
    if autodoc is None:
        return None
    return _cancel(autodoc, admin, (JobStatus.queued, JobStatus.running))


def _cancel(autodoc, user, from_states):
    was = next((state for state in from_states if _cancel_from(autodoc, state)), None)
    if was is None:
        db.session.rollback()
        db.session.refresh(autodoc)
        raise NotCancellable(explain(autodoc))
    db.session.refresh(autodoc)
    revision = autodoc.revision
    document = revision.document
    record(
        document,
        user,
        EventKind.cancel,
        revision_number=revision.number,
        suggestion_id=autodoc.id,
        was=was.value,
    )
    detail = f"suggestion {autodoc.id} of document {document.id} ({was.value})"
    audit.record("job_cancelled", actor=user, target=document.sponsor, detail=detail)
    return autodoc


def _cancel_from(autodoc, state):
    """Cancel `autodoc` if it is in `state` now; True if this did."""
    result = db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == autodoc.id, Autodoc.status == state)
        .values(
            status=JobStatus.cancelled,
            detail=CANCELLED,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def explain(autodoc):
    """Why a cancel changed nothing: the job moved on meanwhile."""
    if autodoc.status == JobStatus.running:
        return "This suggestion is being written now, so it can no longer be cancelled."
    if autodoc.status == JobStatus.cancelled:
        return "This suggestion was cancelled already."
    return f"This suggestion is {autodoc.status.value}, so there is nothing to cancel."
