"""The suggestions of a document's latest revision: accept (all or the first
words), dismiss, ask for another, ask again for a cancelled one, retry a
failed one.

Accept and dismiss act only on the suggestion the page showed, so nobody acts
on text they have not seen; every change passes `guard.advance`.
"""

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .. import words
from ..extensions import db
from ..jobs import dispatch, runner
from ..models import DOCUMENT_BODY_MAX, Autodoc, EventKind, JobStatus, utcnow
from .guard import Conflict, advance, ensure_open
from .quota import QuotaExceeded, hold_if_over, limit, over_quota
from .revisions import (
    NO_ROOM,
    add_revision,
    commit_and_enqueue,
    length_for_room,
    new_suggestion,
)
from .timeline import record


def accept_suggestion(document, user, base_revision, suggestion_id, count=None):
    """Append the suggestion the page showed (or its first `count` words) to
    the body, as a new revision.

    The appended words are recorded as written by that autodoc (its model and
    settings). Raises Conflict unless `suggestion_id` is the newest finished
    suggestion of the latest revision, `base_revision`, and still shown; or
    when the document is locked or would grow past its size limit.
    """
    ensure_open(document, base_revision)
    revision, suggestion = _shown_suggestion(
        document, base_revision, suggestion_id, "accepted"
    )
    total = words.word_count(suggestion.text)
    count = min(count or total, total)
    text = words.first_words(suggestion.text, count)
    _ensure_room(document, base_revision, suggestion.text, text)
    spans = words.append_spans(
        document.body, revision.machine_spans, text, suggestion.id
    )
    advance(document, base_revision, new_head=base_revision + 1)
    document.body += text
    new_revision = add_revision(document, user, spans)
    record(
        document,
        user,
        EventKind.accept,
        revision_number=new_revision.number,
        suggestion_of=base_revision,
        suggestion_id=suggestion.id,
        words=count,
        of_words=total,
    )
    hold_if_over(document, new_revision)
    commit_and_enqueue(new_revision)
    return new_revision


def accepted_suggestion_id(detail, spans):
    """The suggestion an accept event took, from its detail and the machine
    spans of the revision it made; None for an accept of no words.

    Events recorded before the detail named it: the accepted text is the
    last span of that revision (words.append_spans puts it there).
    """
    detail = detail or {}
    if not detail.get("words"):
        return None
    if "suggestion_id" in detail:
        return detail["suggestion_id"]
    return spans[-1][2] if spans else None


def _ensure_room(document, base_revision, suggestion, accepted):
    """Conflict if appending `accepted` passes the body's size limit; the
    message says how many of the suggestion's words would still fit."""
    room = DOCUMENT_BODY_MAX - len(document.body)
    if len(accepted) <= room:
        return
    fitting = sum(1 for w in words.words(suggestion) if w.end <= room)
    advice = (
        f"Accept at most its first {fitting} words, or shorten the body first."
        if fitting
        else "Shorten the body first."
    )
    raise Conflict(
        f"Accepting would make the body longer than {DOCUMENT_BODY_MAX:,} "
        f"characters. {advice}",
        document,
        base_revision,
    )


def dismiss_suggestion(document, user, base_revision, suggestion_id):
    """Hide the suggestion the page showed; no new revision."""
    ensure_open(document, base_revision)
    revision, suggestion = _shown_suggestion(
        document, base_revision, suggestion_id, "dismissed"
    )
    advance(document, base_revision)
    db.session.execute(
        update(Autodoc)
        .where(Autodoc.id == suggestion.id, Autodoc.dismissed_at.is_(None))
        .values(dismissed_at=utcnow(), dismissed_by_id=user.id)
    )
    record(document, user, EventKind.dismiss, revision_number=revision.number)
    db.session.commit()


def _shown_suggestion(document, base_revision, suggestion_id, verb):
    """The latest revision and its newest finished suggestion, provided that
    is the one the page showed (`suggestion_id`) and it is not dismissed:
    nobody accepts or dismisses text they have not seen."""
    revision = document.latest_revision
    if revision.number != base_revision:
        raise Conflict(
            f"Only the suggestion of the latest revision ({revision.number}) can "
            f"be {verb}; your page showed revision {base_revision}.",
            document,
            base_revision,
        )
    shown = next((s for s in revision.suggestions if s.id == suggestion_id), None)
    if shown is not None and shown.status != JobStatus.done:
        raise Conflict(
            f"The suggestion on your page is {shown.status.value}, not written; "
            f"it cannot be {verb} yet.",
            document,
            base_revision,
        )
    finished = [s for s in revision.suggestions if s.status == JobStatus.done]
    newest = max(finished, key=lambda s: s.id, default=None)
    if newest is None or newest is not shown:
        raise Conflict(
            f"The suggestion on your page is not the newest finished suggestion "
            f"of revision {revision.number}, so it was not {verb}. Read the "
            "suggestion shown now, then choose again.",
            document,
            base_revision,
        )
    if newest.is_dismissed:
        raise Conflict(
            f"This suggestion of revision {revision.number} was dismissed.",
            document,
            base_revision,
        )
    return revision, newest


def request_suggestion(document, user, base_revision, mode, length):
    """Ask for one more suggestion for the latest revision ("try another").

    The revision keeps its earlier suggestions; the new one is shown once
    written. Raises Conflict when `base_revision` is not the latest revision,
    the document is locked, or a suggestion for it is still being written
    (the partial unique index settles two requests racing); QuotaExceeded
    when the document's sponsor has the most waiting suggestions allowed.
    """
    ensure_open(document, base_revision)
    revision = _latest_revision(document, base_revision, "get another suggestion")
    busy = _busy(document, base_revision, revision)
    if revision.autodoc.is_pending:
        raise busy
    suggestion = new_suggestion(document, mode, length)
    revision.suggestions.append(suggestion)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise busy from None
    _refuse_over_quota(document)
    record(
        document,
        user,
        EventKind.suggestion,
        revision_number=revision.number,
        mode=mode,
        length=length,
    )
    db.session.commit()
    if suggestion.is_pending:
        dispatch.enqueue([suggestion.id])
    return suggestion


def ask_again(document, user, base_revision, suggestion_id):
    """Queue again the cancelled suggestion the page showed (held back by the
    quota, or cancelled by someone): the newest of the latest revision.

    Raises Conflict when it is not that one or no longer cancelled, or the
    document is locked; QuotaExceeded while the sponsor has the most waiting
    suggestions allowed (nothing changes then).
    """
    ensure_open(document, base_revision)
    revision = _latest_revision(document, base_revision, "ask again for its suggestion")
    autodoc = revision.autodoc
    if autodoc.id != suggestion_id or autodoc.status != JobStatus.cancelled:
        raise Conflict(
            "Only a cancelled suggestion can be asked for again, and only the "
            f"newest of revision {revision.number}: this one is "
            f"{autodoc.status.value}.",
            document,
            base_revision,
        )
    if length_for_room(autodoc.length, DOCUMENT_BODY_MAX - len(document.body)) is None:
        raise Conflict(NO_ROOM, document, base_revision)
    try:
        requeued = runner.requeue(
            (Autodoc.id == autodoc.id) & (Autodoc.status == JobStatus.cancelled),
            new_series=True,
        )
    except IntegrityError:  # another suggestion of it was queued meanwhile
        db.session.rollback()
        raise _busy(document, base_revision, revision) from None
    if not requeued:
        db.session.rollback()
        raise Conflict("This suggestion was asked for again already.", document)
    _refuse_over_quota(document)
    record(
        document,
        user,
        EventKind.suggestion,
        revision_number=revision.number,
        mode=autodoc.mode,
        length=autodoc.length,
        again=True,
    )
    db.session.commit()
    dispatch.enqueue([autodoc.id])
    return autodoc


def _latest_revision(document, base_revision, verb):
    """The latest revision, provided the page showed it, else Conflict."""
    revision = document.latest_revision
    if revision.number != base_revision:
        raise Conflict(
            f"Only the latest revision ({revision.number}) can {verb}; your "
            f"page showed revision {base_revision}.",
            document,
            base_revision,
        )
    return revision


def _busy(document, base_revision, revision):
    return Conflict(
        f"A suggestion for revision {revision.number} is still being written; "
        "wait for it before asking for another.",
        document,
        base_revision,
    )


def _refuse_over_quota(document):
    """Undo the transaction and raise QuotaExceeded past the sponsor's quota."""
    if over_quota(document):
        db.session.rollback()
        raise QuotaExceeded(document, limit())


def retry_generation(document):
    """Queue the latest revision's failed job again. Returns True if queued."""
    ensure_open(document)
    autodoc = document.latest_revision.autodoc
    if length_for_room(autodoc.length, DOCUMENT_BODY_MAX - len(document.body)) is None:
        raise Conflict(NO_ROOM, document)
    requeued = runner.requeue(
        (Autodoc.id == autodoc.id) & (Autodoc.status == JobStatus.failed),
        new_series=True,
    )
    db.session.commit()
    if not requeued:
        return False
    dispatch.enqueue([autodoc.id])
    return True
