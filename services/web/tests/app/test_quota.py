"""The quota of waiting suggestions per sponsor (JOB_MAX_WAITING_PER_USER), and
each waiting suggestion's place in line (status.json's queue_position)."""

import html
import re
import threading

import pytest
from sqlalchemy import select

from docdraft.documents.pages import ordinal
from docdraft.extensions import db
from docdraft.models import Autodoc, Document, JobStatus, Revision, Role, User
from docdraft.services import quota
from docdraft.services.documents import save_document

pytestmark = pytest.mark.app_config(JOB_MAX_WAITING_PER_USER=2)
WORDS = quota.message(2)


def jobs_of(app, document_id):
    """(revision, status, detail) of each suggestion of the document."""
    with app.app_context():
        rows = db.session.execute(
            select(Revision.number, Autodoc.status, Autodoc.detail)
            .join(Revision)
            .where(Revision.document_id == document_id)
            .order_by(Autodoc.id)
        ).all()
        return [(number, status.value, detail) for number, status, detail in rows]


def waiting(app):
    with app.app_context():
        rows = db.session.scalars(
            select(Autodoc.id).where(Autodoc.status == JobStatus.queued)
        ).all()
        return len(rows)


@pytest.fixture
def full(sponsor, editor, create_document, drafted):
    """The drafted document's sponsor has 2 other documents waiting: the most."""
    for name in ("Second", "Third"):
        create_document(sponsor, editor.user_id, name=name, body=f"{name} body.")
    return drafted


def page_text(response):
    return html.unescape(response.get_data(as_text=True))


def test_a_save_past_the_quota_keeps_the_revision_but_queues_nothing(
    app, sponsor, editor, full
):
    response = sponsor.submit(
        full.sponsor_page,
        {
            "document_name": "Launch plan",
            "document_body": "Intro. A new paragraph typed past the quota.",
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 302
    assert jobs_of(app, full.id) == [
        (1, "done", None),
        (2, "cancelled", quota.HELD),
    ]
    assert waiting(app) == 2
    with app.app_context():
        body = db.session.get(Document, full.id).body
    assert body == "Intro. A new paragraph typed past the quota."
    page = page_text(sponsor.get(full.sponsor_page))
    assert f"Saved revision 2. {WORDS}" in page  # the flash
    notice = re.search(r'<p [^>]*data-field="cancelled"[^>]*>([^<]*)</p>', page)
    assert " hidden" not in notice.group(0) and notice.group(1) == WORDS
    assert 'id="ask-again-form"' in page and "Ask for this suggestion again" in page
    assert full.status()["status"] == "cancelled"
    assert full.status()["detail"] == quota.HELD


def test_an_editor_save_counts_against_the_sponsor(app, editor, full):
    response = editor.submit(
        full.editor_page,
        {"document_name": "Launch plan", "document_body": "Intro. By the editor."},
    )
    assert response.status_code == 302
    assert jobs_of(app, full.id)[-1] == (2, "cancelled", quota.HELD)
    assert WORDS in page_text(editor.get(full.editor_page))


def test_a_new_document_past_the_quota_is_created_with_its_suggestion_held(
    app, sponsor, editor, create_document, full
):
    document_id = create_document(sponsor, editor.user_id, name="Fourth")
    assert jobs_of(app, document_id) == [(1, "cancelled", quota.HELD)]
    page = page_text(sponsor.get(f"/sponsor/documents/{document_id}"))
    assert f"Document created. {WORDS}" in page


def test_try_another_past_the_quota_is_a_429_that_keeps_the_choices(app, sponsor, full):
    response = full.post(sponsor, "suggest", {"mode": "sample", "length": "long"})
    assert response.status_code == 429
    page = page_text(response)
    assert WORDS in page
    # The page is the document again, with what was chosen still chosen.
    assert re.search(r'<option selected value="sample">|value="sample" selected', page)
    assert re.search(r'<option selected value="long">|value="long" selected', page)
    assert jobs_of(app, full.id) == [(1, "done", None)]
    assert "asked for another" not in page


def test_ask_again_waits_for_room_then_queues_the_held_suggestion(
    app, sponsor, editor, full, run_queued
):
    sponsor.submit(
        full.sponsor_page,
        {
            "document_name": "Launch plan",
            "document_body": "Intro. More.",
            "editor_id": editor.user_id,
        },
    )
    refused = full.post(sponsor, "ask-again")
    assert refused.status_code == 429 and WORDS in page_text(refused)
    assert jobs_of(app, full.id)[-1] == (2, "cancelled", quota.HELD)
    run_queued()  # the two other documents' suggestions are written
    assert full.post(sponsor, "ask-again").status_code == 302
    assert jobs_of(app, full.id)[-1] == (2, "queued", None)
    page = page_text(sponsor.get(full.sponsor_page))
    assert "asked again for the medium suggestion of revision 2" in page
    assert full.status()["queue_position"] == 1


def test_ask_again_refuses_a_suggestion_that_is_not_cancelled(app, sponsor, full):
    response = full.post(sponsor, "ask-again")
    assert response.status_code == 409
    assert "Only a cancelled suggestion can be asked for again" in page_text(response)


@pytest.mark.app_config(JOB_MAX_WAITING_PER_USER=1)
def test_two_saves_at_once_cannot_both_pass_the_quota(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    documents = [
        create_document(sponsor, editor.user_id, name=name, body=name)
        for name in ("One", "Two")
    ]
    run_queued()
    barrier, errors = threading.Barrier(2), []

    def save(document_id):
        with app.app_context():
            try:
                document = db.session.get(Document, document_id)
                author = db.session.get(User, sponsor.user_id)
                barrier.wait()
                save_document(document, author, 1, "Name", "A new body")
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=save, args=(d,)) for d in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    latest = sorted(jobs_of(app, d)[-1][1] for d in documents)
    assert latest == ["cancelled", "queued"]
    assert waiting(app) == 1


@pytest.mark.app_config(JOB_MAX_WAITING_PER_USER=10)
def test_queue_position_follows_the_fair_order_across_sponsors(
    app, login_as, editor, create_document
):
    first, second = login_as(Role.sponsor), login_as(Role.sponsor)
    mine = [
        create_document(first, editor.user_id, name=f"A{n}", body="A") for n in range(3)
    ]
    theirs = create_document(second, editor.user_id, name="B", body="B")

    def position(browser, document_id):
        return browser.get(f"/documents/{document_id}/status.json").get_json()

    # Sponsors take turns: A's first, then B's only one, then A's others.
    assert [position(first, d)["queue_position"] for d in mine] == [1, 3, 4]
    status = position(second, theirs)
    assert status["queue_position"] == 2 and status["status"] == "queued"
    for key in ("queued_at", "started_at", "finished_at"):
        assert key in status
    page = page_text(second.get(f"/sponsor/documents/{theirs}"))
    assert "2nd in line" in page


def test_queue_position_is_null_unless_waiting(sponsor, full):
    assert full.status()["queue_position"] is None  # done


@pytest.mark.parametrize(
    "number, words",
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th")]
    + [(13, "13th"), (21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th")],
)
def test_ordinals(number, words):
    assert ordinal(number) == words


def test_the_quota_message_names_the_limit():
    assert "already has 2 suggestions waiting" in WORDS
