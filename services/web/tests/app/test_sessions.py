"""Sessions end on the server: logout, status changes, password changes, time."""

import time

import pytest

from docdraft.models import Role

from .conftest import PASSWORD, Browser

NEW_PASSWORD = "a new and long passphrase"


def copied(app, browser):
    """Another client holding a copy of `browser`'s session cookie."""
    thief = Browser(app.test_client())
    thief.client.set_cookie("session", browser.client.get_cookie("session").value)
    return thief


def is_logged_in(browser):
    response = browser.get("/sponsor/documents")
    return response.status_code == 200


def test_a_cookie_copied_before_logout_is_dead_after_it(app, sponsor):
    thief = copied(app, sponsor)
    assert is_logged_in(thief)
    sponsor.logout()
    response = thief.get("/sponsor/documents")
    assert response.status_code == 302 and response.location.startswith("/login")
    # and it cannot act either
    assert thief.get("/sponsor/documents/new").status_code == 302


def test_a_rejected_users_session_does_not_come_back_on_approval(app, sponsor, admin):
    thief = copied(app, sponsor)
    admin.post_action(f"/admin/users/{sponsor.user_id}/reject", "/admin/users")
    admin.post_action(f"/admin/users/{sponsor.user_id}/approve", "/admin/users")
    assert not is_logged_in(sponsor) and not is_logged_in(thief)
    assert sponsor.login(sponsor_email(app, sponsor)).status_code == 302
    assert is_logged_in(sponsor)


def sponsor_email(app, browser):
    from docdraft.extensions import db
    from docdraft.models import User

    with app.app_context():
        return db.session.get(User, browser.user_id).email


def test_an_admin_ends_every_session_of_a_user(app, sponsor, admin):
    thief = copied(app, sponsor)
    response = admin.post_action(
        f"/admin/users/{sponsor.user_id}/end-sessions", "/admin/users"
    )
    assert response.status_code == 302
    assert not is_logged_in(sponsor) and not is_logged_in(thief)
    assert "sessions_ended" in admin.get("/admin/audit").get_data(as_text=True)


def test_a_password_change_ends_the_other_sessions_only(app, sponsor):
    other_device = copied(app, sponsor)
    response = sponsor.submit(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert is_logged_in(sponsor) and not is_logged_in(other_device)
    email = sponsor_email(app, sponsor)
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
    response = sponsor.submit("/account/password", data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert (
        Browser(app.test_client()).login(sponsor_email(app, sponsor)).status_code == 302
    )


def test_the_account_page_shows_who_you_are(login_as):
    editor = login_as(Role.editor, name="Edna Editor")
    html = editor.get("/account").get_data(as_text=True)
    for text in ("Edna Editor", "Acme", "editor", "approved"):
        assert text in html


@pytest.mark.app_config(SESSION_IDLE_SECONDS=1)
def test_an_idle_session_expires(app, sponsor, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)
    assert not is_logged_in(sponsor)


@pytest.mark.app_config(SESSION_MAX_SECONDS=3600)
def test_a_session_ends_at_its_absolute_limit_however_active(app, sponsor, monkeypatch):
    real = time.time
    for minutes in (50, 100):  # active every 50 minutes, under the idle limit
        monkeypatch.setattr(time, "time", lambda m=minutes: real() + m * 60)
        logged_in = is_logged_in(sponsor)
    assert not logged_in
