"""The API's frame: bearer tokens, scopes, JSON errors, no cookies."""

import pytest

from docdraft.extensions import db
from docdraft.models import ApiToken, AuditEvent, Role, User, UserStatus
from docdraft.services.tokens import create_token


@pytest.fixture
def make_token(app):
    """make_token(user_id, scope="write", days=30): a token made by the service."""
    return lambda *args, **kwargs: issue_token(app, *args, **kwargs)


def issue_token(app, user_id, scope="write", days=30):
    with app.app_context():
        _, raw = create_token(db.session.get(User, user_id), "script", scope, days)
    return raw


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ddt_unknown", "Basic ddt_x", "bearer not-a-token"],
)
def test_without_a_valid_token_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/documents", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_logged_in_cookie_alone_opens_nothing(sponsor, editor):
    """No token: 401, for reading and writing, with a valid session cookie."""
    assert_error(sponsor.get("/api/v1/documents"), 401, "unauthorized")
    response = sponsor.client.post(
        "/api/v1/documents",
        json={"name": "x", "body": "y", "editor_id": editor.user_id},
    )
    assert_error(response, 401, "unauthorized")


def test_token_lists_documents_and_sets_no_cookie(
    sponsor, editor, create_document, make_token
):
    document_id = create_document(sponsor, editor.user_id)
    # The same client holds a session cookie: it is neither used nor renewed.
    response = sponsor.client.get(
        "/api/v1/documents", headers=bearer(make_token(sponsor.user_id))
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    body = response.get_json()
    assert [row["id"] for row in body["documents"]] == [document_id]
    assert body["total"] == 1 and body["page"] == 1


def test_read_token_cannot_write(app, sponsor, editor, make_token):
    token = make_token(sponsor.user_id, scope="read")
    response = app.test_client().post(
        "/api/v1/documents",
        headers=bearer(token),
        json={"name": "x", "body": "y", "editor_id": editor.user_id},
    )
    error = assert_error(response, 403, "forbidden")
    assert "read" in error["message"]
    ok = app.test_client().get("/api/v1/documents", headers=bearer(token))
    assert ok.status_code == 200


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_pending_and_rejected_users_tokens_403(app, make_user, make_token, status):
    user_id, _ = make_user(Role.editor, status)
    # Made while approved, say; the status is what counts at each request.
    response = app.test_client().get(
        "/api/v1/documents", headers=bearer(make_token(user_id))
    )
    assert_error(response, 403, "forbidden")


def test_expired_and_revoked_tokens_401(app, sponsor, make_token):
    expired, revoked = make_token(sponsor.user_id), make_token(sponsor.user_id)
    with app.app_context():
        rows = db.session.scalars(db.select(ApiToken).order_by(ApiToken.id)).all()
        rows[0].expires_at = rows[0].created_at
        rows[1].revoked_at = rows[1].created_at
        db.session.commit()
    client = app.test_client()
    for token in (expired, revoked):
        assert_error(
            client.get("/api/v1/documents", headers=bearer(token)),
            401,
            "unauthorized",
        )


def test_use_recorded_and_a_new_address_audited(app, sponsor, make_token):
    token = make_token(sponsor.user_id)
    client = app.test_client()
    client.get("/api/v1/documents", headers=bearer(token))
    client.get(
        "/api/v1/documents",
        headers=bearer(token),
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken))
        assert row.last_used_address == "192.0.2.7"
        assert row.last_used_at is not None
        actions = db.session.scalars(db.select(AuditEvent.action)).all()
        assert "token_used_new_address" in actions


def test_errors_are_json_everywhere(app, sponsor, make_token):
    client = app.test_client()
    headers = bearer(make_token(sponsor.user_id))
    assert_error(client.get("/api/nothing", headers=headers), 404, "not_found")
    assert_error(client.get("/api/v1/nothing"), 404, "not_found")
    assert_error(
        client.delete("/api/v1/documents", headers=headers),
        405,
        "method_not_allowed",
    )
    assert_error(client.get("/api/v1/documents/999", headers=headers), 404, "not_found")
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(
        "/api/v1/documents",
        headers={**headers, "Content-Type": "application/json"},
        data=big,
    )
    assert_error(response, 413, "too_large")


def test_validation_failure_is_422_with_fields(app, sponsor, make_token):
    response = app.test_client().post(
        "/api/v1/documents",
        headers=bearer(make_token(sponsor.user_id)),
        json={"name": "  ", "body": "a\x00b", "editor_id": 0, "role": "admin"},
    )
    error = assert_error(response, 422, "invalid")
    assert error["fields"]["name"] == ["This field cannot be blank."]
    assert error["fields"]["body"] == ["Remove the control characters."]
    assert set(error["fields"]) == {"name", "body", "editor_id", "role"}


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_API="3/minute")
def test_rate_limit_per_token_429_json(app, sponsor, make_token):
    client = app.test_client()
    first, second = make_token(sponsor.user_id), make_token(sponsor.user_id)
    for _ in range(3):
        assert client.get("/api/v1/documents", headers=bearer(first)).status_code == 200
    assert_error(
        client.get("/api/v1/documents", headers=bearer(first)), 429, "rate_limited"
    )
    # Another token of the same user, from the same address, counts apart.
    assert client.get("/api/v1/documents", headers=bearer(second)).status_code == 200


def test_openapi_document_is_public_and_bearer(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Docdraft API"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ddt_...",
    }
    assert document["security"] == [{"bearer": []}]


def test_openapi_document_lists_every_api_route(app, client):
    """Each /api/v1 route of the app is an operation of the document."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    documented = {(path, method) for path, item in paths.items() for method in item}
    routes = {
        (rule.rule.replace("<int:", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and routes == documented
    operation_ids = [
        op["operationId"] for item in paths.values() for op in item.values()
    ]
    assert len(set(operation_ids)) == len(operation_ids)
    assert "list_documents" in operation_ids
