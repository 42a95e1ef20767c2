"""Sessions that end on the server.

The session cookie carries the user's *session version*; every request
compares it with the database. Logout, a status change (reject, approve
again), a password change and an admin's "end sessions" bump the version,
so every cookie issued before stops working at once, replayed or not. The
cookie also carries when it was issued and last used: past SESSION_IDLE_SECONDS
without a request, or SESSION_MAX_SECONDS after login, it is refused.
"""

import time

from flask import current_app, session

from .extensions import db
from .models import User

VERSION_KEY, ISSUED_KEY, SEEN_KEY = "_sv", "_issued", "_seen"


def start(user):
    """Call right after login_user: bind this session to the current version."""
    now = int(time.time())
    session[VERSION_KEY] = user.session_version
    session[ISSUED_KEY] = session[SEEN_KEY] = now


def end_all(user):
    """Invalidate every session of `user` (the caller commits)."""
    user.session_version = (user.session_version or 0) + 1


def load_user(user_id):
    """Flask-Login's user loader: the user, if this session is still valid."""
    user = db.session.get(User, int(user_id))
    if user is None or session.get(VERSION_KEY) != user.session_version:
        return None
    now, config = int(time.time()), current_app.config
    if now - session.get(ISSUED_KEY, 0) > config["SESSION_MAX_SECONDS"]:
        return None
    if now - session.get(SEEN_KEY, 0) > config["SESSION_IDLE_SECONDS"]:
        return None
    if now - session[SEEN_KEY] > 60:  # refresh at most once a minute
        session[SEEN_KEY] = now
    return user
