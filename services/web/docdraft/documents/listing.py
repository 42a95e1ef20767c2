"""The sponsor's and the editor's document lists: filter, search, sort, pages.

`?state=` filters, `?q=` searches names and bodies, `?sort=` orders
(updated, name, state) and `?page=` pages by PAGE_SIZE. The page and
summary.json (what list.js polls to keep an open list current) run the same
query, so the rows the page shows are the rows it is compared with.
"""

import math
from dataclasses import dataclass, replace
from datetime import UTC

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import defer, selectinload

from ..access import documents_visible_to
from ..extensions import db
from ..models import Document, Retention, ReviewState, Revision, utcnow
from ..numbers import query_int
from ..services.review import WAITING_FOR, waiting_count
from ..services.users import contains_pattern
from .pages import isoformat

PAGE_SIZE = 25
QUERY_MAX = 200
LIST_FILTERS = [state.value for state in ReviewState] + ["archived"]
SORTS = ("updated", "name", "state")

# Whose turn a document is in: the inverse of the rule behind the
# navigation's "Your turn" count (review.WAITING_FOR), so the two agree.
TURN_IN_STATE = {state: role for role, state in WAITING_FOR.items()}

# The words of a PostgreSQL search. The GIN index of migration 2c9e7a5f1d43
# is on this exact expression; the planner uses it only while they match.
SEARCH_CONFIG = literal_column("'simple'::regconfig")
SEARCH_VECTOR = func.to_tsvector(
    SEARCH_CONFIG, Document.name.op("||")(literal_column("' '")).op("||")(Document.body)
)


@dataclass(frozen=True)
class ListArgs:
    """What a list shows: the query string, checked."""

    state: str | None = None
    q: str = ""
    sort: str = "updated"
    page: int = 1

    def url_args(self, **changes):
        """Query-string arguments for a link to this list with `changes`."""
        values = replace(self, **changes)
        args = {"state": values.state, "q": values.q}
        args["sort"] = values.sort if values.sort != "updated" else None
        args["page"] = values.page if values.page != 1 else None
        return {name: value for name, value in args.items() if value}


def parse_list_args(args):
    """ListArgs from a query string; 400 with the reason for a bad value."""
    state = args.get("state") or None
    if state is not None and state not in LIST_FILTERS:
        abort(400, description=f"Unknown state; use one of {', '.join(LIST_FILTERS)}.")
    q = " ".join(args.get("q", "").split())
    if len(q) > QUERY_MAX:
        abort(400, description=f"Search for at most {QUERY_MAX} characters.")
    sort = args.get("sort") or "updated"
    if sort not in SORTS:
        abort(400, description=f"Sort by one of: {', '.join(SORTS)}.")
    # A page past the last is the last page (list_documents clamps it).
    page = query_int("page", 1, clamp=True, args=args)
    return ListArgs(state=state, q=q, sort=sort, page=page)


@dataclass
class Listing:
    """One page of a list: its documents and where it sits among the pages."""

    args: ListArgs
    documents: list
    total: int
    pages: int


def list_documents(user, args, loads=None):
    """The page of `user`'s documents that `args` asks for; a page past the
    last one gives the last page. `loads`: what to load with each document
    (default: what a list row shows); the bodies are never loaded."""
    query = _filtered(documents_visible_to(user), args)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    args = replace(args, page=min(args.page, pages))
    query = (
        query.options(defer(Document.body), *(ROW_LOADS if loads is None else loads))
        .order_by(*_order(args.sort))
        .offset((args.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return Listing(args, db.session.scalars(query).all(), total, pages)


# What a list row shows: the latest suggestion and its job, the editor and
# the sponsor. A body can be 100,000 characters: no revision's is loaded.
ROW_LOADS = (
    selectinload(Document.revisions).options(
        defer(Revision.body),
        defer(Revision.machine_spans),
        selectinload(Revision.suggestions),
    ),
    selectinload(Document.retention).selectinload(Retention.editor),
    selectinload(Document.sponsor),
)


def _filtered(query, args):
    if args.state == "archived":
        query = query.where(Document.archived_at.is_not(None))
    else:
        query = query.where(Document.archived_at.is_(None))
        if args.state is not None:
            query = query.where(Document.review_state == args.state)
    if args.q:
        query = query.where(search_condition(args.q))
    return query


def search_condition(q):
    """Documents whose name or body matches `q`.

    PostgreSQL: full-text search on words (web search syntax: "a phrase",
    -excluded, or). Elsewhere (SQLite): each word of `q` must occur in the
    name or the body, as a case-insensitive substring.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        query = func.websearch_to_tsquery(SEARCH_CONFIG, q)
        return SEARCH_VECTOR.bool_op("@@")(query)
    return and_(*(_contains(word) for word in q.split()))


def _contains(word):
    pattern = contains_pattern(word)
    return or_(
        Document.name.ilike(pattern, escape="\\"),
        Document.body.ilike(pattern, escape="\\"),
    )


# Review states in the order of the workflow (draft first), for ?sort=state.
_STATE_ORDER = case(
    {state: position for position, state in enumerate(ReviewState)},
    value=Document.review_state,
)


def _order(sort):
    newest = (Document.updated_at.desc(), Document.id.desc())
    if sort == "name":
        return (func.lower(Document.name), Document.id)
    if sort == "state":
        return (_STATE_ORDER, *newest)
    return newest


def whose_turn(document):
    """The role the document waits for (sponsor or editor), or None."""
    if document.is_archived:
        return None
    return TURN_IN_STATE.get(document.review_state)


def turn_label(document, user):
    """The Turn column: Yours, the other role (Sponsor, Editor) or No one."""
    role = whose_turn(document)
    if role is None:
        return "No one"
    return "Yours" if role == user.role else role.value.title()


def state_name(document):
    return "archived" if document.is_archived else document.review_state.value


def updated_words(moment, now=None):
    """When, in words: "just now", "5 min ago", "3 h ago", "2 days ago", or
    the date (UTC) after a week."""
    if moment.tzinfo is None:  # SQLite hands back naive datetimes that are UTC
        moment = moment.replace(tzinfo=UTC)
    seconds = ((now or utcnow()) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 86400:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days > 1 else ''} ago"
    return moment.strftime("%Y-%m-%d")


def render_document_list():
    """The user's documents as the query string asks (see the module doc)."""
    listing = list_documents(current_user, parse_list_args(request.args))
    args = listing.args
    return render_template(
        "documents/list.html",
        listing=listing,
        documents=listing.documents,
        state=args.state,
        filters=LIST_FILTERS,
        sorts=SORTS,
        list_url=lambda **changes: url_for(
            request.endpoint, **args.url_args(**changes)
        ),
        summary_url=url_for("documents.summary", list=1, **args.url_args()),
        turn_of=whose_turn,
        turn_label=lambda document: turn_label(document, current_user),
        state_name=state_name,
        updated_words=updated_words,
        isoformat=isoformat,
    )


def summary_payload():
    """summary.json: the user's "Your turn" count and, with `?list=1` and the
    list's own query string, each row of that page of the list."""
    payload = {"your_turn": waiting_count(current_user)}
    if request.args.get("list"):
        # Only the rows' own columns: polled every 10 s by each open list.
        args = parse_list_args(request.args)
        listing = list_documents(current_user, args, loads=())
        payload.update(
            page=listing.args.page,
            pages=listing.pages,
            total=listing.total,
            documents=[_row(document) for document in listing.documents],
        )
    return payload


def _row(document):
    turn = whose_turn(document)
    return {
        "id": document.id,
        "updated_at": isoformat(document.updated_at),
        "updated": updated_words(document.updated_at),
        "state": state_name(document),
        "state_label": state_name(document).replace("_", " "),
        "turn": turn.value if turn else None,
        "turn_label": turn_label(document, current_user),
        "yours": turn == current_user.role,
    }
