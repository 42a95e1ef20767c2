"""Each user's choice, per kind, of mail and in-app notifications.

No NotificationPreference row means the kind's default (kinds.KINDS), so
a default changed later reaches everyone who never chose.
"""

from dataclasses import dataclass

from sqlalchemy import or_, select

from ..extensions import db
from ..models import NotificationPreference
from .kinds import KINDS


@dataclass(frozen=True)
class Choice:
    email: bool
    in_app: bool


def choice(user, kind_name):
    """What `user` chose for `kind_name` (account decisions: always both)."""
    kind = KINDS[kind_name]
    if kind.account_decision:
        return Choice(email=True, in_app=True)
    row = db.session.get(NotificationPreference, (user.id, kind_name))
    if row is None:
        return Choice(email=kind.email_default, in_app=kind.in_app_default)
    return Choice(email=row.email, in_app=row.in_app)


def choices(user, kinds):
    """{kind name: Choice} for `kinds`, in one query."""
    rows = {
        row.kind: row
        for row in db.session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user.id
            )
        )
    }
    return {
        kind.name: (
            Choice(email=rows[kind.name].email, in_app=rows[kind.name].in_app)
            if kind.name in rows
            else Choice(email=kind.email_default, in_app=kind.in_app_default)
        )
        for kind in kinds
    }


def save_choice(user, kind_name, email=None, in_app=None):
    """Set `user`'s choice for `kind_name` (None keeps that part); the caller
    commits. Both parts are written, so the row never leans on a default."""
    kind = KINDS[kind_name]
    if kind.account_decision:
        raise ValueError(f"{kind_name} is always sent")
    row = db.session.get(NotificationPreference, (user.id, kind_name))
    if row is None:
        row = NotificationPreference(
            user_id=user.id,
            kind=kind_name,
            email=kind.email_default,
            in_app=kind.in_app_default,
        )
        db.session.add(row)
    if email is not None:
        row.email = email
    if in_app is not None and kind.in_app_optional:
        row.in_app = in_app
    return row


def anyone_wants(kind_name):
    """Whether any user has `kind_name` on, in either part (for a kind off by
    default, the one query a busy caller runs before looking further)."""
    kind = KINDS[kind_name]
    if kind.email_default or kind.in_app_default:
        return True
    wanted = select(NotificationPreference.user_id).where(
        NotificationPreference.kind == kind_name,
        or_(NotificationPreference.email, NotificationPreference.in_app),
    )
    return db.session.scalar(wanted.limit(1)) is not None
