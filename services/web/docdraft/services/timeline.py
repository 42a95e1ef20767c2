"""The document's timeline: one Event per thing someone did to it."""

from dataclasses import dataclass

from ..extensions import db
from ..models import Event
from ..paging import newest_first

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
    rows, page, pages, total = newest_first(
        Event, Event.document_id == document.id, page, size
    )
    return TimelinePage(events=rows, page=page, pages=pages, total=total)
