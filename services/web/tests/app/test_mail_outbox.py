"""The mail outbox through a real SMTP server (aiosmtpd, tests/app/smtp.py)."""

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.mail.outbox import UnsafeHeader, enqueue
from docdraft.mail.render import render
from docdraft.mail.sender import send_due
from docdraft.models import MailStatus, OutboxMail, User

from .smtp import smtp_server  # noqa: F401  (fixture)

UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://docdraft.example/unsubscribe/abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811
    return make_app(**smtp_server.config)


def queue_mail(app, user_id, subject="Hello", secret=False, **kwargs):
    """Enqueue and commit one mail to `user_id`; its id, or None."""
    with app.app_context():
        user = db.session.get(User, user_id)
        text, html = render("password_reset", name=user.name, link="L", minutes=60)
        mail = enqueue(user, "test", subject, text, html, secret=secret, **kwargs)
        db.session.commit()
        return mail.id if mail else None


def row(app, mail_id):
    with app.app_context():
        mail = db.session.get(OutboxMail, mail_id)
        db.session.expunge(mail)
        return mail


def send(app):
    with app.app_context():
        return send_due()


def test_multipart_mail_arrives_with_its_headers(mail_app, make_user, smtp_server):  # noqa: F811
    user_id, address = make_user(name="Zoë <Müller>")
    mail_id = queue_mail(
        mail_app, user_id, subject="Ünïcode subject", headers=UNSUBSCRIBE
    )

    assert dispatch.backend(mail_app).mail_nudges == 1
    assert send(mail_app) == 1

    [message] = smtp_server.to(address)
    assert message["Subject"] == "Ünïcode subject"
    assert message["From"] == mail_app.config["MAIL_FROM"]
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == "Zoë <Müller>"
    assert message["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@localhost>")
    assert "_account_decision" not in message
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Zoë <Müller>," in plain
    assert "<bdi>Zoë &lt;Müller&gt;</bdi>" in html
    sent = row(mail_app, mail_id)
    assert sent.status == MailStatus.sent and sent.sent_at and sent.attempts == 1
    assert "Hello Zoë <Müller>," in sent.text_body  # kept: not a secret
    assert send(mail_app) == 0  # nothing twice
    assert len(smtp_server.messages) == 1


def test_nothing_is_queued_or_nudged_when_the_transaction_rolls_back(
    mail_app, make_user
):
    user_id, _ = make_user()
    with mail_app.app_context():
        enqueue(db.session.get(User, user_id), "test", "S", "t", "<p>h</p>")
        db.session.rollback()
        assert db.session.scalars(select(OutboxMail)).all() == []
    assert dispatch.backend(mail_app).mail_nudges == 0


@pytest.mark.parametrize(
    "subject, headers",
    [
        ("Hi\r\nBcc: victim@example.org", None),
        ("Hi\nBcc: victim@example.org", None),
        ("Hi", {"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.org"}),
    ],
)
def test_line_breaks_in_headers_are_refused(mail_app, make_user, subject, headers):
    user_id, _ = make_user()
    with mail_app.app_context():
        user = db.session.get(User, user_id)
        with pytest.raises(UnsafeHeader):
            enqueue(user, "test", subject, "t", "h", headers=headers)
