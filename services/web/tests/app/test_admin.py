"""Admins approve and reject users; nobody else can."""

import pytest
from markupsafe import escape
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import AuditEvent, Role, User, UserStatus

from .conftest import Browser


def status_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).status


def test_users_page_lists_pending_first(admin, make_user):
    make_user(Role.editor, UserStatus.rejected, name="Rita Rejected")
    make_user(Role.sponsor, UserStatus.pending, name="Pat Pending")
    make_user(Role.editor, UserStatus.approved, name="Abe Approved")
    html = admin.get("/admin/users").get_data(as_text=True)
    assert html.index("Pat Pending") < html.index("Rita Rejected")
    assert html.index("Pat Pending") < html.index("Abe Approved")
    assert 'action="/admin/users/' in html


def test_users_can_be_searched_filtered_and_paged(admin, make_user):
    make_user(Role.sponsor, UserStatus.pending, name="Grace Hopper")
    _, alan_email = make_user(Role.editor, UserStatus.approved, name="Alan Turing")
    for n in range(55):
        make_user(Role.editor, UserStatus.approved, name=f"Filler {n:02d}")
    found = admin.get("/admin/users?q=hopp").get_data(as_text=True)
    assert "Grace Hopper" in found and "Alan Turing" not in found
    local_part = alan_email.split("@")[0].upper()
    by_email = admin.get(f"/admin/users?q={local_part}%40").get_data(as_text=True)
    assert "Alan Turing" in by_email
    approved = admin.get("/admin/users?status=approved").get_data(as_text=True)
    assert "Grace Hopper" not in approved and "Next</a>" in approved
    second = admin.get("/admin/users?status=approved&page=2").get_data(as_text=True)
    assert "Page 2" in second and "Filler 54" in second
    assert admin.get("/admin/users?status=bogus").status_code == 400


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("%", "100% Pure"),
        ("_", "snake_case Ltd"),
        ("\\", "Back\\slash"),
        ("0%", "100% Pure"),
    ],
)
def test_the_user_search_takes_like_wildcards_literally(admin, make_user, query, found):
    """`q=%` matched everyone: it finds only names with a percent sign."""
    names = ["100% Pure", "snake_case Ltd", "Back\\slash", "Plain Person"]
    for name in names:
        make_user(Role.sponsor, UserStatus.pending, name=name)
    html = admin.get("/admin/users", query_string={"q": query}).get_data(as_text=True)
    table = html.split("<tbody>")[1]
    shown = [name for name in names if f">{escape(name)}<" in table]
    assert shown == [found]


def test_reject_asks_first_and_the_user_sees_the_reason(app, admin, login_as):
    pending = login_as(Role.editor, UserStatus.pending)
    url = f"/admin/users/{pending.user_id}/reject"
    confirm = admin.get(url).get_data(as_text=True)
    assert "0 open documents" in confirm and "Reject" in confirm
    response = admin.submit(url, {"reason": "Not from a partner <organization>"})
    assert response.status_code == 302
    pending.login(user_email(app, pending.user_id))
    page = pending.get("/").get_data(as_text=True)
    assert "Not from a partner &lt;organization&gt;" in page


def user_email(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).email


def test_the_audit_log_records_who_did_what_from_where(app, admin, make_user):
    target_id, email = make_user(Role.sponsor, UserStatus.pending)
    visitor = Browser(app.test_client())
    visitor.client.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    visitor.login(email, "not the password!")
    admin.post_action(f"/admin/users/{target_id}/approve", "/admin/users")
    html = admin.get("/admin/audit").get_data(as_text=True)
    table = html.split("<tbody>")[1]  # not the action filter's choices
    assert table.index(">approved<") < table.index(">login_failed<")  # newest first
    assert "10.20.30.40" in html and email in html
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert {"login", "login_failed", "approved"} <= set(actions)
    # Append-only: no route changes or deletes an entry.
    rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert [(r.rule, r.methods - {"HEAD", "OPTIONS"}) for r in rules] == [
        ("/admin/audit", {"GET"})
    ]


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
    # GET never changes anything: 405, or reject's confirmation page.
    get_status = 200 if action == "reject" else 405
    assert admin.get(f"/admin/users/{user_id}/{action}").status_code == get_status
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
