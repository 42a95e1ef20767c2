"""The API's review: workflow actions, comments, timeline, diff, export; the
pages' rules (whose turn, stale revisions, archived documents, the comment
rate limit) over bearer tokens."""

import pytest

from docdraft.models import Role
from docdraft.services.timeline import TIMELINE_PAGE_SIZE

from .conftest import MACHINE
from .test_api_core import assert_error, make_token  # noqa: F401 (a fixture)
from .test_api_suggestions import call_fixture, shown_suggestion  # noqa: F401 (`call`)
from .test_comment_limits import add_comments

pytestmark = pytest.mark.usefixtures("drafted")


def url(drafted, tail):
    return f"/api/v1/documents/{drafted.id}/{tail}"


def act(call, drafted, user, action, base_revision=1, **extra):
    body = {"action": action, "base_revision": base_revision, **extra}
    return call("POST", url(drafted, "review"), user.user_id, body)


def test_the_workflow_through_the_api(call, sponsor, editor, drafted):
    submitted = act(call, drafted, sponsor, "submit")
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["state"] == "in_review"
    changes = act(call, drafted, editor, "request_changes", comment="Say more.")
    assert changes.get_json()["state"] == "changes_requested"
    act(call, drafted, sponsor, "submit")
    assert act(call, drafted, editor, "approve").get_json()["state"] == "approved"
    assert act(call, drafted, sponsor, "reopen").get_json()["state"] == "draft"
    events = call("GET", url(drafted, "timeline"), editor.user_id).get_json()["events"]
    moves = [e["detail"]["action"] for e in events if e["kind"] == "transition"]
    assert moves == ["reopen", "approve", "submit", "request_changes", "submit"]
    asked = next(e for e in events if e["detail"].get("action") == "request_changes")
    assert asked["comment"] == "Say more." and asked["actor"]["id"] == editor.user_id


def test_the_other_roles_action_is_403(call, sponsor, editor, drafted):
    refused = act(call, drafted, editor, "submit")
    assert "sponsor" in assert_error(refused, 403, "forbidden")["message"]
    act(call, drafted, sponsor, "submit")
    assert_error(act(call, drafted, sponsor, "approve"), 403, "forbidden")


def test_an_action_the_state_does_not_allow_is_409(call, sponsor, editor, drafted):
    error = assert_error(act(call, drafted, sponsor, "reopen"), 409, "conflict")
    assert error["message"] == "A document that is draft cannot be reopened."
    assert error["current_revision"] == 1


def test_approving_a_stale_revision_is_409(app, call, sponsor, editor, drafted):
    act(call, drafted, sponsor, "submit")
    suggestion = shown_suggestion(app, drafted.id)
    accepted = call(
        "POST",
        f"/api/v1/suggestions/{suggestion}/accept",
        editor.user_id,
        {"base_revision": 1},
    )
    assert accepted.get_json()["revision"] == 2
    stale = act(call, drafted, editor, "approve", base_revision=1)
    assert assert_error(stale, 409, "conflict")["current_revision"] == 2
    assert act(call, drafted, editor, "approve", 2).get_json()["state"] == "approved"


def test_review_refusals(app, call, sponsor, login_as, drafted):
    no_comment = act(call, drafted, sponsor, "request_changes")
    error = assert_error(no_comment, 422, "invalid")
    assert error["fields"] == {"comment": ["Say what should change."]}
    bad = call("POST", url(drafted, "review"), sponsor.user_id, {"action": "publish"})
    assert set(assert_error(bad, 422, "invalid")["fields"]) == {
        "action",
        "base_revision",
    }
    read = call(
        "POST",
        url(drafted, "review"),
        sponsor.user_id,
        {"action": "submit", "base_revision": 1},
        scope="read",
    )
    assert_error(read, 403, "forbidden")
    stranger = login_as(Role.sponsor)
    assert_error(act(call, drafted, stranger, "submit"), 404, "not_found")
    anonymous = app.test_client().post(url(drafted, "review"), json={})
    assert_error(anonymous, 401, "unauthorized")


def comment(call, drafted, user, body, **extra):
    return call("POST", url(drafted, "comments"), user.user_id, {"body": body, **extra})


def test_comment_is_201_and_on_the_timeline(call, sponsor, editor, drafted):
    response = comment(call, drafted, editor, "Line one\r\nline two")
    assert response.status_code == 201, response.get_json()
    event = response.get_json()
    assert (event["kind"], event["comment"], event["revision"]) == (
        "comment",
        "Line one\nline two",
        1,
    )
    assert event["actor"] == {"id": editor.user_id, "name": event["actor"]["name"]}
    timeline = call("GET", url(drafted, "timeline"), sponsor.user_id).get_json()
    assert timeline["events"][0] == event


def test_comment_refusals(app, call, sponsor, login_as, drafted):
    for body, field in [
        ("\u200b ", "body"),
        ("x" * 2001, "body"),
        ("a\x00b", "body"),
    ]:
        error = assert_error(comment(call, drafted, sponsor, body), 422, "invalid")
        assert field in error["fields"]
    unknown = comment(call, drafted, sponsor, "On what?", base_revision=7)
    assert "base_revision" in assert_error(unknown, 422, "invalid")["fields"]
    stranger = login_as(Role.editor)
    assert_error(comment(call, drafted, stranger, "Hi"), 404, "not_found")
    read = call(
        "POST", url(drafted, "comments"), sponsor.user_id, {"body": "x"}, scope="read"
    )
    assert_error(read, 403, "forbidden")
    archived = sponsor.submit(
        f"/sponsor/documents/{drafted.id}/archive", {}, form_url=drafted.sponsor_page
    )
    assert archived.status_code == 302
    error = assert_error(comment(call, drafted, sponsor, "Late"), 409, "conflict")
    assert "archived" in error["message"]


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_COMMENT="2/minute")
def test_comments_past_the_limit_are_429_per_user(call, sponsor, editor, drafted):
    for n in range(2):
        assert comment(call, drafted, sponsor, f"Comment {n}").status_code == 201
    refused = comment(call, drafted, sponsor, "One too many")
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert comment(call, drafted, editor, "Mine goes through").status_code == 201


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_COMMENT="2/minute")
def test_page_and_api_comments_count_together(call, sponsor, drafted):
    assert drafted.post(sponsor, "comments", {"body": "On the page"}).status_code == 302
    assert comment(call, drafted, sponsor, "Through the API").status_code == 201
    assert_error(comment(call, drafted, sponsor, "A third"), 429, "rate_limited")
    page = drafted.post(sponsor, "comments", {"body": "A fourth"})
    assert page.status_code == 429


def test_timeline_pages(app, call, sponsor, drafted):
    add_comments(app, drafted.id, TIMELINE_PAGE_SIZE + 5)
    first = call("GET", url(drafted, "timeline"), sponsor.user_id).get_json()
    total = TIMELINE_PAGE_SIZE + 6  # and the document's first revision
    assert (first["page"], first["pages"], first["total"]) == (1, 2, total)
    assert len(first["events"]) == TIMELINE_PAGE_SIZE
    assert first["per_page"] == TIMELINE_PAGE_SIZE
    ids = [event["id"] for event in first["events"]]
    assert ids == sorted(ids, reverse=True)
    last = call("GET", url(drafted, "timeline") + "?page=9", sponsor.user_id)
    assert last.get_json()["page"] == 2 and len(last.get_json()["events"]) == 6
    assert last.get_json()["events"][-1]["kind"] == "revision"
    zero = call("GET", url(drafted, "timeline") + "?page=0", sponsor.user_id)
    assert "page" in assert_error(zero, 422, "invalid")["fields"]


def test_diff_between_two_revisions(app, call, sponsor, editor, drafted):
    suggestion = shown_suggestion(app, drafted.id)
    call(
        "POST",
        f"/api/v1/suggestions/{suggestion}/accept",
        editor.user_id,
        {"base_revision": 1},
    )
    response = call("GET", url(drafted, "diff") + "?from=1&to=2", sponsor.user_id)
    assert response.status_code == 200, response.get_json()
    diff = response.get_json()
    assert (diff["from_revision"], diff["to_revision"]) == (1, 2)
    parts = diff["parts"]
    assert "".join(p["text"] for p in parts if p["op"] != "delete") == (
        "Intro." + MACHINE
    )
    assert "".join(p["text"] for p in parts if p["op"] != "insert") == "Intro."
    assert {"op": "insert", "text": MACHINE} in parts


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("?from=1&to=3", 404, None),
        ("?from=1", 422, "to"),
        ("?from=one&to=1", 422, "from"),
        ("?from=0&to=1", 422, "from"),
    ],
)
def test_diff_refusals(call, sponsor, drafted, query, status, field):
    response = call("GET", url(drafted, "diff") + query, sponsor.user_id)
    error = assert_error(response, status, {404: "not_found", 422: "invalid"}[status])
    if field:
        assert field in error["fields"]


@pytest.mark.parametrize(
    "format, content_type, text, extension",
    [
        ("md", "text/markdown; charset=utf-8", "# Launch plan\n\nIntro.\n", "md"),
        ("txt", "text/plain; charset=utf-8", "Intro.\n", "txt"),
    ],
)
def test_export_as_the_page_gives_it(
    call, editor, drafted, format, content_type, text, extension
):
    response = call("GET", url(drafted, "export") + f"?format={format}", editor.user_id)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.get_data(as_text=True) == text
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="Launch-plan.{extension}"'
    )
    page = editor.get(f"/documents/{drafted.id}/export.{extension}")
    assert page.get_data() == response.get_data()


def test_export_refusals(app, call, sponsor, login_as, drafted):
    pdf = call("GET", url(drafted, "export") + "?format=pdf", sponsor.user_id)
    assert "format" in assert_error(pdf, 422, "invalid")["fields"]
    stranger = login_as(Role.sponsor)
    foreign = call("GET", url(drafted, "export") + "?format=md", stranger.user_id)
    assert_error(foreign, 404, "not_found")
    anonymous = app.test_client().get(url(drafted, "export") + "?format=md")
    assert_error(anonymous, 401, "unauthorized")


@pytest.mark.parametrize("tail", ["timeline", "diff?from=1&to=1", "suggestions"])
def test_reads_need_a_token_and_a_visible_document(app, call, login_as, drafted, tail):
    assert_error(app.test_client().get(url(drafted, tail)), 401, "unauthorized")
    admin = login_as(Role.admin)
    assert_error(call("GET", url(drafted, tail), admin.user_id), 403, "forbidden")
    stranger = login_as(Role.editor)
    assert_error(call("GET", url(drafted, tail), stranger.user_id), 404, "not_found")


def test_openapi_declares_the_export_as_text(client):
    """TextResponse adds text bodies to spectree's JSON-only declarations:
    a spectree that changes how it builds responses fails here."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    answers = paths["/api/v1/documents/{document_id}/export"]["get"]["responses"]
    assert answers["200"]["content"] == {
        "text/markdown": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    }
    for status in ("401", "403", "404", "422", "429"):
        schema = answers[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
