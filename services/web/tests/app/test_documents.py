"""Sponsors create and revise documents; editors revise those assigned to them."""

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.models import Autodoc, Document, JobStatus, Revision, Role, UserStatus

from .conftest import csrf_token


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def revisions_of(app, document_id):
    with app.app_context():
        rows = db.session.scalars(
            select(Revision)
            .where(Revision.document_id == document_id)
            .order_by(Revision.number)
        ).all()
        return [(r.number, r.body, r.author_id, r.autodoc.status) for r in rows]


def test_sponsor_creates_document_with_first_revision_and_job(
    app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="Debian is")
    assert revisions_of(app, document_id) == [
        (1, "Debian is", sponsor.user_id, JobStatus.queued)
    ]
    page = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "Revision 1" in page and "queued" in page
    assert f'data-status-url="/documents/{document_id}/status.json"' in page


def test_job_is_handed_to_the_queue_after_commit(app, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id)
    backend = dispatch.backend(app)
    with app.app_context():
        autodoc_id = db.session.scalar(
            select(Autodoc.id).join(Revision).where(Revision.document_id == document_id)
        )
    assert backend.delivered == [autodoc_id]


def test_generated_text_appears_on_pages_and_status(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.texts = ["and it is a universal operating system."]
    document_id = create_document(sponsor, editor.user_id, body="Debian is")
    run_queued()
    assert fake_generator.calls == [["Debian is"]]
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["status"] == "done"
    assert status["text"] == "and it is a universal operating system."
    assert status["revision"] == 1 and status["document_id"] == document_id
    assert status["finished_at"].endswith("Z") and status["error"] is None
    for browser, url in [
        (sponsor, f"/sponsor/documents/{document_id}"),
        (sponsor, "/sponsor/documents"),
        (editor, f"/editor/documents/{document_id}"),
        (editor, "/editor/documents"),
    ]:
        assert "universal operating system" in browser.get(url).get_data(as_text=True)
    with app.app_context():
        autodoc = db.session.scalar(select(Autodoc))
        assert autodoc.model_name == "fake-generator"
        assert autodoc.settings["num_beams"] == 5
        assert autodoc.started_at is not None and autodoc.attempts == 1


def test_editor_dropdown_lists_only_approved_editors(sponsor, make_user):
    make_user(Role.editor, UserStatus.approved, name="Eve Approved")
    make_user(Role.editor, UserStatus.pending, name="Paul Pending")
    make_user(Role.editor, UserStatus.rejected, name="Rob Rejected")
    make_user(Role.sponsor, UserStatus.approved, name="Sam Sponsor")
    html = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    assert "Eve Approved" in html
    for name in ("Paul Pending", "Rob Rejected", "Sam Sponsor"):
        assert name not in html


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_unapproved_editor_cannot_be_assigned(app, sponsor, make_user, status):
    editor_id, _ = make_user(Role.editor, status)
    response = sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": "x", "document_body": "y", "editor_id": editor_id},
    )
    assert response.status_code == 400
    assert 'id="editor_id-error"' in response.get_data(as_text=True)
    assert count(app, Document) == 0 and count(app, Autodoc) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("editor_id", "", "editor_id-error"),
        ("editor_id", "not-a-number", "editor_id-error"),
        ("document_name", "", "This field is required."),
        ("document_name", "n" * 201, "Field cannot be longer than 200 characters."),
        ("document_body", "", "This field is required."),
        ("document_body", " \n\t ", "This field is required."),
        (
            "document_body",
            "b" * 100_001,
            "Keep it to 100,000 characters or fewer.",
        ),
    ],
)
def test_bad_document_input_is_refused_and_saves_nothing(
    app, sponsor, editor, field, value, message
):
    data = {
        "document_name": "Plan",
        "document_body": "Text",
        "editor_id": editor.user_id,
    }
    response = sponsor.submit("/sponsor/documents/new", {**data, field: value})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(app, Document) == 0 and count(app, Revision) == 0


def test_edit_form_is_prefilled(sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id, name="Plan", body="Body <b>")
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert 'name="document_name" type="text" value="Plan"' in html
    assert "Body &lt;b&gt;</textarea>" in html
    assert f'<option selected value="{editor.user_id}">' in html


def test_sponsor_edit_of_body_makes_new_revision_and_job(
    app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="First")
    url = f"/sponsor/documents/{document_id}"
    response = sponsor.submit(
        url,
        {
            "document_name": "Plan",
            "document_body": "Second",
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 302
    assert [r[:2] for r in revisions_of(app, document_id)] == [
        (1, "First"),
        (2, "Second"),
    ]
    assert len(dispatch.backend(app).delivered) == 2


def test_a_rename_alone_is_a_revision_that_keeps_its_suggestion(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    document_id = create_document(sponsor, editor.user_id, name="Old", body="Same")
    run_queued()
    url = f"/sponsor/documents/{document_id}"
    stale = sponsor.get(url).get_data(as_text=True)
    response = sponsor.submit(
        url,
        {
            "document_name": "New name",
            "document_body": "Same",
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 302
    # The rename moved the head, so a form still showing the old name is
    # stale and cannot put it back.
    assert [number for number, *_ in revisions_of(app, document_id)] == [1, 2]
    assert len(dispatch.backend(app).delivered) == 1
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert (status["revision"], status["status"]) == (2, "done")
    assert status["text"] == fake_generator.texts[0]
    revert = sponsor.client.post(
        url,
        data={
            "csrf_token": csrf_token(stale),
            "base_revision": "1",
            "document_name": "Old",
            "document_body": "Same, edited",
            "editor_id": editor.user_id,
        },
    )
    assert revert.status_code == 409
    with app.app_context():
        assert db.session.get(Document, document_id).name == "New name"


def test_sponsor_reassigns_editor(app, sponsor, login_as, create_document):
    first = login_as(Role.editor)
    second = login_as(Role.editor)
    document_id = create_document(sponsor, first.user_id)
    assert first.get(f"/editor/documents/{document_id}").status_code == 200
    sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "Write about Debian.",
            "editor_id": second.user_id,
        },
    )
    assert first.get(f"/editor/documents/{document_id}").status_code == 404
    assert second.get(f"/editor/documents/{document_id}").status_code == 200
    assert "Launch plan" not in first.get("/editor/documents").get_data(as_text=True)


def test_editor_revises_assigned_document(app, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id, body="Sponsor text")
    url = f"/editor/documents/{document_id}"
    html = editor.get(url).get_data(as_text=True)
    assert "Sponsor text</textarea>" in html and 'name="editor_id"' not in html
    response = editor.submit(
        url, {"document_name": "Edited", "document_body": "Editor text"}
    )
    assert response.status_code == 302
    revisions = revisions_of(app, document_id)
    assert revisions[-1][:3] == (2, "Editor text", editor.user_id)


def test_editor_cannot_reassign_by_posting_editor_id(
    app, sponsor, login_as, create_document
):
    editor = login_as(Role.editor)
    other = login_as(Role.editor)
    document_id = create_document(sponsor, editor.user_id)
    editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "x", "document_body": "y", "editor_id": other.user_id},
    )
    assert other.get(f"/editor/documents/{document_id}").status_code == 404


def test_editor_form_errors_change_nothing(app, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id, body="Keep me")
    response = editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "", "document_body": "x" * 100_001},
    )
    assert response.status_code == 400
    assert revisions_of(app, document_id)[-1][1] == "Keep me"


def test_lists_show_only_own_or_assigned_documents(sponsor, login_as, create_document):
    other_sponsor = login_as(Role.sponsor)
    editor = login_as(Role.editor)
    other_editor = login_as(Role.editor)
    create_document(sponsor, editor.user_id, name="Mine")
    create_document(other_sponsor, other_editor.user_id, name="Theirs")
    assert "Theirs" not in sponsor.get("/sponsor/documents").get_data(as_text=True)
    assert "Mine" in sponsor.get("/sponsor/documents").get_data(as_text=True)
    assert "Theirs" not in editor.get("/editor/documents").get_data(as_text=True)
    assert "Mine" not in other_editor.get("/editor/documents").get_data(as_text=True)


def test_missing_document_is_404(sponsor, editor):
    assert sponsor.get("/sponsor/documents/424242").status_code == 404
    assert editor.get("/editor/documents/424242").status_code == 404
    assert sponsor.get("/documents/424242/status.json").status_code == 404


def test_failed_job_shows_reason_and_retry_works(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.error = RuntimeError("model exploded")
    document_id = create_document(sponsor, editor.user_id)
    run_queued()
    url = f"/sponsor/documents/{document_id}"
    html = sponsor.get(url).get_data(as_text=True)
    assert "RuntimeError: model exploded" in html
    assert f'action="/documents/{document_id}/retry"' in html
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["status"] == "failed" and "model exploded" in status["error"]

    fake_generator.error = None
    assert (
        editor.post_action(
            f"/documents/{document_id}/retry", url.replace("sponsor", "editor")
        ).status_code
        == 302
    )
    assert (
        sponsor.get(f"/documents/{document_id}/status.json").get_json()["status"]
        == "queued"
    )
    run_queued()
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["status"] == "done" and status["error"] is None
    with app.app_context():
        autodoc = db.session.scalar(select(Autodoc))
        assert autodoc.attempts == 1  # Retry starts a new series of attempts
    assert count(app, Autodoc) == 1


def test_retry_of_a_job_that_did_not_fail_changes_nothing(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    document_id = create_document(sponsor, editor.user_id)
    run_queued()
    sponsor.post_action(f"/documents/{document_id}/retry", "/sponsor/documents")
    assert (
        sponsor.get(f"/documents/{document_id}/status.json").get_json()["status"]
        == "done"
    )
    assert len(dispatch.backend(app).delivered) == 1


def test_earlier_revisions_keep_their_own_text(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.texts = ["first machine text"]
    document_id = create_document(sponsor, editor.user_id, body="One")
    run_queued()
    editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "Launch plan", "document_body": "Two"},
    )
    fake_generator.texts = ["second machine text"]
    run_queued()
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert 'id="revision-1"' in html and 'id="revision-2"' in html
    assert html.index("second machine text") < html.index('id="revision-1"')
    assert "first machine text" in html[html.index('id="revision-1"') :]
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert (status["revision"], status["text"]) == (2, "second machine text")
