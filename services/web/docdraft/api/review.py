"""Review: move a document along the workflow, comment, read its timeline,
diff two revisions, export it; through the same services as the pages."""

from flask import current_app, request
from flask_login import current_user
from spectree import Response
from spectree.utils import get_model_key

from .. import words
from ..documents import routes as document_pages
from ..extensions import limiter
from ..services import review
from ..services.guard import Conflict, WrongActor
from ..services.timeline import TIMELINE_PAGE_SIZE, timeline_page
from . import bp
from .auth import document_for, request_token
from .errors import ErrorBody, api_error
from .schemas import DocumentOut
from .schemas_review import (
    CommentRequest,
    DiffOut,
    DiffPart,
    DiffQuery,
    EventOut,
    ExportQuery,
    ReviewRequest,
    Timeline,
    TimelineQuery,
)
from .spec import BODY_ERRORS, COMMON_ERRORS, responses, spec
from .suggestions import refuse_conflict

TAGS = ["review"]
# The pages' own downloads: one place says what an export holds.
EXPORTS = {"md": document_pages.export_markdown, "txt": document_pages.export_text}
EXPORT_TYPES = ("text/markdown", "text/plain")


@bp.post("/documents/<int:document_id>/review")
@spec.validate(resp=responses(*BODY_ERRORS, 404, 409, HTTP_200=DocumentOut), tags=TAGS)
def review_action(document_id, json: ReviewRequest):
    """Take a review action on the revision read (`base_revision`):
    submit and reopen (the sponsor), approve and request_changes (the
    editor). 403 for the other role's action; 409 for an action the state
    does not allow, or when the document moved on or is archived."""
    document = document_for(document_id)
    try:
        review.transition(
            document, current_user, json.action, json.base_revision, json.comment
        )
    except Conflict as conflict:
        refuse_conflict(conflict)
    except WrongActor as error:
        api_error(403, message=f"Not yours to do: {error}.")
    return DocumentOut.of(document)


def _commenter():
    """Comments count per user, as on the pages (per address without a token,
    which is refused anyway)."""
    token = request_token()
    return f"comment:{token.user_id}" if token else f"comment:{request.remote_addr}"


@bp.post("/documents/<int:document_id>/comments")
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_COMMENT"],
    scope="comment",  # one count with the page's comments
    key_func=_commenter,
)
@spec.validate(resp=responses(*BODY_ERRORS, 404, 409, HTTP_201=EventOut), tags=TAGS)
def comment(document_id, json: CommentRequest):
    """Comment on the document (its sponsor or editor), on `base_revision`
    (default: the latest). 409 on an archived document; 429 past
    RATELIMIT_COMMENT per user."""
    document = document_for(document_id)
    if json.base_revision and document.revision_number(json.base_revision) is None:
        api_error(
            422, fields={"base_revision": ["This document has no such revision."]}
        )
    try:
        event = review.add_comment(
            document, current_user, json.body, json.base_revision
        )
    except Conflict as conflict:
        refuse_conflict(conflict)
    return EventOut.of(event), 201


@bp.get("/documents/<int:document_id>/timeline")
@spec.validate(resp=responses(404, HTTP_200=Timeline), tags=TAGS)
def timeline(document_id, query: TimelineQuery):
    """Everything done to the document, newest first, a page at a time."""
    document = document_for(document_id)
    found = timeline_page(document, query.page)
    return Timeline(
        events=[EventOut.of(event) for event in found.events],
        page=found.page,
        per_page=TIMELINE_PAGE_SIZE,
        pages=found.pages,
        total=found.total,
    )


@bp.get("/documents/<int:document_id>/diff")
@spec.validate(resp=responses(404, HTTP_200=DiffOut), tags=TAGS)
def diff(document_id, query: DiffQuery):
    """The word diff from revision `from` to revision `to`."""
    document = document_for(document_id)
    old = document.revision_number(query.from_)
    new = document.revision_number(query.to)
    if old is None or new is None:
        missing = query.from_ if old is None else query.to
        api_error(404, message=f"This document has no revision {missing}.")
    return DiffOut(
        document_id=document.id,
        from_revision=old.number,
        to_revision=new.number,
        parts=[
            DiffPart(op=part.op, text=part.text)
            for part in words.diff_words(old.body, new.body)
        ],
    )


class TextResponse(Response):
    """A 200 of text in `media_types`, and JSON errors: spectree declares
    only JSON bodies, so the text ones are added to what it generates."""

    def __init__(self, media_types, *errors):
        statuses = (*COMMON_ERRORS, *errors)
        super().__init__("HTTP_200", **{f"HTTP_{s}": ErrorBody for s in statuses})
        self.media_types = media_types

    def generate_spec(self, naming_strategy=get_model_key):
        answers = super().generate_spec(naming_strategy)
        text = {"schema": {"type": "string"}}
        answers["200"]["content"] = {kind: text for kind in self.media_types}
        return answers


@bp.get("/documents/<int:document_id>/export")
@spec.validate(resp=TextResponse(EXPORT_TYPES, 404), tags=TAGS)
def export(document_id, query: ExportQuery):
    """The document as the page's downloads give it: Markdown (text/markdown,
    the name as its title) or plain text (text/plain), UTF-8, as a file."""
    return EXPORTS[query.format](document_id)
