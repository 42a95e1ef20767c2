"""The audit log page's query: filter by action, actor and time, then page.

`?action=` is one action; `?actor=` an email or a user id; `?from=` and
`?to=` dates (UTC, both days included). A row counts its repeats over a
span of time (docdraft.audit); it matches a range that span touches.
"""

import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import EMAIL_MAX, AuditEvent
from ..numbers import DB_INT_MAX, NotAWholeNumber, query_int, whole_number
from ..services.users import find_user_by_email

ACTION_MAX = 40  # AuditEvent.action
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class AuditFilters:
    """What the page shows, as the query string gave it (for its links)."""

    action: str = ""
    actor: str = ""
    start: str = ""  # ?from=
    end: str = ""  # ?to=

    def url_args(self, **extra):
        names = {"action": "action", "actor": "actor", "start": "from", "end": "to"}
        args = {names[key]: value for key, value in asdict(self).items() if value}
        return {**args, **extra}


@dataclass(frozen=True)
class AuditPage:
    events: list
    page: int
    pages: int
    total: int


def parse_filters(args):
    """AuditFilters from a query string; 400 with the reason for a bad one."""
    filters = AuditFilters(
        action=args.get("action", "").strip(),
        actor=args.get("actor", "").strip(),
        start=args.get("from", "").strip(),
        end=args.get("to", "").strip(),
    )
    if len(filters.action) > ACTION_MAX or len(filters.actor) > EMAIL_MAX:
        abort(400, description="An action or actor that long matches nothing.")
    for name, text in (("from", filters.start), ("to", filters.end)):
        if text:
            _day(name, text)  # refuses a bad date now, before any query
    return filters


def find_events(filters, size):
    """The page (?page=, bounded; past the last is the last) of events
    matching `filters`, newest first."""
    query = _filtered(select(AuditEvent), filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / size))
    page = min(query_int("page", 1, clamp=True), pages)
    events = db.session.scalars(
        query.options(selectinload(AuditEvent.actor), selectinload(AuditEvent.target))
        .order_by(AuditEvent.last_at.desc(), AuditEvent.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return AuditPage(events=events, page=page, pages=pages, total=total)


def actions():
    """Every action the log holds, for the filter's choices."""
    return db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()


def _filtered(query, filters):
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(AuditEvent.actor_id == _actor_id(filters.actor))
    if filters.start:
        query = query.where(AuditEvent.last_at >= _day("from", filters.start))
    if filters.end and filters.end != "9999-12-31":  # the last day has no next
        next_day = _day("to", filters.end) + timedelta(days=1)
        query = query.where(AuditEvent.created_at < next_day)
    return query


def _actor_id(text):
    """A user id, or the id of the user with this email; -1 (no one) if none."""
    if text.isascii() and text.isdigit():
        try:
            return whole_number(text, 1, DB_INT_MAX, "The actor id")
        except NotAWholeNumber as error:
            abort(400, description=str(error))
    user = find_user_by_email(text)
    return user.id if user is not None else -1


def _day(name, text):
    """Midnight UTC starting the date `text` (YYYY-MM-DD); 400 if none."""
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        abort(400, description=f"?{name}= must be a date such as 2026-01-31.")
