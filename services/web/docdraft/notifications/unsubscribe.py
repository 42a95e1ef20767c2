"""Signed one-click unsubscribe links (RFC 8058): a link in each mail turns
that kind of mail off for its recipient, without logging in.

The token carries the user id and the kind, signed with SECRET_KEY: the
signature is the authority, so nothing else is stored. It expires, so that
a mail forwarded years later cannot change anyone's settings.
"""

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import User
from .kinds import KINDS
from .links import absolute, app_path

SALT = "docdraft.notifications.unsubscribe"
MAX_AGE_SECONDS = 180 * 24 * 3600  # a mail read months later still works


class BadLink(ValueError):
    """A token that is forged, altered, or names no one (404)."""


class ExpiredLink(ValueError):
    """A genuine token past MAX_AGE_SECONDS (400: log in and use /account)."""


@dataclass(frozen=True)
class Unsubscribe:
    user: User
    kind: str


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(user, kind_name):
    return _serializer().dumps({"user": user.id, "kind": kind_name})


def read_token(token):
    """The user and kind `token` names; BadLink or ExpiredLink if none."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as error:
        raise ExpiredLink("This unsubscribe link has expired.") from error
    except BadSignature as error:
        raise BadLink("not a valid unsubscribe link") from error
    if not isinstance(data, dict):
        raise BadLink("not an unsubscribe token")
    kind = KINDS.get(data.get("kind"))
    user_id = data.get("user")
    if kind is None or kind.account_decision or not isinstance(user_id, int):
        raise BadLink("no kind of mail one can unsubscribe from")
    user = db.session.get(User, user_id)
    if user is None:
        raise BadLink("no such user")
    return Unsubscribe(user=user, kind=kind.name)


def link(user, kind_name):
    """The absolute unsubscribe link for `user`'s mail of `kind_name`."""
    token = make_token(user, kind_name)
    return absolute(app_path("notifications.unsubscribe", token=token))
