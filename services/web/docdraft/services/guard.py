"""The one gate every change of a document passes: a conditional UPDATE.

A form carries `base_revision`, the revision its page showed. A change lands
only if, at the moment it is written, the document is still at that revision
(and not archived, and not approved unless the change allows it). The check
and the write are one UPDATE on the document's row, so PostgreSQL's row lock
and SQLite's write lock let exactly one of two racing saves through; the
other gets a Conflict (HTTP 409) and nothing of it is saved.
"""

from sqlalchemy import update

from ..extensions import db
from ..models import Document, ReviewState, utcnow


class Conflict(Exception):
    """The change does not apply to the document as it is now (HTTP 409)."""

    def __init__(self, message, document, base_revision=None):
        super().__init__(message)
        self.message = message
        self.document = document
        self.base_revision = base_revision


class WrongActor(Exception):
    """The change exists from this state, but not for this user (HTTP 403)."""


def advance(
    document,
    base_revision,
    *,
    new_head=None,
    from_states=None,
    to_state=None,
    allow_approved=False,
):
    """Claim `document` for one change, or raise Conflict and change nothing.

    Call it before staging anything else on the document: it refreshes the
    object from the row it just wrote.
    """
    conditions = [
        Document.id == document.id,
        Document.head_revision == base_revision,
        Document.archived_at.is_(None),
    ]
    if not allow_approved:
        conditions.append(Document.review_state != ReviewState.approved)
    if from_states is not None:
        conditions.append(Document.review_state.in_(from_states))
    values = {"updated_at": utcnow()}
    if new_head is not None:
        values["head_revision"] = new_head
    if to_state is not None:
        values["review_state"] = to_state
    result = db.session.execute(
        update(Document)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(document)
        message = explain(document, base_revision, allow_approved)
        raise Conflict(message, document, base_revision)
    db.session.refresh(document)


def explain(document, base_revision, allow_approved=False):
    """Why a change based on `base_revision` cannot apply to `document` now."""
    if document.is_archived:
        return "This document is archived and read-only; its sponsor can restore it."
    if document.head_revision != base_revision:
        return (
            f"Revision {document.head_revision} was saved after revision "
            f"{base_revision}, which your page showed. Nothing of yours was saved."
        )
    if document.review_state == ReviewState.approved and not allow_approved:
        return "This document is approved and locked; its sponsor can reopen it."
    return f"This is not possible while the document is {_label(document)}."


def _label(document):
    return document.review_state.value.replace("_", " ")


def ensure_open(document, base_revision=None):
    """Raise Conflict unless `document` is neither archived nor approved."""
    if document.is_locked:
        raise Conflict(
            explain(document, document.head_revision), document, base_revision
        )
