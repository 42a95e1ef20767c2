"""Cancelling suggestions: a waiting one by its document's sponsor or editor,
any waiting or running one by an admin; recorded in the timeline and the
audit log, safe against a worker's claim, and asked for again afterwards."""

import html

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.jobs.runner import claim, finish, renew, success
from docdraft.models import AuditEvent, Autodoc, JobStatus, Revision, Role, User

from .conftest import PASSWORD, csrf_token, needs_chromium


@pytest.fixture
def waiting(app, sponsor, editor, create_document):
    """A document whose first suggestion waits; returns (document id, job id)."""
    document_id = create_document(sponsor, editor.user_id, body="Intro.")
    return document_id, job_of(app, document_id).id


def job_of(app, document_id):
    """The document's newest suggestion, detached (its values as now)."""
    with app.app_context():
        autodoc = db.session.scalars(
            select(Autodoc)
            .join(Revision)
            .where(Revision.document_id == document_id)
            .order_by(Autodoc.id.desc())
        ).first()
        db.session.expunge(autodoc)
        return autodoc


def cancel(browser, document_id, role="sponsor"):
    return browser.submit(
        f"/documents/{document_id}/cancel",
        {},
        form_url=f"/{role}/documents/{document_id}",
    )


def admin_cancel(admin, job_id):
    token = csrf_token(admin.get("/admin/jobs").get_data(as_text=True))
    return admin.client.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": token})


def audit_rows(app):
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "job_cancelled")
        ).all()
        return [(row.actor_id, row.target_id, row.detail) for row in rows]


def timeline(browser, document_id, role="sponsor"):
    page = browser.get(f"/{role}/documents/{document_id}").get_data(as_text=True)
    return html.unescape(page.split('id="timeline"')[1])


def test_the_sponsor_cancels_a_waiting_suggestion(app, sponsor, waiting):
    document_id, job_id = waiting
    page = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "Cancel this suggestion" in page
    response = cancel(sponsor, document_id)
    assert response.status_code == 302
    job = job_of(app, document_id)
    assert (job.status, job.detail) == (JobStatus.cancelled, "cancelled")
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["status"] == "cancelled" and status["queue_position"] is None
    assert "cancelled the waiting suggestion of revision 1" in timeline(
        sponsor, document_id
    )
    metrics = sponsor.get("/metrics").get_data(as_text=True)
    assert 'docdraft_jobs{state="cancelled"} 1.0' in metrics
    assert audit_rows(app) == [
        (
            sponsor.user_id,
            sponsor.user_id,
            f"suggestion {job_id} of document {document_id} (queued)",
        )
    ]


def test_the_assigned_editor_cancels_a_waiting_suggestion(
    app, sponsor, editor, waiting
):
    document_id, job_id = waiting
    assert cancel(editor, document_id, "editor").status_code == 302
    assert job_of(app, document_id).status == JobStatus.cancelled
    entry = f"{editor_name(app, editor)}</bdi></span>\n      cancelled the waiting"
    assert entry in timeline(sponsor, document_id)
    assert audit_rows(app)[0][:2] == (editor.user_id, sponsor.user_id)


def editor_name(app, browser):
    with app.app_context():
        return db.session.get(User, browser.user_id).name


@pytest.mark.parametrize("stranger", [Role.sponsor, Role.editor])
def test_strangers_cannot_cancel(app, login_as, sponsor, waiting, stranger):
    """Another sponsor, an unassigned editor: the document does not exist."""
    document_id, job_id = waiting
    other = login_as(stranger)
    response = other.submit(
        f"/documents/{document_id}/cancel",
        {"base_revision": "1", "suggestion_id": str(job_id)},
        form_url="/account",
    )
    assert response.status_code == 404
    assert job_of(app, document_id).status == JobStatus.queued
    assert audit_rows(app) == []


def test_an_admin_cannot_cancel_through_the_document_routes(app, admin, waiting):
    document_id, job_id = waiting
    response = admin.submit(
        f"/documents/{document_id}/cancel",
        {"base_revision": "1", "suggestion_id": str(job_id)},
        form_url="/admin/jobs",
    )
    assert response.status_code == 403
    assert job_of(app, document_id).status == JobStatus.queued


def test_a_suggestion_of_another_document_is_not_found(
    app, sponsor, editor, create_document, login_as, waiting
):
    document_id, _ = waiting
    other = login_as(Role.sponsor)
    foreign = create_document(other, editor.user_id, name="Theirs")
    foreign_job = job_of(app, foreign).id
    response = sponsor.submit(
        f"/documents/{document_id}/cancel",
        {"suggestion_id": str(foreign_job)},
        form_url=f"/sponsor/documents/{document_id}",
    )
    assert response.status_code == 404
    assert job_of(app, foreign).status == JobStatus.queued


def test_a_running_suggestion_is_not_cancelled_by_the_sponsor(app, sponsor, waiting):
    document_id, job_id = waiting
    with app.app_context():
        assert claim(job_id, "worker-1")
    response = cancel(sponsor, document_id)
    assert response.status_code == 302
    page = sponsor.get(response.location).get_data(as_text=True)
    assert "can no longer be cancelled" in page
    assert job_of(app, document_id).status == JobStatus.running
    assert audit_rows(app) == []


def test_a_cancel_first_leaves_nothing_for_a_worker_to_claim(app, sponsor, waiting):
    document_id, job_id = waiting
    cancel(sponsor, document_id)
    with app.app_context():
        assert not claim(job_id, "worker-1")
    assert job_of(app, document_id).status == JobStatus.cancelled


def test_an_admin_cancels_a_running_job_and_its_worker_loses_the_lease(
    app, admin, sponsor, waiting
):
    document_id, job_id = waiting
    with app.app_context():
        assert claim(job_id, "worker-1")
    response = admin_cancel(admin, job_id)
    assert response.status_code == 302
    job = job_of(app, document_id)
    assert job.status == JobStatus.cancelled and job.lease_owner is None
    with app.app_context():
        # The worker's heartbeat finds no lease to renew, and its late result
        # is discarded.
        assert renew([job_id], "worker-1") == 0
        assert finish({job_id: success(text="late")}, "worker-1") == []
    job = job_of(app, document_id)
    assert (job.status, job.text) == (JobStatus.cancelled, None)
    assert "cancelled the suggestion being written of revision 1" in timeline(
        sponsor, document_id
    )
    assert audit_rows(app) == [
        (
            admin.user_id,
            sponsor.user_id,
            f"suggestion {job_id} of document {document_id} (running)",
        )
    ]


def test_an_admin_cancels_a_waiting_job(app, admin, sponsor, waiting):
    document_id, job_id = waiting
    assert admin_cancel(admin, job_id).status_code == 302
    assert job_of(app, document_id).status == JobStatus.cancelled
    assert "cancelled the waiting suggestion" in timeline(sponsor, document_id)


def test_an_admin_cancel_of_a_finished_or_missing_job(
    app, admin, drafted, fake_generator
):
    job_id = job_of(app, drafted.id).id
    response = admin_cancel(admin, job_id)
    assert response.status_code == 302
    assert "nothing to cancel" in html.unescape(
        admin.get("/admin/jobs").get_data(as_text=True)
    )
    assert job_of(app, drafted.id).status == JobStatus.done
    assert admin_cancel(admin, job_id + 1000).status_code == 404


def test_a_cancelled_suggestion_is_asked_for_again(app, sponsor, waiting):
    document_id, job_id = waiting
    cancel(sponsor, document_id)
    page = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "This suggestion was cancelled before it was written." in page
    response = sponsor.submit(
        f"/documents/{document_id}/ask-again",
        {},
        form_url=f"/sponsor/documents/{document_id}",
    )
    assert response.status_code == 302
    job = job_of(app, document_id)
    assert (job.id, job.status, job.finished_at) == (job_id, JobStatus.queued, None)


def test_try_another_after_a_cancel_queues_a_new_suggestion(app, editor, waiting):
    document_id, job_id = waiting
    cancel(editor, document_id, "editor")
    response = editor.submit(
        f"/documents/{document_id}/suggest",
        {"mode": "beam", "length": "short"},
        form_url=f"/editor/documents/{document_id}",
    )
    assert response.status_code == 302
    job = job_of(app, document_id)
    assert job.id != job_id and job.status == JobStatus.queued


@needs_chromium
def test_the_page_follows_its_place_in_line_and_its_cancel(
    app, live_server, page, sponsor, editor, create_document
):
    first = create_document(sponsor, editor.user_id, name="First")
    second = create_document(sponsor, editor.user_id, name="Second")
    with app.app_context():
        email = db.session.get(User, sponsor.user_id).email
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{live_server}/sponsor/documents/{second}")
    position = page.locator('#latest [data-field="position"]')
    assert position.text_content() == "2nd in line"
    cancel(sponsor, first)  # elsewhere: the page learns it by polling
    position.filter(has_text="1st in line").wait_for(timeout=20_000)
    cancel(sponsor, second)
    notice = page.locator('#latest [data-field="cancelled"]')
    notice.wait_for(state="visible", timeout=20_000)
    assert notice.text_content() == (
        "This suggestion was cancelled before it was written."
    )
    assert position.is_hidden()
    assert page.locator('#latest [data-field="ask-again"]').is_visible()
    assert page.locator('#latest [data-field="cancel"]').is_hidden()
    assert page.csp_errors == []
