"""/api/v1/users: admins list users, approve and reject them."""

import pytest

from docdraft.models import Role, UserStatus

from .test_api_core import assert_error, bearer, issue_token


@pytest.fixture
def admin_headers(app, admin):
    return bearer(issue_token(app, admin.user_id))


def test_admin_lists_users_by_status(client, make_user, admin_headers):
    pending, _ = make_user(Role.editor, UserStatus.pending)
    response = client.get("/api/v1/users?status=pending", headers=admin_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert [user["id"] for user in body["users"]] == [pending]
    assert body["total"] == 1 and body["users"][0]["status"] == "pending"
    everyone = client.get("/api/v1/users", headers=admin_headers).get_json()
    assert everyone["total"] == 2  # the admin and the pending editor
    bad = client.get("/api/v1/users?status=banned", headers=admin_headers)
    assert "status" in assert_error(bad, 422, "invalid")["fields"]


def test_admin_approves_and_rejects_with_a_reason(
    app, client, make_user, admin_headers
):
    user_id, _ = make_user(Role.sponsor, UserStatus.pending)
    approved = client.post(f"/api/v1/users/{user_id}/approve", headers=admin_headers)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved"
    token = issue_token(app, user_id)
    rejected = client.post(
        f"/api/v1/users/{user_id}/reject",
        headers=admin_headers,
        json={"reason": "Not part of the team."},
    )
    assert rejected.status_code == 200
    assert rejected.get_json()["status_reason"] == "Not part of the team."
    # Rejection revoked the user's token.
    response = client.get("/api/v1/documents", headers=bearer(token))
    assert_error(response, 401, "unauthorized")


def test_reject_validation_and_unknown_users(client, make_user, admin, admin_headers):
    user_id, _ = make_user(Role.editor, UserStatus.pending)
    long_reason = {"reason": "r" * 501}
    response = client.post(
        f"/api/v1/users/{user_id}/reject", headers=admin_headers, json=long_reason
    )
    assert "reason" in assert_error(response, 422, "invalid")["fields"]
    for target in (2**31 - 1, admin.user_id):  # none, and an admin
        response = client.post(f"/api/v1/users/{target}/approve", headers=admin_headers)
        assert_error(response, 404, "not_found")


def test_non_admins_are_refused(app, client, sponsor, make_user):
    user_id, _ = make_user(Role.editor, UserStatus.pending)
    headers = bearer(issue_token(app, sponsor.user_id))
    assert_error(client.get("/api/v1/users", headers=headers), 403, "forbidden")
    for action in ("approve", "reject"):
        response = client.post(f"/api/v1/users/{user_id}/{action}", headers=headers)
        assert_error(response, 403, "forbidden")
