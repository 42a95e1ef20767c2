"""Bodies of the suggestion, review, timeline, diff and export endpoints,
with the limits and character rules of the pages' forms (docdraft.forms)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
)

from textgen.lengths import MODES

from ..forms import (
    REVISION_MAX,
    TEXT_AREA_BIDI_MESSAGE,
    TEXT_AREA_REFUSED,
    has_visible_text,
)
from ..models import COMMENT_MAX, DOCUMENT_BODY_MAX, EventKind, JobStatus
from ..services.review import ACTIONS
from ..services.timeline import TIMELINE_PAGE_SIZE
from .schemas import (
    DatabaseId,
    PageInfo,
    Strict,
    SuggestionLength,
    UserRef,
    _refuse,
    _unix_newlines,
    timestamp,
)

SuggestionMode = Literal[MODES]
ReviewAction = Literal[ACTIONS]
# A change on revision N writes N + 1: the form's bound (forms.REVISION_MAX).
BaseRevision = Annotated[
    int,
    Field(
        ge=1,
        le=REVISION_MAX,
        description="The revision your change was made on; a stale one is 409.",
    ),
]


def _visible(text):
    """As the comment form: text that shows nothing is no comment."""
    if not has_visible_text(text):
        raise ValueError("This field cannot be blank.")
    return text


# A line break is one character (CRLF counted as one), as the form counts it.
CommentText = Annotated[
    str,
    BeforeValidator(_unix_newlines),
    Field(max_length=COMMENT_MAX),
    _refuse(TEXT_AREA_REFUSED, TEXT_AREA_BIDI_MESSAGE),
    AfterValidator(_visible),
]


class SuggestionQuery(BaseModel):
    revision: DatabaseId | None = Field(
        None, description="A revision number of the document; default: the latest."
    )


class SuggestionOut(BaseModel):
    """One suggestion: the job, and the text it wrote once done."""

    id: int
    revision: int = Field(description="The revision it continues.")
    status: JobStatus
    mode: SuggestionMode
    length: SuggestionLength
    text: str | None = Field(description="The continuation, once done.")
    error: str | None = Field(description="Why it failed, when it did.")
    detail: str | None = Field(
        description="What a running job waits for (compiling), or why a "
        "cancelled one was never queued (quota)."
    )
    model: str | None = Field(description="The model that wrote it.")
    weights_sha256: str | None = Field(description="Its exact weights.")
    dismissed: bool
    queue_position: int | None = Field(
        description="1 for the job that runs next; null unless queued."
    )
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, suggestion, queue_position=None):
        return cls(
            id=suggestion.id,
            revision=suggestion.revision.number,
            status=suggestion.status,
            mode=suggestion.mode,
            length=suggestion.length,
            text=suggestion.text,
            error=suggestion.error,
            detail=suggestion.detail,
            model=suggestion.model_name,
            weights_sha256=suggestion.weights_sha256,
            dismissed=suggestion.is_dismissed,
            queue_position=queue_position,
            queued_at=timestamp(suggestion.queued_at),
            started_at=timestamp(suggestion.started_at),
            finished_at=timestamp(suggestion.finished_at),
        )


class SuggestionList(BaseModel):
    document_id: int
    revision: int = Field(description="The revision these suggestions continue.")
    latest_revision: int = Field(description="Base your changes on it.")
    suggestions: list[SuggestionOut] = Field(
        description="Oldest first; the last finished one is the one shown, "
        "which accept and dismiss act on."
    )


class SuggestionRequest(Strict):
    """Ask for one more suggestion for the latest revision ("try another")."""

    base_revision: BaseRevision
    mode: SuggestionMode | None = Field(
        None, description="Default: the kind last asked for."
    )
    length: SuggestionLength | None = Field(
        None, description="Default: the length last asked for."
    )


class SuggestionAction(Strict):
    """Dismiss the suggestion of `base_revision`."""

    base_revision: BaseRevision


class AcceptRequest(SuggestionAction):
    """Accept the suggestion of `base_revision`, or its first `words` words."""

    words: int | None = Field(
        None, ge=1, le=DOCUMENT_BODY_MAX, description="Default: all of them."
    )


class ReviewRequest(Strict):
    """Move the document along the review workflow (see services.review)."""

    action: ReviewAction
    base_revision: BaseRevision
    comment: CommentText | None = Field(
        None,
        validate_default=True,
        description="Kept on the timeline; required to request changes.",
    )

    @field_validator("comment")
    @classmethod
    def changes_need_a_comment(cls, comment, info):
        if comment is None and info.data.get("action") == "request_changes":
            raise ValueError("Say what should change.")
        return comment


class CommentRequest(Strict):
    body: CommentText
    base_revision: BaseRevision | None = Field(
        None, description="The revision it is about; default: the latest."
    )


class EventOut(BaseModel):
    """One entry of the timeline."""

    id: int
    kind: EventKind
    actor: UserRef
    revision: int | None = Field(description="The revision it happened on.")
    comment: str | None
    detail: dict[str, Any] | None = Field(description="What else it recorded.")
    created_at: datetime

    @classmethod
    def of(cls, event):
        return cls(
            id=event.id,
            kind=event.kind,
            actor=UserRef(id=event.actor.id, name=event.actor.name),
            revision=event.revision_number,
            comment=event.comment,
            detail=event.detail,
            created_at=timestamp(event.created_at),
        )


class TimelineQuery(BaseModel):
    page: int = Field(1, ge=1, le=100_000, description="Past the last: the last.")


class Timeline(PageInfo):
    events: list[EventOut] = Field(
        description=f"Newest first, {TIMELINE_PAGE_SIZE} a page."
    )


class DiffQuery(BaseModel):
    from_: DatabaseId = Field(alias="from", description="The older revision.")
    to: DatabaseId = Field(description="The newer revision.")


class DiffPart(BaseModel):
    op: Literal["equal", "delete", "insert"]
    text: str


class DiffOut(BaseModel):
    """The word diff: `equal` and `insert` parts joined give the newer body,
    `equal` and `delete` parts the older one."""

    document_id: int
    from_revision: int
    to_revision: int
    parts: list[DiffPart]


class ExportQuery(BaseModel):
    format: Literal["md", "txt"] = Field(
        description="md: Markdown, the name as its title; txt: the body alone."
    )
