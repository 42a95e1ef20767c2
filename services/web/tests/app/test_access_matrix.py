"""Every route x every kind of user x method, with real logins.

A route added to the app without a row here fails
`test_matrix_covers_every_route`, so access rules are always decided on purpose.
"""

import pytest

from docdraft.models import Role, UserStatus

from .conftest import Browser, csrf_token

ROLES = [
    "anonymous",
    "pending",
    "rejected",
    "sponsor",
    "other_sponsor",
    "editor",
    "other_editor",
    "admin",
]
LOGIN = 302  # anonymous users are sent to /login
# ...except from a document form (its typed text is shown, with a login link)
# and for JSON.
SESSION_ENDED = 401


def answers_session_ended(method, rule):
    if rule.startswith("/api/"):  # the API has rows of its own
        return False
    document_form = "<int:document_id>" in rule or rule == "/sponsor/documents/new"
    return rule.endswith(".json") or (method == "POST" and document_form)


def expect(default, **by_role):
    return {role: by_role.get(role, default) for role in ROLES}


APPROVED_USERS = expect(200, anonymous=LOGIN, pending=403, rejected=403)
SPONSORS_ONLY = expect(403, anonymous=LOGIN, sponsor=200, other_sponsor=200)


def participants(status):
    """A document route: its sponsor and editor get `status`, strangers 404."""
    return expect(
        404,
        anonymous=LOGIN,
        pending=403,
        rejected=403,
        admin=403,
        sponsor=status,
        editor=status,
    )


def own_sponsor(status):
    """A sponsor-only document route: the owner gets `status`."""
    return expect(403, anonymous=LOGIN, sponsor=status, other_sponsor=404)


EDITORS_ONLY = expect(403, anonymous=LOGIN, editor=200, other_editor=200)
API_TOKEN_ONLY = expect(401)

# (method, rule) -> (url to request, {role: status}).  POST bodies are empty
# but carry a valid CSRF token, so what is tested is access, not CSRF.
MATRIX = {
    ("GET", "/signup/<role_name>"): ("/signup/editor", expect(200)),
    ("POST", "/signup/<role_name>"): ("/signup/editor", expect(400)),
    ("GET", "/login"): ("/login", expect(200)),
    ("GET", "/healthz"): ("/healthz", expect(200)),
    ("GET", "/readyz"): ("/readyz", expect(200)),
    ("GET", "/metrics"): ("/metrics", expect(200)),  # from 127.0.0.1
    ("GET", "/account"): ("/account", APPROVED_USERS),
    ("GET", "/account/password"): ("/account/password", APPROVED_USERS),
    ("POST", "/account/password"): (
        "/account/password",
        expect(400, anonymous=LOGIN, pending=403, rejected=403),
    ),
    # No session has id 0: for everyone who may end sessions, a foreign one.
    ("POST", "/account/sessions/<int:session_id>/end"): (
        "/account/sessions/0/end",
        expect(404, anonymous=LOGIN, pending=403, rejected=403),
    ),
    ("POST", "/login"): ("/login", expect(400)),
    ("GET", "/"): ("/", expect(302, pending=200, rejected=200)),
    ("GET", "/admin/users"): ("/admin/users", expect(403, anonymous=LOGIN, admin=200)),
    ("POST", "/admin/users/<int:user_id>/approve"): (
        "/admin/users/{target}/approve",
        expect(403, anonymous=LOGIN, admin=302),
    ),
    ("GET", "/admin/users/<int:user_id>/reject"): (
        "/admin/users/{target}/reject",
        expect(403, anonymous=LOGIN, admin=200),
    ),
    ("POST", "/admin/users/<int:user_id>/end-sessions"): (
        "/admin/users/{target}/end-sessions",
        expect(403, anonymous=LOGIN, admin=302),
    ),
    ("GET", "/admin/audit"): ("/admin/audit", expect(403, anonymous=LOGIN, admin=200)),
    ("GET", "/admin/jobs"): ("/admin/jobs", expect(403, anonymous=LOGIN, admin=200)),
    # No job has id 0: for the admin, a job that is not there.
    ("POST", "/admin/jobs/<int:autodoc_id>/cancel"): (
        "/admin/jobs/0/cancel",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    ("GET", "/admin/models"): (
        "/admin/models",
        expect(403, anonymous=LOGIN, admin=200),
    ),
    ("GET", "/admin/models.json"): (
        "/admin/models.json",
        expect(403, anonymous=LOGIN, admin=200),
    ),
    # No model has id 0: for the admin, a model that is not there.
    ("GET", "/admin/models/<int:model_id>"): (
        "/admin/models/0",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    ("POST", "/admin/models/<int:model_id>/activate"): (
        "/admin/models/0/activate",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    ("POST", "/admin/models/<int:model_id>/deactivate"): (
        "/admin/models/0/deactivate",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    ("POST", "/admin/models/<int:model_id>/cancel"): (
        "/admin/models/0/cancel",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    ("GET", "/admin/models/train"): (
        "/admin/models/train",
        expect(403, anonymous=LOGIN, admin=200),
    ),
    # An empty form: no base model, no sponsors (400, next to the fields).
    ("POST", "/admin/models/train"): (
        "/admin/models/train",
        expect(403, anonymous=LOGIN, admin=400),
    ),
    # Without ?sponsor_ids there is nothing to export.
    ("GET", "/admin/models/dataset"): (
        "/admin/models/dataset",
        expect(403, anonymous=LOGIN, admin=400),
    ),
    ("POST", "/account/training"): (
        "/account/training",
        expect(403, anonymous=LOGIN, sponsor=302, other_sponsor=302),
    ),
    ("POST", "/documents/<int:document_id>/consent"): (
        "/documents/{document}/consent",
        expect(
            404,
            anonymous=LOGIN,
            pending=403,
            rejected=403,
            admin=403,
            sponsor=302,
            editor=403,
        ),
    ),
    ("POST", "/admin/users/<int:user_id>/reject"): (
        "/admin/users/{target}/reject",
        expect(403, anonymous=LOGIN, admin=302),
    ),
    ("GET", "/sponsor/documents"): ("/sponsor/documents", SPONSORS_ONLY),
    ("GET", "/sponsor/documents/new"): ("/sponsor/documents/new", SPONSORS_ONLY),
    ("POST", "/sponsor/documents/new"): (
        "/sponsor/documents/new",
        expect(403, anonymous=LOGIN, sponsor=400, other_sponsor=400),
    ),
    ("GET", "/sponsor/documents/<int:document_id>"): (
        "/sponsor/documents/{document}",
        expect(403, anonymous=LOGIN, sponsor=200, other_sponsor=404),
    ),
    ("POST", "/sponsor/documents/<int:document_id>"): (
        "/sponsor/documents/{document}",
        expect(403, anonymous=LOGIN, sponsor=400, other_sponsor=404),
    ),
    ("GET", "/editor/documents"): ("/editor/documents", EDITORS_ONLY),
    ("GET", "/editor/documents/<int:document_id>"): (
        "/editor/documents/{document}",
        expect(403, anonymous=LOGIN, editor=200, other_editor=404),
    ),
    ("POST", "/editor/documents/<int:document_id>"): (
        "/editor/documents/{document}",
        expect(403, anonymous=LOGIN, editor=400, other_editor=404),
    ),
    ("GET", "/documents/<int:document_id>"): (
        "/documents/{document}",
        participants(302),
    ),
    ("GET", "/documents/<int:document_id>/status.json"): (
        "/documents/{document}/status.json",
        participants(200),
    ),
    # Each approved sponsor or editor gets their own count and rows.
    ("GET", "/documents/summary.json"): (
        "/documents/summary.json?list=1",
        expect(200, anonymous=LOGIN, pending=403, rejected=403, admin=403),
    ),
    ("POST", "/documents/<int:document_id>/retry"): (
        "/documents/{document}/retry",
        participants(302),
    ),
    # Empty POSTs: the participants' forms lack base_revision, action or body.
    ("POST", "/documents/<int:document_id>/accept"): (
        "/documents/{document}/accept",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/dismiss"): (
        "/documents/{document}/dismiss",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/suggest"): (
        "/documents/{document}/suggest",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/cancel"): (
        "/documents/{document}/cancel",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/ask-again"): (
        "/documents/{document}/ask-again",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/review"): (
        "/documents/{document}/review",
        participants(400),
    ),
    ("POST", "/documents/<int:document_id>/comments"): (
        "/documents/{document}/comments",
        participants(400),
    ),
    ("GET", "/documents/<int:document_id>/diff"): (
        "/documents/{document}/diff?from=1&to=1",
        participants(200),
    ),
    ("GET", "/documents/<int:document_id>/revisions/<int:number>"): (
        "/documents/{document}/revisions/1",
        participants(200),
    ),
    ("GET", "/documents/<int:document_id>/export.md"): (
        "/documents/{document}/export.md",
        participants(200),
    ),
    ("GET", "/documents/<int:document_id>/export.txt"): (
        "/documents/{document}/export.txt",
        participants(200),
    ),
    # Archive then restore, so the rows after them see an open document.
    ("POST", "/sponsor/documents/<int:document_id>/archive"): (
        "/sponsor/documents/{document}/archive",
        own_sponsor(302),
    ),
    ("POST", "/sponsor/documents/<int:document_id>/restore"): (
        "/sponsor/documents/{document}/restore",
        own_sponsor(302),
    ),
    # The JSON API (docdraft.api): a bearer token only, so every browser's
    # cookie gets 401; the OpenAPI document is public.
    ("GET", "/api/v1/openapi.json"): ("/api/v1/openapi.json", expect(200)),
    ("GET", "/api/v1/documents"): ("/api/v1/documents", API_TOKEN_ONLY),
    ("POST", "/api/v1/documents"): ("/api/v1/documents", API_TOKEN_ONLY),
    ("GET", "/api/v1/documents/<int:document_id>"): (
        "/api/v1/documents/{document}",
        API_TOKEN_ONLY,
    ),
    ("PATCH", "/api/v1/documents/<int:document_id>"): (
        "/api/v1/documents/{document}",
        API_TOKEN_ONLY,
    ),
    ("GET", "/api/v1/users"): ("/api/v1/users", API_TOKEN_ONLY),
    ("POST", "/api/v1/users/<int:user_id>/approve"): (
        "/api/v1/users/{target}/approve",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/users/<int:user_id>/reject"): (
        "/api/v1/users/{target}/reject",
        API_TOKEN_ONLY,
    ),
    ("GET", "/api/docs"): ("/api/docs", expect(200)),
    ("GET", "/account/tokens"): ("/account/tokens", APPROVED_USERS),
    # An empty form: no name (400, next to the field).
    ("POST", "/account/tokens"): (
        "/account/tokens",
        expect(400, anonymous=LOGIN, pending=403, rejected=403),
    ),
    # No token has id 0: for everyone who may revoke, a foreign one.
    ("POST", "/account/tokens/<int:token_id>/revoke"): (
        "/account/tokens/0/revoke",
        expect(404, anonymous=LOGIN, pending=403, rejected=403),
    ),
    ("GET", "/admin/users/<int:user_id>/tokens"): (
        "/admin/users/{target}/tokens",
        expect(403, anonymous=LOGIN, admin=200),
    ),
    ("POST", "/admin/tokens/<int:token_id>/revoke"): (
        "/admin/tokens/0/revoke",
        expect(403, anonymous=LOGIN, admin=404),
    ),
    # Password reset (auth/reset.py): open to everyone, like login; an empty
    # post is a refused form, and an unknown link is a page that says so.
    ("GET", "/reset"): ("/reset", expect(200)),
    ("POST", "/reset"): ("/reset", expect(400)),
    ("GET", "/reset/<token>"): ("/reset/unknown-token", expect(404)),
    ("POST", "/reset/<token>"): ("/reset/unknown-token", expect(404)),
    # Notifications (docdraft/notifications): approved users' own; notification
    # 0 is nobody's (404). Unsubscribe needs no login: a link that is no
    # signed token is not found, for everyone.
    ("GET", "/notifications"): ("/notifications", APPROVED_USERS),
    ("POST", "/notifications/<int:notification_id>/read"): (
        "/notifications/0/read",
        expect(404, anonymous=LOGIN, pending=403, rejected=403),
    ),
    ("POST", "/notifications/read-all"): (
        "/notifications/read-all",
        expect(302, anonymous=LOGIN, pending=403, rejected=403),
    ),
    ("POST", "/account/notifications"): (
        "/account/notifications",
        expect(302, anonymous=LOGIN, pending=403, rejected=403),
    ),
    ("GET", "/unsubscribe/<token>"): ("/unsubscribe/not-a-token", expect(404)),
    ("POST", "/unsubscribe/<token>"): ("/unsubscribe/not-a-token", expect(404)),
    # The API's suggestions and review (api/suggestions.py, api/review.py): a
    # bearer token only, like the API's other rows (their tests check roles).
    ("GET", "/api/v1/documents/<int:document_id>/suggestions"): (
        "/api/v1/documents/{document}/suggestions",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/documents/<int:document_id>/suggestions"): (
        "/api/v1/documents/{document}/suggestions",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/suggestions/<int:suggestion_id>/accept"): (
        "/api/v1/suggestions/1/accept",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/suggestions/<int:suggestion_id>/dismiss"): (
        "/api/v1/suggestions/1/dismiss",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/documents/<int:document_id>/review"): (
        "/api/v1/documents/{document}/review",
        API_TOKEN_ONLY,
    ),
    ("POST", "/api/v1/documents/<int:document_id>/comments"): (
        "/api/v1/documents/{document}/comments",
        API_TOKEN_ONLY,
    ),
    ("GET", "/api/v1/documents/<int:document_id>/timeline"): (
        "/api/v1/documents/{document}/timeline",
        API_TOKEN_ONLY,
    ),
    ("GET", "/api/v1/documents/<int:document_id>/diff"): (
        "/api/v1/documents/{document}/diff?from=1&to=1",
        API_TOKEN_ONLY,
    ),
    ("GET", "/api/v1/documents/<int:document_id>/export"): (
        "/api/v1/documents/{document}/export?format=md",
        API_TOKEN_ONLY,
    ),
    # Last two: they end the session for the rows after them.
    ("POST", "/account/sessions/end-all"): (
        "/account/sessions/end-all",
        expect(302, pending=403, rejected=403),
    ),
    ("POST", "/logout"): ("/logout", expect(302)),
}


def test_matrix_covers_every_route(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(MATRIX)


@pytest.fixture
def world(app, login_as, make_user, create_document):
    """One browser per kind of user, and a document owned by 'sponsor'."""
    browsers = {
        "anonymous": Browser(app.test_client()),
        "pending": login_as(Role.sponsor, UserStatus.pending),
        "rejected": login_as(Role.editor, UserStatus.rejected),
        "sponsor": login_as(Role.sponsor),
        "other_sponsor": login_as(Role.sponsor),
        "editor": login_as(Role.editor),
        "other_editor": login_as(Role.editor),
        "admin": login_as(Role.admin),
    }
    document = create_document(browsers["sponsor"], browsers["editor"].user_id)
    target, _ = make_user(Role.editor, UserStatus.pending)
    return browsers, {"document": document, "target": target}


@pytest.mark.parametrize("role", ROLES)
def test_role_gets_expected_status_on_every_route(world, role):
    browsers, ids = world
    browser = browsers[role]
    failures = []
    for (method, rule), (url, expected) in MATRIX.items():
        url = url.format(**ids)
        if method == "GET":
            response = browser.client.get(url)
        else:
            # A fresh token each time: the rows that end the session (end-all,
            # logout) clear it, and its CSRF token with it.
            token = csrf_token(browser.get("/login").get_data(as_text=True))
            response = browser.client.open(
                url, method=method, data={"csrf_token": token}
            )
        want = expected[role]
        if role == "anonymous" and answers_session_ended(method, rule):
            want = SESSION_ENDED
        if response.status_code != want:
            failures.append(f"{method} {url}: {response.status_code} != {want}")
        elif want == LOGIN and role == "anonymous" and rule != "/logout":
            assert response.location.startswith("/login")
    assert not failures, failures
