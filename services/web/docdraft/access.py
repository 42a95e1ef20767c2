"""Who may enter where: role guards for blueprints and the one ownership query.

Every view that touches a document gets it through `get_document_for`, so a
forgotten filter cannot expose someone else's document (an IDOR).
"""

import logging
from functools import wraps

from flask import abort, request
from flask_login import current_user
from sqlalchemy import select

from . import audit
from .extensions import db, login_manager
from .models import Document, Event, EventKind, Retention, Role

log = logging.getLogger("docdraft.access")


def deny(reason):
    """Log a denied request and answer 403."""
    log.warning(
        "denied %s %s to user %s: %s",
        request.method,
        request.path,
        getattr(current_user, "id", None),
        reason,
    )
    route = audit.request_route()  # not the path: repeats must count on one row
    audit.record("denied", actor=current_user, detail=f"{route}: {reason}")
    abort(403)


def check_approved(*roles):
    """Let through only logged-in, approved users holding one of `roles`."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_approved:
        deny(f"account {current_user.status.value}")
    if roles and current_user.role not in roles:
        deny(f"role {current_user.role.value} not in {[r.value for r in roles]}")
    return None


def approved_required(view):
    """A single view for any approved user (guard_blueprint's one-view form)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        return check_approved() or view(*args, **kwargs)

    return guarded


def guard_blueprint(blueprint, *roles):
    """Apply `check_approved(*roles)` before every view of `blueprint`."""
    blueprint.before_request(lambda: check_approved(*roles))


def documents_visible_to(user):
    """The documents `user` may see: own for sponsors, assigned for editors."""
    query = select(Document)
    if user.role == Role.sponsor:
        return query.where(Document.sponsor_id == user.id)
    if user.role == Role.editor:
        return query.join(Retention).where(Retention.editor_id == user.id)
    return query.where(False)


def get_document_for(user, document_id):
    """The document if `user` may see it, else 404 (never reveal that it exists)."""
    document = db.session.scalar(
        documents_visible_to(user).where(Document.id == document_id)
    )
    if document is None:
        log.warning(
            "denied %s %s to user %s: document %s not theirs or missing",
            request.method,
            request.path,
            user.id,
            document_id,
        )
        # The route, not the path: trying id after id counts on one row.
        detail = f"{audit.request_route()}: not found"
        audit.record("denied", actor=user, detail=detail)
        abort(404, description=_unassigned(user, document_id))
    return document


def _unassigned(user, document_id):
    """Why an editor no longer sees a document they were assigned, if so: a
    plain 404 would leave them wondering where their work went."""
    if user.role != Role.editor:
        return None
    moved = db.session.scalar(
        select(Event)
        .where(Event.document_id == document_id, Event.kind == EventKind.reassignment)
        .order_by(Event.id.desc())
    )
    if moved is None or (moved.detail or {}).get("old_id") != user.id:
        return None
    return (
        "You are no longer the editor of this document: its sponsor assigned "
        f"another editor on {moved.created_at:%Y-%m-%d %H:%M} UTC."
    )
