"""Notification mail through the outbox and a real SMTP server (aiosmtpd):
each event's mail, preferences, one-click unsubscribe, escaping."""

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.mail.sender import send_due
from docdraft.models import (
    Notification,
    NotificationPreference,
    OutboxMail,
    Role,
    User,
    UserStatus,
)
from docdraft.notifications import unsubscribe
from docdraft.notifications.core import notify

from .conftest import Browser, csrf_token
from .smtp import smtp_server  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app, smtp_server):  # noqa: F811
    """The app, sending its mail to the test's SMTP server."""
    return make_app(**smtp_server.config)


def send(app):
    with app.app_context():
        return send_due()


def mail_kinds(app, user_id):
    with app.app_context():
        return db.session.scalars(
            select(OutboxMail.kind)
            .where(OutboxMail.user_id == user_id)
            .order_by(OutboxMail.id)
        ).all()


def email_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).email


def parts(message):
    """(plain text, html) of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def review(browser, document_id, action, role, comment="Please expand."):
    response = browser.submit(
        f"/documents/{document_id}/review",
        {"action": action, "comment": comment},
        form_url=f"/{role}/documents/{document_id}",
    )
    assert response.status_code == 302, action


def comment(browser, document_id, role, body):
    response = browser.submit(
        f"/documents/{document_id}/comments",
        {"body": body},
        form_url=f"/{role}/documents/{document_id}",
    )
    assert response.status_code == 302


def unsubscribe_path(app, message):
    """The path of the one-click link in `message`'s List-Unsubscribe header."""
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">")
    url = header[1:-1]
    base = app.config["APP_BASE_URL"]
    assert url.startswith(f"{base}/unsubscribe/")
    return url[len(base) :]


def test_every_event_mails_its_recipient_in_two_parts(
    app,
    smtp_server,  # noqa: F811
    login_as,
    admin,
    make_user,
    sponsor,
    editor,
    create_document,
):
    newcomer_id, _ = make_user(Role.editor, UserStatus.pending)
    admin.post_action(f"/admin/users/{newcomer_id}/approve", "/admin/users")
    newcomer = Browser(app.test_client())
    newcomer.login(email_of(app, newcomer_id))
    turned_down_id, _ = make_user(Role.sponsor, UserStatus.pending)
    admin.submit(f"/admin/users/{turned_down_id}/reject", {"reason": "Unknown team."})

    document = create_document(sponsor, editor.user_id)
    sponsor.submit(
        f"/sponsor/documents/{document}",
        {
            "document_name": "Launch plan",
            "document_body": "Write about Debian.",
            "editor_id": newcomer_id,
        },
    )
    review(sponsor, document, "submit", "sponsor")
    review(newcomer, document, "request_changes", "editor", "Shorter, please.")
    review(sponsor, document, "submit", "sponsor")
    review(newcomer, document, "approve", "editor")
    review(sponsor, document, "reopen", "sponsor")
    comment(newcomer, document, "editor", "Reopened? Tell me why.")

    assert mail_kinds(app, newcomer_id) == [
        "account_approved",
        "assigned",
        "submitted",
        "submitted",
        "reopened",
    ]
    assert mail_kinds(app, turned_down_id) == ["account_rejected"]
    assert mail_kinds(app, editor.user_id) == ["assigned", "unassigned"]
    assert mail_kinds(app, sponsor.user_id) == [
        "changes_requested",
        "approved",
        "comment",
    ]
    assert mail_kinds(app, admin.user_id) == []
    assert send(app) == 11
    assert len(smtp_server.messages) == 11

    for message in smtp_server.messages:
        text, html = parts(message)
        assert "Launch plan" in message["Subject"] or "account" in message["Subject"]
        assert "Hello" in text and "<p>Hello" in html
    [approved] = smtp_server.to(email_of(app, newcomer_id))[:1]
    assert approved["List-Unsubscribe"] is None  # about their own account
    [rejected] = smtp_server.to(email_of(app, turned_down_id))
    assert (
        "Unknown team." in parts(rejected)[0] and "Unknown team." in parts(rejected)[1]
    )
    assert rejected["List-Unsubscribe"] is None
    sponsor_mail = smtp_server.to(email_of(app, sponsor.user_id))
    for message in sponsor_mail:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        path = unsubscribe_path(app, message)
        text, html = parts(message)
        assert f"{app.config['APP_BASE_URL']}{path}" in text and path in html
    changes, approved_doc, commented = sponsor_mail
    assert "requested changes to “Launch plan”" in changes["Subject"]
    assert "Shorter, please." in parts(changes)[0]
    assert f"/documents/{document}" in parts(approved_doc)[0]
    assert "Reopened? Tell me why." in parts(commented)[1]
    assert f"/documents/{document}#timeline" in parts(commented)[0]


def test_mail_turned_off_sends_none_but_still_shows_in_the_app(
    app,
    smtp_server,  # noqa: F811
    sponsor,
    editor,
    create_document,
):
    saved = editor.submit(
        "/account/notifications", {"email_comment": "y"}, form_url="/account"
    )
    assert saved.status_code == 302
    document = create_document(sponsor, editor.user_id)
    assert mail_kinds(app, editor.user_id) == []
    comment(sponsor, document, "sponsor", "Hello.")
    assert mail_kinds(app, editor.user_id) == ["comment"]
    with app.app_context():
        shown = db.session.scalars(
            select(Notification.kind).where(Notification.user_id == editor.user_id)
        ).all()
    assert sorted(shown) == ["assigned", "comment"]


def test_the_unsubscribe_link_asks_then_turns_that_mail_off(
    app,
    smtp_server,  # noqa: F811
    sponsor,
    editor,
    create_document,
):
    create_document(sponsor, editor.user_id)
    send(app)
    [assigned] = smtp_server.to(email_of(app, editor.user_id))
    path = unsubscribe_path(app, assigned)
    stranger = Browser(app.test_client())  # not logged in: the link is enough

    page = stranger.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "a document is assigned to you" in html
    assert stranger.client.post(path).status_code == 400  # a form without a token
    assert _email_pref(app, editor.user_id, "assigned") is None

    confirmed = stranger.client.post(path, data={"csrf_token": csrf_token(html)})
    assert confirmed.status_code == 200
    assert _email_pref(app, editor.user_id, "assigned") is False
    assert _email_pref(app, editor.user_id, "comment") is None  # that kind alone

    create_document(sponsor, editor.user_id, name="Second")
    assert mail_kinds(app, editor.user_id) == ["assigned"]  # the first one only


def test_one_click_unsubscribe_from_a_mail_client(
    app,
    smtp_server,  # noqa: F811
    sponsor,
    editor,
    create_document,
):
    document = create_document(sponsor, editor.user_id)
    comment(editor, document, "editor", "First.")
    send(app)
    [commented] = smtp_server.to(email_of(app, sponsor.user_id))
    path = unsubscribe_path(app, commented)
    # RFC 8058: the client POSTs this body, without cookies or a token.
    clicked = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert _email_pref(app, sponsor.user_id, "comment") is False
    comment(editor, document, "editor", "Second.")
    assert mail_kinds(app, sponsor.user_id) == ["comment"]
    page = sponsor.get("/account").get_data(as_text=True)
    assert 'name="email_comment"' in page and 'email_comment" checked' not in page


def test_forged_altered_and_expired_links(app, sponsor):
    client = app.test_client()
    with app.app_context():
        user = db.session.get(User, sponsor.user_id)
        good = unsubscribe.make_token(user, "comment")
        secret = app.config["SECRET_KEY"]
        other_salt = URLSafeTimedSerializer(secret, salt="else").dumps(
            {"user": user.id, "kind": "comment"}
        )
        own_account = URLSafeTimedSerializer(secret, salt=unsubscribe.SALT).dumps(
            {"user": user.id, "kind": "account_rejected"}
        )
        nobody = URLSafeTimedSerializer(secret, salt=unsubscribe.SALT).dumps(
            {"user": 10**6, "kind": "comment"}
        )
        aged = URLSafeTimedSerializer(secret, salt=unsubscribe.SALT, signer=_AgedSigner)
        expired = aged.dumps({"user": user.id, "kind": "comment"})
    altered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for token in (altered, other_salt, own_account, nobody, "x"):
        for method in (client.get, client.post):
            answer = method(
                f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
            )
            assert answer.status_code == 404, token
    for method in (client.get, client.post):
        answer = method(
            f"/unsubscribe/{expired}", data={"List-Unsubscribe": "One-Click"}
        )
        assert answer.status_code == 400
        assert "expired" in answer.get_data(as_text=True)
    assert _email_pref(app, sponsor.user_id, "comment") is None


def test_pending_and_rejected_users_get_mail_only_about_their_account(
    app,
    smtp_server,  # noqa: F811
    admin,
    sponsor,
    editor,
    create_document,
    make_user,
):
    document = create_document(sponsor, editor.user_id)
    admin.submit(f"/admin/users/{editor.user_id}/reject", {"reason": ""})
    comment(sponsor, document, "sponsor", "Anyone there?")
    assert mail_kinds(app, editor.user_id) == ["assigned", "account_rejected"]
    pending_id, _ = make_user(Role.sponsor, UserStatus.pending)
    with app.app_context():
        pending = db.session.get(User, pending_id)
        notify(pending, "comment", actor=None, message="No.", link="/")
        notify(pending, "account_approved", actor=None, message="Yes.", link="/")
        db.session.commit()
    assert mail_kinds(app, pending_id) == ["account_approved"]
    send(app)
    rejection = smtp_server.to(email_of(app, editor.user_id))
    # The assignment was queued while the editor was approved, and is not
    # sent now that they are not (the sender checks again).
    assert [m["Subject"] for m in rejection] == [
        "Docdraft: Your Docdraft account was not approved."
    ]
    assert len(smtp_server.to(email_of(app, pending_id))) == 1


def test_user_text_is_escaped_in_the_html_part_and_plain_in_the_text(
    app,
    smtp_server,  # noqa: F811
    sponsor,
    editor,
    create_document,
):
    name = '<script>alert(1)</script> & "Q"'
    document = create_document(sponsor, editor.user_id, name=name)
    comment(sponsor, document, "sponsor", "<img src=x onerror=alert(2)>")
    send(app)
    assigned, commented = smtp_server.to(email_of(app, editor.user_id))
    assert name in assigned["Subject"]
    for message in (assigned, commented):
        text, html = parts(message)
        assert name in text  # plain text: as typed
        assert (
            "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        )
    text, html = parts(commented)
    assert "<img src=x onerror=alert(2)>" in text
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


class _AgedSigner(TimestampSigner):
    """Signs as if long ago, past unsubscribe.MAX_AGE_SECONDS."""

    def get_timestamp(self):
        return int(time.time()) - unsubscribe.MAX_AGE_SECONDS - 60


def _email_pref(app, user_id, kind):
    """The stored email choice, or None while the default holds."""
    with app.app_context():
        row = db.session.get(NotificationPreference, (user_id, kind))
        return None if row is None else row.email
