"""Who is told what, for each thing that happens: the services call these
inside their transaction, before their commit."""

from sqlalchemy import select

from ..extensions import db
from ..models import Autodoc, Document, Revision, UserStatus
from . import preferences
from .core import notify
from .kinds import KIND_OF_ACTION
from .links import app_path


def _quoted(document):
    return f"“{document.name}”"


def _document_path(document, anchor=None):
    return app_path("documents.open_document", anchor, document_id=document.id)


def account_decided(admin, user):
    """An admin approved or rejected `user`: the one thing told to a user who
    is not approved (docdraft.services.users.set_user_status)."""
    if user.status == UserStatus.approved:
        kind, message = "account_approved", "Your Docdraft account is approved."
    else:
        kind, message = "account_rejected", "Your Docdraft account was not approved."
        if user.status_reason:
            message += f" The reason given: {user.status_reason}"
    notify(
        user,
        kind,
        actor=admin,
        message=message,
        link=app_path("main.index"),
    )


def editor_assigned(document, actor, editor):
    notify(
        editor,
        "assigned",
        actor=actor,
        document=document,
        message=f"{actor.name} assigned {_quoted(document)} to you.",
        link=_document_path(document),
    )


def editor_changed(document, actor, old, new):
    """The old editor loses the document (their link: their list, since the
    document's page is no longer theirs), the new one gets it."""
    notify(
        old,
        "unassigned",
        actor=actor,
        document=document,
        message=f"{actor.name} gave {_quoted(document)} to another editor, {new.name}.",
        link=app_path("editor.documents"),
    )
    editor_assigned(document, actor, new)


def review_moved(document, actor, action, comment=None):
    """A review transition: whoever's turn it now is hears of it."""
    kind = KIND_OF_ACTION[action]
    to_editor = kind in ("submitted", "reopened")
    recipient = document.editor if to_editor else document.sponsor
    done = {
        "submitted": "submitted {} for your review",
        "reopened": "reopened {}",
        "changes_requested": "requested changes to {}",
        "approved": "approved {}",
    }[kind].format(_quoted(document))
    notify(
        recipient,
        kind,
        actor=actor,
        document=document,
        message=f"{actor.name} {done}.",
        link=_document_path(document),
        detail=comment or None,
    )


def commented(document, author, body):
    """A comment: the document's other participants (sponsor and editor)."""
    for participant in (document.sponsor, document.editor):
        notify(
            participant,
            "comment",
            actor=author,
            document=document,
            message=f"{author.name} commented on {_quoted(document)}.",
            link=_document_path(document, "timeline"),
            detail=body,
        )


def suggestions_written(autodoc_ids):
    """Suggestions were written (docdraft.jobs.runner.finish): each
    document's sponsor, if they asked for it (off by default)."""
    if not autodoc_ids or not preferences.anyone_wants("suggestion_ready"):
        return
    documents = db.session.scalars(
        select(Document)
        .join(Revision, Revision.document_id == Document.id)
        .join(Autodoc, Autodoc.revision_id == Revision.id)
        .where(Autodoc.id.in_(autodoc_ids))
        .distinct()
    ).all()
    for document in documents:
        notify(
            document.sponsor,
            "suggestion_ready",
            actor=None,
            document=document,
            message=f"A suggestion is ready for {_quoted(document)}.",
            link=_document_path(document),
        )
