"""Pieces shared by the sponsor's and the editor's document views."""

from flask import render_template, request
from flask_login import current_user
from sqlalchemy.orm import selectinload

from .access import documents_visible_to
from .extensions import db
from .forms import ActionForm
from .models import Document, Retention, Revision


def form_status(form):
    """HTTP status for a form page: 400 when a submitted form was refused."""
    return 400 if form.is_submitted() and form.errors else 200


def prefill(document, *extra):
    """Initial form values for an edit page (GET only; a POST brings its own)."""
    if request.method != "GET":
        return None
    values = {"document_name": document.name, "document_body": document.body}
    if "editor_id" in extra:
        values["editor_id"] = document.retention.editor_id
    return values


def saved_message(revision):
    if revision is None:
        return "Saved. The prompt did not change, so no new text was requested."
    return f"Saved revision {revision.number}; the machine text is being written."


def render_document_list():
    """The current user's documents (own or assigned), most recently changed first."""
    query = (
        documents_visible_to(current_user)
        .options(
            selectinload(Document.revisions).selectinload(Revision.autodoc),
            selectinload(Document.retention).selectinload(Retention.editor),
            selectinload(Document.sponsor),
        )
        .order_by(Document.updated_at.desc())
    )
    documents = db.session.scalars(query).all()
    return render_template("documents/list.html", documents=documents)


def render_document_page(document, form):
    """The document, its revisions with their machine text, and the edit form."""
    return render_template(
        "documents/detail.html",
        document=document,
        form=form,
        action_form=ActionForm(),
    )


def isoformat(moment):
    """ISO 8601 in UTC; SQLite hands back naive datetimes that are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat().replace("+00:00", "Z")


def status_payload(document):
    """The latest revision's job, as /documents/<id>/status.json reports it."""
    revision = document.latest_revision
    autodoc = revision.autodoc
    return {
        "document_id": document.id,
        "revision": revision.number,
        "status": autodoc.status.value,
        "text": autodoc.text,
        "error": autodoc.error,
        "queued_at": isoformat(autodoc.queued_at),
        "finished_at": isoformat(autodoc.finished_at),
    }
