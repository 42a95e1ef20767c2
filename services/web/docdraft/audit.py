"""The audit log: who did what to whom, when, from where, and how often.

`record` commits the entry in its own short transaction, so that a denial
or a failed login (which change nothing else) is kept too.

Repeats are counted, not stored: the same action by the same actor on the
same target from the same address with the same detail, within
AUDIT_REPEAT_SECONDS of the first, adds one to that row's `count` and moves
its `last_at`. A client hammering a rate limit, or trying one foreign
document id after another, so writes one row an hour, not one per request.
Details are cut to DETAIL_MAX characters, and name the route, not the path
a client typed (`request_route`), so that they can repeat at all.
"""

import hashlib
from datetime import timedelta

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import and_, update
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import AuditEvent, utcnow

DETAIL_MAX = 200
PATH_MAX = 100


def record(action, actor=None, target=None, detail=None):
    """Add one occurrence of an event; `actor` and `target` are users (or None).

    Race-safe on PostgreSQL and SQLite: the open row of a repeat is found by
    its unique `repeat_key`, and a new one is an INSERT ... ON CONFLICT that
    counts on the row another process inserted first.
    """
    event = {
        "action": action,
        "actor_id": getattr(actor, "id", None),
        "target_id": getattr(target, "id", None),
        "detail": shorten(detail, DETAIL_MAX),
        "client_address": request.remote_addr if has_request_context() else None,
    }
    now = utcnow()
    key = _repeat_key(event)
    if not _count_repeat(key, now, now - _window()):
        _close_stale(key, now - _window())
        _insert_or_count(event, key, now)
    db.session.commit()


def rate_limited(limit):
    """A request over `limit`: one row per route, limit, user and address,
    however many requests and whatever paths they were sent to."""
    record("rate_limited", actor=current_user, detail=f"{limit} on {request_route()}")


def request_route():
    """The route of the request ("/documents/<int:document_id>"), for details
    that must repeat when only an id differs; else its path, shortened."""
    if request.url_rule is not None:
        return request.url_rule.rule
    return shorten(request.path, PATH_MAX)


def shorten(text, limit):
    """`text` (any value, or None) cut to `limit` characters, marked with "…"."""
    if not text:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _window():
    return timedelta(seconds=current_app.config["AUDIT_REPEAT_SECONDS"])


def _repeat_key(event):
    """What makes two events the same, as a fixed-length unique key."""
    parts = [event[name] for name in sorted(event)]
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()


def _count_repeat(key, now, window_start):
    """Count one more on the open row of `key`, if it opened within the window."""
    result = db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.repeat_key == key, AuditEvent.created_at > window_start)
        .values(count=AuditEvent.count + 1, last_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0


def _close_stale(key, window_start):
    """A row whose window has passed keeps its count but no longer takes more."""
    db.session.execute(
        update(AuditEvent)
        .where(
            and_(AuditEvent.repeat_key == key, AuditEvent.created_at <= window_start)
        )
        .values(repeat_key=None)
        .execution_options(synchronize_session=False)
    )


def _insert_or_count(event, key, now):
    """Open a row for `key`; if another process just did, count on that one."""
    values = {**event, "created_at": now, "last_at": now, "count": 1}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if postgres else sqlite  # the two databases we run on
    statement = dialect.insert(AuditEvent).values(repeat_key=key, **values)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[AuditEvent.repeat_key],
            set_={"count": AuditEvent.count + 1, "last_at": now},
        )
    )
