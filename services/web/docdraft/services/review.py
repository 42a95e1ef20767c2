"""Review of a document: its state, comments, and archiving.

    draft --submit (sponsor)--> in_review --approve (editor)--> approved
    in_review --request_changes (editor, comment)--> changes_requested
    changes_requested --submit (sponsor)--> in_review
    approved --reopen (sponsor)--> draft

A transition carries `base_revision` like an edit: an editor approves the
revision they read, never one saved after it.
"""

import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update

from ..access import documents_visible_to
from ..extensions import db
from ..models import Document, EventKind, ReviewState, Role, UserStatus, utcnow
from ..notifications import events as notifications
from .guard import Conflict, WrongActor, advance
from .timeline import record

log = logging.getLogger("docdraft.review")


@dataclass(frozen=True)
class Transition:
    action: str
    source: ReviewState
    target: ReviewState
    role: Role


TRANSITIONS = [
    Transition("submit", ReviewState.draft, ReviewState.in_review, Role.sponsor),
    Transition("approve", ReviewState.in_review, ReviewState.approved, Role.editor),
    Transition(
        "request_changes",
        ReviewState.in_review,
        ReviewState.changes_requested,
        Role.editor,
    ),
    Transition(
        "submit", ReviewState.changes_requested, ReviewState.in_review, Role.sponsor
    ),
    Transition("reopen", ReviewState.approved, ReviewState.draft, Role.sponsor),
]
ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS))
DONE_AS = {
    "submit": "submitted for review",
    "approve": "approved",
    "request_changes": "sent back with changes requested",
    "reopen": "reopened",
}
# Whose turn it is: the state in which a document waits for each role.
WAITING_FOR = {
    Role.sponsor: ReviewState.changes_requested,
    Role.editor: ReviewState.in_review,
}


def find_transition(state, action):
    return next(
        (t for t in TRANSITIONS if t.source == state and t.action == action), None
    )


def available_actions(document, user):
    """The transitions `user` may take on `document` now."""
    if document.is_archived:
        return []
    return [
        t
        for t in TRANSITIONS
        if t.source == document.review_state and t.role == user.role
    ]


def transition(document, user, action, base_revision, comment=None):
    """Move `document` along `action`; Conflict (409) or WrongActor (403) if not.

    The comment (required for request_changes, checked by the form) is kept
    on the timeline entry.
    """
    if document.is_archived:
        raise Conflict("This document is archived and read-only.", document)
    step = find_transition(document.review_state, action)
    if step is None:
        raise Conflict(
            f"A document that is {document.review_state.value.replace('_', ' ')} "
            f"cannot be {DONE_AS[action]}.",
            document,
            base_revision,
        )
    if step.role != user.role:
        raise WrongActor(f"only the {step.role.value} may {action}")
    if action == "submit" and document.editor.status != UserStatus.approved:
        raise Conflict(
            f"The assigned editor, {document.editor.name}, is no longer approved. "
            "Assign another editor before submitting.",
            document,
            base_revision,
        )
    advance(
        document,
        base_revision,
        from_states=[step.source],
        to_state=step.target,
        allow_approved=True,
    )
    record(
        document,
        user,
        EventKind.transition,
        revision_number=base_revision,
        comment=comment or None,
        action=action,
        source=step.source.value,
        target=step.target.value,
    )
    notifications.review_moved(document, user, action, comment)
    db.session.commit()
    log.info("document=%s %s by user=%s", document.id, action, user.id)


def add_comment(document, user, body, base_revision=None):
    """A comment by the sponsor or the assigned editor, on the latest
    revision; returns its timeline event."""
    if document.is_archived:
        raise Conflict("This document is archived and read-only.", document)
    event = record(
        document,
        user,
        EventKind.comment,
        revision_number=base_revision or document.head_revision,
        comment=body,
    )
    notifications.commented(document, user, body)
    db.session.commit()
    return event


def archive(document, sponsor):
    """Make `document` read-only and hide it from the default lists."""
    _set_archived(document, sponsor, archived=True)


def restore(document, sponsor):
    _set_archived(document, sponsor, archived=False)


def _set_archived(document, sponsor, archived):
    column = Document.archived_at
    result = db.session.execute(
        update(Document)
        .where(
            Document.id == document.id,
            column.is_(None) if archived else column.is_not(None),
        )
        .values(archived_at=utcnow() if archived else None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        state = "already archived" if archived else "not archived"
        raise Conflict(f"This document is {state}.", document)
    kind = EventKind.archive if archived else EventKind.restore
    record(document, sponsor, kind, revision_number=document.head_revision)
    db.session.commit()


def waiting_count(user):
    """How many documents wait for `user` (their turn), archived ones aside."""
    state = WAITING_FOR.get(user.role)
    if state is None:
        return 0
    visible = documents_visible_to(user).where(
        Document.review_state == state, Document.archived_at.is_(None)
    )
    return db.session.scalar(select(func.count()).select_from(visible.subquery()))
