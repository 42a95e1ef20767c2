"""The API's request and response bodies (pydantic), with the same limits
and character rules as the pages' forms (docdraft.forms)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from textgen.lengths import DEFAULT_LENGTH, LENGTHS

from ..forms import (
    CONTROL_MESSAGE,
    LINE_BIDI_MESSAGE,
    LINE_REFUSED,
    TEXT_AREA_BIDI_MESSAGE,
    TEXT_AREA_REFUSED,
)
from ..models import (
    DOCUMENT_BODY_MAX,
    DOCUMENT_NAME_MAX,
    REASON_MAX,
    ReviewState,
    Role,
    UserStatus,
)

ID_MAX = 2**31 - 1  # what an INTEGER column holds
DatabaseId = Annotated[int, Field(ge=1, le=ID_MAX)]
SuggestionLength = Literal[tuple(LENGTHS)]
StateFilter = Literal[(*(state.value for state in ReviewState), "archived")]


def _refuse(refused, bidi_message):
    """A check of a text field: the form's control-character rules, and
    text that is Unicode (no lone surrogates, which no database stores)."""

    def check(text):
        controls, bidi = refused
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("The text is not valid Unicode.") from None
        if not controls.isdisjoint(text):
            raise ValueError(CONTROL_MESSAGE)
        if not bidi.isdisjoint(text):
            raise ValueError(bidi_message)
        if not text.strip():
            raise ValueError("This field cannot be blank.")
        return text

    return AfterValidator(check)


def _unix_newlines(text):
    return text.replace("\r\n", "\n") if isinstance(text, str) else text


DocumentName = Annotated[
    str,
    Field(max_length=DOCUMENT_NAME_MAX),
    _refuse(LINE_REFUSED, LINE_BIDI_MESSAGE),
]
DocumentBody = Annotated[
    str,
    BeforeValidator(_unix_newlines),
    Field(max_length=DOCUMENT_BODY_MAX),
    _refuse(TEXT_AREA_REFUSED, TEXT_AREA_BIDI_MESSAGE),
]


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """?page=&per_page=: which slice of a list."""

    page: int = Field(1, ge=1, le=100_000, description="Past the last: the last.")
    per_page: int = Field(25, ge=1, le=100)


class PageInfo(BaseModel):
    page: int
    per_page: int
    pages: int
    total: int


class UserRef(BaseModel):
    id: int
    name: str


def timestamp(moment):
    """An aware UTC datetime (SQLite returns naive ones, in UTC)."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


class DocumentQuery(Page):
    state: StateFilter | None = Field(
        None, description="A review state, or archived; default: all but archived."
    )


class DocumentSummary(BaseModel):
    id: int
    name: str
    state: ReviewState
    archived: bool
    revision: int = Field(description="The latest revision: base edits on it.")
    sponsor: UserRef
    editor: UserRef
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, document):
        return cls(**_summary_values(document))


def _summary_values(document):
    editor = document.retention.editor
    return {
        "id": document.id,
        "name": document.name,
        "state": document.review_state,
        "archived": document.is_archived,
        "revision": document.head_revision,
        "sponsor": UserRef(id=document.sponsor.id, name=document.sponsor.name),
        "editor": UserRef(id=editor.id, name=editor.name),
        "created_at": timestamp(document.created_at),
        "updated_at": timestamp(document.updated_at),
    }


class DocumentOut(DocumentSummary):
    body: str
    train_consent: bool
    suggestion_length: SuggestionLength

    @classmethod
    def of(cls, document):
        return cls(
            **_summary_values(document),
            body=document.body,
            train_consent=document.train_consent,
            suggestion_length=document.latest_revision.autodoc.length,
        )


class DocumentList(PageInfo):
    documents: list[DocumentSummary]


class DocumentCreate(Strict):
    name: DocumentName
    body: DocumentBody
    editor_id: DatabaseId = Field(description="An approved editor.")
    suggestion_length: SuggestionLength = DEFAULT_LENGTH
    train_consent: bool | None = Field(
        None, description="Default: the sponsor's own default (set on /account)."
    )


class DocumentUpdate(Strict):
    """A change made on `base_revision`; fields left out keep their value."""

    base_revision: DatabaseId = Field(
        description="The revision the change was made on; a stale one is 409."
    )
    name: DocumentName | None = None
    body: DocumentBody | None = None
    editor_id: DatabaseId | None = Field(None, description="Sponsors only.")
    suggestion_length: SuggestionLength | None = None
    train_consent: bool | None = Field(None, description="Sponsors only.")


class UserQuery(Page):
    status: UserStatus | None = Field(None, description="Only users with this status.")


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    organization: str
    role: Role
    status: UserStatus
    status_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, user):
        return cls(
            id=user.id,
            name=user.name,
            email=user.email,
            organization=user.organization,
            role=user.role,
            status=user.status,
            status_reason=user.status_reason,
            created_at=timestamp(user.created_at),
        )


class UserList(PageInfo):
    users: list[UserOut]


class Rejection(Strict):
    reason: (
        Annotated[
            str,
            Field(max_length=REASON_MAX, description="Shown to the user."),
            _refuse(TEXT_AREA_REFUSED, TEXT_AREA_BIDI_MESSAGE),
        ]
        | None
    ) = None
