"""Rendering a document for its sponsor or editor: lists, the page, conflicts.

The sponsor's and the editor's routes differ only in their edit form; both
render through these functions, so the page is the same for both.
"""

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .. import words
from ..access import documents_visible_to
from ..errors import typed_text
from ..extensions import db
from ..forms import (
    ActionForm,
    CommentForm,
    ReviewForm,
    SuggestionForm,
    TryAnotherForm,
)
from ..models import Document, Retention, ReviewState, Revision, UserStatus
from ..services.review import available_actions

LIST_FILTERS = [state.value for state in ReviewState] + ["archived"]


def document_url(document):
    """The document's page for the current user's role."""
    return url_for(f"{current_user.role.value}.document", document_id=document.id)


def edit_values(document):
    """Initial edit-form values on GET; a POST is read from the request alone,
    so a field missing from it is an error, never a silent keep."""
    if request.method != "GET":
        return None
    return {
        "document_name": document.name,
        "document_body": document.body,
        "base_revision": document.head_revision,
        "editor_id": document.retention.editor_id,
        "suggestion_length": document.latest_revision.autodoc.length,
    }


def saved_message(revision):
    if revision is None:
        return "Saved. The body did not change, so no new suggestion was requested."
    return f"Saved revision {revision.number}; the next suggestion is being written."


def render_document_list():
    """The user's documents, newest change first; `?state=` filters them."""
    state = request.args.get("state") or None
    if state is not None and state not in LIST_FILTERS:
        abort(400)
    query = documents_visible_to(current_user).options(
        selectinload(Document.revisions).selectinload(Revision.suggestions),
        selectinload(Document.retention).selectinload(Retention.editor),
        selectinload(Document.sponsor),
    )
    if state == "archived":
        query = query.where(Document.archived_at.is_not(None))
    else:
        query = query.where(Document.archived_at.is_(None))
        if state is not None:
            query = query.where(Document.review_state == state)
    documents = db.session.scalars(query.order_by(Document.updated_at.desc())).all()
    return render_template(
        "documents/list.html", documents=documents, state=state, filters=LIST_FILTERS
    )


def body_view(revision):
    """Segments of a revision's body with machine words marked, and its share."""
    machine, total = words.machine_share(revision.body, revision.machine_spans)
    return {
        "segments": words.segments(revision.body, revision.machine_spans),
        "machine_words": machine,
        "total_words": total,
        "share": machine / total if total else 0.0,
    }


def render_document_page(document, form, status=200):
    """The document, its suggestion, review, timeline and revisions."""
    latest = document.latest_revision
    context = {
        "document": document,
        "latest": latest,
        "body": body_view(latest),
        "form": None if document.is_locked else form,
        "action_form": ActionForm(),
        "suggestion_form": SuggestionForm(data={"base_revision": latest.number}),
        "review_form": ReviewForm(data={"base_revision": latest.number}),
        "comment_form": CommentForm(data={"base_revision": latest.number}),
        "try_another_form": TryAnotherForm(
            data={"base_revision": latest.number, "length": latest.autodoc.length}
        ),
        "actions": available_actions(document, current_user),
        "editor_rejected": document.editor.status != UserStatus.approved,
        "authors": _suggestion_models(document),
    }
    return render_template("documents/detail.html", **context), status


def _suggestion_models(document):
    """autodoc id -> model name, to label machine-written words."""
    return {
        suggestion.id: suggestion.model_name
        for revision in document.revisions
        for suggestion in revision.suggestions
    }


def render_conflict(conflict):
    """409: the newer revision, what changed since the user's, and their text."""
    document = conflict.document
    db.session.refresh(document)
    latest = document.latest_revision
    base = conflict.base_revision
    base_revision = document.revision_number(base) if base else None
    diff = None
    if base_revision is not None and base_revision.number != latest.number:
        diff = words.diff_words(base_revision.body, latest.body)
    editable = not document.is_locked and "document_body" in request.form
    return render_template(
        "documents/conflict.html",
        document=document,
        latest=latest,
        body=body_view(latest),
        base=base_revision,
        diff=diff,
        message=conflict.message,
        typed=typed_text(),
        typed_name=request.form.get("document_name", document.name),
        editable=editable,
        form_url=document_url(document),
    ), 409


def status_payload(document):
    """The latest revision and its suggestion, as status.json reports them."""
    revision = document.latest_revision
    autodoc = revision.autodoc
    view = body_view(revision)
    return {
        "document_id": document.id,
        "revision": revision.number,
        "latest_revision": revision.number,
        "status": autodoc.status.value,
        "text": autodoc.text,
        "error": autodoc.error,
        "dismissed": autodoc.is_dismissed,
        "detail": autodoc.detail,
        "suggestion_id": autodoc.id,
        "suggestions": len(revision.suggestions),
        "mode": autodoc.mode,
        "length": autodoc.length,
        "seed": autodoc.seed,
        "model": autodoc.model_name,
        "weights_sha256": autodoc.weights_sha256,
        "settings": autodoc.settings,
        "prompt_tokens": autodoc.prompt_tokens,
        "prompt_tokens_cut": autodoc.prompt_tokens_cut,
        "review_state": document.review_state.value,
        "archived": document.is_archived,
        "machine_share": round(view["share"], 4),
        "queued_at": isoformat(autodoc.queued_at),
        "started_at": isoformat(autodoc.started_at),
        "finished_at": isoformat(autodoc.finished_at),
    }


def isoformat(moment):
    """ISO 8601 in UTC; SQLite hands back naive datetimes that are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat().replace("+00:00", "Z")
