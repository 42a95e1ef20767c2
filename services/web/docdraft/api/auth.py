"""Bearer tokens: who an API request is, and what it may do.

Only `Authorization: Bearer ddt_...` opens the API: a browser's session
cookie is never read here, so a page on another site cannot make a logged-in
browser write through the API (no CSRF token is asked for, none is needed).
The token's user becomes `current_user` for the services, through
Flask-Login's per-request slot (`g._login_user`), without a session.
"""

import logging

from flask import current_app, g, request
from flask_login import current_user

from .. import audit
from ..access import get_document_for
from ..extensions import login_manager
from ..models import Role, TokenScope
from ..services.tokens import find_token, record_use
from .errors import api_error

log = logging.getLogger("docdraft.api")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
ADMINS_HAVE_NO_DOCUMENTS = (
    "Admins decide who gets in; documents belong to sponsors and their editors."
)


def public(view):
    """Mark a view that needs no token (the OpenAPI document)."""
    view.api_public = True
    return view


def request_token():
    """This request's valid token, or None; looked up once per request. Also
    fixes `current_user` (the token's user, else anonymous) before anything,
    the rate limiter included, asks for it."""
    if "api_token" not in g:
        g.api_token = find_token(_bearer())
        user = g.api_token.user if g.api_token else login_manager.anonymous_user()
        g._login_user = user
    return g.api_token


def _bearer():
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def rate_limit_key():
    """Limits count per token; requests without a valid one, per address."""
    token = request_token()
    if token is None:
        return f"api-address:{request.remote_addr}"
    return f"api-token:{token.id}"


def authenticate():
    """The blueprint's gate: a valid token of an approved user, whose scope
    allows this method. Records the token's use."""
    token = request_token()
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "api_public", False):
        return
    if token is None:
        api_error(
            401,
            message="Send a valid token: Authorization: Bearer ddt_... "
            "(missing, unknown, expired or revoked).",
        )
    user = token.user
    if not user.is_approved:
        deny(f"account {user.status.value}", f"Your account is {user.status.value}.")
    if token.scope == TokenScope.read and request.method not in READ_METHODS:
        deny(
            "read-only token",
            "This token's scope is read: it may only GET. Make a write token "
            "for changes.",
        )
    record_use(token, request.remote_addr)


def deny(reason, message):
    """Log and audit a refusal as the pages' `access.deny` does, then 403."""
    log.warning(
        "denied %s %s to user %s: %s",
        request.method,
        request.path,
        g._login_user.id,
        reason,
    )
    audit.record(
        "denied", actor=g._login_user, detail=f"{audit.request_route()}: {reason}"
    )
    api_error(403, message=message)


def refuse_admins():
    """Admins manage people, not documents: 403, as every document page
    answers them."""
    if current_user.role == Role.admin:
        deny("admins work on no document", ADMINS_HAVE_NO_DOCUMENTS)


def document_for(document_id):
    """The document as the pages find it (admins refused; one the user
    cannot see is 404)."""
    refuse_admins()
    return get_document_for(current_user, document_id)
