"""Queue mail with the change that causes it; nudge the worker after commit.

A mail row commits with the caller's transaction or not at all, so a change
is never saved without its mail, nor mail sent about a change rolled back.
The nudge waits for the commit (a session event), and is best effort: the
sweeper finds due mail the nudge missed.
"""

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import OutboxMail, UserStatus

log = logging.getLogger("docdraft.mail")

_NUDGE = "docdraft.mail.nudge"  # Session.info flag: mail was added


class UnsafeHeader(ValueError):
    """A subject or header with a line break (header injection)."""


def may_receive(user, account_decision=False):
    """Pending and rejected users receive only the decision on their account."""
    return account_decision or user.status == UserStatus.approved


def enqueue(
    user,
    kind,
    subject,
    text_body,
    html_body,
    *,
    headers=None,
    secret=False,
    account_decision=False,
):
    """Add a mail to `user` to the session; the caller commits it together
    with the change that caused it.

    Nothing is queued for a pending or rejected user unless
    `account_decision` (the decision about their own account). Returns the
    OutboxMail row, or None when nothing was queued. After the commit the
    worker is nudged (best effort; the sweeper picks up anything missed).
    Raises UnsafeHeader for a line break in the subject or a header.
    """
    if not may_receive(user, account_decision):
        log.info("no %s mail for user=%s (%s)", kind, user.id, user.status.value)
        return None
    stored = dict(headers or {})
    _check_headers({"Subject": subject, **stored})
    mail = OutboxMail(
        user_id=user.id,
        to_address=user.email,
        kind=kind,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        headers=stored or None,
        secret=secret,
        account_decision=account_decision,
    )
    db.session.add(mail)
    _nudge_after_commit()
    return mail


def _check_headers(headers):
    for name, value in headers.items():
        if any(c in f"{name}{value}" for c in "\r\n\0"):
            raise UnsafeHeader(f"line break in mail header {name!r}")


def _nudge_after_commit():
    session = db.session()
    session.info[_NUDGE] = True
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(session):
    if session.info.pop(_NUDGE, False):
        nudge()


def _after_rollback(session):
    session.info.pop(_NUDGE, None)  # the mail was not saved


def nudge():
    """Wake a mail worker (best effort: the sweeper nudges again)."""
    from ..jobs import dispatch

    try:
        dispatch.backend().submit_mail()
    except Exception:  # noqa: BLE001 - the mail is committed; it waits
        log.warning("mail worker not nudged; the sweeper will", exc_info=True)
