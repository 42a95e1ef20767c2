"""Send due mail under a lease, as generation jobs are run (jobs/runner.py).

A worker claims due mail (queued and due, or `sending` with an expired
lease: its worker died) with one conditional UPDATE that sets it `sending`
under the worker's lease; on PostgreSQL the candidates are locked FOR
UPDATE SKIP LOCKED, so two workers claiming at once take different mail.
Every later write holds only while the worker still holds the lease
(`WHERE lease_owner = me AND status = 'sending'`). So no mail is sent twice
by two live workers; a worker that dies after the SMTP server accepted a
mail but before marking it sent leaves it to be sent once more when its
lease expires (at least once, never lost).

An SMTP error puts the mail back in the queue after a delay that doubles
each attempt (1 minute to 1 hour); after MAIL_MAX_ATTEMPTS it fails.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..jobs.runner import new_worker_id
from ..models import ERROR_MAX, MailStatus, OutboxMail, User, utcnow
from .outbox import may_receive
from .transport import build_message, transport_for

log = logging.getLogger("docdraft.mail")

LEASE_SECONDS = 300  # a batch of BATCH mails, each within the SMTP timeout
BATCH = 10
FIRST_RETRY_SECONDS = 60
LAST_RETRY_SECONDS = 3600


def retry_delay(attempts):
    """Seconds before attempt `attempts` + 1: 1, 2, 4 ... minutes, at most 1 h."""
    return min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LAST_RETRY_SECONDS)


def _due(now):
    queued = (OutboxMail.status == MailStatus.queued) & (
        OutboxMail.next_attempt_at <= now
    )
    abandoned = (OutboxMail.status == MailStatus.sending) & (
        OutboxMail.lease_expires_at < now
    )
    return or_(queued, abandoned)


def claim_due(owner, limit=BATCH):
    """Lease up to `limit` due mails to `owner`, oldest due first; their ids."""
    now = utcnow()
    _give_up_on_abandoned(now)
    due = _due(now)
    oldest = select(OutboxMail.id).where(due)
    oldest = oldest.order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        picked = oldest.with_for_update(skip_locked=True).cte("picked")
        statement = update(OutboxMail).where(OutboxMail.id.in_(select(picked.c.id)))
    else:  # SQLite writes one statement at a time: no other claim interleaves
        statement = update(OutboxMail).where(
            OutboxMail.id.in_(oldest.scalar_subquery())
        )
    claimed = db.session.scalars(
        statement.where(due)
        .values(
            status=MailStatus.sending,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
            attempts=OutboxMail.attempts + 1,
        )
        .returning(OutboxMail.id)
    ).all()
    db.session.commit()
    return sorted(claimed)


def _give_up_on_abandoned(now):
    """Mail whose worker died on its last allowed attempt fails."""
    failed = db.session.scalars(
        update(OutboxMail)
        .where(
            OutboxMail.status == MailStatus.sending,
            OutboxMail.lease_expires_at < now,
            OutboxMail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"],
        )
        .values(
            status=MailStatus.failed,
            lease_owner=None,
            lease_expires_at=None,
            last_error="WorkerLost: the worker stopped during the last attempt",
        )
        .returning(OutboxMail.id)
    ).all()
    for mail_id in failed:
        log.warning("mail=%s failed: its worker stopped on the last attempt", mail_id)


def send_due(owner=None):
    """Claim and send due mail until none is due; the number sent."""
    owner = owner or new_worker_id()
    sent = 0
    with transport_for(current_app.config) as transport:
        while mail_ids := claim_due(owner):
            for mail_id in mail_ids:
                sent += _send_one(mail_id, owner, transport)
    return sent


def _send_one(mail_id, owner, transport):
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None or mail.lease_owner != owner:
        return 0
    user = db.session.get(User, mail.user_id) if mail.user_id else None
    if user is not None and not may_receive(user, mail.account_decision):
        _finish(mail_id, owner, MailStatus.failed, error="recipient not approved")
        return 0
    message = build_message(mail, user, current_app.config)
    try:
        transport.send(message)
    except transport.errors as exc:
        _retry(mail, owner, exc)
        return 0
    bodies = {"text_body": "", "html_body": ""} if mail.secret else {}
    written = _finish(mail_id, owner, MailStatus.sent, sent_at=utcnow(), **bodies)
    log.info("mail=%s %s to user=%s sent", mail_id, mail.kind, mail.user_id)
    return written


def _retry(mail, owner, exc):
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    if mail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        _finish(mail.id, owner, MailStatus.failed, error=error)
        log.error("mail=%s failed after %d attempts: %s", mail.id, mail.attempts, error)
        return
    delay = retry_delay(mail.attempts)
    next_attempt = utcnow() + timedelta(seconds=delay)
    _finish(
        mail.id, owner, MailStatus.queued, error=error, next_attempt_at=next_attempt
    )
    log.warning("mail=%s not sent (%s); retry in %d s", mail.id, error, delay)


def _finish(mail_id, owner, status, error=None, **values):
    """Write the outcome while `owner` still holds the lease; 1 if written."""
    result = db.session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            OutboxMail.lease_owner == owner,
            OutboxMail.status == MailStatus.sending,
        )
        .values(
            status=status,
            last_error=error,
            lease_owner=None,
            lease_expires_at=None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
