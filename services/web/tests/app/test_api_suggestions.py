"""The API's suggestions: list, try another, accept, dismiss; the page's rules
(who, locked documents, the quota, stale revisions) over bearer tokens."""

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import Autodoc, Document, JobStatus, Role
from docdraft.services.quota import message as quota_message

from .conftest import MACHINE
from .test_api_core import assert_error, bearer, make_token  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("drafted")


@pytest.fixture(name="call")
def call_fixture(app, make_token):  # noqa: F811 (the fixture imported above)
    """call(method, url, user_id, json=None, scope="write"): one API request
    with a token of that user (one token per user and scope)."""
    tokens = {}

    def request(method, url, user_id, json=None, scope="write", **kwargs):
        if (user_id, scope) not in tokens:
            tokens[user_id, scope] = make_token(user_id, scope)
        headers = bearer(tokens[user_id, scope])
        return app.test_client().open(
            url, method=method, headers=headers, json=json, **kwargs
        )

    return request


def url(drafted, tail="suggestions"):
    return f"/api/v1/documents/{drafted.id}/{tail}"


def shown_suggestion(app, document_id):
    with app.app_context():
        return db.session.get(Document, document_id).latest_revision.autodoc.id


def test_lists_the_latest_revisions_suggestions(app, call, sponsor, editor, drafted):
    response = call("GET", url(drafted), editor.user_id, scope="read")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["document_id"], body["revision"], body["latest_revision"]) == (
        drafted.id,
        1,
        1,
    )
    [suggestion] = body["suggestions"]
    assert suggestion["id"] == shown_suggestion(app, drafted.id)
    assert suggestion["status"] == "done" and suggestion["text"] == MACHINE
    assert suggestion["model"] == "fake-generator"
    assert suggestion["weights_sha256"] == "f" * 64
    assert (suggestion["mode"], suggestion["length"]) == ("beam", "medium")
    assert suggestion["dismissed"] is False and suggestion["queue_position"] is None
    assert suggestion["queued_at"].endswith("Z") or "+00:00" in suggestion["queued_at"]
    assert suggestion["finished_at"] is not None
    again = call("GET", url(drafted) + "?revision=1", sponsor.user_id)
    assert again.get_json() == body


def test_list_unknown_revision_404_bad_revision_422(call, sponsor, drafted):
    assert_error(
        call("GET", url(drafted) + "?revision=9", sponsor.user_id), 404, "not_found"
    )
    error = assert_error(
        call("GET", url(drafted) + "?revision=zero", sponsor.user_id), 422, "invalid"
    )
    assert "revision" in error["fields"]


def test_try_another_is_202_queued_then_written(
    app, call, sponsor, editor, drafted, fake_generator, run_queued
):
    fake_generator.texts = [" a second opinion"]
    response = call(
        "POST",
        url(drafted),
        editor.user_id,
        {"base_revision": 1, "mode": "sample", "length": "long"},
    )
    assert response.status_code == 202, response.get_json()
    new = response.get_json()
    assert (new["status"], new["mode"], new["length"]) == ("queued", "sample", "long")
    assert new["queue_position"] == 1 and new["revision"] == 1
    run_queued()
    listed = call("GET", url(drafted), sponsor.user_id).get_json()["suggestions"]
    assert [(s["id"], s["status"]) for s in listed][1] == (new["id"], "done")
    assert listed[1]["text"] == " a second opinion"
    # Without mode and length: the kind last asked for, as the page offers.
    again = call("POST", url(drafted), sponsor.user_id, {"base_revision": 1})
    assert (again.get_json()["mode"], again.get_json()["length"]) == (
        "sample",
        "long",
    )


def test_try_another_refusals(app, call, sponsor, editor, login_as, drafted):
    body = {"base_revision": 1}
    stale = call("POST", url(drafted), sponsor.user_id, {"base_revision": 2})
    assert assert_error(stale, 409, "conflict")["current_revision"] == 1
    assert call("POST", url(drafted), sponsor.user_id, body).status_code == 202
    busy = assert_error(
        call("POST", url(drafted), editor.user_id, body), 409, "conflict"
    )
    assert "still being written" in busy["message"] and busy["current_revision"] == 1
    read = call("POST", url(drafted), sponsor.user_id, body, scope="read")
    assert "read" in assert_error(read, 403, "forbidden")["message"]
    for stranger in (login_as(Role.sponsor), login_as(Role.editor)):
        assert_error(
            call("POST", url(drafted), stranger.user_id, body), 404, "not_found"
        )
    invalid = call(
        "POST", url(drafted), sponsor.user_id, {"base_revision": 0, "mode": "x", "z": 1}
    )
    assert set(assert_error(invalid, 422, "invalid")["fields"]) == {
        "base_revision",
        "mode",
        "z",
    }
    response = app.test_client().post(url(drafted), json=body)
    assert_error(response, 401, "unauthorized")


@pytest.mark.app_config(JOB_MAX_WAITING_PER_USER=1)
def test_try_another_past_the_quota_is_429_with_the_pages_words(
    app, call, sponsor, editor, drafted, create_document
):
    create_document(sponsor, editor.user_id, name="Second")  # its job waits
    response = call("POST", url(drafted), editor.user_id, {"base_revision": 1})
    error = assert_error(response, 429, "quota_exceeded")
    assert error["message"] == quota_message(1)
    with app.app_context():
        statuses = db.session.scalars(select(Autodoc.status).order_by(Autodoc.id)).all()
    assert statuses == [JobStatus.done, JobStatus.queued]  # nothing more queued


def accept_url(suggestion_id, verb="accept"):
    return f"/api/v1/suggestions/{suggestion_id}/{verb}"


def test_accept_appends_as_a_new_revision(app, call, editor, drafted):
    suggestion = shown_suggestion(app, drafted.id)
    response = call(
        "POST", accept_url(suggestion), editor.user_id, {"base_revision": 1}
    )
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert document["body"] == "Intro." + MACHINE and document["revision"] == 2
    # The same again: the document moved on.
    again = call("POST", accept_url(suggestion), editor.user_id, {"base_revision": 1})
    assert assert_error(again, 409, "conflict")["current_revision"] == 2
    timeline = call("GET", url(drafted, "timeline"), editor.user_id).get_json()
    assert timeline["events"][0]["kind"] == "accept"
    assert timeline["events"][0]["detail"]["suggestion_id"] == suggestion


def test_accept_the_first_words(app, call, sponsor, drafted):
    suggestion = shown_suggestion(app, drafted.id)
    response = call(
        "POST",
        accept_url(suggestion),
        sponsor.user_id,
        {"base_revision": 1, "words": 2},
    )
    assert response.get_json()["body"] == "Intro. one two"
    zero = call(
        "POST",
        accept_url(suggestion),
        sponsor.user_id,
        {"base_revision": 2, "words": 0},
    )
    assert "words" in assert_error(zero, 422, "invalid")["fields"]


def test_accept_refusals(app, call, sponsor, login_as, drafted):
    suggestion = shown_suggestion(app, drafted.id)
    body = {"base_revision": 1}
    stale = call("POST", accept_url(suggestion), sponsor.user_id, {"base_revision": 5})
    assert assert_error(stale, 409, "conflict")["current_revision"] == 1
    read = call("POST", accept_url(suggestion), sponsor.user_id, body, scope="read")
    assert_error(read, 403, "forbidden")
    stranger = login_as(Role.sponsor)
    # Someone else's suggestion reads as a missing one: nothing tells them apart.
    foreign, missing = (
        call("POST", accept_url(suggestion_id), stranger.user_id, body)
        for suggestion_id in (suggestion, 999_999)
    )
    assert assert_error(foreign, 404, "not_found") == assert_error(
        missing, 404, "not_found"
    )
    no_base = call("POST", accept_url(suggestion), sponsor.user_id, {})
    assert "base_revision" in assert_error(no_base, 422, "invalid")["fields"]
    anonymous = app.test_client().post(accept_url(suggestion), json=body)
    assert_error(anonymous, 401, "unauthorized")
    with app.app_context():
        assert db.session.get(Document, drafted.id).head_revision == 1


def test_a_waiting_suggestion_cannot_be_accepted(app, call, sponsor, drafted):
    waiting = call("POST", url(drafted), sponsor.user_id, {"base_revision": 1})
    response = call(
        "POST",
        accept_url(waiting.get_json()["id"]),
        sponsor.user_id,
        {"base_revision": 1},
    )
    assert "queued" in assert_error(response, 409, "conflict")["message"]


def test_dismiss_then_accept_is_409(app, call, sponsor, editor, drafted):
    suggestion = shown_suggestion(app, drafted.id)
    body = {"base_revision": 1}
    response = call("POST", accept_url(suggestion, "dismiss"), editor.user_id, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["dismissed"] is True
    accepted = call("POST", accept_url(suggestion), sponsor.user_id, body)
    assert "dismissed" in assert_error(accepted, 409, "conflict")["message"]
    stale = call(
        "POST", accept_url(suggestion, "dismiss"), editor.user_id, {"base_revision": 3}
    )
    assert assert_error(stale, 409, "conflict")["current_revision"] == 1


def test_a_locked_document_refuses_every_suggestion_change(
    app, call, sponsor, editor, drafted
):
    """Approved: accept, dismiss and try another are 409, as on the page."""
    review = url(drafted, "review")
    call("POST", review, sponsor.user_id, {"action": "submit", "base_revision": 1})
    approved = call(
        "POST", review, editor.user_id, {"action": "approve", "base_revision": 1}
    )
    assert approved.get_json()["state"] == "approved"
    suggestion = shown_suggestion(app, drafted.id)
    body = {"base_revision": 1}
    for response in (
        call("POST", accept_url(suggestion), sponsor.user_id, body),
        call("POST", accept_url(suggestion, "dismiss"), sponsor.user_id, body),
        call("POST", url(drafted), sponsor.user_id, body),
    ):
        error = assert_error(response, 409, "conflict")
        assert "approved" in error["message"] and error["current_revision"] == 1
