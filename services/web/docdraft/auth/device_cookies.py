"""Login throttling with device cookies (OWASP's "Slow Down Online Guessing
Attacks with Device Cookies").

The rule:
- A browser that logs into an account gets a signed device cookie for that
  account (its id, a random nonce, a marker of the password).
- An attempt that carries a valid device cookie for the account it tries is
  judged by that cookie's own counter: RATELIMIT_ACCOUNT failures (10 per 15
  minutes) make the cookie untrusted until its window ends.
- Every other attempt is untrusted and judged by the account's counter of
  untrusted failures. Once it is full, untrusted clients get 429 until its
  window ends, even with the right password; browsers holding a device
  cookie for the account still log in.
- Only a wrong password counts. A refused form (400) or a 429 never does.

What it leaves: a person on a new browser (no device cookie) waits out the
lockout like the attacker who caused it.

The counters live in the rate limiter's storage (RATELIMIT_STORAGE_URI:
memory in development, Redis in production), shared by every web worker.
"""

import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC

from flask import current_app, make_response, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse

from .. import audit
from ..errors import MESSAGES, error_page
from ..extensions import limiter
from ..models import UserStatus
from ..services.users import normalize_email

log = logging.getLogger("docdraft.security")
SALT = "docdraft.device-cookie"
# One cookie per account a browser has logged into: a shared computer keeps
# each person's trust. The user id in the name says nothing a signed-in
# browser does not already know.
COOKIE_PREFIX = "device_"
LOCKED_DETAIL = (
    "Too many failed logins for this account from browsers it has not been "
    "used on. A browser you have logged in with before can still log in."
)


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _max_age():
    return current_app.config["DEVICE_COOKIE_DAYS"] * 24 * 3600


def _marker(user):
    """Ties a cookie to the password and to the last approval or rejection,
    so that a new password or a rejection makes every earlier cookie invalid.

    Keyed with SECRET_KEY because the signed payload is readable by whoever
    holds the cookie: it must tell nothing about the password hash."""
    changed = user.status_changed_at
    # SQLite hands back naive UTC, PostgreSQL aware: the same instant either way.
    stamp = changed.replace(tzinfo=changed.tzinfo or UTC).timestamp() if changed else 0
    text = f"{user.password_hash}|{stamp:.0f}".encode()
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:16]


def issue(response, user):
    """Give this browser a fresh device cookie for `user` (a rejected user
    gets none)."""
    if user.status == UserStatus.rejected:
        return
    payload = {"u": user.id, "n": secrets.token_urlsafe(16), "m": _marker(user)}
    response.set_cookie(
        COOKIE_PREFIX + str(user.id),
        _serializer().dumps(payload),
        max_age=_max_age(),
        path=url_for("auth.login"),  # only the login form needs to see it
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )


def device_nonce(user):
    """The nonce of this request's valid device cookie for `user`, or None
    (no cookie, a forged or expired one, another account's, an old password's,
    a rejected user's)."""
    if user is None or user.status == UserStatus.rejected:
        return None
    value = request.cookies.get(COOKIE_PREFIX + str(user.id))
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=_max_age())
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or data.get("u") != user.id:
        return None
    if not hmac.compare_digest(str(data.get("m")), _marker(user)):
        return None
    nonce = data.get("n")
    return nonce if isinstance(nonce, str) and nonce else None


def _limit():
    return parse(current_app.config["RATELIMIT_ACCOUNT"])


@dataclass(frozen=True)
class Counter:
    """Failed logins of one device cookie (`kind` "device", keyed by its
    nonce) or of an account's untrusted clients ("untrusted", keyed by the
    normalized email)."""

    kind: str
    key: str

    @property
    def _ids(self):
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
        return (*filter(None, [prefix]), f"login-{self.kind}", self.key)

    def locked(self):
        """Whether this counter is full: its clients wait out the window."""
        if not current_app.config["RATELIMIT_ENABLED"]:
            return False
        return not limiter.limiter.test(_limit(), *self._ids)

    def seconds_left(self):
        reset = limiter.limiter.get_window_stats(_limit(), *self._ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def count_failure(self):
        """Count one wrong password; True when it is the one that fills the
        counter (so a lockout is reported once per window)."""
        if not current_app.config["RATELIMIT_ENABLED"]:
            return False
        counted = limiter.limiter.hit(_limit(), *self._ids)
        return counted and self.locked()


def counter_for(email, user):
    """The counter that judges this attempt: the device cookie's own when the
    request carries a valid one for `user` that is not locked, else the
    account's untrusted counter. An unknown email has one too, so that a
    lockout says nothing about whether an account exists."""
    nonce = device_nonce(user)
    if nonce is not None:
        device = Counter("device", nonce)
        if not device.locked():
            return device
    return Counter("untrusted", normalize_email(email))


def count_failure(counter, user):
    """Count a wrong password; audit the lockout it starts, if it does."""
    if not counter.count_failure():
        return
    who = "a device cookie" if counter.kind == "device" else "untrusted clients"
    detail = f"{who} locked after {current_app.config['RATELIMIT_ACCOUNT']} failures"
    log.warning(
        "login locked for %s of user=%s from %s",
        who,
        user.id if user else "unknown",
        request.remote_addr,
    )
    audit.record("login_locked", target=user, detail=detail)


def refusal(counter):
    """The 429 page for a locked counter, with its Retry-After."""
    body, code = error_page(429, MESSAGES[429], LOCKED_DETAIL)
    response = make_response(body, code)
    response.headers["Retry-After"] = str(counter.seconds_left())
    return response
