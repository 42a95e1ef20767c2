"""Sessions that end on the server: one `LoginSession` row per login.

The cookie carries a random secret; the row keeps only its sha256, so a copy
of the table cannot be replayed as cookies. A request is logged in only while
its row is active: not ended, used within SESSION_IDLE_SECONDS, and younger
than SESSION_MAX_SECONDS. Ending a row (logout, "end this one") ends every
copy of that cookie at once and no other session; `end_all` (log out
everywhere, a password change, a rejection, an admin's "End sessions") ends
every row of the user.
"""

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from flask import current_app, flash, g, request, session
from sqlalchemy import and_, select, update

from .devices import DEVICE_MAX, device_name
from .extensions import db
from .models import LoginSession, User

SECRET_KEY = "_sid"
SEEN_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often
ENDED_MESSAGE = (
    "Your session has ended: it was ended from another device or by an admin, "
    "or it went unused too long. Log in again to go on."
)


def _now():
    # time.time, not datetime.now: tests move the clock by patching it.
    return datetime.fromtimestamp(time.time(), UTC)


def _aware(moment):
    """SQLite hands timestamps back without their (UTC) zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def start(user):
    """Record a new session of `user` and bind this cookie to it.

    Call right after login_user, on a cleared session (no fixation).
    """
    secret, now = secrets.token_urlsafe(32), _now()
    row = LoginSession(
        user_id=user.id,
        secret_hash=_hash(secret),
        device=device_name(request.user_agent.string)[:DEVICE_MAX],
        address=request.remote_addr,
        created_at=now,
        last_seen_at=now,
    )
    db.session.add(row)
    db.session.commit()
    session[SECRET_KEY] = secret
    g.login_session = row
    return row


def _active(now):
    """The SQL condition for a row that still logs its cookie in."""
    config = current_app.config
    born_after = now - timedelta(seconds=config["SESSION_MAX_SECONDS"])
    seen_after = now - timedelta(seconds=config["SESSION_IDLE_SECONDS"])
    return and_(
        LoginSession.ended_at.is_(None),
        LoginSession.created_at > born_after,
        LoginSession.last_seen_at > seen_after,
    )


def current():
    """This request's active session row, or None."""
    if "login_session" not in g:
        secret = session.get(SECRET_KEY)
        g.login_session = secret and db.session.scalar(
            select(LoginSession).where(
                LoginSession.secret_hash == _hash(secret), _active(_now())
            )
        )
    return g.login_session or None


def load_user(user_id):
    """Flask-Login's user loader: the user, while this cookie's row is active."""
    row = current()
    if row is None or str(row.user_id) != str(user_id):
        _say_it_ended()
        return None
    now = _now()
    if now - _aware(row.last_seen_at) >= SEEN_EVERY:
        # Runs when a view first asks for current_user (its access check),
        # before the view has changed anything, so this commit is only ours.
        row.last_seen_at = now
        db.session.commit()
    return db.session.get(User, row.user_id)


def _say_it_ended():
    """Tell the user once why they see the login page (ended elsewhere, or
    by time), instead of logging them out without a word."""
    if session.pop(SECRET_KEY, None):
        flash(ENDED_MESSAGE)


def active_sessions(user):
    """`user`'s active sessions, the most recently used first."""
    return db.session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, _active(_now()))
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    ).all()


def own_session(user, session_id):
    """Session `session_id` if it is `user`'s (ended or not), else None."""
    row = db.session.get(LoginSession, session_id)
    return row if row is not None and row.user_id == user.id else None


def end(row):
    """End one session (the caller commits); other sessions go on."""
    if row.ended_at is None:
        row.ended_at = _now()


def end_all(user, keep=None):
    """End every session of `user`, except `keep` (the caller commits)."""
    query = update(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(LoginSession.id != keep.id)
    db.session.execute(query.values(ended_at=_now()))
