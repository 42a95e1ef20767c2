"""Password reset by mail, through the real forms and a real SMTP server."""

import hashlib
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.mail.sender import send_due
from docdraft.models import (
    AuditEvent,
    OutboxMail,
    PasswordReset,
    Role,
    User,
    UserStatus,
    utcnow,
)

from .conftest import PASSWORD, Browser, csrf_token
from .smtp import smtp_server  # noqa: F401  (fixture)
from .test_page_markup import markup_problems

NEW_PASSWORD = "lantern quarry marmalade"
LINK_RE = re.compile(r"https?://\S+/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811
    return make_app(**smtp_server.config, APP_BASE_URL="https://docdraft.example")


@pytest.fixture
def browser(mail_app):
    return Browser(mail_app.test_client())


def ask_for_link(browser, email):
    return browser.submit("/reset", {"email": email})


def deliver(app):
    with app.app_context():
        return send_due()


def link_in(smtp_server, address):  # noqa: F811
    """The reset path mailed to `address` (the one mail it got)."""
    [message] = smtp_server.to(address)
    assert message["Subject"] == "Reset your Docdraft password"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = LINK_RE.search(plain)
    assert link and link.group(0).startswith("https://docdraft.example/reset/")
    assert f'href="{link.group(0)}"' in html
    return f"/reset/{link.group(1)}"


def choose(browser, path, password=NEW_PASSWORD, confirm=None, form_url=None):
    data = {"password": password, "confirm": confirm or password}
    return browser.submit(path, data, form_url=form_url)


def without_csrf_token(page):
    return re.sub(rb'name="csrf_token"[^>]*>', b"", page)


def test_known_and_unknown_addresses_get_the_same_answer_and_work(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
    monkeypatch,
):
    known_id, known = make_user()
    pending_id, pending = make_user(status=UserStatus.pending)
    scrypt_calls = []
    real_scrypt = hashlib.scrypt
    monkeypatch.setattr(
        hashlib,
        "scrypt",
        lambda *a, **k: scrypt_calls.append(1) or real_scrypt(*a, **k),
    )
    answers = []
    for email in (known, "nobody@example.org", pending):
        response = ask_for_link(browser, email)
        answers.append((response.status_code, response.location))
        page = browser.get(response.location).get_data()
        answers.append(without_csrf_token(page))
    assert answers[0] == answers[2] == answers[4] == (302, "/login")
    assert answers[1] == answers[3] == answers[5]
    assert b"a link to choose a new" in answers[1]
    assert len(scrypt_calls) == 3  # one slow hash per request, whatever the address
    deliver(mail_app)
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == [known]
    with mail_app.app_context():
        assert len(db.session.scalars(select(PasswordReset)).all()) == 1
        audited = db.session.execute(
            select(AuditEvent.target_id, AuditEvent.detail).where(
                AuditEvent.action == "password_reset_requested"
            )
        ).all()
    no_mail = "no mail: unknown or not approved"
    assert sorted(audited, key=str) == sorted(
        [(known_id, None), (None, no_mail), (pending_id, no_mail)], key=str
    )


def test_the_mailed_link_sets_a_new_password_once(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, email = make_user()
    ask_for_link(browser, email)
    deliver(mail_app)
    path = link_in(smtp_server, email)

    form = browser.get(path)
    assert form.status_code == 200 and 'name="password"' in form.get_data(as_text=True)
    assert form.headers["Cache-Control"] == "no-store"
    done = choose(browser, path)
    assert (done.status_code, done.location) == (302, "/login")
    assert "password has been changed" in browser.get("/login").get_data(as_text=True)

    fresh = Browser(mail_app.test_client())
    assert fresh.login(email, PASSWORD).status_code == 400
    assert fresh.login(email, NEW_PASSWORD).status_code == 302
    again = browser.get(path)
    assert again.status_code == 404
    page = again.get_data(as_text=True)
    assert "expired, or it was used already" in page and 'name="password"' not in page
    reused = choose(browser, path, "another fine passphrase", form_url="/login")
    assert reused.status_code == 404
    with mail_app.app_context():
        mail = db.session.scalars(select(OutboxMail)).one()
        assert (mail.text_body, mail.html_body) == ("", "")  # the link is gone
        token_hash = hashlib.sha256(path.rsplit("/", 1)[1].encode()).hexdigest()
        reset = db.session.scalars(select(PasswordReset)).one()
        assert reset.token_hash == token_hash and reset.used_at is not None
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_id == user_id)
        ).all()
        assert "password_reset" in actions


def test_a_reset_ends_every_session_of_the_user(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
):
    _, email = make_user()
    elsewhere = Browser(mail_app.test_client())
    assert elsewhere.login(email).status_code == 302
    assert elsewhere.get("/account").status_code == 200
    ask_for_link(browser, email)
    deliver(mail_app)
    assert choose(browser, link_in(smtp_server, email)).status_code == 302
    ended = elsewhere.get("/account")
    assert ended.status_code == 302 and ended.location.startswith("/login")


def test_an_expired_link_is_refused(mail_app, browser, make_user, smtp_server):  # noqa: F811
    _, email = make_user()
    ask_for_link(browser, email)
    deliver(mail_app)
    path = link_in(smtp_server, email)
    with mail_app.app_context():
        db.session.execute(
            update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert browser.get(path).status_code == 404
    assert choose(browser, path, form_url="/login").status_code == 404
    assert Browser(mail_app.test_client()).login(email).status_code == 302


def test_links_expire_after_the_configured_time(
    make_app,
    make_user,
    smtp_server,  # noqa: F811
):
    app = make_app(**smtp_server.config, PASSWORD_RESET_SECONDS=1800)
    _, email = make_user()
    ask_for_link(Browser(app.test_client()), email)
    with app.app_context():
        reset = db.session.scalars(select(PasswordReset)).one()
        expires = reset.expires_at.replace(
            tzinfo=reset.expires_at.tzinfo or utcnow().tzinfo
        )
        assert abs((expires - utcnow()) - timedelta(minutes=30)) < timedelta(seconds=30)
    deliver(app)
    assert (
        "within 30 minutes"
        in smtp_server.messages[0].get_body(("plain",)).get_content()
    )


def test_a_new_password_voids_the_users_other_links(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
):
    _, email = make_user()
    ask_for_link(browser, email)
    ask_for_link(browser, email)
    deliver(mail_app)
    first, second = (
        LINK_RE.search(m.get_body(("plain",)).get_content()).group(1)
        for m in smtp_server.to(email)
    )
    assert choose(browser, f"/reset/{second}").status_code == 302
    assert browser.get(f"/reset/{first}").status_code == 404


@pytest.mark.parametrize(
    "password, confirm, error",
    [
        ("short", "short", "Field must be between 8 and 128 characters long."),
        ("password123", "password123", "This password is too easy to guess."),
        (NEW_PASSWORD, "something else entirely", "Passwords must match."),
        ("Sponsor 1 wrote this", "Sponsor 1 wrote this", "must not contain your name"),
    ],
)
def test_the_password_rules_of_signup_apply(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
    password,
    confirm,
    error,
):
    _, email = make_user(name="Sponsor 1")
    ask_for_link(browser, email)
    deliver(mail_app)
    path = link_in(smtp_server, email)
    refused = choose(browser, path, password, confirm)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert error in page and 'class="error"' in page
    assert password not in page  # nothing secret is shown back
    assert choose(browser, path).status_code == 302  # the link still works


def test_two_posts_at_once_use_a_link_once(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    _, email = make_user()
    ask_for_link(Browser(mail_app.test_client()), email)
    deliver(mail_app)
    path = link_in(smtp_server, email)
    clients = [mail_app.test_client() for _ in range(2)]
    tokens = [csrf_token(c.get(path).get_data(as_text=True)) for c in clients]
    passwords = ["first chosen passphrase", "second chosen passphrase"]
    start, statuses = threading.Barrier(2), {}

    def post(n):
        start.wait()
        data = {
            "csrf_token": tokens[n],
            "password": passwords[n],
            "confirm": passwords[n],
        }
        statuses[n] = clients[n].post(path, data=data).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses.values()) == [302, 404]
    winner = passwords[min(statuses, key=lambda n: statuses[n])]
    loser = passwords[max(statuses, key=lambda n: statuses[n])]
    assert Browser(mail_app.test_client()).login(email, loser).status_code == 400
    assert Browser(mail_app.test_client()).login(email, winner).status_code == 302


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_unapproved_users_get_no_mail_and_no_working_link(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
    status,
):
    user_id, email = make_user(role=Role.editor, status=status)
    assert ask_for_link(browser, email).status_code == 302
    deliver(mail_app)
    assert smtp_server.messages == []

    _, approved = make_user()  # rejected after asking: the link stops working
    ask_for_link(browser, approved)
    deliver(mail_app)
    path = link_in(smtp_server, approved)
    with mail_app.app_context():
        db.session.execute(
            update(User).where(User.email == approved).values(status=status)
        )
        db.session.commit()
    assert browser.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/reset/nonsense", "/reset/" + "a" * 500])
def test_unknown_tokens_get_a_clear_page(mail_app, browser, path):
    response = browser.get(path)
    assert response.status_code == 404
    assert "This link does not work" in response.get_data(as_text=True)


def test_a_refused_request_shows_the_address_and_the_error(browser):
    refused = browser.submit("/reset", {"email": "not an address"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'value="not an address"' in page and "Invalid email address." in page


def test_an_account_on_a_special_use_domain_gets_its_link(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
):
    """The form looks an address up; it does not judge a new one: accounts
    made by the CLI may use any domain (seed-demo's .local)."""
    _, email = make_user(email="sponsor@demo.local")
    assert ask_for_link(browser, email).status_code == 302
    deliver(mail_app)
    assert choose(browser, link_in(smtp_server, email)).status_code == 302


def test_the_login_page_links_to_reset(browser):
    assert 'href="/reset"' in browser.get("/login").get_data(as_text=True)


def test_requests_are_rate_limited(make_app, make_user, smtp_server):  # noqa: F811
    app = make_app(
        **smtp_server.config,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_RESET="2/hour",
    )
    _, email = make_user()
    browser = Browser(app.test_client())
    statuses = [ask_for_link(browser, email).status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    deliver(app)
    assert len(smtp_server.to(email)) == 2


def test_a_broker_that_is_down_does_not_tell_known_addresses(make_app, make_user):
    """The known address queues mail; its nudge must not make it slower."""
    app = make_app(JOB_BACKEND="celery", REDIS_URL="redis://127.0.0.1:1/0")
    _, email = make_user()
    browser = Browser(app.test_client())
    started = time.monotonic()
    assert ask_for_link(browser, email).status_code == 302
    assert time.monotonic() - started < 2


def test_the_reset_pages_have_labelled_controls_and_unique_ids(
    mail_app,
    browser,
    make_user,
    smtp_server,  # noqa: F811
):
    _, email = make_user()
    ask_for_link(browser, email)
    deliver(mail_app)
    path = link_in(smtp_server, email)
    pages = {
        "/reset": browser.get("/reset"),
        "refused request": browser.submit("/reset", {"email": "x"}),
        path: browser.get(path),
        "refused password": choose(browser, path, "short"),
    }
    for name, response in pages.items():
        problems = markup_problems(response.get_data(as_text=True))
        assert not problems, (name, problems)
