"""Signing up, logging in, and admins deciding who gets in."""

import logging
import math
import re
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from werkzeug.security import generate_password_hash

from .. import audit, sessions
from ..extensions import db
from ..models import Document, Retention, Role, User, UserStatus, utcnow
from ..notifications import events as notifications
from . import tokens

log = logging.getLogger("docdraft.users")

# The roles anyone may sign up for, by the name in /signup/<name>.
SIGNUP_ROLES = {role.value: role for role in (Role.sponsor, Role.editor)}

# Checked against when the email is unknown, so that a failed login costs the
# same scrypt time whether or not the account exists.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class EmailTaken(ValueError):
    """An account with this email already exists."""


def normalize_email(email):
    return (email or "").strip().lower()


def find_user_by_email(email):
    return db.session.scalar(
        select(User).where(func.lower(User.email) == normalize_email(email))
    )


def signup_user(role, name, email, password, organization):
    """Create a pending sponsor or editor; status is never taken from input.

    For an email that already has an account nothing changes and None is
    returned, after hashing the password anyway, so that the answer takes
    as long as a real signup.
    """
    if role not in SIGNUP_ROLES.values():
        raise ValueError(f"cannot sign up as {role}")
    existing = find_user_by_email(email)
    if existing is not None:
        User().set_password(password)  # the same work as a real signup
        log.warning("signup for the existing account user=%s ignored", existing.id)
        audit.record("signup_existing_email", target=existing)
        return None
    user = User(
        role=role,
        status=UserStatus.pending,
        name=name.strip(),
        email=normalize_email(email),
        organization=organization.strip(),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    log.info("signup user=%s role=%s", user.id, role.value)
    audit.record("signup", target=user)
    return user


def authenticate(email, password):
    """The user whose email and password match, or None (in constant-ish time)."""
    user = find_user_by_email(email)
    if user is None:
        User(password_hash=_DUMMY_HASH).check_password(password)
        return None
    return user if user.check_password(password) else None


def set_user_status(admin, user, status, reason=None):
    """Approve or reject `user` (reversible); admins' own status is fixed.

    A rejection's `reason` is shown to the user on their status page.
    `admin` is None when the deployment itself decides (seed-demo, scripts).
    """
    if user.role == Role.admin:
        raise ValueError("admins cannot be approved or rejected")
    decided = status != user.status
    user.status = status
    user.status_changed_at = utcnow()
    user.status_reason = (reason or "").strip() or None
    if status == UserStatus.rejected:
        sessions.end_all(user)  # their cookies must not come back on approval
        tokens.revoke_all(user, admin)  # nor their API tokens
    if decided and admin is not None:  # the deployment's own seeding tells no one
        notifications.account_decided(admin, user)
    db.session.commit()
    log.info(
        "admin=%s set user=%s status=%s", getattr(admin, "id", None), user.id, status
    )
    audit.record(status.value, actor=admin, target=user, detail=user.status_reason)


def end_all_sessions(admin, user):
    """An admin ends every session of `user`, and revokes their API tokens."""
    sessions.end_all(user)
    tokens.revoke_all(user, admin)
    db.session.commit()
    log.info("admin=%s ended the sessions of user=%s", admin.id, user.id)
    audit.record("sessions_ended", actor=admin, target=user)


def create_admin(email, name, password):
    """Create an approved admin (the CLI's job; no web route makes admins)."""
    if find_user_by_email(email):
        raise EmailTaken(email)
    admin = User(
        role=Role.admin,
        status=UserStatus.approved,
        name=name.strip(),
        email=normalize_email(email),
        organization="",
    )
    admin.set_password(password)
    db.session.add(admin)
    db.session.commit()
    return admin


def approved_editors():
    """Editors a sponsor may assign: approved ones only."""
    return db.session.scalars(
        select(User)
        .where(User.role == Role.editor, User.status == UserStatus.approved)
        .order_by(User.name, User.id)
    ).all()


@dataclass(frozen=True)
class UserPage:
    users: list
    page: int
    pages: int

    @property
    def has_next(self):
        return self.page < self.pages


_LIKE_SPECIAL = re.compile(r"([\\%_])")


def contains_pattern(text):
    """A LIKE pattern (with escape="\\") for `text` as a literal substring:
    "%" finds a percent sign, not everything."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", text) + "%"


def find_users(text, status, page, size):
    """Users matching `text` (name, email, organization) and `status`, pending
    first, then oldest first; page `page` of `size` (a page past the last
    is the last)."""
    query = select(User)
    if text:
        pattern = contains_pattern(text.lower())
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (User.name, User.email, User.organization)
                )
            )
        )
    if status:
        query = query.where(User.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    pending_first = case((User.status == UserStatus.pending, 0), else_=1)
    rows = db.session.scalars(
        query.order_by(pending_first, User.created_at, User.id)
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return UserPage(users=rows, page=page, pages=pages)


def documents_held():
    """user id -> open (not archived) documents they sponsor or edit."""
    open_documents = Document.archived_at.is_(None)
    sponsored = select(Document.sponsor_id, func.count()).where(open_documents)
    edited = (
        select(Retention.editor_id, func.count())
        .join(Document, Retention.document_id == Document.id)
        .where(open_documents)
    )
    held = dict(db.session.execute(sponsored.group_by(Document.sponsor_id)).all())
    held.update(db.session.execute(edited.group_by(Retention.editor_id)).all())
    return held
