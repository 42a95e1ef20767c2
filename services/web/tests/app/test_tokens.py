"""Personal access tokens: made on /account/tokens, shown once, stored hashed,
revoked by their user, by an admin, by a rejection or by "End sessions"."""

import hashlib
import re

import pytest

from docdraft.extensions import db
from docdraft.models import ApiToken, AuditEvent, Role, TokenScope, UserStatus

from .test_api_core import assert_error, bearer, issue_token

TOKEN_RE = re.compile(r"ddt_[A-Za-z0-9_-]{43}")


def make_on_page(browser, **fields):
    data = {"name": "ci script", "scope": "write", "expires_days": "30", **fields}
    return browser.submit("/account/tokens", data, form_url="/account/tokens")


def test_token_is_shown_once_and_stored_as_its_hash(app, sponsor):
    response = make_on_page(sponsor)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = TOKEN_RE.findall(html)
    assert len(set(found)) == 1
    token = found[0]
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:8] and row.scope == TokenScope.write
        assert row.name == "ci script"
        assert "token_created" in db.session.scalars(db.select(AuditEvent.action))
    listing = sponsor.get("/account/tokens").get_data(as_text=True)
    assert token not in listing and token[:8] in listing
    assert (
        app.test_client().get("/api/v1/documents", headers=bearer(token)).status_code
        == 200
    )


def test_the_account_page_links_to_tokens(sponsor):
    assert "/account/tokens" in sponsor.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "100"),
        ({"scope": "admin"}, "scope", "Not a valid choice"),
        ({"expires_days": "0"}, "expires_days", "1"),
        ({"expires_days": "366"}, "expires_days", "365"),
        ({"expires_days": "soon"}, "expires_days", ""),
    ],
)
def test_refused_form_keeps_what_was_typed(app, sponsor, fields, field, message):
    response = make_on_page(sponsor, **{"name": "kept name", **fields})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert error and message in error.group(1), html
    typed = fields.get("name", "kept name")
    if typed.strip():
        assert f'value="{typed}"' in html
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(ApiToken.id))) == 0


def test_revoke_own_token_and_not_anothers(app, sponsor, login_as):
    token = issue_token(app, sponsor.user_id)
    other = login_as(Role.sponsor)
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
    url = f"/account/tokens/{token_id}/revoke"
    assert other.post_action(url, from_url="/account").status_code == 404
    assert (
        app.test_client().get("/api/v1/documents", headers=bearer(token)).status_code
        == 200
    )
    assert sponsor.post_action(url, from_url="/account").status_code == 302
    response = app.test_client().get("/api/v1/documents", headers=bearer(token))
    assert_error(response, 401, "unauthorized")
    with app.app_context():
        row = db.session.get(ApiToken, token_id)
        assert row.revoked_by_id == sponsor.user_id
        assert "token_revoked" in db.session.scalars(db.select(AuditEvent.action))


def test_admin_lists_and_revokes_anyones_token(app, sponsor, admin):
    token = issue_token(app, sponsor.user_id)
    page = admin.get(f"/admin/users/{sponsor.user_id}/tokens")
    assert page.status_code == 200 and token[:8] in page.get_data(as_text=True)
    with app.app_context():
        token_id = db.session.scalar(db.select(ApiToken.id))
    response = admin.post_action(
        f"/admin/tokens/{token_id}/revoke", from_url="/account"
    )
    assert response.status_code == 302
    response = app.test_client().get("/api/v1/documents", headers=bearer(token))
    assert_error(response, 401, "unauthorized")


def test_rejection_revokes_tokens_for_good(app, editor, admin):
    token = issue_token(app, editor.user_id)
    response = admin.submit(f"/admin/users/{editor.user_id}/reject", {"reason": "left"})
    assert response.status_code == 302
    approve = admin.post_action(
        f"/admin/users/{editor.user_id}/approve", from_url="/admin/users"
    )
    assert approve.status_code == 302
    # Approved again, but the token stays revoked.
    response = app.test_client().get("/api/v1/documents", headers=bearer(token))
    assert_error(response, 401, "unauthorized")


def test_end_sessions_revokes_tokens(app, sponsor, admin):
    token = issue_token(app, sponsor.user_id)
    response = admin.post_action(
        f"/admin/users/{sponsor.user_id}/end-sessions", from_url="/admin/users"
    )
    assert response.status_code == 302
    response = app.test_client().get("/api/v1/documents", headers=bearer(token))
    assert_error(response, 401, "unauthorized")


def test_password_change_leaves_tokens_working(app, sponsor):
    token = issue_token(app, sponsor.user_id)
    response = sponsor.submit(
        "/account/password",
        {
            "current_password": "correct horse battery",
            "new_password": "another long passphrase",
            "confirm": "another long passphrase",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert (
        app.test_client().get("/api/v1/documents", headers=bearer(token)).status_code
        == 200
    )


@pytest.mark.parametrize("status", [UserStatus.pending, UserStatus.rejected])
def test_pending_and_rejected_users_have_no_token_pages(login_as, status):
    browser = login_as(Role.sponsor, status)
    assert browser.get("/account/tokens").status_code == 403
    assert browser.post_action("/account/tokens", from_url="/").status_code == 403


def test_token_format(app, sponsor):
    token = issue_token(app, sponsor.user_id)
    assert TOKEN_RE.fullmatch(token)
    assert token != issue_token(app, sponsor.user_id)
