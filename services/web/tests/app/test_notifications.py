"""In-app notifications: who is told what, the bell, the list, preferences.

Every event is caused through the real pages (forms with CSRF, real
logins); mail is tested in test_notifications_mail.py.
"""

import re

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import (
    Notification,
    NotificationPreference,
    OutboxMail,
    Role,
    User,
    UserStatus,
)
from docdraft.notifications.core import notify

from .conftest import csrf_token

BELL = re.compile(r'id="notifications-bell">Notifications: (\d+)<')


def received(app, user_id):
    """(kind, actor id, document id, message) of `user_id`'s notifications,
    oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
        return [(n.kind, n.actor_id, n.document_id, n.message) for n in rows]


def kinds(app, user_id):
    return [kind for kind, *_ in received(app, user_id)]


def bell(browser):
    return int(
        BELL.search(browser.get("/notifications").get_data(as_text=True)).group(1)
    )


def review(browser, document_id, action, role, comment="Please expand."):
    return browser.submit(
        f"/documents/{document_id}/review",
        {"action": action, "comment": comment},
        form_url=f"/{role}/documents/{document_id}",
    )


def comment(browser, document_id, role, body):
    return browser.submit(
        f"/documents/{document_id}/comments",
        {"body": body},
        form_url=f"/{role}/documents/{document_id}",
    )


def reassign(sponsor, document_id, editor_id):
    return sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "Write about Debian.",
            "editor_id": editor_id,
        },
    )


@pytest.fixture
def document(sponsor, editor, create_document):
    return create_document(sponsor, editor.user_id)


def test_a_new_document_tells_its_editor_and_not_its_sponsor(
    app, sponsor, editor, document
):
    [(kind, actor, document_id, message)] = received(app, editor.user_id)
    assert (kind, actor, document_id) == ("assigned", sponsor.user_id, document)
    assert message.endswith("assigned “Launch plan” to you.")
    assert received(app, sponsor.user_id) == []


def test_reassigning_tells_the_old_and_the_new_editor(
    app, login_as, sponsor, editor, document
):
    second = login_as(Role.editor)
    assert reassign(sponsor, document, second.user_id).status_code == 302
    assert kinds(app, editor.user_id) == ["assigned", "unassigned"]
    assert kinds(app, second.user_id) == ["assigned"]
    assert "to another editor" in received(app, editor.user_id)[-1][3]
    assert received(app, sponsor.user_id) == []
    # The old editor's link goes to their list: the document is no longer theirs.
    page = editor.get("/notifications").get_data(as_text=True)
    with app.app_context():
        link = db.session.scalars(
            select(Notification.link).where(
                Notification.user_id == editor.user_id,
                Notification.kind == "unassigned",
            )
        ).one()
    assert link == "/editor/documents" and "to another editor" in page


def test_each_review_turn_tells_the_other_side_only(app, sponsor, editor, document):
    steps = [
        (sponsor, "sponsor", "submit", editor, "submitted"),
        (editor, "editor", "request_changes", sponsor, "changes_requested"),
        (sponsor, "sponsor", "submit", editor, "submitted"),
        (editor, "editor", "approve", sponsor, "approved"),
        (sponsor, "sponsor", "reopen", editor, "reopened"),
    ]
    for actor, role, action, recipient, kind in steps:
        before = {u.user_id: kinds(app, u.user_id) for u in (sponsor, editor)}
        assert review(actor, document, action, role).status_code == 302, action
        assert kinds(app, recipient.user_id) == [*before[recipient.user_id], kind]
        assert kinds(app, actor.user_id) == before[actor.user_id]  # never the actor
        assert received(app, recipient.user_id)[-1][1] == actor.user_id


def test_a_comment_goes_to_the_other_participant(
    app, login_as, sponsor, editor, document
):
    stranger = login_as(Role.editor)
    assert comment(sponsor, document, "sponsor", "Have a look?").status_code == 302
    assert kinds(app, editor.user_id) == ["assigned", "comment"]
    assert kinds(app, sponsor.user_id) == []
    assert comment(editor, document, "editor", "Looks good.").status_code == 302
    assert kinds(app, sponsor.user_id) == ["comment"]
    assert kinds(app, editor.user_id) == ["assigned", "comment"]
    assert received(app, stranger.user_id) == []


def test_admins_decisions_reach_the_user_they_are_about(app, admin, make_user):
    pending_id, _ = make_user(Role.editor, UserStatus.pending)
    approved = admin.post_action(f"/admin/users/{pending_id}/approve", "/admin/users")
    assert approved.status_code == 302
    assert kinds(app, pending_id) == ["account_approved"]
    refused = admin.submit(
        f"/admin/users/{pending_id}/reject", {"reason": "Not on the team."}
    )
    assert refused.status_code == 302
    [_, (kind, actor, _, message)] = received(app, pending_id)
    assert (kind, actor) == ("account_rejected", admin.user_id)
    assert "Not on the team." in message
    admin.post_action(f"/admin/users/{pending_id}/approve", "/admin/users")
    assert kinds(app, pending_id)[-1] == "account_approved"
    # Approving an approved user again decides nothing new: nothing is sent.
    admin.post_action(f"/admin/users/{pending_id}/approve", "/admin/users")
    assert len(received(app, pending_id)) == 3


def test_pending_and_rejected_users_hear_only_about_their_account(
    app, admin, sponsor, editor, document
):
    refused = admin.submit(f"/admin/users/{editor.user_id}/reject", {"reason": ""})
    assert refused.status_code == 302
    assert comment(sponsor, document, "sponsor", "Still there?").status_code == 302
    assert kinds(app, editor.user_id) == ["assigned", "account_rejected"]
    with app.app_context():
        for status in (UserStatus.pending, UserStatus.rejected):
            user = db.session.get(User, editor.user_id)
            user.status = status
            kwargs = {"actor": None, "message": "m", "link": "/"}
            assert notify(user, "comment", **kwargs) is None
            assert notify(user, "account_approved", **kwargs) is not None
            db.session.rollback()


def test_the_bell_counts_unread_and_reading_clears_it(
    app, login_as, sponsor, editor, document
):
    comment(sponsor, document, "sponsor", "One.")
    assert bell(editor) == 2 and bell(sponsor) == 0
    newest, oldest = _ids(app, editor.user_id)
    assert editor.post_action(f"/notifications/{newest}/read").status_code == 302
    assert bell(editor) == 1
    # Open: marks it read and goes where it points.
    opened = editor.client.post(
        f"/notifications/{oldest}/read",
        data={"csrf_token": _token(editor), "open": "1"},
    )
    assert opened.status_code == 302
    assert opened.location == f"/documents/{document}"
    assert bell(editor) == 0
    comment(sponsor, document, "sponsor", "Two.")
    comment(sponsor, document, "sponsor", "Three.")
    assert bell(editor) == 2
    assert editor.post_action("/notifications/read-all").status_code == 302
    assert bell(editor) == 0


def test_reading_needs_csrf_and_someone_elses_is_not_found(
    app, login_as, sponsor, editor, document
):
    [mine] = _ids(app, editor.user_id)
    assert sponsor.post_action(f"/notifications/{mine}/read").status_code == 404
    assert editor.client.post(f"/notifications/{mine}/read").status_code == 400
    assert editor.client.post("/notifications/read-all").status_code == 400
    assert bell(editor) == 1


def test_the_list_is_newest_first_in_pages_and_escaped(
    app, sponsor, editor, create_document
):
    name = "<script>alert(1)</script>"
    create_document(sponsor, editor.user_id, name=name)
    with app.app_context():
        user = db.session.get(User, editor.user_id)
        for n in range(24):
            notify(user, "comment", actor=None, message=f"Number {n:02d}.", link="/")
        db.session.commit()
    first = editor.get("/notifications").get_data(as_text=True)
    assert "Number 23." in first and "Number 04." in first
    assert "Number 03." not in first
    assert first.index("Number 23.") < first.index("Number 22.")
    second = editor.get("/notifications?page=2").get_data(as_text=True)
    assert "Number 03." in second and "&lt;script&gt;alert(1)&lt;/script&gt;" in second
    assert "<script>alert" not in second
    assert editor.get("/notifications?page=x").status_code == 400


def test_preferences_are_on_the_account_page_by_role(app, sponsor, editor):
    editor_page = editor.get("/account").get_data(as_text=True)
    sponsor_page = sponsor.get("/account").get_data(as_text=True)
    assert 'name="email_submitted"' in editor_page
    assert 'name="email_submitted"' not in sponsor_page
    assert 'name="email_approved"' in sponsor_page
    # suggestion_ready: off by default, in both parts, and the sponsor's alone.
    assert 'name="in_app_suggestion_ready"' not in editor_page
    assert _checked(sponsor_page, "email_comment")
    assert not _checked(sponsor_page, "email_suggestion_ready")
    assert not _checked(sponsor_page, "in_app_suggestion_ready")


def test_saving_preferences_and_a_refusal_keeps_the_choices(app, sponsor):
    saved = sponsor.submit(
        "/account/notifications",
        {"email_approved": "y", "in_app_suggestion_ready": "y"},
        form_url="/account",
    )
    assert saved.status_code == 302
    assert _preferences(app, sponsor.user_id) == {
        "approved": (True, True),
        "changes_requested": (False, True),
        "comment": (False, True),
        "suggestion_ready": (False, True),
    }
    page = sponsor.get("/account").get_data(as_text=True)
    assert _checked(page, "in_app_suggestion_ready")
    assert not _checked(page, "email_comment")

    refused = sponsor.client.post(
        "/account/notifications",
        data={"email_comment": "y", "email_suggestion_ready": "y"},
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "The form was not saved" in html and "This form had expired" in html
    assert _checked(html, "email_comment") and _checked(html, "email_suggestion_ready")
    assert not _checked(html, "in_app_suggestion_ready")  # as posted, not as saved
    assert _preferences(app, sponsor.user_id)["comment"] == (False, True)


def test_a_suggestion_ready_notification_only_when_asked_for(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    create_document(sponsor, editor.user_id, name="First")
    run_queued()
    assert received(app, sponsor.user_id) == []
    ticked = {"in_app_suggestion_ready": "y", "email_suggestion_ready": "y"}
    sponsor.submit("/account/notifications", ticked, form_url="/account")
    second = create_document(sponsor, editor.user_id, name="Second")
    run_queued()  # the worker's path: no request to build links from
    [(kind, actor, document_id, message)] = received(app, sponsor.user_id)
    assert (kind, actor, document_id) == ("suggestion_ready", None, second)
    assert message == "A suggestion is ready for “Second”."
    with app.app_context():
        [mail] = db.session.scalars(
            select(OutboxMail).where(OutboxMail.user_id == sponsor.user_id)
        ).all()
        assert mail.kind == "suggestion_ready"
        assert f"{app.config['APP_BASE_URL']}/documents/{second}" in mail.text_body


def test_only_approved_users_have_a_bell(app, login_as, sponsor):
    assert bell(sponsor) == 0
    pending = login_as(Role.sponsor, UserStatus.pending)
    assert "notifications-bell" not in pending.get("/").get_data(as_text=True)
    assert pending.get("/notifications").status_code == 403


def _ids(app, user_id):
    """`user_id`'s notification ids, newest first."""
    with app.app_context():
        return db.session.scalars(
            select(Notification.id)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
        ).all()


def _token(browser):
    return csrf_token(browser.get("/notifications").get_data(as_text=True))


def _checked(html, name):
    box = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert box, f"no box {name}"
    return " checked" in box.group(0)


def _preferences(app, user_id):
    with app.app_context():
        rows = db.session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user_id
            )
        )
        return {row.kind: (row.email, row.in_app) for row in rows}
