"""`notify`: tell one user about one thing, in the app and by mail.

Both parts are added to the session of the change that caused them and
commit with it: a change rolled back notifies no one, and a committed one
cannot lose its notification. The mail goes through the outbox
(docdraft.mail), which a worker sends after the commit.
"""

from ..extensions import db
from ..mail import outbox
from ..mail.render import render
from ..models import NOTIFICATION_MESSAGE_MAX, Notification, UserStatus
from . import preferences, unsubscribe
from .kinds import KINDS
from .links import absolute, app_path

SUBJECT_MAX = 150


def notify(user, kind, *, actor, document=None, message, link, detail=None):
    """Stage `kind` for `user`: a Notification if they want it in the app, a
    mail if they want it by mail; the Notification or None.

    `message` is the one line shown; `detail` (a comment, a reason) is
    quoted in full in the mail only; `link` a path inside the app. No one
    is told about their own action, and pending or rejected users hear
    nothing but the decision on their own account.
    """
    spec = KINDS[kind]
    if actor is not None and actor.id == user.id:
        return None
    if user.status != UserStatus.approved and not spec.account_decision:
        return None
    wanted = preferences.choice(user, kind)
    message = _shortened(message, NOTIFICATION_MESSAGE_MAX)
    row = None
    if wanted.in_app:
        row = Notification(
            user_id=user.id,
            kind=kind,
            actor_id=actor.id if actor is not None else None,
            document_id=document.id if document is not None else None,
            message=message,
            link=link,
        )
        db.session.add(row)
    if wanted.email:
        _enqueue_mail(user, spec, message, link, detail)
    return row


def _enqueue_mail(user, spec, message, link, detail):
    """The mail for one notification, with its one-click unsubscribe link
    (RFC 8058) unless it is about the user's own account."""
    unsubscribe_url = None
    headers = None
    if not spec.account_decision:
        unsubscribe_url = unsubscribe.link(user, spec.name)
        headers = {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    subject = _subject(message)
    text_body, html_body = render(
        "notification",
        subject=subject,
        user=user,
        message=message,
        detail=detail,
        link_url=absolute(link) if link else None,
        unsubscribe_url=unsubscribe_url,
        kind=spec,
        account_url=absolute(app_path("auth.account", anchor="notifications")),
    )
    outbox.enqueue(
        user,
        spec.name,
        subject,
        text_body,
        html_body,
        headers=headers,
        account_decision=spec.account_decision,
    )


def _subject(message):
    """One line: names are refused with line breaks, and a header must never
    hold one whatever got through."""
    return "Docdraft: " + _shortened(" ".join(message.split()), SUBJECT_MAX)


def _shortened(text, limit):
    return text if len(text) <= limit else text[: limit - 1] + "…"
