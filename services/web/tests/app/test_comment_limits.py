"""Comments are rate-limited per user, and the document page shows its
timeline a page at a time: 150 comments made a 336 kB page."""

import re

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import AuditEvent, Document, Event, EventKind, User
from docdraft.services.timeline import TIMELINE_PAGE_SIZE

COMMENT_LIMIT = {"RATELIMIT_ENABLED": True, "RATELIMIT_COMMENT": "3/minute"}


def comment(drafted, browser, text):
    return drafted.post(browser, "comments", {"body": text})


@pytest.mark.app_config(**COMMENT_LIMIT)
def test_a_comment_over_the_limit_is_429_and_keeps_its_text(
    app, sponsor, editor, drafted
):
    for n in range(3):
        assert comment(drafted, sponsor, f"Comment {n}").status_code == 302
    refused = comment(drafted, sponsor, "The one I typed last")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    html = refused.get_data(as_text=True)
    assert "faster than this site takes" in html
    assert re.search(r'<textarea id="kept-body"[^>]*>The one I typed last<', html)
    assert f"/documents/{drafted.id}" in html  # the way back to the page
    # Per user: the editor of the same document still comments.
    assert comment(drafted, editor, "Mine goes through").status_code == 302
    with app.app_context():
        row = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "rate_limited")
        )
        assert row.actor_id == sponsor.user_id
        assert row.detail.endswith("on /documents/<int:document_id>/comments")


@pytest.mark.app_config(**COMMENT_LIMIT)
def test_the_comment_limit_is_per_user_not_per_document(
    app, sponsor, editor, drafted, create_document
):
    other = create_document(sponsor, editor.user_id, name="Second")
    for n in range(3):
        assert comment(drafted, sponsor, f"Comment {n}").status_code == 302
    response = sponsor.submit(
        f"/documents/{other}/comments",
        {"body": "Elsewhere"},
        form_url=f"/sponsor/documents/{other}",
    )
    assert response.status_code == 429


def add_comments(app, document_id, count):
    """Many comments straight into the database (the limit is tested above)."""
    with app.app_context():
        document = db.session.get(Document, document_id)
        author = db.session.get(User, document.sponsor_id)
        db.session.add_all(
            Event(
                document=document,
                actor=author,
                kind=EventKind.comment,
                revision_number=1,
                comment=f"Comment number {n:03d}.",
            )
            for n in range(count)
        )
        db.session.commit()


def shown_events(html):
    timeline = html.split('id="timeline"')[1].split("</section>")[0]
    return re.findall(r'<li class="event ', timeline), timeline


def test_the_timeline_shows_the_newest_events_and_links_older_ones(
    app, sponsor, drafted
):
    add_comments(app, drafted.id, 120)  # with revision 1: 121 events
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    events, timeline = shown_events(html)
    assert len(events) == TIMELINE_PAGE_SIZE
    assert "Comment number 119." in timeline and "Comment number 069." not in timeline
    assert "Page 1 of 3 (121 events)" in timeline
    older = f'href="/sponsor/documents/{drafted.id}?timeline=2#timeline">Older events'
    assert older in timeline and "Newer events" not in timeline

    last = sponsor.get(f"{drafted.sponsor_page}?timeline=3").get_data(as_text=True)
    events, timeline = shown_events(last)
    assert len(events) == 21 and "saved revision 1" in timeline
    assert "?timeline=2#timeline" in timeline and "Older events" not in timeline


def test_a_short_timeline_has_no_page_links(sponsor, drafted):
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    events, timeline = shown_events(html)
    assert len(events) == 1 and "Older events" not in timeline
