"""Suggestions: list a revision's, ask for another, accept, dismiss; through
the same services and checks as the document page's buttons."""

from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..jobs.queue import queue_position
from ..models import Autodoc, Revision
from ..services import suggestions
from ..services.guard import Conflict
from ..services.quota import QuotaExceeded
from . import bp
from .auth import document_for, refuse_admins
from .errors import api_error
from .schemas import DocumentOut
from .schemas_review import (
    AcceptRequest,
    SuggestionAction,
    SuggestionList,
    SuggestionOut,
    SuggestionQuery,
    SuggestionRequest,
)
from .spec import BODY_ERRORS, responses, spec

TAGS = ["suggestions"]


def refuse_conflict(conflict):
    """409: nothing changed; `current_revision` says where the document is."""
    api_error(
        409, message=conflict.message, current_revision=conflict.document.head_revision
    )


@bp.get("/documents/<int:document_id>/suggestions")
@spec.validate(resp=responses(404, HTTP_200=SuggestionList), tags=TAGS)
def list_suggestions(document_id, query: SuggestionQuery):
    """The suggestions of one revision (default: the latest), oldest first,
    with where each waiting one stands in the queue."""
    document = document_for(document_id)
    revision = document.latest_revision
    if query.revision is not None:
        revision = document.revision_number(query.revision)
        if revision is None:
            api_error(404, message=f"This document has no revision {query.revision}.")
    return SuggestionList(
        document_id=document.id,
        revision=revision.number,
        latest_revision=document.head_revision,
        suggestions=[
            SuggestionOut.of(suggestion, queue_position(suggestion))
            for suggestion in revision.suggestions
        ],
    )


@bp.post("/documents/<int:document_id>/suggestions")
@spec.validate(
    resp=responses(*BODY_ERRORS, 404, 409, HTTP_202=SuggestionOut), tags=TAGS
)
def request_suggestion(document_id, json: SuggestionRequest):
    """Ask for one more suggestion for the latest revision ("try another").

    409 when `base_revision` is not the latest, the document is locked, or a
    suggestion for it is still being written; 429 when the document's
    sponsor has the most waiting suggestions allowed (nothing is queued)."""
    document = document_for(document_id)
    shown = document.latest_revision.autodoc
    try:
        suggestion = suggestions.request_suggestion(
            document,
            current_user,
            json.base_revision,
            json.mode or shown.mode,
            json.length or shown.length,
        )
    except Conflict as conflict:
        refuse_conflict(conflict)
    except QuotaExceeded as refused:
        api_error(429, code="quota_exceeded", message=refused.message)
    return SuggestionOut.of(suggestion, queue_position(suggestion)), 202


@bp.post("/suggestions/<int:suggestion_id>/accept")
@spec.validate(resp=responses(*BODY_ERRORS, 404, 409, HTTP_200=DocumentOut), tags=TAGS)
def accept(suggestion_id, json: AcceptRequest):
    """Append the suggestion (or its first `words` words) to the body, as a
    new revision. Only the shown suggestion of `base_revision`, the latest
    revision, can be accepted: else 409, and nothing changes."""
    document, suggestion = _suggestion_for(suggestion_id)
    try:
        suggestions.accept_suggestion(
            document, current_user, json.base_revision, suggestion.id, json.words
        )
    except Conflict as conflict:
        refuse_conflict(conflict)
    return DocumentOut.of(document)


@bp.post("/suggestions/<int:suggestion_id>/dismiss")
@spec.validate(
    resp=responses(*BODY_ERRORS, 404, 409, HTTP_200=SuggestionOut), tags=TAGS
)
def dismiss(suggestion_id, json: SuggestionAction):
    """Hide the shown suggestion of `base_revision`; no new revision."""
    document, suggestion = _suggestion_for(suggestion_id)
    try:
        suggestions.dismiss_suggestion(
            document, current_user, json.base_revision, suggestion.id
        )
    except Conflict as conflict:
        refuse_conflict(conflict)
    db.session.refresh(suggestion)
    return SuggestionOut.of(suggestion)


def _suggestion_for(suggestion_id):
    """The suggestion and its document, found through the document, so that
    one of a document the user cannot see is 404 like a missing one."""
    refuse_admins()
    document_id = db.session.scalar(
        select(Revision.document_id)
        .join(Autodoc, Autodoc.revision_id == Revision.id)
        .where(Autodoc.id == suggestion_id)
    )
    if document_id is None:
        api_error(404)
    document = document_for(document_id)
    return document, db.session.get(Autodoc, suggestion_id)
