"""The audit log: who did what to whom, when, and from where.

`record` commits the entry in its own short transaction, so that a denial
or a failed login (which change nothing else) is kept too.
"""

from flask import has_request_context, request

from .extensions import db
from .models import AuditEvent


def record(action, actor=None, target=None, detail=None):
    """Append one entry; `actor` and `target` are users (or None)."""
    address = request.remote_addr if has_request_context() else None
    db.session.add(
        AuditEvent(
            action=action,
            actor_id=getattr(actor, "id", None),
            target_id=getattr(target, "id", None),
            detail=(detail or None) and str(detail)[:500],
            client_address=address,
        )
    )
    db.session.commit()
