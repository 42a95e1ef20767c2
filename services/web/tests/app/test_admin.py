"""Admins approve and reject users; nobody else can."""

import pytest

from docdraft.extensions import db
from docdraft.models import Role, User, UserStatus


def status_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).status


def test_users_page_groups_by_status_pending_first(admin, make_user):
    make_user(Role.editor, UserStatus.rejected, name="Rita Rejected")
    make_user(Role.sponsor, UserStatus.pending, name="Pat Pending")
    make_user(Role.editor, UserStatus.approved, name="Abe Approved")
    html = admin.get("/admin/users").get_data(as_text=True)
    positions = [
        html.index(f'id="users-{s}"') for s in ("pending", "approved", "rejected")
    ]
    assert positions == sorted(positions)
    pending_section = html[positions[0] : positions[1]]
    assert "Pat Pending" in pending_section
    assert 'action="/admin/users/' in pending_section
    assert "Rita Rejected" in html[positions[2] :]


def test_admin_approves_then_rejects_then_approves_again(app, admin, make_user):
    user_id, _ = make_user(Role.editor, UserStatus.pending)
    for action, expected in [
        ("approve", UserStatus.approved),
        ("reject", UserStatus.rejected),
        ("approve", UserStatus.approved),
    ]:
        response = admin.post_action(f"/admin/users/{user_id}/{action}", "/admin/users")
        assert response.status_code == 302
        assert status_of(app, user_id) == expected


def test_approved_user_gets_in_after_approval(app, admin, login_as):
    pending = login_as(Role.sponsor, UserStatus.pending)
    assert pending.get("/sponsor/documents").status_code == 403
    admin.post_action(f"/admin/users/{pending.user_id}/approve", "/admin/users")
    assert pending.get("/sponsor/documents").status_code == 200


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_status_change_needs_post_and_csrf(app, admin, make_user, action):
    user_id, _ = make_user(Role.editor, UserStatus.pending)
    assert admin.get(f"/admin/users/{user_id}/{action}").status_code == 405
    assert admin.client.post(f"/admin/users/{user_id}/{action}").status_code == 400
    assert (
        admin.client.post(
            f"/admin/users/{user_id}/{action}", data={"csrf_token": "forged"}
        ).status_code
        == 400
    )
    assert status_of(app, user_id) == UserStatus.pending


def test_unknown_user_id_is_404(admin):
    assert (
        admin.post_action("/admin/users/999999/approve", "/admin/users").status_code
        == 404
    )


def test_admins_cannot_be_rejected(app, admin, make_user):
    other_admin, _ = make_user(Role.admin)
    response = admin.post_action(f"/admin/users/{other_admin}/reject", "/admin/users")
    assert response.status_code == 404
    assert status_of(app, other_admin) == UserStatus.approved


@pytest.mark.parametrize("role", [Role.sponsor, Role.editor])
def test_non_admins_cannot_approve(app, login_as, make_user, role):
    target, _ = make_user(Role.editor, UserStatus.pending)
    user = login_as(role)
    page = "/sponsor/documents" if role == Role.sponsor else "/editor/documents"
    response = user.post_action(f"/admin/users/{target}/approve", page)
    assert response.status_code == 403
    assert status_of(app, target) == UserStatus.pending


def test_denials_are_logged(app, sponsor, caplog):
    with caplog.at_level("WARNING", logger="docdraft.access"):
        sponsor.get("/admin/users")
    assert any("denied GET /admin/users" in r.getMessage() for r in caplog.records)
