"""Documents, their revisions, and the suggestion each revision asks for.

Every change goes through `guard.advance` (one conditional UPDATE on the
document), so a stale form or a racing save changes nothing. A new revision
and its job (a queued autodoc) commit in one transaction with the timeline
entry; the job is handed to the queue only after that commit, so a queue can
lose a delivery but never a job.
"""

import logging
import secrets

from sqlalchemy import select, update
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


# Tokens each length asks for: textgen.settings.LENGTHS (a test keeps them
# equal; the web process does not import textgen).
SUGGESTION_TOKENS = {"short": 40, "medium": 100, "long": 200}
SUGGESTION_MODES = ("beam", "sample")
# Generous: GPT-2's tokens average about 4 characters of English.
CHARS_PER_TOKEN = 6
NO_ROOM = (
    f"The body is at its size limit ({DOCUMENT_BODY_MAX:,} characters), so no "
    "suggestion could be appended. Shorten the body to get one."
)


def length_for_room(length, room):
    """`length`, or the longest shorter one whose text fits in `room`
    characters; None when not even a short suggestion fits."""
    fitting = [
        name
        for name, tokens in SUGGESTION_TOKENS.items()
        if tokens * CHARS_PER_TOKEN <= room and tokens <= SUGGESTION_TOKENS[length]
    ]
    return fitting[-1] if fitting else None


def _new_suggestion(document, mode="beam", length="medium"):
    """A queued job for `document`'s body; sample mode gets its seed now, so it
    is on record. A body at its size limit gets a failed job saying so, since
    nothing could be appended."""
    if mode not in SUGGESTION_MODES or length not in SUGGESTION_TOKENS:
        raise ValueError(f"unknown suggestion mode or length: {mode!r}, {length!r}")
    fitting = length_for_room(length, DOCUMENT_BODY_MAX - len(document.body))
    seed = secrets.randbelow(2**31) if mode == "sample" else None
    if fitting is None:
        now = utcnow()
        return Autodoc(
            status=JobStatus.failed,
            error=NO_ROOM,
            queued_at=now,
            finished_at=now,
            mode=mode,
            length=length,
            seed=seed,
        )
    return Autodoc(
        status=JobStatus.queued,
        queued_at=utcnow(),
        mode=mode,
        length=fitting,
        seed=seed,
    )


def _add_revision(document, author, spans, length="medium", suggestion=None):
    """Stage revision `document.head_revision` of the current body with its
    suggestion: `suggestion`, or a new job of `length`."""
    suggestion = suggestion or _new_suggestion(document, length=length)
    revision = Revision(
        number=document.head_revision,
        name=document.name,
        body=document.body,
        author=author,
        machine_spans=spans,
        suggestions=[suggestion],
    )
    db.session.add(revision)
    revision.document = document
    return revision


def _commit_and_enqueue(revision):
    db.session.commit()
    if revision is not None and revision.autodoc.is_pending:
        dispatch.enqueue([revision.autodoc.id])


def create_document(sponsor, name, body, editor_id, length="medium", form_key=None):
    """Create a document with revision 1 and queue its suggestion.

    `form_key` is the create form's one-time key: a second post of the same
    key (a double click) returns the document the first one made.
    """
    editor = approved_editor(editor_id)
    earlier = _created_with(sponsor, form_key)
    if earlier is not None:
        return earlier
    document = Document(
        sponsor=sponsor,
        name=name.strip(),
        body=body,
        head_revision=1,
        create_key=form_key,
    )
    document.retention = Retention(sponsor_id=sponsor.id, editor=editor)
    db.session.add(document)
    try:
        db.session.flush()  # the unique key settles two posts racing
    except IntegrityError:
        db.session.rollback()
        return _created_with(sponsor, form_key)
    revision = _add_revision(document, sponsor, spans=[], length=length)
    record(document, sponsor, EventKind.revision, revision_number=1)
    _commit_and_enqueue(revision)
    log.info("document=%s created by user=%s", document.id, sponsor.id)
    return document


def _created_with(sponsor, form_key):
    if form_key is None:
        return None
    return db.session.scalar(
        select(Document).where(
            Document.sponsor_id == sponsor.id, Document.create_key == form_key
        )
    )


def save_document(
    document, author, base_revision, name, body, editor_id=None, length="medium"
):
    """Save an edit made on `base_revision`; a changed body makes a new revision.

    Returns the new revision (a rename alone makes one, keeping the
    suggestion), or None when neither the body nor the name changed.
    `editor_id` (sponsors only) reassigns the document. Raises Conflict when
    the document moved on or is locked, InvalidEditor for a bad editor.
    """
    name = name.strip()
    editor = None
    if editor_id is not None and editor_id != document.retention.editor_id:
        editor = approved_editor(editor_id)
    old_body, old_name = document.body, document.name
    latest = document.latest_revision
    body_changed, renamed = body != old_body, name != old_name
    # A rename is a revision too, so a form showing the old name is stale.
    advance(
        document,
        base_revision,
        new_head=base_revision + 1 if body_changed or renamed else None,
    )
    document.name = name
    revision = None
    if body_changed:
        document.body = body
        spans = words.carry_spans(old_body, latest.machine_spans, body)
        revision = _add_revision(document, author, spans, length)
        record(document, author, EventKind.revision, revision_number=revision.number)
    elif renamed:
        revision = _add_renamed_revision(document, author, latest)
    if renamed:
        record(
            document,
            author,
            EventKind.rename,
            revision_number=document.head_revision,
            old=old_name,
            new=name,
        )
    if editor is not None:
        _reassign(document, author, editor)
    _commit_and_enqueue(revision)
    return revision


def _add_renamed_revision(document, author, previous):
    """A revision with the same body under the new name. Its suggestion is the
    previous revision's, copied when finished (the prompt has not changed);
    one still being written is asked for again for the new revision."""
    old = previous.autodoc
    if old.is_pending:
        suggestion = _new_suggestion(document, old.mode, old.length)
    else:
        suggestion = _copy_suggestion(old)
    return _add_revision(
        document, author, previous.machine_spans, suggestion=suggestion
    )


COPIED_COLUMNS = (
    "status text error mode length seed model_name weights_sha256 settings "
    "prompt_tokens prompt_tokens_cut dismissed_at dismissed_by_id queued_at "
    "started_at finished_at attempts"
).split()


def _copy_suggestion(autodoc):
    return Autodoc(**{name: getattr(autodoc, name) for name in COPIED_COLUMNS})


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
        old_id=previous.id,
    )


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
    new_revision = _add_revision(document, user, spans)
    record(
        document,
        user,
        EventKind.accept,
        revision_number=new_revision.number,
        suggestion_of=base_revision,
        words=count,
        of_words=total,
    )
    _commit_and_enqueue(new_revision)
    return new_revision


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
    suggestion = _new_suggestion(document, mode, length)
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
    if suggestion.is_pending:
        dispatch.enqueue([suggestion.id])
    return suggestion


def retry_generation(document):
    """Queue the latest revision's failed job again. Returns True if queued."""
    ensure_open(document)
    autodoc = document.latest_revision.autodoc
    if length_for_room(autodoc.length, DOCUMENT_BODY_MAX - len(document.body)) is None:
        raise Conflict(NO_ROOM, document)
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
