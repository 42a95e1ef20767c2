"""Signup, login, logout and what pending or rejected users can reach."""

import hashlib
import re

import pytest
from sqlalchemy import func, select

from docdraft import create_app
from docdraft.extensions import db
from docdraft.models import Role, User, UserStatus

from .conftest import CSRF_RE, PASSWORD, Browser, _config, csrf_token

GOOD_SIGNUP = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.org",
    "password": "analytical engine",
    "confirm": "analytical engine",
    "organization": "Babbage & Co",
}


def user_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def get_user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_an_app_hashes_with_full_cost_scrypt_whatever_the_environment_says(
    database_url, monkeypatch, tmp_path
):
    """The suite lowers scrypt's cost in its own config; no deployment can."""
    monkeypatch.setenv("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    config = _config(database_url)
    del config["PASSWORD_HASH_METHOD"]
    app = create_app(config)
    with app.app_context():
        user = User()
        user.set_password("correct horse battery")
        assert user.password_hash.startswith("scrypt:32768:8:1$")
        db.engine.dispose()


@pytest.mark.parametrize("role", ["sponsor", "editor"])
def test_signup_creates_pending_user_of_that_role(app, browser, role):
    response = browser.submit(f"/signup/{role}", GOOD_SIGNUP)
    assert response.status_code == 302
    user = get_user(app, "ada@example.org")
    assert user.role == Role(role)
    assert user.status == UserStatus.pending
    assert user.organization == "Babbage & Co"
    assert user.password_hash.startswith("scrypt:")
    assert not user.password_hash.endswith(GOOD_SIGNUP["password"])


@pytest.mark.parametrize(
    "extra",
    [
        {"role": "admin"},
        {"user_type": "admin"},
        {"user_status": "approved", "status": "approved"},
    ],
)
def test_signup_ignores_privileged_fields(app, browser, extra):
    browser.submit("/signup/editor", {**GOOD_SIGNUP, **extra})
    user = get_user(app, "ada@example.org")
    assert (user.role, user.status) == (Role.editor, UserStatus.pending)


def test_signup_page_titles_name_the_role(client):
    assert "<h1>Sign up as editor</h1>" in client.get("/signup/editor").get_data(True)
    assert "<h1>Sign up as sponsor</h1>" in client.get("/signup/sponsor").get_data(True)


def test_signup_for_admin_role_does_not_exist(client):
    assert client.get("/signup/admin").status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "   ", "This field is required."),
        ("name", "n" * 121, "Field cannot be longer than 120 characters."),
        ("email", "not-an-email", "Invalid email address."),
        ("email", "a" * 250 + "@x.org", "Field cannot be longer than 254"),
        ("password", "short", "Field must be between 8 and 128 characters long."),
        ("password", "p" * 129, "Field must be between 8 and 128 characters long."),
        ("password", "password123", "This password is too easy to guess."),
        ("password", "P@ssw0rd", "This password is too easy to guess."),
        ("password", "Password123!", "This password is too easy to guess."),
        ("password", "welcome123", "This password is too easy to guess."),
        ("password", "qwerty123", "This password is too easy to guess."),
        ("password", "Ada Lovelace 1", "This password is too easy to guess."),
        ("confirm", "something else", "Passwords must match."),
        ("organization", "o" * 121, "Field cannot be longer than 120 characters."),
    ],
)
def test_signup_rejects_bad_input_next_to_the_field(
    app, browser, field, value, message
):
    data = {**GOOD_SIGNUP, field: value}
    if field == "password":
        data["confirm"] = value
    response = browser.submit("/signup/sponsor", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error">{message}' in html
    assert user_count(app) == 0


def test_signup_accepts_a_long_password_as_typed(app, browser):
    # 120 characters, the outer spaces kept as typed
    password = (
        "  seven wizards quietly hex jumbo crates while the quick brown fox "
        "jumps over fourteen lazy dogs near Lake Geneva, May  "
    )
    assert len(password) == 120
    browser.submit(
        "/signup/sponsor", {**GOOD_SIGNUP, "password": password, "confirm": password}
    )
    user = get_user(app, "ada@example.org")
    assert user.check_password(password)
    assert not user.check_password(password.strip())


def without_csrf_token(page):
    return re.sub(rb'name="csrf_token" type="hidden" value="[^"]*"', b"", page)


def test_signup_for_a_known_email_answers_like_a_new_one_and_changes_nothing(
    app, browser, caplog, monkeypatch
):
    first = browser.submit("/signup/sponsor", GOOD_SIGNUP)
    before = get_user(app, "ada@example.org")
    scrypt_calls = []
    real_scrypt = hashlib.scrypt
    monkeypatch.setattr(
        hashlib,
        "scrypt",
        lambda *a, **k: scrypt_calls.append(1) or real_scrypt(*a, **k),
    )
    again = browser.submit(
        "/signup/editor",
        {**GOOD_SIGNUP, "email": "ADA@example.ORG", "name": "Mallory"},
    )
    known_hashes = len(scrypt_calls)
    again_page = browser.get(again.location).get_data()
    new = browser.submit("/signup/editor", {**GOOD_SIGNUP, "email": "bob@example.org"})
    new_page = browser.get(new.location).get_data()
    assert first.status_code == again.status_code == new.status_code == 302
    assert again.location == new.location
    # The same page but for the CSRF token, which is stamped with the second.
    assert without_csrf_token(again_page) == without_csrf_token(new_page)
    # The same slow work either way: one scrypt hash per signup (timing).
    assert known_hashes == 1 and len(scrypt_calls) == 2
    assert user_count(app) == 2
    after = get_user(app, "ada@example.org")
    assert (after.name, after.role, after.password_hash) == (
        before.name,
        before.role,
        before.password_hash,
    )
    assert "signup for the existing account" in caplog.text


def test_signup_without_csrf_token_is_refused(app, client):
    response = client.post("/signup/sponsor", data=GOOD_SIGNUP)
    assert response.status_code == 400
    assert user_count(app) == 0


def test_login_with_wrong_password_or_unknown_email_answers_the_same(
    browser, make_user
):
    _, email = make_user()
    wrong = browser.login(email, "not the password")
    unknown = browser.login("nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Invalid email or password." in wrong.get_data(as_text=True)

    def page(response):  # the page minus the per-render CSRF token
        return CSRF_RE.sub("", response.get_data(as_text=True))

    assert page(wrong) == page(unknown).replace("nobody@example.org", email)


def test_login_is_case_insensitive_on_email(browser, make_user):
    _, email = make_user()
    assert browser.login(email.upper()).status_code == 302


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_unapproved_users_see_only_their_status(login_as, status):
    user = login_as(Role.sponsor, status)
    page = user.get("/").get_data(as_text=True)
    assert f"Your account is {status.value}" in page
    assert user.get("/sponsor/documents").status_code == 403
    assert user.get("/sponsor/documents/new").status_code == 403


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "///evil.com",
        "javascript:alert(1)",
        "https://evil.com/",
        "\t//evil.com",
        " /\\evil.com",
        "/\t/evil.com",
    ],
)
def test_login_never_redirects_off_site(client, browser, make_user, target):
    _, email = make_user()
    page = client.get("/login", query_string={"next": target})
    response = client.post(
        "/login",
        query_string={"next": target},
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    assert response.location == "/"


def test_login_follows_a_local_next(client, make_user):
    _, email = make_user(Role.sponsor)
    page = client.get("/login?next=/sponsor/documents/new")
    response = client.post(
        "/login?next=/sponsor/documents/new",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert response.location == "/sponsor/documents/new"


def test_anonymous_user_is_sent_to_login_with_next(client):
    response = client.get("/sponsor/documents")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_logout_is_post_only_and_needs_csrf(sponsor):
    assert sponsor.get("/logout").status_code == 405
    assert sponsor.client.post("/logout").status_code == 400
    assert sponsor.get("/sponsor/documents").status_code == 200
    assert sponsor.logout().status_code == 302
    assert sponsor.get("/sponsor/documents").status_code == 302


def test_login_starts_a_fresh_session(client, make_user):
    _, email = make_user()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    Browser(client).login(email)
    with client.session_transaction() as session:
        assert "planted" not in session


NAMED = {"name": "Wilhelmina Quarterbridge", "email": "wilhelmina.q@example.org"}


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        (NAMED["name"], "It must not contain your name or email."),
        ("wilhelminaquarterbridge", "It must not contain your name or email."),
        (NAMED["email"], "It must not contain your name or email."),
        (PASSWORD, "The new password must differ from your current one."),
    ],
)
def test_a_password_change_refuses_what_signup_refuses(
    app, login_as, new_password, message
):
    """The user's own name or email, and the current password, are refused
    next to the field; zxcvbn alone scores each of them as strong."""
    user = login_as(Role.sponsor, **NAMED)
    response = user.submit(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="new_password-error">[^<]*{re.escape(message)}', html)
    assert Browser(app.test_client()).login(NAMED["email"]).status_code == 302


def test_signup_refuses_the_name_written_without_spaces(app, browser):
    password = GOOD_SIGNUP["name"].replace(" ", "").lower() + "!"
    data = {**GOOD_SIGNUP, "password": password, "confirm": password}
    response = browser.submit("/signup/sponsor", data)
    assert response.status_code == 400
    assert "It must not contain your name or email." in response.get_data(as_text=True)
    assert user_count(app) == 0
