"""The document's timeline: one Event per thing someone did to it."""

import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Event

# Events a document page shows at once: 150 comments made a 336 kB page.
TIMELINE_PAGE_SIZE = 50


def record(document, actor, kind, revision_number=None, comment=None, **detail):
    """Stage a timeline entry; it commits with the change it describes."""
    event = Event(
        document=document,
        actor=actor,
        kind=kind,
        revision_number=revision_number,
        comment=comment,
        detail=detail or None,
    )
    db.session.add(event)
    return event


@dataclass(frozen=True)
class TimelinePage:
    events: list
    page: int
    pages: int
    total: int


def timeline_page(document, page, size=TIMELINE_PAGE_SIZE):
    """Page `page` of the document's events, newest first (a page past the
    last is the last)."""
    mine = Event.document_id == document.id
    total = db.session.scalar(select(func.count()).where(mine))
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    events = db.session.scalars(
        select(Event)
        .where(mine)
        .options(selectinload(Event.actor))
        .order_by(Event.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return TimelinePage(events=events, page=page, pages=pages, total=total)
