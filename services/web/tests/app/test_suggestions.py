"""Accepting and dismissing suggestions; which words are still machine-written."""

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import Autodoc, Revision

from .conftest import HIDDEN_RES, MACHINE, csrf_token


def latest_revision(app, document_id):
    with app.app_context():
        revision = db.session.scalar(
            select(Revision)
            .where(Revision.document_id == document_id)
            .order_by(Revision.number.desc())
        )
        db.session.expunge(revision)
        return revision


def test_accept_appends_the_suggestion_as_a_machine_written_revision(
    app, sponsor, drafted
):
    response = drafted.post(sponsor, "accept")
    assert response.status_code == 302
    revision = latest_revision(app, drafted.id)
    assert revision.number == 2 and revision.body == "Intro." + MACHINE
    assert revision.author_id == sponsor.user_id
    with app.app_context():
        first = db.session.scalar(select(Autodoc).order_by(Autodoc.id))
        assert revision.machine_spans == [[7, len(revision.body), first.id]]
        second = db.session.scalar(
            select(Autodoc).where(Autodoc.revision_id == revision.id)
        )
        assert second.status.value == "queued"  # the next suggestion is asked for
    status = drafted.status()
    assert status["revision"] == status["latest_revision"] == 2
    assert status["machine_share"] == pytest.approx(8 / 9, abs=1e-3)
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    assert '<mark class="machine-word"' in html and "fake-generator" in html
    assert "Machine-written: 89%" in html and "(8 of 9 words" in html


def test_editing_half_the_accepted_words_halves_the_marked_words(
    app, sponsor, editor, drafted
):
    drafted.post(sponsor, "accept")
    edited = "Intro. one TWO three FOUR five SIX seven EIGHT"
    response = editor.submit(
        drafted.editor_page, {"document_name": "Launch plan", "document_body": edited}
    )
    assert response.status_code == 302
    status = drafted.status(editor)
    assert status["machine_share"] == pytest.approx(4 / 9, abs=1e-3)
    html = editor.get(drafted.editor_page).get_data(as_text=True)
    marked = [
        chunk.split(">", 1)[1].split("</mark>")[0]
        for chunk in html.split('<mark class="machine-word"')[2:]
    ]
    assert marked == ["one", "three", "five", "seven"]
    assert "(4 of 9 words" in html
    # The original suggestion of revision 1 stays readable in the history.
    assert MACHINE.strip() in html[html.index('id="revision-1"') :]


def test_accept_of_an_older_revision_is_409_and_saves_nothing(
    app, sponsor, editor, drafted
):
    stale_page = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    editor.submit(
        drafted.editor_page, {"document_name": "Launch plan", "document_body": "New"}
    )
    response = sponsor.client.post(
        f"/documents/{drafted.id}/accept",
        data={
            "csrf_token": csrf_token(stale_page),
            "base_revision": "1",
            "suggestion_id": HIDDEN_RES["suggestion_id"].search(stale_page)[1],
        },
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Revision 2" in html and "latest" in html
    assert latest_revision(app, drafted.id).body == "New"


def test_accept_of_a_suggestion_not_done_is_409(app, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id)
    response = sponsor.submit(
        f"/documents/{document_id}/accept",
        {},
        form_url=f"/sponsor/documents/{document_id}",
    )
    assert response.status_code == 409
    assert "queued" in response.get_data(as_text=True)
    assert latest_revision(app, document_id).number == 1


def test_accept_without_base_revision_is_400(sponsor, drafted):
    response = drafted.post(sponsor, "accept", {"base_revision": ""})
    assert response.status_code == 400
    assert "revision" in response.get_data(as_text=True)


def test_dismiss_hides_the_suggestion_without_a_revision(app, editor, drafted):
    assert drafted.post(editor, "dismiss").status_code == 302
    assert latest_revision(app, drafted.id).number == 1
    status = drafted.status(editor)
    assert status["dismissed"] is True and status["text"] == MACHINE
    html = editor.get(drafted.editor_page).get_data(as_text=True)
    assert "Dismissed by" in html
    # A dismissed suggestion can be neither dismissed again nor accepted.
    assert drafted.post(editor, "dismiss").status_code == 409
    assert drafted.post(editor, "accept").status_code == 409


def test_prompt_tokens_are_reported_and_a_cut_is_said(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.window = 4
    document_id = create_document(sponsor, editor.user_id, body="a b c d e f")
    run_queued()
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert (status["prompt_tokens"], status["prompt_tokens_cut"]) == (4, 2)
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "last 4 tokens" in html and "first 2 tokens are cut" in html
