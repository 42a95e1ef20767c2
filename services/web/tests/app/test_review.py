"""Review states, comments, the timeline, archiving, and whose turn it is."""

import pytest
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.models import Document, Event, ReviewState, Role

STATES = ["draft", "in_review", "changes_requested", "approved"]
ACTIONS = ["submit", "approve", "request_changes", "reopen"]
# The table, written out: (state, action) -> (who may, new state).
ALLOWED = {
    ("draft", "submit"): ("sponsor", "in_review"),
    ("in_review", "approve"): ("editor", "approved"),
    ("in_review", "request_changes"): ("editor", "changes_requested"),
    ("changes_requested", "submit"): ("sponsor", "in_review"),
    ("approved", "reopen"): ("sponsor", "draft"),
}


@pytest.fixture
def document(app, sponsor, editor, create_document):
    return create_document(sponsor, editor.user_id)


def set_state(app, document_id, state):
    with app.app_context():
        db.session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(review_state=ReviewState(state))
        )
        db.session.commit()


def state_of(app, document_id):
    with app.app_context():
        return db.session.get(Document, document_id).review_state.value


def review(browser, document_id, action, comment="Please expand.", **extra):
    role = "sponsor" if "sponsor" in browser.role else "editor"
    return browser.submit(
        f"/documents/{document_id}/review",
        {"action": action, "comment": comment, **extra},
        form_url=f"/{role}/documents/{document_id}",
    )


@pytest.fixture
def people(sponsor, editor):
    sponsor.role, editor.role = "sponsor", "editor"
    return {"sponsor": sponsor, "editor": editor}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", ["sponsor", "editor"])
def test_every_transition_by_every_role(app, people, document, state, action, who):
    set_state(app, document, state)
    response = review(people[who], document, action)
    allowed = ALLOWED.get((state, action))
    if allowed is None:
        expected, final = 409, state
    elif allowed[0] != who:
        expected, final = 403, state
    else:
        expected, final = 302, allowed[1]
    assert response.status_code == expected
    assert state_of(app, document) == final


def test_request_changes_needs_a_comment_and_keeps_it(app, people, document):
    set_state(app, document, "in_review")
    refused = review(people["editor"], document, "request_changes", comment=" \u200b ")
    assert refused.status_code == 400
    assert "Say what should change." in refused.get_data(as_text=True)
    assert state_of(app, document) == "in_review"
    review(people["editor"], document, "request_changes", comment="Cut the intro.")
    html = people["sponsor"].get(f"/sponsor/documents/{document}").get_data(True)
    assert "requested changes" in html and "Cut the intro." in html


def test_unknown_action_is_400(app, people, document):
    assert review(people["sponsor"], document, "publish").status_code == 400
    assert state_of(app, document) == "draft"


def test_an_approved_document_is_locked_until_reopened(
    app, people, document, fake_generator, run_queued
):
    run_queued()
    sponsor, editor = people["sponsor"], people["editor"]
    review(sponsor, document, "submit")
    review(editor, document, "approve")
    page = f"/editor/documents/{document}"
    edit = editor.submit(page, {"document_name": "x", "document_body": "changed"})
    assert edit.status_code == 409
    assert "changed" in edit.get_data(as_text=True)  # the typed text is kept
    for action in ("accept", "dismiss"):
        response = editor.submit(f"/documents/{document}/{action}", {}, form_url=page)
        assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Document, document).head_revision == 1
    assert "Save revision" not in editor.get(page).get_data(as_text=True)
    assert review(sponsor, document, "reopen").status_code == 302
    assert (
        editor.submit(
            page, {"document_name": "x", "document_body": "changed"}
        ).status_code
        == 302
    )


def test_an_editor_approves_only_the_revision_they_read(app, people, document):
    sponsor, editor = people["sponsor"], people["editor"]
    review(sponsor, document, "submit")
    stale = editor.get(f"/editor/documents/{document}").get_data(as_text=True)
    sponsor.submit(
        f"/sponsor/documents/{document}",
        {
            "document_name": "Launch plan",
            "document_body": "Rewritten",
            "editor_id": editor.user_id,
        },
    )
    from .conftest import csrf_token

    response = editor.client.post(
        f"/documents/{document}/review",
        data={"csrf_token": csrf_token(stale), "action": "approve", "base_revision": 1},
    )
    assert response.status_code == 409
    assert state_of(app, document) == "in_review"


def test_submit_with_a_rejected_editor_is_refused(app, people, document, admin):
    admin.post_action(
        f"/admin/users/{people['editor'].user_id}/reject", from_url="/admin/users"
    )
    response = review(people["sponsor"], document, "submit")
    assert response.status_code == 409
    assert "no longer approved" in response.get_data(as_text=True)
    html = people["sponsor"].get(f"/sponsor/documents/{document}").get_data(True)
    assert "state-rejected" in html
    listing = people["sponsor"].get("/sponsor/documents").get_data(True)
    assert "rejected" in listing


def test_comments_are_on_the_timeline_with_limits(app, people, document):
    sponsor, editor = people["sponsor"], people["editor"]
    page = f"/sponsor/documents/{document}"
    ok = sponsor.submit(
        f"/documents/{document}/comments", {"body": "<b>Hi</b>"}, form_url=page
    )
    assert ok.status_code == 302
    too_long = editor.submit(
        f"/documents/{document}/comments",
        {"body": "y" * 2001},
        form_url=f"/editor/documents/{document}",
    )
    assert too_long.status_code == 400
    assert "y" * 2001 in too_long.get_data(as_text=True)  # kept, not lost
    empty = editor.submit(
        f"/documents/{document}/comments", {"body": "\u200b\u200d"}, form_url=page
    )
    assert empty.status_code == 400
    html = editor.get(f"/editor/documents/{document}").get_data(as_text=True)
    assert "&lt;b&gt;Hi&lt;/b&gt;" in html and "<b>Hi</b>" not in html
    with app.app_context():
        kinds = db.session.scalars(
            select(Event.kind).where(Event.document_id == document).order_by(Event.id)
        ).all()
    assert [k.value for k in kinds] == ["revision", "comment"]


def test_timeline_records_every_kind_of_change(
    app, people, document, login_as, fake_generator, run_queued
):
    sponsor = people["sponsor"]
    other = login_as(Role.editor, name="Olga Other")
    run_queued()
    page = f"/sponsor/documents/{document}"
    sponsor.submit(f"/documents/{document}/accept", {}, form_url=page)
    sponsor.submit(
        page,
        {
            "document_name": "Renamed",
            "document_body": "New body",
            "editor_id": other.user_id,
        },
    )
    review(sponsor, document, "submit")
    sponsor.post_action(f"/sponsor/documents/{document}/archive", from_url=page)
    sponsor.post_action(f"/sponsor/documents/{document}/restore", from_url=page)
    with app.app_context():
        events = db.session.scalars(
            select(Event).where(Event.document_id == document).order_by(Event.id)
        ).all()
        kinds = [e.kind.value for e in events]
        assert all(e.actor_id == sponsor.user_id and e.created_at for e in events)
    assert kinds == [
        "revision",
        "accept",
        "revision",
        "rename",
        "reassignment",
        "transition",
        "archive",
        "restore",
    ]
    html = sponsor.get(page).get_data(as_text=True)
    for phrase in (
        "accepted the suggestion of revision 1",
        "renamed it",
        "assigned it to <bdi>Olga Other</bdi>",  # a name keeps its own direction
        "submitted it for review",
        "archived it",
        "restored it",
    ):
        assert phrase in html


def test_archive_makes_the_document_read_only_and_hidden(app, people, document):
    sponsor, editor = people["sponsor"], people["editor"]
    page = f"/sponsor/documents/{document}"
    assert (
        sponsor.post_action(f"/sponsor/documents/{document}/archive", page).status_code
        == 302
    )
    assert "Launch plan" not in sponsor.get("/sponsor/documents").get_data(True)
    assert "Launch plan" in sponsor.get("/sponsor/documents?state=archived").get_data(
        True
    )
    assert "Launch plan" not in editor.get("/editor/documents").get_data(True)
    edit = editor.submit(
        f"/editor/documents/{document}", {"document_name": "x", "document_body": "y"}
    )
    assert edit.status_code == 409
    assert review(sponsor, document, "submit").status_code == 409
    comment = sponsor.submit(
        f"/documents/{document}/comments", {"body": "hi"}, form_url=page
    )
    assert comment.status_code == 409
    # Twice is a conflict, not a second archive.
    assert (
        sponsor.post_action(f"/sponsor/documents/{document}/archive", page).status_code
        == 409
    )
    assert (
        editor.post_action(f"/sponsor/documents/{document}/restore", "/").status_code
        == 403
    )
    assert (
        sponsor.post_action(f"/sponsor/documents/{document}/restore", page).status_code
        == 302
    )
    assert "Launch plan" in sponsor.get("/sponsor/documents").get_data(True)
    assert (
        sponsor.post_action(f"/sponsor/documents/{document}/restore", page).status_code
        == 409
    )


def test_your_turn_counts_and_state_filters(app, people, create_document, login_as):
    sponsor, editor = people["sponsor"], people["editor"]
    first = create_document(sponsor, editor.user_id, name="First doc")
    create_document(sponsor, editor.user_id, name="Second doc")
    assert "Your turn: 0" in sponsor.get("/sponsor/documents").get_data(True)
    review(sponsor, first, "submit")
    assert "Your turn: 1" in editor.get("/editor/documents").get_data(True)
    assert "Your turn: 0" in sponsor.get("/sponsor/documents").get_data(True)
    review(editor, first, "request_changes")
    assert "Your turn: 1" in sponsor.get("/sponsor/documents").get_data(True)
    assert "Your turn: 0" in editor.get("/editor/documents").get_data(True)
    listed = sponsor.get("/sponsor/documents?state=changes_requested").get_data(True)
    assert "First doc" in listed and "Second doc" not in listed
    drafts = editor.get("/editor/documents?state=draft").get_data(True)
    assert "Second doc" in drafts and "First doc" not in drafts
    assert sponsor.get("/sponsor/documents?state=bogus").status_code == 400
