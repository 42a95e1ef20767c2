"""Password reset by mail: a single-use link that expires.

The link carries a random token (secrets.token_urlsafe(32)); the database
keeps only its sha256, so a copy of the table opens no account. A request
answers the same whatever the address (no enumeration), and costs one
scrypt hash either way, as signup does: the mail row for a known address is
small beside it. Only approved users are mailed. Using a link is one
conditional UPDATE (`WHERE used_at IS NULL`): of two posts at once, one
sets the password; it voids the user's other links and ends every session.
"""

import hashlib
import logging
import secrets
from datetime import UTC, timedelta

from flask import current_app
from sqlalchemy import select, update

from .. import audit, sessions
from ..extensions import db
from ..mail.outbox import enqueue
from ..mail.render import render
from ..models import PasswordReset, User, utcnow
from .users import find_user_by_email

log = logging.getLogger("docdraft.users")

TOKEN_BYTES = 32
TOKEN_MAX = 100  # longer is no token of ours: refused before hashing
SUBJECT = "Reset your Docdraft password"


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(email, address):
    """Mail a reset link if `email` is an approved user's; None otherwise.

    `address` is the client's, kept with the link (who asked for it).
    """
    user = find_user_by_email(email)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    User().set_password(token)  # the same slow work for every address
    reset = None
    if user is not None and user.is_approved:
        reset = _store_and_mail(user, token, address)
        log.info("password reset mailed to user=%s", user.id)
    else:
        log.info("password reset asked for an address that gets no mail")
    detail = None if reset else "no mail: unknown or not approved"
    audit.record("password_reset_requested", target=user, detail=detail)
    return reset


def _store_and_mail(user, token, address):
    seconds = current_app.config["PASSWORD_RESET_SECONDS"]
    reset = PasswordReset(
        user_id=user.id,
        token_hash=_hash(token),
        expires_at=utcnow() + timedelta(seconds=seconds),
        address=address,
    )
    db.session.add(reset)
    _mail_link(user, token, seconds)
    db.session.commit()
    return reset


def _mail_link(user, token, seconds):
    link = f"{current_app.config['APP_BASE_URL']}/reset/{token}"
    text, html = render(
        "password_reset", name=user.name, link=link, minutes=seconds // 60
    )
    enqueue(user, "password_reset", SUBJECT, text, html, secret=True)


def find_valid(token):
    """The usable reset for `token` (unused, unexpired, its user approved),
    or None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _hash(token))
    )
    if reset is None or reset.used_at is not None:
        return None
    expires = reset.expires_at
    if expires.replace(tzinfo=expires.tzinfo or UTC) <= utcnow():
        return None
    return reset if reset.user.is_approved else None


def reset_password(reset, password):
    """Set `password` if `reset` is still unused; True if this call used it.

    Every other link of the user is voided and every session ended. The new
    password voids the user's device cookies too (their marker holds it).
    """
    now = utcnow()
    used = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == reset.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        db.session.rollback()
        return False
    user = db.session.get(User, reset.user_id)
    user.set_password(password)
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    sessions.end_all(user)
    db.session.commit()
    log.info("password reset user=%s", user.id)
    audit.record("password_reset", actor=user)
    return True
