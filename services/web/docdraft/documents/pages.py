"""Rendering a document for its sponsor or editor: its page, forms, conflicts.

The sponsor's and the editor's routes differ only in their edit form; both
render through these functions, so the page is the same for both.
"""

from flask import render_template, request, url_for
from flask_login import current_user

from .. import words
from ..errors import typed_text
from ..extensions import db
from ..forms import (
    ActionForm,
    CommentForm,
    EditorDocumentForm,
    ReviewForm,
    SponsorDocumentForm,
    SuggestionForm,
    TrainConsentForm,
    TryAnotherForm,
)
from ..jobs.queue import queue_position
from ..models import COMMENT_MAX, Role, UserStatus
from ..numbers import query_int
from ..services import quota
from ..services.review import available_actions
from ..services.timeline import timeline_page
from ..services.users import approved_editors


def document_url(document):
    """The document's page for the current user's role."""
    return url_for(f"{current_user.role.value}.document", document_id=document.id)


def edit_values(document):
    """Initial edit-form values on GET; a POST is read from the request alone,
    so a field missing from it is an error, never a silent keep."""
    if request.method != "GET":
        return None
    return _document_values(document)


def _document_values(document):
    return {
        "document_name": document.name,
        "document_body": document.body,
        "base_revision": document.head_revision,
        "editor_id": document.retention.editor_id,
        "suggestion_length": document.latest_revision.autodoc.length,
        "train_consent": document.train_consent,
        "train_consent_shown": "1" if document.train_consent else "0",
    }


def offer_editors(form, document):
    """The editor choices of a sponsor's form: approved editors, and the
    current one even when no longer approved (an unchanged save stays valid)."""
    current = document.retention.editor
    editors = approved_editors()
    form.set_editor_choices(editors, rejected=None if current in editors else current)


def edit_form_for(document):
    """A fresh edit form for the user's role, filled from the document: for a
    page shown while another of its forms (a comment) is refused."""
    values = _document_values(document)
    if current_user.role == Role.sponsor:
        form = SponsorDocumentForm(formdata=None, data=values)
        offer_editors(form, document)
        return form
    return EditorDocumentForm(formdata=None, data=values)


def saved_message(revision):
    if revision is None:
        return "Saved. The body did not change, so no new suggestion was requested."
    if quota.is_held(revision.autodoc):
        return f"Saved revision {revision.number}. {quota.message()}"
    if not revision.autodoc.is_pending:
        return (
            f"Saved revision {revision.number}: renamed; the body did not change, "
            "so its suggestion stays."
        )
    return f"Saved revision {revision.number}; the next suggestion is being written."


def body_view(revision):
    """Segments of a revision's body with machine words marked, and its share."""
    machine, total = words.machine_share(revision.body, revision.machine_spans)
    return {
        "segments": words.segments(revision.body, revision.machine_spans),
        "machine_words": machine,
        "total_words": total,
        "share": machine / total if total else 0.0,
    }


def render_document_page(
    document, form, status=200, comment_form=None, try_another_form=None, refusal=None
):
    """The document, its suggestion, review, timeline and revisions.

    `form` is the edit form (None: a fresh one is not needed, the page was
    refused for another form); `comment_form` a refused comment, shown with
    its errors and text; `try_another_form` a refused "try another", its
    choices kept, with `refusal` saying why next to it."""
    latest = document.latest_revision
    if form is None:
        form = edit_form_for(document)
    context = {
        "document": document,
        "latest": latest,
        "body": body_view(latest),
        "form": None if document.is_locked else form,
        "action_form": ActionForm(),
        "consent_form": TrainConsentForm(
            formdata=None, data={"train_consent": document.train_consent}
        ),
        "suggestion_form": SuggestionForm(data={"base_revision": latest.number}),
        "review_form": ReviewForm(data={"base_revision": latest.number}),
        "comment_form": comment_form
        or CommentForm(data={"base_revision": latest.number}),
        # The kind last asked for stays chosen.
        "try_another_form": try_another_form
        or TryAnotherForm(
            data={
                "base_revision": latest.number,
                "mode": latest.autodoc.mode,
                "length": latest.autodoc.length,
            }
        ),
        "refusal": refusal,
        "queue_position": queue_position(latest.autodoc),
        "quota_message": quota.message(),
        "actions": available_actions(document, current_user),
        "editor_rejected": document.editor.status != UserStatus.approved,
        "authors": _suggestion_models(document),
        "comment_max": COMMENT_MAX,
        # ?timeline=N: older events, a page at a time.
        "timeline": timeline_page(document, query_int("timeline", 1, clamp=True)),
    }
    return render_template("documents/detail.html", **context), status


def render_revision_page(document, revision):
    """One revision's body, machine words marked: the document page links
    each revision here instead of carrying every body (at 100,000 characters
    a body, eight revisions made a 1 MB page)."""
    return render_template(
        "documents/revision.html",
        document=document,
        revision=revision,
        latest_number=document.latest_revision.number,
        body=body_view(revision),
        authors=_suggestion_models(document),
    )


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
    typed = typed_text()
    yours = None
    if "document_body" in typed and typed["document_body"] != latest.body:
        yours = words.diff_words(latest.body, typed["document_body"])
    return render_template(
        "documents/conflict.html",
        document=document,
        latest=latest,
        body=body_view(latest),
        base=base_revision,
        diff=diff,
        message=conflict.message,
        typed=typed,
        yours=yours,
        typed_name=request.form.get("document_name", document.name),
        typed_length=request.form.get("suggestion_length"),
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
        "train_consent": document.train_consent,
        "machine_share": round(view["share"], 4),
        # 1 for the job that runs next; None unless waiting (jobs.queue).
        "queue_position": queue_position(autodoc),
        "queued_at": isoformat(autodoc.queued_at),
        "started_at": isoformat(autodoc.started_at),
        "finished_at": isoformat(autodoc.finished_at),
    }


def ordinal(number):
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 101st..."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    if number % 100 in (11, 12, 13):
        suffix = "th"
    return f"{number}{suffix}"


def isoformat(moment):
    """ISO 8601 in UTC; SQLite hands back naive datetimes that are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat().replace("+00:00", "Z")
