"""/api/v1/documents: the pages' rules, through the same services."""

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.models import Autodoc, Role

from .test_api_core import assert_error, bearer, issue_token


@pytest.fixture
def api(app):
    """api(user_id, scope="write"): a client sending that user's token."""

    def factory(user_id, scope="write"):
        return ApiClient(app.test_client(), bearer(issue_token(app, user_id, scope)))

    return factory


class ApiClient:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def __getattr__(self, method):
        call = getattr(self.client, method)
        return lambda url, **kwargs: call(url, headers=self.headers, **kwargs)


def new_document(client, editor_id, **fields):
    body = {"name": "Plan", "body": "Write about Debian.", "editor_id": editor_id}
    return client.post("/api/v1/documents", json={**body, **fields})


def test_sponsor_creates_and_reads_a_document(api, sponsor, editor):
    client = api(sponsor.user_id)
    response = new_document(client, editor.user_id, suggestion_length="short")
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["name"] == "Plan" and created["revision"] == 1
    assert created["editor"]["id"] == editor.user_id
    assert created["state"] == "draft" and created["suggestion_length"] == "short"
    again = client.get(f"/api/v1/documents/{created['id']}").get_json()
    assert again == created
    # The editor sees it too, through their own token.
    seen = api(editor.user_id).get(f"/api/v1/documents/{created['id']}")
    assert seen.status_code == 200


def test_only_sponsors_create(api, editor, admin):
    for user_id in (editor.user_id, admin.user_id):
        response = new_document(api(user_id), editor.user_id)
        assert_error(response, 403, "forbidden")


def test_create_refuses_an_unapproved_or_unknown_editor(api, sponsor, make_user):
    pending_editor, _ = make_user(Role.editor, status="pending")
    client = api(sponsor.user_id)
    for editor_id in (pending_editor, 2**31 - 1, sponsor.user_id):
        error = assert_error(new_document(client, editor_id), 422, "invalid")
        assert list(error["fields"]) == ["editor_id"]


def test_list_pages_and_filters(api, sponsor, editor, create_document):
    ids = [create_document(sponsor, editor.user_id, name=f"D{n}") for n in range(3)]
    client = api(sponsor.user_id)
    first = client.get("/api/v1/documents?per_page=2").get_json()
    assert first["total"] == 3 and first["pages"] == 2
    assert [row["id"] for row in first["documents"]] == ids[::-1][:2]
    last = client.get("/api/v1/documents?per_page=2&page=99").get_json()
    assert last["page"] == 2 and [row["id"] for row in last["documents"]] == ids[:1]
    none = client.get("/api/v1/documents?state=approved").get_json()
    assert none["documents"] == [] and none["total"] == 0
    error = assert_error(client.get("/api/v1/documents?state=lost"), 422, "invalid")
    assert "state" in error["fields"]
    assert_error(client.get("/api/v1/documents?per_page=0"), 422, "invalid")


def test_strangers_get_404(api, sponsor, editor, login_as, create_document):
    document_id = create_document(sponsor, editor.user_id)
    for role in (Role.sponsor, Role.editor):
        stranger = api(login_as(role).user_id)
        url = f"/api/v1/documents/{document_id}"
        assert_error(stranger.get(url), 404, "not_found")
        response = stranger.patch(url, json={"base_revision": 1, "body": "mine"})
        assert_error(response, 404, "not_found")


def test_admins_get_403_on_documents_as_on_the_pages(
    app, api, sponsor, editor, admin, create_document
):
    document_id = create_document(sponsor, editor.user_id)
    with app.app_context():
        suggestion_id = db.session.scalar(select(func.max(Autodoc.id)))
    client = api(admin.user_id)
    for method, url in [
        ("get", "/api/v1/documents"),
        ("get", f"/api/v1/documents/{document_id}"),
        ("get", "/api/v1/documents/999999"),
        ("get", f"/api/v1/documents/{document_id}/timeline"),
        ("post", f"/api/v1/suggestions/{suggestion_id}/dismiss"),
    ]:
        response = getattr(client, method)(url, json={"base_revision": 1})
        assert_error(response, 403, "forbidden")
        assert "Admins decide who gets in" in response.get_json()["error"]["message"]
    # The pages answer the same.
    assert admin.get(f"/documents/{document_id}").status_code == 403


def test_patch_saves_a_revision_and_a_stale_one_is_409(
    api, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id)
    url = f"/api/v1/documents/{document_id}"
    response = api(editor.user_id).patch(
        url, json={"base_revision": 1, "body": "Edited by the editor."}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["revision"] == 2
    assert response.get_json()["name"] == "Launch plan"  # left out: kept
    stale = api(sponsor.user_id).patch(
        url, json={"base_revision": 1, "body": "Written on revision 1."}
    )
    error = assert_error(stale, 409, "conflict")
    assert error["current_revision"] == 2
    assert "Revision 2" in error["message"]
    body = api(sponsor.user_id).get(url).get_json()
    assert body["body"] == "Edited by the editor."


def test_only_the_sponsor_reassigns(api, sponsor, editor, login_as, create_document):
    document_id = create_document(sponsor, editor.user_id)
    other = login_as(Role.editor)
    url = f"/api/v1/documents/{document_id}"
    change = {"base_revision": 1, "editor_id": other.user_id}
    assert_error(api(editor.user_id).patch(url, json=change), 403, "forbidden")
    response = api(sponsor.user_id).patch(url, json=change)
    assert response.status_code == 200
    assert response.get_json()["editor"]["id"] == other.user_id
    bad = {"base_revision": 1, "editor_id": sponsor.user_id}
    error = assert_error(api(sponsor.user_id).patch(url, json=bad), 422, "invalid")
    assert list(error["fields"]) == ["editor_id"]


def test_patch_validation(api, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id)
    client = api(sponsor.user_id)
    url = f"/api/v1/documents/{document_id}"
    error = assert_error(client.patch(url, json={"body": "x"}), 422, "invalid")
    assert "base_revision" in error["fields"]
    too_long = {"base_revision": 1, "name": "n" * 201}
    assert_error(client.patch(url, json=too_long), 422, "invalid")
    form = client.patch(url, data={"base_revision": "1", "body": "x"})
    assert_error(form, 400, "bad_request")


def test_read_token_reads_but_cannot_patch(api, sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id)
    reader = api(sponsor.user_id, scope="read")
    url = f"/api/v1/documents/{document_id}"
    assert reader.get(url).status_code == 200
    response = reader.patch(url, json={"base_revision": 1, "body": "no"})
    assert_error(response, 403, "forbidden")
