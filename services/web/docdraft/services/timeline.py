"""The document's timeline: one Event per thing someone did to it."""

from ..extensions import db
from ..models import Event


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
