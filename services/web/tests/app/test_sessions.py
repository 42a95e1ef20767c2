"""Sessions end on the server: logout, the account page, status and password
changes, time. One login is one session; a copied cookie is that session."""

import hashlib
import re
import time

import pytest
from sqlalchemy import select

from docdraft.devices import device_name
from docdraft.extensions import db
from docdraft.models import AuditEvent, LoginSession, Role, User

from .conftest import PASSWORD, Browser

NEW_PASSWORD = "a new and long passphrase"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
END_BUTTON_RE = re.compile(r'action="/account/sessions/(\d+)/end"')


def copied(app, browser):
    """Another client holding a copy of `browser`'s session cookie."""
    thief = Browser(app.test_client())
    thief.client.set_cookie("session", browser.client.get_cookie("session").value)
    return thief


def another_device(app, browser, user_agent=PHONE):
    """The same user, logged in once more from another client."""
    device = Browser(app.test_client())
    device.client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert device.login(user_email(app, browser)).status_code == 302
    device.user_id = browser.user_id
    return device


def is_logged_in(browser):
    response = browser.get("/sponsor/documents")
    return response.status_code == 200


def user_email(app, browser):
    with app.app_context():
        return db.session.get(User, browser.user_id).email


def rows(app, user_id):
    """The user's session rows, oldest first, detached for reading."""
    with app.app_context():
        found = db.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user_id)
            .order_by(LoginSession.id)
        ).all()
        db.session.expunge_all()
        return found


def audit_actions(app):
    with app.app_context():
        return db.session.scalars(select(AuditEvent.action)).all()


def session_ids_on_account_page(browser):
    html = browser.get("/account").get_data(as_text=True)
    return [int(found) for found in END_BUTTON_RE.findall(html)]


def test_a_cookie_copied_before_logout_is_dead_after_it(app, sponsor):
    thief = copied(app, sponsor)
    assert is_logged_in(thief)
    sponsor.logout()
    response = thief.get("/sponsor/documents")
    assert response.status_code == 302 and response.location.startswith("/login")
    # and it cannot act either
    assert thief.get("/sponsor/documents/new").status_code == 302


def test_logging_out_on_the_phone_leaves_the_desktop_logged_in(app, sponsor):
    phone = another_device(app, sponsor)
    phone_copy = copied(app, phone)
    assert phone.logout().status_code == 302
    assert not is_logged_in(phone) and not is_logged_in(phone_copy)
    assert is_logged_in(sponsor)
    desktop_row, phone_row = rows(app, sponsor.user_id)
    assert desktop_row.ended_at is None and phone_row.ended_at is not None


def test_each_login_records_its_device_address_and_times(app, sponsor):
    phone = another_device(app, sponsor)
    row = rows(app, sponsor.user_id)[-1]
    assert (row.device, row.address) == ("Chrome on Android", "127.0.0.1")
    assert row.created_at is not None and row.last_seen_at is not None
    assert row.ended_at is None
    # The cookie holds the secret; the database only its hash.
    cookie = phone.client.get_cookie("session").value
    secret = app.session_interface.get_signing_serializer(app).loads(cookie)["_sid"]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in row.secret_hash


def test_the_account_page_lists_the_active_sessions_and_marks_this_one(
    app, sponsor, login_as
):
    phone = another_device(app, sponsor)
    ended = another_device(app, sponsor, DESKTOP)
    ended.logout()
    login_as(Role.sponsor)  # someone else's session is not listed
    html = phone.get("/account").get_data(as_text=True)
    desktop_row, phone_row, ended_row = rows(app, sponsor.user_id)
    assert session_ids_on_account_page(phone) == [phone_row.id, desktop_row.id]
    assert "Chrome on Android <strong>(this device)</strong>" in html
    assert "Firefox on Linux" not in html  # the ended session
    assert "127.0.0.1" in html and "Log out everywhere" in html


def test_end_this_one_ends_only_that_session(app, sponsor):
    phone = another_device(app, sponsor)
    phone_copy = copied(app, phone)
    phone_id = rows(app, sponsor.user_id)[-1].id
    response = sponsor.post_action(f"/account/sessions/{phone_id}/end", "/account")
    assert response.status_code == 302 and response.location == "/account"
    assert not is_logged_in(phone) and not is_logged_in(phone_copy)
    assert is_logged_in(sponsor)
    assert session_ids_on_account_page(sponsor) == [rows(app, sponsor.user_id)[0].id]
    assert "session_ended" in audit_actions(app)


def test_ending_this_session_from_the_list_logs_out_here(app, sponsor):
    phone = another_device(app, sponsor)
    phone_id = rows(app, sponsor.user_id)[-1].id
    response = phone.post_action(f"/account/sessions/{phone_id}/end", "/account")
    assert response.status_code == 302 and response.location == "/login"
    assert not is_logged_in(phone) and is_logged_in(sponsor)


def test_a_foreign_session_cannot_be_ended(app, sponsor, login_as):
    stranger = login_as(Role.sponsor)
    their_id = rows(app, stranger.user_id)[0].id
    response = sponsor.post_action(f"/account/sessions/{their_id}/end", "/account")
    assert response.status_code == 404
    missing = sponsor.post_action("/account/sessions/999999/end", "/account")
    assert missing.status_code == 404
    assert is_logged_in(stranger)


@pytest.mark.parametrize(
    "url", ["/account/sessions/{id}/end", "/account/sessions/end-all"]
)
def test_ending_sessions_needs_a_csrf_token(app, sponsor, url):
    phone = another_device(app, sponsor)
    phone_id = rows(app, sponsor.user_id)[-1].id
    assert sponsor.client.post(url.format(id=phone_id)).status_code == 400
    assert is_logged_in(phone) and is_logged_in(sponsor)


def test_log_out_everywhere_ends_every_session_this_one_too(app, sponsor):
    phone = another_device(app, sponsor)
    phone_copy = copied(app, phone)
    response = sponsor.post_action("/account/sessions/end-all", "/account")
    assert response.status_code == 302 and response.location == "/login"
    for browser in (sponsor, phone, phone_copy):
        assert not is_logged_in(browser)
    assert all(row.ended_at is not None for row in rows(app, sponsor.user_id))
    assert "logout_everywhere" in audit_actions(app)
    # logging in again works, as a new session
    assert sponsor.login(user_email(app, sponsor)).status_code == 302
    assert is_logged_in(sponsor) and not is_logged_in(phone)


def test_a_session_ended_elsewhere_says_so_once_on_the_login_page(app, sponsor):
    phone = another_device(app, sponsor)
    phone.post_action("/account/sessions/end-all", "/account")
    page = sponsor.get("/sponsor/documents", follow_redirects=True)
    assert "Your session has ended" in page.get_data(as_text=True)
    again = sponsor.get("/sponsor/documents", follow_redirects=True)
    assert "Your session has ended" not in again.get_data(as_text=True)
    # logging out here is not news
    fresh = Browser(app.test_client())
    fresh.login(user_email(app, sponsor))
    fresh.logout()
    page = fresh.get("/sponsor/documents", follow_redirects=True)
    assert "Your session has ended" not in page.get_data(as_text=True)


def test_a_rejected_users_session_does_not_come_back_on_approval(app, sponsor, admin):
    phone = another_device(app, sponsor)
    thief = copied(app, sponsor)
    admin.post_action(f"/admin/users/{sponsor.user_id}/reject", "/admin/users")
    admin.post_action(f"/admin/users/{sponsor.user_id}/approve", "/admin/users")
    for browser in (sponsor, phone, thief):
        assert not is_logged_in(browser)
    assert sponsor.login(user_email(app, sponsor)).status_code == 302
    assert is_logged_in(sponsor)


def test_an_admin_ends_every_session_of_a_user(app, sponsor, admin):
    phone = another_device(app, sponsor)
    thief = copied(app, sponsor)
    response = admin.post_action(
        f"/admin/users/{sponsor.user_id}/end-sessions", "/admin/users"
    )
    assert response.status_code == 302
    for browser in (sponsor, phone, thief):
        assert not is_logged_in(browser)
    assert "sessions_ended" in admin.get("/admin/audit").get_data(as_text=True)


def test_a_password_change_ends_the_other_sessions_only(app, sponsor):
    phone = another_device(app, sponsor)
    here_copy = copied(app, sponsor)
    response = sponsor.submit(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert is_logged_in(sponsor) and not is_logged_in(phone)
    assert is_logged_in(here_copy)  # a copy of this very session: the same one
    email = user_email(app, sponsor)
    fresh = Browser(app.test_client())
    assert fresh.login(email).status_code == 400  # the old password is gone
    assert fresh.login(email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("current_password", "wrong password", "not your current password"),
        ("new_password", "password123", "too easy to guess"),
        ("confirm", "something else entirely", "Passwords must match."),
    ],
)
def test_a_refused_password_change_changes_nothing(app, sponsor, field, value, message):
    data = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        field: value,
    }
    phone = another_device(app, sponsor)
    response = sponsor.submit("/account/password", data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert Browser(app.test_client()).login(user_email(app, sponsor)).status_code == 302
    assert is_logged_in(phone)


def test_the_account_page_shows_who_you_are(login_as):
    editor = login_as(Role.editor, name="Edna Editor")
    html = editor.get("/account").get_data(as_text=True)
    for text in ("Edna Editor", "Acme", "editor", "approved"):
        assert text in html


def test_last_seen_is_written_at_most_once_a_minute(app, sponsor, monkeypatch):
    (before,) = rows(app, sponsor.user_id)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 30)
    assert is_logged_in(sponsor)
    assert rows(app, sponsor.user_id)[0].last_seen_at == before.last_seen_at
    monkeypatch.setattr(time, "time", lambda: real() + 90)
    assert is_logged_in(sponsor)
    assert rows(app, sponsor.user_id)[0].last_seen_at > before.last_seen_at


@pytest.mark.app_config(SESSION_IDLE_SECONDS=1)
def test_an_idle_session_expires(app, sponsor, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)
    assert not is_logged_in(sponsor)
    assert session_ids_on_account_page(another_device(app, sponsor)) == [
        rows(app, sponsor.user_id)[-1].id
    ]


@pytest.mark.app_config(SESSION_MAX_SECONDS=3600)
def test_a_session_ends_at_its_absolute_limit_however_active(app, sponsor, monkeypatch):
    real = time.time
    for minutes in (50, 100):  # active every 50 minutes, under the idle limit
        monkeypatch.setattr(time, "time", lambda m=minutes: real() + m * 60)
        logged_in = is_logged_in(sponsor)
    assert not logged_in


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        (PHONE, "Chrome on Android"),
        (DESKTOP, "Firefox on Linux"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 "
            "Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
            "like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        ("curl/8.5.0", "curl"),
        ("", "Unknown device"),
    ],
)
def test_device_names_are_short_and_readable(user_agent, name):
    assert device_name(user_agent) == name
