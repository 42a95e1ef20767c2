"""A user's in-app notifications: counting, listing, marking read.

Every lookup is by the user's own id, so another user's notification is
simply not found (404), as documents are through access.get_document_for.
"""

from dataclasses import dataclass

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Notification, utcnow
from ..paging import newest_first

PAGE_SIZE = 20


@dataclass(frozen=True)
class NotificationPage:
    notifications: list
    page: int
    pages: int
    total: int

    @property
    def has_next(self):
        return self.page < self.pages


def unread_count(user):
    """The bell's number (one indexed count: user_id, read_at)."""
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def notification_page(user, page, size=PAGE_SIZE):
    """Page `page` of `user`'s notifications, newest first (a page past the
    last is the last)."""
    rows, page, pages, total = newest_first(
        Notification, Notification.user_id == user.id, page, size
    )
    return NotificationPage(notifications=rows, page=page, pages=pages, total=total)


def own_notification(user, notification_id):
    """`user`'s notification with this id, or None (someone else's: None)."""
    return db.session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user.id
        )
    )


def mark_read(notification):
    if notification.read_at is None:
        notification.read_at = utcnow()
    db.session.commit()


def mark_all_read(user):
    """Mark every unread notification of `user` read; how many."""
    marked = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return marked
