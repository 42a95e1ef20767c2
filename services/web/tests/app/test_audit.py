"""The audit log counts repeated events instead of storing each one, keeps
details short, and filters by action, actor and time (docdraft.audit)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from docdraft import audit
from docdraft.extensions import db
from docdraft.models import AuditEvent, Role, UserStatus

from .conftest import PASSWORD, Browser, csrf_token
from .test_rate_limits import LIMITS, browser_from

SIGNUP = {
    "name": "E",
    "password": PASSWORD,
    "confirm": PASSWORD,
    "organization": "Acme",
}


def rows(app, action=None):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


@pytest.mark.app_config(**LIMITS)
def test_twenty_posts_over_the_signup_limit_write_one_row_counting_twenty(app):
    """Each to its own long path: the row names the route, not the path."""
    browser = browser_from(app, "10.9.0.1")
    token = csrf_token(browser.get("/signup/editor").get_data(as_text=True))
    statuses = [
        browser.client.post(
            f"/signup/{'A' * 2000}{n}",
            data={**SIGNUP, "email": f"e{n}@example.org", "csrf_token": token},
        ).status_code
        for n in range(22)
    ]
    assert statuses == [404, 404] + [429] * 20  # LIMITS: 2 signups an hour
    [row] = rows(app, "rate_limited")
    assert row.count == 20
    assert row.detail == "2 per 1 hour on /signup/<role_name>"
    assert row.client_address == "10.9.0.1"
    assert row.last_at >= row.created_at


def test_foreign_document_ids_count_on_one_denied_row(app, login_as):
    stranger = login_as(Role.sponsor)
    for document_id in range(1000, 1030):
        response = stranger.get(f"/documents/{document_id}/status.json")
        assert response.status_code == 404
    [row] = rows(app, "denied")
    assert row.count == 30 and row.actor_id == stranger.user_id
    assert row.detail == "/documents/<int:document_id>/status.json: not found"


def test_a_long_detail_is_cut_short(app, admin, make_user):
    user_id, _ = make_user(Role.editor, UserStatus.pending)
    reason = "Not a partner. " * 33  # 495 characters: the form takes 500
    response = admin.submit(f"/admin/users/{user_id}/reject", {"reason": reason})
    assert response.status_code == 302
    [row] = rows(app, "rejected")
    assert len(row.detail) == audit.DETAIL_MAX
    assert row.detail == reason[: audit.DETAIL_MAX - 1] + "…"


def test_events_that_differ_get_rows_of_their_own(app, make_user):
    _, email = make_user(Role.sponsor)
    for address in ("10.9.1.1", "10.9.1.1", "10.9.1.2"):
        browser_from(app, address).login(email, "wrong password!")
    found = rows(app, "login_failed")
    assert [(row.client_address, row.count) for row in found] == [
        ("10.9.1.1", 2),
        ("10.9.1.2", 1),
    ]


@pytest.mark.app_config(AUDIT_REPEAT_SECONDS=0)
def test_a_repeat_after_the_window_starts_a_new_row(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.9.2.1"}):
        for _ in range(3):
            audit.record("login_failed", detail="same")
    found = rows(app, "login_failed")
    assert [row.count for row in found] == [1, 1, 1]
    assert [row.repeat_key is None for row in found] == [True, True, False]


def test_threads_recording_the_same_event_at_once_count_every_one(app):
    """Race-safe: the unique repeat key and INSERT ... ON CONFLICT make the
    threads that find no row yet count on the one the first inserted."""
    threads, each = 6, 5
    start = threading.Barrier(threads)
    errors = []

    def hammer():
        try:
            with app.test_request_context(environ_base={"REMOTE_ADDR": "10.9.3.1"}):
                start.wait()
                for _ in range(each):
                    audit.record("rate_limited", detail="5 per 1 minute on /login")
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    [row] = rows(app, "rate_limited")
    assert row.count == threads * each


def audit_table(browser, **query):
    response = browser.get("/admin/audit", query_string=query)
    assert response.status_code == 200
    return response.get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]


@pytest.fixture
def logged(app, admin, make_user):
    """An admin, a failed login and a login of a sponsor, and an approval."""
    sponsor_id, email = make_user(Role.sponsor, name="Sam Sponsor")
    visitor = browser_from(app, "10.9.4.1")
    visitor.login(email, "wrong password!")
    visitor.login(email)
    pending_id, _ = make_user(Role.editor, UserStatus.pending)
    admin.post_action(f"/admin/users/{pending_id}/approve", "/admin/users")
    return {"admin": admin, "sponsor_id": sponsor_id, "email": email}


def test_the_audit_log_filters_by_action(logged):
    table = audit_table(logged["admin"], action="login_failed")
    assert ">login_failed<" in table and ">approved<" not in table
    assert ">login<" not in table


@pytest.mark.parametrize("by", ["email", "id", "EMAIL"])
def test_the_audit_log_filters_by_actor_email_or_id(logged, by):
    actor = {
        "email": logged["email"],
        "EMAIL": logged["email"].upper(),
        "id": str(logged["sponsor_id"]),
    }[by]
    table = audit_table(logged["admin"], actor=actor)
    assert ">login<" in table
    assert ">approved<" not in table and ">login_failed<" not in table


def test_an_unknown_actor_matches_nothing(logged):
    table = audit_table(logged["admin"], actor="nobody@example.org")
    assert "<tr>" not in table


def test_the_audit_log_filters_by_time(logged):
    today = datetime.now(UTC).date()
    day = timedelta(days=1)
    admin = logged["admin"]
    assert ">approved<" in audit_table(admin, **{"from": str(today), "to": str(today)})
    assert "<tr>" not in audit_table(admin, **{"from": str(today + day)})
    assert "<tr>" not in audit_table(admin, to=str(today - day))
    assert ">approved<" in audit_table(admin, to="9999-12-31")


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "2026-1-1", "0000-01-01"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_a_date_that_is_no_date_is_400_with_its_reason(admin, name, value):
    response = admin.get("/admin/audit", query_string={name: value})
    assert response.status_code == 400
    assert f"?{name}= must be a date" in response.get_data(as_text=True)


def test_filters_stay_in_the_page_links(app, admin):
    for n in range(60):  # 60 addresses: 60 rows, two pages
        with app.test_request_context(environ_base={"REMOTE_ADDR": f"10.9.5.{n}"}):
            audit.record("login_failed")
    html = admin.get("/admin/audit?action=login_failed").get_data(as_text=True)
    assert "Page 1 of 2" in html
    assert 'href="/admin/audit?action=login_failed&amp;page=2">Older' in html
    second = admin.get("/admin/audit?action=login_failed&page=2")
    assert "Page 2 of 2" in second.get_data(as_text=True)


def test_only_the_admin_reads_the_log(app, sponsor):
    assert sponsor.get("/admin/audit?action=login").status_code == 403
    assert Browser(app.test_client()).get("/admin/audit").status_code == 302
