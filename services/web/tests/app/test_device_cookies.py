"""Device cookies: untrusted clients cannot lock the owner out of an account.

A browser that has logged into an account holds a signed device cookie for
it; its failures count on that cookie alone, and the account's lockout of
untrusted clients does not reach it (docdraft/auth/device_cookies.py).
"""

import uuid

import pytest
import redis
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from docdraft.auth.device_cookies import COOKIE_PREFIX, SALT
from docdraft.extensions import db
from docdraft.models import AuditEvent, Role

from .conftest import PASSWORD, Browser, redis_url

WRONG = "wrong password!"
NEW_PASSWORD = "a new and long passphrase"
LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ACCOUNT": "3 per 15 minutes",
    "RATELIMIT_LOGIN": "8/minute",
}
pytestmark = pytest.mark.app_config(**LIMITS)


def browser_from(app, address):
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def device(app, email, address="10.1.0.1"):
    """A browser that has logged into `email` (so holds its device cookie),
    logged out again."""
    browser = browser_from(app, address)
    assert browser.login(email).status_code == 302
    assert browser.logout().status_code == 302
    return browser


def lock_out(app, email, password=PASSWORD):
    """An attacker's wrong passwords lock the account's untrusted clients out:
    a new browser with the right password then waits."""
    for n in range(3):
        assert browser_from(app, f"10.66.0.{n}").login(email, WRONG).status_code == 400
    refused = browser_from(app, "10.66.0.9").login(email, password)
    assert refused.status_code == 429
    return refused


def device_cookie(browser, user_id):
    return browser.client.get_cookie(COOKIE_PREFIX + str(user_id), path="/login")


def set_device_cookie(browser, user_id, value):
    browser.client.set_cookie(COOKIE_PREFIX + str(user_id), value, path="/login")


def audit_count(app, action):
    with app.app_context():
        query = select(func.count()).where(AuditEvent.action == action)
        return db.session.scalar(query)


def test_the_owner_with_a_device_cookie_logs_in_while_untrusted_clients_wait(
    app, make_user
):
    _, email = make_user(Role.sponsor)
    owner = device(app, email)
    refused = lock_out(app, email)
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    page = refused.get_data(as_text=True)
    assert "Too many attempts" in page
    assert "A browser you have logged in with before can still log in" in page
    assert owner.login(email).status_code == 302


@pytest.mark.parametrize("secure", [False, True])
def test_the_device_cookie_is_signed_httponly_lax_long_lived_and_for_login_only(
    make_app, make_user, secure
):
    app = make_app(**LIMITS, SESSION_COOKIE_SECURE=secure)
    user_id, email = make_user(Role.sponsor)
    response = browser_from(app, "10.1.0.2").login(email)
    (header,) = [
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith(f"{COOKIE_PREFIX}{user_id}=")
    ]
    attributes = {part.strip().split("=")[0] for part in header.split(";")}
    assert {"HttpOnly", "Path", "Max-Age"} <= attributes
    assert "Path=/login" in header and "SameSite=Lax" in header
    assert f"Max-Age={180 * 24 * 3600}" in header
    assert ("Secure" in attributes) is secure
    payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).loads(
        header.split(";")[0].split("=", 1)[1]
    )
    assert payload["u"] == user_id and len(payload["n"]) >= 16
    assert PASSWORD not in header


def tampered(value):
    """The same cookie with the first character of its signature changed (the
    last one carries padding bits: changing it may decode to the same bytes)."""
    at = value.rindex(".") + 1
    changed = "A" if value[at] != "A" else "B"
    return value[:at] + changed + value[at + 1 :]


def forged(app, user_id):
    """A well-formed cookie for the account, signed with another key."""
    serializer = URLSafeTimedSerializer("not the app's key" * 3, salt=SALT)
    return serializer.dumps({"u": user_id, "n": "forged-nonce-1234", "m": "0" * 16})


@pytest.mark.parametrize("make_cookie", ["tampered", "forged"])
def test_a_forged_or_tampered_device_cookie_counts_as_untrusted(
    app, make_user, make_cookie
):
    user_id, email = make_user(Role.sponsor)
    browser = device(app, email)
    value = device_cookie(browser, user_id).value
    bad = tampered(value) if make_cookie == "tampered" else forged(app, user_id)
    set_device_cookie(browser, user_id, bad)
    for _ in range(3):  # these count against the account's untrusted clients
        assert browser.login(email, WRONG).status_code == 400
    assert browser_from(app, "10.1.0.9").login(email).status_code == 429
    assert browser.login(email).status_code == 429


def test_another_accounts_device_cookie_is_untrusted_for_this_one(app, make_user):
    target_id, target = make_user(Role.sponsor)
    own_id, own = make_user(Role.editor)
    browser = device(app, own)
    set_device_cookie(browser, target_id, device_cookie(browser, own_id).value)
    lock_out(app, target)
    assert browser.login(target).status_code == 429
    assert browser.login(own).status_code == 302  # its own account is unaffected


def test_a_device_cookie_is_locked_alone_by_its_own_failures(app, make_user):
    _, email = make_user(Role.sponsor)
    phone = device(app, email, "10.1.0.1")
    laptop = device(app, email, "10.1.0.2")
    for _ in range(3):
        assert phone.login(email, WRONG).status_code == 400
    # The phone's failures did not touch the account's untrusted counter.
    assert browser_from(app, "10.1.0.3").login(email).status_code == 302
    assert audit_count(app, "login_locked") == 1  # the phone's cookie
    lock_out(app, email)
    # The phone's cookie is untrusted now, and untrusted clients wait;
    # the laptop's cookie is untouched.
    assert phone.login(email).status_code == 429
    assert laptop.login(email).status_code == 302


def test_an_untrusted_lockout_is_audited_once_per_window(app, make_user):
    _, email = make_user(Role.sponsor)
    lock_out(app, email)
    for n in range(3):
        browser_from(app, f"10.1.1.{n}").login(email, WRONG)
    assert audit_count(app, "login_failed") == 3  # the 429s are not failures
    assert audit_count(app, "login_locked") == 1


def test_a_password_change_voids_the_device_cookies_of_other_browsers(app, make_user):
    _, email = make_user(Role.sponsor)
    phone = device(app, email, "10.1.0.1")
    laptop = browser_from(app, "10.1.0.2")
    assert laptop.login(email).status_code == 302
    changed = laptop.submit(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302
    assert laptop.logout().status_code == 302
    lock_out(app, email, NEW_PASSWORD)
    assert phone.login(email, NEW_PASSWORD).status_code == 429
    # The browser that changed the password proved it: a fresh cookie.
    assert laptop.login(email, NEW_PASSWORD).status_code == 302


def test_a_rejected_users_device_cookie_stays_untrusted_after_approval(
    app, make_user, admin
):
    user_id, email = make_user(Role.editor)
    browser = device(app, email)
    admin.post_action(f"/admin/users/{user_id}/reject", "/admin/users")
    rejected = browser.login(email)  # a rejected user reaches the status page
    assert rejected.status_code == 302
    assert not any(
        value.startswith(COOKIE_PREFIX)
        for value in rejected.headers.getlist("Set-Cookie")
    )
    assert browser.logout().status_code == 302
    admin.post_action(f"/admin/users/{user_id}/approve", "/admin/users")
    approved = device(app, email, "10.1.0.5")  # a login after approval
    lock_out(app, email)
    assert browser.login(email).status_code == 429
    assert approved.login(email).status_code == 302


# The limiter's counters in a real Redis (database 14, this run's own key
# prefix), as in production where web workers share them.
REDIS_URL = redis_url(14)
PREFIX = f"test-device-{uuid.uuid4().hex}"


@pytest.fixture
def redis_keys(redis_server):
    """This test's keys in Redis, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)

    def keys():
        return [key.decode() for key in client.scan_iter(f"*{PREFIX}*")]

    yield keys
    for pattern in (f"*{PREFIX}*", "*10.66.0.*", "*10.1.0.1*"):
        for key in client.scan_iter(pattern):
            client.delete(key)


@pytest.mark.app_config(
    **{**LIMITS, "RATELIMIT_STORAGE_URI": REDIS_URL}, RATELIMIT_KEY_PREFIX=PREFIX
)
def test_device_cookies_work_with_the_counters_in_redis(app, make_user, redis_keys):
    _, email = make_user(Role.sponsor)
    owner = device(app, email)
    lock_out(app, email)
    assert any("login-untrusted" in key for key in redis_keys())
    assert owner.login(email).status_code == 302
