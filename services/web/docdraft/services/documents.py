"""Documents: creating one, saving an edit (a new revision), reassigning.

Every change goes through `guard.advance` (one conditional UPDATE on the
document), so a stale form or a racing save changes nothing. Revisions and
their jobs are staged by `revisions`; a suggestion's fate is `suggestions`.
"""

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import words
from ..extensions import db
from ..models import (
    Document,
    EventKind,
    Retention,
    Role,
    User,
    UserStatus,
    utcnow,
)
from ..notifications import events as notifications
from .guard import WrongActor, advance
from .quota import hold_if_over
from .revisions import add_revision, commit_and_enqueue, copy_suggestion, new_suggestion
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


def create_document(
    sponsor,
    name,
    body,
    editor_id,
    length="medium",
    form_key=None,
    train_consent=False,
):
    """Create a document with revision 1 and queue its suggestion (held back
    past the sponsor's quota, see `quota`).

    `form_key` is the create form's one-time key: a second post of the same
    key (a double click) returns the document the first one made.
    `train_consent` on is recorded on the timeline like every later change.
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
    revision = add_revision(document, sponsor, spans=[], length=length)
    record(document, sponsor, EventKind.revision, revision_number=1)
    notifications.editor_assigned(document, sponsor, editor)
    if train_consent:
        _set_consent(document, sponsor, True)
    hold_if_over(document, revision)
    commit_and_enqueue(revision)
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
    document,
    author,
    base_revision,
    name,
    body,
    editor_id=None,
    length="medium",
    train_consent=None,
):
    """Save an edit made on `base_revision`; a changed body makes a new revision.

    Returns the new revision (a rename alone makes one, keeping the
    suggestion), or None when neither the body nor the name changed. Past
    the sponsor's quota the revision is saved and its suggestion held back.
    `editor_id` (sponsors only) reassigns the document; `train_consent`
    (sponsors only; None keeps it) gives or withdraws training consent.
    Raises Conflict when the document moved on or is locked, InvalidEditor
    for a bad editor, WrongActor when someone else than the sponsor changes
    consent.
    """
    name = name.strip()
    consent_changes = train_consent is not None and (
        train_consent != document.train_consent
    )
    if consent_changes:
        _ensure_sponsor(document, author)
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
        revision = add_revision(document, author, spans, length)
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
    if consent_changes:
        _set_consent(document, author, train_consent)
    hold_if_over(document, revision)
    commit_and_enqueue(revision)
    return revision


def _add_renamed_revision(document, author, previous):
    """A revision with the same body under the new name. Its suggestion is the
    previous revision's, copied when finished (the prompt has not changed);
    one still being written is asked for again for the new revision."""
    old = previous.autodoc
    if old.is_pending:
        suggestion = new_suggestion(document, old.mode, old.length)
    else:
        suggestion = copy_suggestion(old)
    return add_revision(document, author, previous.machine_spans, suggestion=suggestion)


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
    notifications.editor_changed(document, author, previous, editor)


def set_train_consent(document, user, on):
    """Give (`on`) or withdraw training consent for `document`, whatever its
    state: approved and archived documents are locked against edits, not
    against their sponsor's consent. Returns whether anything changed.

    Only the sponsor may (WrongActor otherwise). A withdrawal takes the
    document out of every training set built after it (training.dataset);
    models already trained keep what they learned.
    """
    _ensure_sponsor(document, user)
    changed = db.session.execute(
        update(Document)
        .where(Document.id == document.id, Document.train_consent != on)
        .values(train_consent=on)
        .execution_options(synchronize_session=False)
    ).rowcount
    # The conditional UPDATE makes two racing posts record one change.
    if changed:
        record(document, user, EventKind.consent, on=on)
    db.session.commit()
    db.session.refresh(document)
    return bool(changed)


def _ensure_sponsor(document, user):
    if user.id != document.sponsor_id:
        raise WrongActor("Only the document's sponsor can change training consent.")


def _set_consent(document, actor, on):
    document.train_consent = on
    record(document, actor, EventKind.consent, on=on)
