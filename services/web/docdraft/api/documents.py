"""Documents: list, create, read, update, with the pages' rules and services."""

import math

from flask_login import current_user
from sqlalchemy import func, select

from ..access import documents_visible_to
from ..extensions import db
from ..models import Document, Role
from ..services.documents import InvalidEditor, create_document, save_document
from ..services.guard import Conflict, WrongActor
from . import bp
from .auth import document_for, refuse_admins
from .errors import api_error
from .schemas import (
    DocumentCreate,
    DocumentList,
    DocumentOut,
    DocumentQuery,
    DocumentSummary,
    DocumentUpdate,
)
from .spec import BODY_ERRORS, responses, spec

TAGS = ["documents"]


@bp.get("/documents")
@spec.validate(resp=responses(HTTP_200=DocumentList), tags=TAGS)
def list_documents(query: DocumentQuery):
    """The documents the token's user sees: a sponsor's own, an editor's
    assigned ones, newest change first (admins: 403, as on the pages)."""
    refuse_admins()
    documents = _filtered(documents_visible_to(current_user), query.state)
    total = db.session.scalar(select(func.count()).select_from(documents.subquery()))
    pages = max(1, math.ceil(total / query.per_page))
    page = min(query.page, pages)
    rows = db.session.scalars(
        documents.order_by(Document.updated_at.desc(), Document.id.desc())
        .offset((page - 1) * query.per_page)
        .limit(query.per_page)
    ).all()
    return DocumentList(
        documents=[DocumentSummary.of(document) for document in rows],
        page=page,
        per_page=query.per_page,
        pages=pages,
        total=total,
    )


def _filtered(documents, state):
    """As the pages' lists: archived ones only when asked for by name."""
    if state == "archived":
        return documents.where(Document.archived_at.is_not(None))
    documents = documents.where(Document.archived_at.is_(None))
    if state is not None:
        documents = documents.where(Document.review_state == state)
    return documents


@bp.post("/documents")
@spec.validate(resp=responses(*BODY_ERRORS, HTTP_201=DocumentOut), tags=TAGS)
def create(json: DocumentCreate):
    """A sponsor creates a document; its first suggestion is queued."""
    if current_user.role != Role.sponsor:
        api_error(403, message="Only sponsors create documents.")
    consent = json.train_consent
    if consent is None:
        consent = current_user.train_consent_default
    try:
        document = create_document(
            current_user,
            json.name,
            json.body,
            json.editor_id,
            json.suggestion_length,
            train_consent=consent,
        )
    except InvalidEditor as error:
        db.session.rollback()
        api_error(422, fields={"editor_id": [str(error)]})
    return DocumentOut.of(document), 201


@bp.get("/documents/<int:document_id>")
@spec.validate(resp=responses(404, HTTP_200=DocumentOut), tags=TAGS)
def get_document(document_id):
    """One document (404 when it is not the user's to see)."""
    return DocumentOut.of(document_for(document_id))


@bp.patch("/documents/<int:document_id>")
@spec.validate(resp=responses(*BODY_ERRORS, 404, 409, HTTP_200=DocumentOut), tags=TAGS)
def update_document(document_id, json: DocumentUpdate):
    """Save a change made on `base_revision` (a new revision when the body or
    the name changes). 409 when the document moved on since, or is locked:
    nothing is saved, and `current_revision` says where it is now."""
    document = document_for(document_id)
    sponsor_only = json.editor_id is not None or json.train_consent is not None
    if sponsor_only and current_user.id != document.sponsor_id:
        api_error(403, message="Only the sponsor reassigns or changes consent.")
    try:
        save_document(
            document,
            current_user,
            json.base_revision,
            document.name if json.name is None else json.name,
            document.body if json.body is None else json.body,
            json.editor_id,
            json.suggestion_length or document.latest_revision.autodoc.length,
            train_consent=json.train_consent,
        )
    except Conflict as conflict:
        api_error(
            409,
            message=conflict.message,
            current_revision=conflict.document.head_revision,
        )
    except InvalidEditor as error:
        db.session.rollback()
        api_error(422, fields={"editor_id": [str(error)]})
    except WrongActor as error:
        api_error(403, message=str(error))
    return DocumentOut.of(document)
