"""Two people, or two processes, on one document: nothing is lost or doubled."""

import multiprocessing
import threading

import pytest
from sqlalchemy import func, select

from docdraft import create_app
from docdraft.extensions import db
from docdraft.models import Document, Revision, Role, User
from docdraft.services.documents import save_document
from docdraft.services.guard import Conflict

from .conftest import HIDDEN_RES, _config, csrf_token


def revision_bodies(app, document_id):
    with app.app_context():
        return db.session.scalars(
            select(Revision.body)
            .where(Revision.document_id == document_id)
            .order_by(Revision.number)
        ).all()


def test_a_stale_edit_form_is_409_and_keeps_the_typed_text(
    app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="The plan is short.")
    editor_page = f"/editor/documents/{document_id}"
    stale = editor.get(editor_page).get_data(as_text=True)
    sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "The plan is long now.",
            "editor_id": editor.user_id,
        },
    )
    typed = "The plan is short. <b>Editor's</b> addition."
    response = editor.client.post(
        editor_page,
        data={
            "csrf_token": csrf_token(stale),
            "base_revision": "1",
            "document_name": "Launch plan",
            "document_body": typed,
        },
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Revision 2 was saved after revision 1" in html
    assert (
        "The plan is short. &lt;b&gt;Editor&#39;s&lt;/b&gt; addition.</textarea>"
        in html
    )
    assert "<del>short.</del>" in html and "<ins>long now.</ins>" in html
    assert 'name="base_revision" value="2"' in html  # save again on top of 2
    assert revision_bodies(app, document_id) == [
        "The plan is short.",
        "The plan is long now.",
    ]
    again = editor.client.post(
        editor_page,
        data={
            "csrf_token": csrf_token(html),
            "base_revision": "2",
            "document_name": "Launch plan",
            "document_body": typed,
        },
    )
    assert again.status_code == 302
    assert revision_bodies(app, document_id)[-1] == typed


def test_a_save_without_base_revision_is_a_400_form_error(
    app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="Keep")
    response = editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "x", "document_body": "Lost?", "base_revision": ""},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="error-summary"' in html and "missing its revision" in html
    assert "Lost?</textarea>" in html
    assert revision_bodies(app, document_id) == ["Keep"]


def test_a_reassigned_editors_save_keeps_their_text(
    app, sponsor, login_as, create_document
):
    first = login_as(Role.editor)
    second = login_as(Role.editor)
    document_id = create_document(sponsor, first.user_id)
    page = first.get(f"/editor/documents/{document_id}").get_data(as_text=True)
    sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "Write about Debian.",
            "editor_id": second.user_id,
        },
    )
    response = first.client.post(
        f"/editor/documents/{document_id}",
        data={
            "csrf_token": csrf_token(page),
            "base_revision": "1",
            "document_name": "Launch plan",
            "document_body": "An hour of careful <i>work</i>",
        },
    )
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "not lost" in html
    assert "An hour of careful &lt;i&gt;work&lt;/i&gt;</textarea>" in html
    assert revision_bodies(app, document_id) == ["Write about Debian."]


def test_the_status_follows_the_latest_revision(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.texts = ["first suggestion"]
    document_id = create_document(sponsor, editor.user_id)
    run_queued()
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert 'data-revision="1"' in html
    editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "Launch plan", "document_body": "Second"},
    )
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert (status["revision"], status["status"], status["text"]) == (2, "queued", None)


def _racing_saves(app, document_id, author_id, bodies, barrier):
    """Each thread loads the document, waits for the other, then saves."""
    outcomes = []

    def save(body):
        with app.app_context():
            document = db.session.get(Document, document_id)
            author = db.session.get(User, author_id)
            barrier.wait()
            try:
                save_document(document, author, 1, document.name, body)
                outcomes.append("saved")
            except Conflict:
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=save, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_saves_on_one_revision_at_once_land_exactly_once(
    app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="Start")
    outcomes = _racing_saves(
        app, document_id, editor.user_id, ["From A", "From B"], threading.Barrier(2)
    )
    assert sorted(outcomes) == ["conflict", "saved"]
    bodies = revision_bodies(app, document_id)
    assert len(bodies) == 2 and bodies[1] in ("From A", "From B")
    with app.app_context():
        document = db.session.get(Document, document_id)
        assert (document.head_revision, document.body) == (2, bodies[1])


def _save_in_process(database_url, document_id, author_id, body, barrier, results):
    app = create_app(_config(database_url))
    with app.app_context():
        document = db.session.get(Document, document_id)
        author = db.session.get(User, author_id)
        barrier.wait()
        try:
            save_document(document, author, 1, document.name, body)
            results.put("saved")
        except Conflict:
            results.put("conflict")
        db.engine.dispose()


def test_two_processes_saving_one_revision_land_exactly_once(
    app, database_url, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id, body="Start")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(
            target=_save_in_process,
            args=(database_url, document_id, editor.user_id, body, barrier, results),
        )
        for body in ("Process A", "Process B")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in processes) == ["conflict", "saved"]
    with app.app_context():
        count = db.session.scalar(
            select(func.count(Revision.id)).where(Revision.document_id == document_id)
        )
    assert count == 2


@pytest.mark.parametrize("action", ["accept", "approve"])
def test_accept_and_approve_race_with_an_edit(
    app, sponsor, editor, create_document, fake_generator, run_queued, action
):
    """Whichever lands first wins; the other is a 409 and changes nothing."""
    document_id = create_document(sponsor, editor.user_id)
    run_queued()
    page = f"/editor/documents/{document_id}"
    if action == "approve":
        sponsor.submit(
            f"/documents/{document_id}/review",
            {"action": "submit"},
            form_url=f"/sponsor/documents/{document_id}",
        )
    stale = editor.get(page).get_data(as_text=True)
    sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "Edited meanwhile",
            "editor_id": editor.user_id,
        },
    )
    url = f"/documents/{document_id}/" + ("accept" if action == "accept" else "review")
    response = editor.client.post(
        url,
        data={
            "csrf_token": csrf_token(stale),
            "base_revision": 1,
            "action": action,
            "suggestion_id": HIDDEN_RES["suggestion_id"].search(stale)[1],
        },
    )
    assert response.status_code == 409
    assert revision_bodies(app, document_id)[-1] == "Edited meanwhile"
