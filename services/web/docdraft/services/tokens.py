"""Personal access tokens for the JSON API.

A token is `ddt_` + 43 URL-safe characters (32 random bytes): the prefix
lets secret scanners recognise a leaked one. It is shown once, when made;
the table keeps its sha256 and its first characters (for people to tell
tokens apart). A token opens the API while it is neither revoked nor
expired and its user is approved (docdraft.api.auth checks the user).
Rejecting a user, or an admin's "End sessions", revokes every token of the
user for good; a password change leaves them working.
"""

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from .. import audit
from ..extensions import db
from ..models import ApiToken, TokenScope

PREFIX = "ddt_"
SHOWN_PREFIX = 8  # "ddt_" and four characters of the secret
EXPIRES_DAYS_MAX = 365
USE_RECORDED_EVERY = timedelta(seconds=60)  # last_used_at: a write per minute


def now():
    # time.time, not datetime.now: tests move the clock by patching it.
    return datetime.fromtimestamp(time.time(), UTC)


def aware(moment):
    """SQLite hands timestamps back without their (UTC) zone."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def token_hash(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user, name, scope, expires_days):
    """Make a token for `user`; returns (row, the token itself, shown once)."""
    raw = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name.strip(),
        scope=TokenScope(scope),
        token_hash=token_hash(raw),
        prefix=raw[:SHOWN_PREFIX],
        created_at=now(),
        expires_at=now() + timedelta(days=expires_days),
    )
    db.session.add(row)
    db.session.commit()
    audit.record("token_created", actor=user, target=user, detail=_label(row))
    return row, raw


def find_token(raw):
    """The unrevoked, unexpired token `raw` is, or None (its user unchecked)."""
    if not raw or not raw.startswith(PREFIX):
        return None
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash(raw))
    )
    if row is None or not is_active(row):
        return None
    return row


def is_active(row):
    return row.revoked_at is None and aware(row.expires_at) > now()


def record_use(row, address):
    """Note when and from where `row` was used: at most once a minute, and at
    once from a new address, which is audited."""
    moved = row.last_used_address is not None and row.last_used_address != address
    last = aware(row.last_used_at)
    if not moved and last is not None and now() - last < USE_RECORDED_EVERY:
        return
    row.last_used_at, row.last_used_address = now(), address
    db.session.commit()
    if moved:
        audit.record("token_used_new_address", actor=row.user, detail=_label(row))


def tokens_of(user):
    """`user`'s tokens, the newest first (revoked and expired ones too)."""
    return db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def own_token(user, token_id):
    """Token `token_id` if it is `user`'s, else None."""
    row = db.session.get(ApiToken, token_id)
    return row if row is not None and row.user_id == user.id else None


def revoke_token(row, by):
    """Revoke one token (`by`: its user or an admin). Returns whether it was
    still unrevoked."""
    if row.revoked_at is not None:
        return False
    row.revoked_at, row.revoked_by_id = now(), by.id
    db.session.commit()
    audit.record("token_revoked", actor=by, target=row.user, detail=_label(row))
    return True


def revoke_all(user, by):
    """Revoke every token of `user` (the caller commits)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_by_id=getattr(by, "id", None))
        .execution_options(synchronize_session=False)
    )


def _label(row):
    return f"token {row.id} {row.prefix}… ({row.scope.value})"
