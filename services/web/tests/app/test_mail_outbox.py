"""The mail outbox through a real SMTP server (aiosmtpd, tests/app/smtp.py)."""

import logging
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.mail.outbox import UnsafeHeader, enqueue
from docdraft.mail.render import render
from docdraft.mail.sender import claim_due, retry_delay, send_due
from docdraft.models import MailStatus, OutboxMail, Role, User, UserStatus, utcnow

from .conftest import redis_url
from .smtp import smtp_server, smtp_tls_server  # noqa: F401  (fixtures)

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


def aware(moment):
    """SQLite hands timestamps back without their zone (UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_due(app, mail_id):
    """Time passes: the mail's retry is due now."""
    with app.app_context():
        db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def test_mail_waits_out_an_smtp_outage_and_is_sent_once(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, address = make_user()
    smtp_server.stop()
    mail_id = queue_mail(mail_app, user_id)
    before = utcnow()

    assert send(mail_app) == 0
    waiting = row(mail_app, mail_id)
    assert waiting.status == MailStatus.queued and waiting.attempts == 1
    assert "Connection refused" in waiting.last_error
    assert aware(waiting.next_attempt_at) >= before + timedelta(seconds=60)
    assert waiting.lease_owner is None
    assert send(mail_app) == 0  # not due yet: no attempt
    assert row(mail_app, mail_id).attempts == 1

    make_due(mail_app, mail_id)
    assert send(mail_app) == 0
    assert row(mail_app, mail_id).attempts == 2
    assert aware(row(mail_app, mail_id).next_attempt_at) >= before + timedelta(
        seconds=120
    )

    smtp_server.start()
    make_due(mail_app, mail_id)
    assert send(mail_app) == 1
    assert send(mail_app) == 0
    assert len(smtp_server.to(address)) == 1
    sent = row(mail_app, mail_id)
    assert (sent.status, sent.attempts, sent.last_error) == (MailStatus.sent, 3, None)


def test_a_refused_recipient_is_retried(mail_app, make_user, smtp_server):  # noqa: F811
    user_id, address = make_user()
    smtp_server.refuse = True
    mail_id = queue_mail(mail_app, user_id)
    assert send(mail_app) == 0
    assert "550" in row(mail_app, mail_id).last_error
    smtp_server.refuse = False
    make_due(mail_app, mail_id)
    assert send(mail_app) == 1
    assert len(smtp_server.to(address)) == 1


def test_retries_back_off_from_a_minute_to_an_hour():
    delays = [retry_delay(attempts) for attempts in range(1, 10)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_mail_fails_after_max_attempts(make_app, make_user, smtp_server):  # noqa: F811
    app = make_app(**smtp_server.config, MAIL_MAX_ATTEMPTS=2)
    user_id, _ = make_user()
    smtp_server.stop()
    mail_id = queue_mail(app, user_id)
    send(app)
    make_due(app, mail_id)
    send(app)
    failed = row(app, mail_id)
    assert (failed.status, failed.attempts) == (MailStatus.failed, 2)
    assert "Connection refused" in failed.last_error
    make_due(app, mail_id)
    smtp_server.start()
    assert send(app) == 0


def test_two_workers_at_once_never_send_a_mail_twice(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, address = make_user()
    mail_ids = [queue_mail(mail_app, user_id, subject=f"Mail {n}") for n in range(30)]
    start = threading.Barrier(3)
    counts = []

    def worker(name):
        with mail_app.app_context():
            start.wait()
            counts.append(send_due(name))
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    subjects = sorted(message["Subject"] for message in smtp_server.to(address))
    assert subjects == sorted(f"Mail {n}" for n in range(30))
    assert sum(counts) == 30
    with mail_app.app_context():
        rows = db.session.scalars(select(OutboxMail)).all()
        assert {mail.id for mail in rows} == set(mail_ids)
        assert {(mail.status, mail.attempts) for mail in rows} == {(MailStatus.sent, 1)}


def test_a_dead_workers_mail_is_claimed_again_once_its_lease_expires(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, address = make_user()
    mail_id = queue_mail(mail_app, user_id)
    with mail_app.app_context():
        assert claim_due("dead-worker") == [mail_id]
    assert send(mail_app) == 0  # leased: nobody else takes it
    with mail_app.app_context():
        db.session.execute(
            update(OutboxMail).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert send(mail_app) == 1
    sent = row(mail_app, mail_id)
    assert (sent.status, sent.attempts, sent.lease_owner) == (MailStatus.sent, 2, None)
    assert len(smtp_server.to(address)) == 1


def test_a_dead_worker_on_the_last_attempt_fails_the_mail(
    make_app,
    make_user,
    smtp_server,  # noqa: F811
):
    app = make_app(**smtp_server.config, MAIL_MAX_ATTEMPTS=1)
    user_id, _ = make_user()
    mail_id = queue_mail(app, user_id)
    with app.app_context():
        claim_due("dead-worker")
        db.session.execute(
            update(OutboxMail).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert send(app) == 0
    failed = row(app, mail_id)
    assert failed.status == MailStatus.failed and "WorkerLost" in failed.last_error
    assert smtp_server.messages == []


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_pending_and_rejected_users_get_only_their_account_decision(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
    status,
):
    user_id, address = make_user(status=status)
    assert queue_mail(mail_app, user_id, subject="News") is None
    decision = queue_mail(mail_app, user_id, subject="Decision", account_decision=True)
    assert decision is not None
    assert send(mail_app) == 1
    assert [message["Subject"] for message in smtp_server.to(address)] == ["Decision"]


def test_a_user_rejected_before_sending_gets_nothing(
    mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, _ = make_user(role=Role.editor)
    mail_id = queue_mail(mail_app, user_id)
    with mail_app.app_context():
        db.session.get(User, user_id).status = UserStatus.rejected
        db.session.commit()
    assert send(mail_app) == 0
    assert smtp_server.messages == []
    dropped = row(mail_app, mail_id)
    assert dropped.status == MailStatus.failed
    assert dropped.last_error == "recipient not approved"


def test_secret_bodies_are_erased_once_sent(mail_app, make_user, smtp_server):  # noqa: F811
    user_id, address = make_user()
    mail_id = queue_mail(mail_app, user_id, secret=True)
    before = row(mail_app, mail_id)
    assert "Hello" in before.text_body and "Hello" in before.html_body
    assert send(mail_app) == 1
    [message] = smtp_server.to(address)
    assert "Hello" in message.get_body(("plain",)).get_content()
    after = row(mail_app, mail_id)
    assert (after.text_body, after.html_body) == ("", "")


def test_without_mail_server_mail_goes_to_the_log(make_app, make_user, caplog):
    app = make_app(MAIL_SERVER=None)
    user_id, address = make_user()
    mail_id = queue_mail(app, user_id, subject="Logged mail")
    with caplog.at_level(logging.INFO, logger="docdraft.mail"):
        assert send(app) == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "docdraft.mail"]
    assert any(address in line and "Logged mail" in line for line in logged)
    assert any("Hello" in line for line in logged)  # the body, for development
    assert row(app, mail_id).status == MailStatus.sent


def test_the_in_process_backend_sends_in_its_own_thread(
    make_app,
    make_user,
    smtp_server,  # noqa: F811
):
    app = make_app(**smtp_server.config, JOB_BACKEND="inprocess")
    user_id, address = make_user()
    queue_mail(app, user_id)
    deadline = time.monotonic() + 10
    while not smtp_server.to(address) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp_server.to(address)) == 1
    names = {thread.name for thread in threading.enumerate()}
    assert "docdraft-mail" in names and "docdraft-worker" not in names


def test_the_mail_worker_sends_without_tensorflow(tmp_path, smtp_server):  # noqa: F811
    """celery -A docdraft.mail.worker: the web image's packages are enough."""
    script = (
        "import sys\n"
        "from docdraft.mail.worker import celery, flask_app\n"
        "from docdraft.extensions import db\n"
        "from docdraft.mail.outbox import enqueue\n"
        "from docdraft.models import User, UserStatus, Role\n"
        "with flask_app.app_context():\n"
        "    db.create_all()\n"
        "    user = User(name='Ada', email='ada@example.org', password_hash='x',\n"
        "                role=Role.sponsor, status=UserStatus.approved)\n"
        "    db.session.add(user)\n"
        "    enqueue(user, 'test', 'From the worker', 'text', '<p>html</p>')\n"
        "    db.session.commit()\n"
        "celery.tasks['docdraft.mail']()\n"
        "heavy = {'tensorflow', 'transformers', 'tf_keras'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_USE_TLS": "0",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # the nudge finds no broker: fine
    }
    web = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=web, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert [m["Subject"] for m in smtp_server.to("ada@example.org")] == [
        "From the worker"
    ]


MAIL_QUEUE = f"test-mail-{uuid.uuid4().hex}"  # this run's own queue


@pytest.fixture
def celery_mail_app(make_app, redis_server, smtp_server):  # noqa: F811
    """JOB_BACKEND=celery with a mail worker in a thread on its own queue."""
    app = make_app(
        **smtp_server.config,
        JOB_BACKEND="celery",
        REDIS_URL=redis_url(15),
        MAIL_QUEUE=MAIL_QUEUE,
    )
    level = logging.root.level
    try:
        with start_worker(
            dispatch.backend(app).celery,
            pool="solo",
            perform_ping_check=False,
            queues=[MAIL_QUEUE],
        ):
            yield app
    finally:
        logging.root.setLevel(level)  # Celery sets it; later caplogs need it
        redis.Redis.from_url(redis_url(15)).delete(MAIL_QUEUE)


def wait_for_mail(smtp_server, address, count=1, timeout=20):  # noqa: F811
    deadline = time.monotonic() + timeout
    while len(smtp_server.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return smtp_server.to(address)


def test_a_celery_mail_worker_sends_after_the_commit(
    celery_mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    user_id, address = make_user()
    mail_id = queue_mail(celery_mail_app, user_id, subject="Through Redis")
    assert [m["Subject"] for m in wait_for_mail(smtp_server, address)] == [
        "Through Redis"
    ]
    deadline = time.monotonic() + 5
    while row(celery_mail_app, mail_id).status != MailStatus.sent:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_beat_sends_the_mail_worker_its_sweep(
    celery_mail_app,
    make_user,
    smtp_server,  # noqa: F811
):
    """Retries whose time came are sent without a nudge, on the mail queue."""
    celery = dispatch.backend(celery_mail_app).celery
    schedule = celery.conf.beat_schedule["mail"]
    assert schedule["task"] == "docdraft.mail"
    assert schedule["options"]["queue"] == MAIL_QUEUE
    user_id, address = make_user()
    smtp_server.stop()
    mail_id = queue_mail(celery_mail_app, user_id)
    deadline = time.monotonic() + 10
    while row(celery_mail_app, mail_id).attempts == 0:  # the nudge's attempt
        assert time.monotonic() < deadline
        time.sleep(0.05)
    smtp_server.start()
    make_due(celery_mail_app, mail_id)
    celery.send_task(schedule["task"], **schedule["options"])  # as beat does
    assert len(wait_for_mail(smtp_server, address)) == 1


def test_starttls_and_login(make_app, make_user, smtp_tls_server):  # noqa: F811
    app = make_app(**smtp_tls_server.config)
    user_id, address = make_user()
    queue_mail(app, user_id, subject="Over TLS")
    assert send(app) == 1
    assert [m["Subject"] for m in smtp_tls_server.to(address)] == ["Over TLS"]


def test_a_wrong_login_is_retried_not_lost(
    make_app,
    make_user,
    smtp_tls_server,  # noqa: F811
):
    app = make_app(**{**smtp_tls_server.config, "MAIL_PASSWORD": "wrong"})
    user_id, _ = make_user()
    mail_id = queue_mail(app, user_id)
    assert send(app) == 0
    waiting = row(app, mail_id)
    assert waiting.status == MailStatus.queued
    assert "SMTPAuthenticationError" in waiting.last_error
    assert smtp_tls_server.messages == []


def test_an_untrusted_certificate_gets_no_login(
    make_app,
    make_user,
    smtp_tls_server,  # noqa: F811
    monkeypatch,
):
    monkeypatch.delenv("SSL_CERT_FILE")  # the system's CAs never signed it
    app = make_app(**smtp_tls_server.config)
    user_id, _ = make_user()
    mail_id = queue_mail(app, user_id)
    assert send(app) == 0
    assert "CERTIFICATE_VERIFY_FAILED" in row(app, mail_id).last_error
    assert smtp_tls_server.messages == []


def test_a_broker_that_is_down_never_holds_the_commit(make_app, make_user):
    """Publishing to a dead broker takes seconds; the nudge runs in a thread."""
    app = make_app(JOB_BACKEND="celery", REDIS_URL="redis://127.0.0.1:1/0")
    user_id, _ = make_user()
    started = time.monotonic()
    mail_id = queue_mail(app, user_id)
    assert time.monotonic() - started < 2
    assert row(app, mail_id).status == MailStatus.queued  # for the sweeper
