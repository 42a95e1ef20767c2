"""Documents, their revisions, and the generation job each revision asks for.

The revision and its job (an autodoc row) commit in one transaction; the job
is handed to the queue only after that commit, so a queue can lose a delivery
but never a job.
"""

import logging

from sqlalchemy import func, select

from ..extensions import db
from ..jobs import dispatch
from ..models import (
    Autodoc,
    Document,
    JobStatus,
    Retention,
    Revision,
    Role,
    User,
    UserStatus,
    utcnow,
)

log = logging.getLogger("docdraft.documents")


class InvalidEditor(ValueError):
    """The chosen editor does not exist or is not approved."""


def _approved_editor(editor_id):
    editor = db.session.get(User, editor_id) if editor_id is not None else None
    if editor is None or editor.role != Role.editor:
        raise InvalidEditor("Choose an editor from the list.")
    if editor.status != UserStatus.approved:
        raise InvalidEditor("This editor is not approved.")
    return editor


def _add_revision(document, author):
    """Stage revision N+1 of `document` with a queued autodoc; returns it."""
    last = db.session.scalar(
        select(func.max(Revision.number)).where(Revision.document_id == document.id)
    )
    revision = Revision(
        document=document,
        number=(last or 0) + 1,
        name=document.name,
        body=document.body,
        author=author,
    )
    revision.autodoc = Autodoc(status=JobStatus.queued, queued_at=utcnow())
    db.session.add(revision)
    return revision


def create_document(sponsor, name, body, editor_id):
    """Create a document with revision 1 and queue its generation."""
    editor = _approved_editor(editor_id)
    document = Document(sponsor=sponsor, name=name.strip(), body=body)
    document.retention = Retention(sponsor_id=sponsor.id, editor=editor)
    db.session.add(document)
    db.session.flush()
    revision = _add_revision(document, sponsor)
    db.session.commit()
    log.info("document=%s created by user=%s", document.id, sponsor.id)
    dispatch.enqueue([revision.autodoc.id])
    return document


def update_document(document, author, name, body, editor_id=None):
    """Save an edit; a changed body makes a new revision and job.

    Returns the new revision, or None when the body did not change.
    `editor_id` (sponsors only) reassigns the document.
    """
    if editor_id is not None and editor_id != document.retention.editor_id:
        document.retention.editor = _approved_editor(editor_id)
        document.retention.assigned_at = utcnow()
    document.name = name.strip()
    revision = None
    if body != document.body:
        document.body = body
        revision = _add_revision(document, author)
    db.session.commit()
    if revision is not None:
        dispatch.enqueue([revision.autodoc.id])
    return revision


def retry_generation(document):
    """Queue the latest revision's failed job again. Returns True if queued."""
    revision = document.latest_revision
    autodoc = revision.autodoc if revision else None
    if autodoc is None or autodoc.status != JobStatus.failed:
        return False
    autodoc.status = JobStatus.queued
    autodoc.error = None
    autodoc.queued_at = utcnow()
    autodoc.started_at = autodoc.finished_at = None
    db.session.commit()
    dispatch.enqueue([autodoc.id])
    return True
