"""Documents, their revisions, and the suggestion each revision asks for.

Every change goes through `guard.advance` (one conditional UPDATE on the
document), so a stale form or a racing save changes nothing. A new revision
and its job (a queued autodoc) commit in one transaction with the timeline
entry; the job is handed to the queue only after that commit, so a queue can
lose a delivery but never a job.
"""

import logging
import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .. import words
from ..extensions import db
from ..jobs import dispatch
from ..models import (
    DOCUMENT_BODY_MAX,
    Autodoc,
    Document,
    EventKind,
    JobStatus,
    Retention,
    Revision,
    Role,
    User,
    UserStatus,
    utcnow,
)
from .guard import Conflict, advance, ensure_open
from .timeline import record

log = logging.getLogger("docdraft.documents")


class InvalidEditor(ValueError):
    """The chosen editor does not exist or is not approved."""


def approved_editor(editor_id):
    """The approved editor with this id, else InvalidEditor."""
    editor = db.session.get(User, editor_id) if editor_id is not None else None
    if editor is None or editor.role != Role.editor:
        raise InvalidEditor("Choose an editor from the list.")
    if editor.status != UserStatus.approved:
        raise InvalidEditor("This editor is not approved.")
    return editor


SUGGESTION_LENGTHS = ("short", "medium", "long")  # textgen.settings.LENGTHS
SUGGESTION_MODES = ("beam", "sample")


def _new_suggestion(mode="beam", length="medium"):
    """A queued job; sample mode gets its seed now, so it is on record."""
    if mode not in SUGGESTION_MODES or length not in SUGGESTION_LENGTHS:
        raise ValueError(f"unknown suggestion mode or length: {mode!r}, {length!r}")
    seed = secrets.randbelow(2**31) if mode == "sample" else None
    return Autodoc(
        status=JobStatus.queued, queued_at=utcnow(), mode=mode, length=length, seed=seed
    )


def _add_revision(document, author, spans, length="medium"):
    """Stage revision `document.head_revision` of the current body, with its job."""
    revision = Revision(
        document=document,
        number=document.head_revision,
        name=document.name,
        body=document.body,
        author=author,
        machine_spans=spans,
    )
    revision.suggestions.append(_new_suggestion(length=length))
    db.session.add(revision)
    return revision


def _commit_and_enqueue(revision):
    db.session.commit()
    if revision is not None:
        dispatch.enqueue([revision.autodoc.id])


def create_document(sponsor, name, body, editor_id, length="medium"):
    """Create a document with revision 1 and queue its suggestion."""
    editor = approved_editor(editor_id)
    document = Document(sponsor=sponsor, name=name.strip(), body=body, head_revision=1)
    document.retention = Retention(sponsor_id=sponsor.id, editor=editor)
    db.session.add(document)
    db.session.flush()
    revision = _add_revision(document, sponsor, spans=[], length=length)
    record(document, sponsor, EventKind.revision, revision_number=1)
    _commit_and_enqueue(revision)
    log.info("document=%s created by user=%s", document.id, sponsor.id)
    return document


def save_document(
    document, author, base_revision, name, body, editor_id=None, length="medium"
):
    """Save an edit made on `base_revision`; a changed body makes a new revision.

    Returns the new revision, or None when the body did not change.
    `editor_id` (sponsors only) reassigns the document. Raises Conflict when
    the document moved on or is locked, InvalidEditor for a bad editor.
    """
    name = name.strip()
    editor = None
    if editor_id is not None and editor_id != document.retention.editor_id:
        editor = approved_editor(editor_id)
    old_body, old_name = document.body, document.name
    old_spans = document.latest_revision.machine_spans
    body_changed = body != old_body
    advance(
        document,
        base_revision,
        new_head=base_revision + 1 if body_changed else None,
    )
    revision = None
    if body_changed:
        document.body = body
        document.name = name
        spans = words.carry_spans(old_body, old_spans, body)
        revision = _add_revision(document, author, spans, length)
        record(document, author, EventKind.revision, revision_number=revision.number)
    if name != old_name:
        document.name = name
        record(document, author, EventKind.rename, old=old_name, new=name)
    if editor is not None:
        _reassign(document, author, editor)
    _commit_and_enqueue(revision)
    return revision


def _reassign(document, author, editor):
    previous = document.retention.editor
    document.retention.editor = editor
    document.retention.assigned_at = utcnow()
    record(
        document,
        author,
        EventKind.reassignment,
        old=previous.name,
        new=editor.name,
    )


def accept_suggestion(document, user, base_revision):
    """Append the done suggestion of the latest revision as a new revision.

    The appended words are recorded as written by that autodoc (its model and
    settings). Raises Conflict if `base_revision` is not the latest revision
    or its suggestion is not done, or the document is locked.
    """
    ensure_open(document, base_revision)
    revision = _latest_with_suggestion(document, base_revision, "accepted")
    suggestion = revision.autodoc
    body = document.body + suggestion.text
    if len(body) > DOCUMENT_BODY_MAX:
        raise Conflict(
            f"Accepting would make the body longer than {DOCUMENT_BODY_MAX:,} "
            "characters. Shorten the body first.",
            document,
            base_revision,
        )
    spans = words.append_spans(
        document.body, revision.machine_spans, suggestion.text, suggestion.id
    )
    advance(document, base_revision, new_head=base_revision + 1)
    document.body = body
    new_revision = _add_revision(document, user, spans)
    record(
        document,
        user,
        EventKind.accept,
        revision_number=new_revision.number,
        suggestion_of=base_revision,
    )
    _commit_and_enqueue(new_revision)
    return new_revision


def dismiss_suggestion(document, user, base_revision):
    """Hide the latest revision's done suggestion; no new revision."""
    ensure_open(document, base_revision)
    revision = _latest_with_suggestion(document, base_revision, "dismissed")
    advance(document, base_revision)
    db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == revision.autodoc.id, Autodoc.dismissed_at.is_(None))
        .values(dismissed_at=utcnow(), dismissed_by_id=user.id)
    )
    record(document, user, EventKind.dismiss, revision_number=revision.number)
    db.session.commit()


def _latest_with_suggestion(document, base_revision, verb):
    """The latest revision if it is `base_revision` and its suggestion is usable."""
    revision = document.latest_revision
    if revision.number != base_revision:
        raise Conflict(
            f"Only the suggestion of the latest revision ({revision.number}) can "
            f"be {verb}; your page showed revision {base_revision}.",
            document,
            base_revision,
        )
    suggestion = revision.autodoc
    if suggestion.status != JobStatus.done:
        raise Conflict(
            f"The suggestion of revision {revision.number} is {suggestion.status.value}"
            f", not done; it cannot be {verb}.",
            document,
            base_revision,
        )
    if suggestion.is_dismissed:
        raise Conflict(
            f"The suggestion of revision {revision.number} was dismissed.",
            document,
            base_revision,
        )
    return revision


def request_suggestion(document, user, base_revision, mode, length):
    """Ask for one more suggestion for the latest revision ("try another").

    The revision keeps its earlier suggestions; the new one is shown once
    written. Raises Conflict when `base_revision` is not the latest revision,
    the document is locked, or a suggestion for it is still being written
    (the partial unique index settles two requests racing).
    """
    ensure_open(document, base_revision)
    revision = document.latest_revision
    if revision.number != base_revision:
        raise Conflict(
            f"Only the latest revision ({revision.number}) can get another "
            f"suggestion; your page showed revision {base_revision}.",
            document,
            base_revision,
        )
    busy = Conflict(
        f"A suggestion for revision {revision.number} is still being written; "
        "wait for it before asking for another.",
        document,
        base_revision,
    )
    if revision.autodoc.is_pending:
        raise busy
    suggestion = _new_suggestion(mode, length)
    revision.suggestions.append(suggestion)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise busy from None
    record(
        document,
        user,
        EventKind.suggestion,
        revision_number=revision.number,
        mode=mode,
        length=length,
    )
    db.session.commit()
    dispatch.enqueue([suggestion.id])
    return suggestion


def retry_generation(document):
    """Queue the latest revision's failed job again. Returns True if queued."""
    ensure_open(document)
    autodoc = document.latest_revision.autodoc
    result = db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == autodoc.id, Autodoc.status == JobStatus.failed)
        .values(  # a new series of attempts
            status=JobStatus.queued,
            error=None,
            attempts=0,
            queued_at=utcnow(),
            started_at=None,
            finished_at=None,
            detail=None,
        )
    )
    db.session.commit()
    if result.rowcount != 1:
        return False
    dispatch.enqueue([autodoc.id])
    return True
