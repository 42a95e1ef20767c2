"""Every number a request carries is bounded (docdraft.numbers).

Out of range or no number at all is a 400 that says what a number must be,
or, for a page past the last, the last page; never a 500. PostgreSQL
answered "integer out of range" for 2**40 in an INTEGER column, and
SQLite's driver cannot bind 10**20 at all.
"""

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.forms import REVISION_MAX
from docdraft.models import Event, EventKind, Revision
from docdraft.numbers import DB_INT_MAX, NotAWholeNumber, whole_number

HUGE = [str(2**40), str(10**20), "9" * 5000]
NOT_ALLOWED = ["-1", "0", "abc", "1.5", " 2", "²", "1_000"]
WHOLE_NUMBER = "must be a whole number"


def refused_with_reason(response):
    assert response.status_code == 400, response.status_code
    assert WHOLE_NUMBER in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("0002", 2), (str(DB_INT_MAX), DB_INT_MAX), ("-0", None)],
)
def test_whole_number_reads_ascii_digits_within_bounds(text, expected):
    if expected is None:
        with pytest.raises(NotAWholeNumber):
            whole_number(text, 1, DB_INT_MAX)
    else:
        assert whole_number(text, 1, DB_INT_MAX) == expected


@pytest.mark.parametrize("text", [*HUGE, str(DB_INT_MAX + 1), *NOT_ALLOWED])
def test_whole_number_refuses_what_no_column_holds(text):
    with pytest.raises(NotAWholeNumber, match="from 1 to 2,147,483,647"):
        whole_number(text, 1, DB_INT_MAX, "The page")
    assert whole_number("9" * 5000, 1, 10, clamp=True) == 10


@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit"])
@pytest.mark.parametrize("page", HUGE)
def test_an_admin_page_past_the_last_is_the_last(admin, path, page):
    response = admin.get(f"{path}?page={page}")
    assert response.status_code == 200
    assert "Page 1 of 1" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit"])
@pytest.mark.parametrize("page", NOT_ALLOWED)
def test_an_admin_page_that_is_no_page_number_is_400(admin, path, page):
    refused_with_reason(admin.get(path, query_string={"page": page}))


@pytest.mark.parametrize("page", HUGE)
def test_a_document_list_page_past_the_last_is_the_last(sponsor, page):
    response = sponsor.get("/sponsor/documents", query_string={"page": page})
    assert response.status_code == 200


@pytest.mark.parametrize("number", [*HUGE, *NOT_ALLOWED])
@pytest.mark.parametrize("key", ["from", "to"])
def test_a_diff_of_a_revision_number_out_of_range_is_400(sponsor, drafted, key, number):
    numbers = {"from": "1", "to": "1", key: number}
    response = sponsor.get(f"/documents/{drafted.id}/diff", query_string=numbers)
    refused_with_reason(response)
    assert f"?{key}=" in response.get_data(as_text=True)


def test_a_diff_of_a_revision_in_range_but_missing_is_404(sponsor, drafted):
    url = f"/documents/{drafted.id}/diff?from=1&to={DB_INT_MAX}"
    assert sponsor.get(url).status_code == 404


def comment_count(app):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).where(Event.kind == EventKind.comment)
        )


@pytest.mark.parametrize("number", [*HUGE, *NOT_ALLOWED])
def test_a_comment_on_a_revision_out_of_range_is_400_with_the_text_kept(
    app, sponsor, drafted, number
):
    response = drafted.post(
        sponsor, "comments", {"body": "Looks good to me", "base_revision": number}
    )
    refused_with_reason(response)
    assert "Looks good to me" in response.get_data(as_text=True)
    assert comment_count(app) == 0


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("accept", "base_revision"),
        ("accept", "suggestion_id"),
        ("accept", "words"),
        ("dismiss", "base_revision"),
        ("dismiss", "suggestion_id"),
        ("suggest", "base_revision"),
    ],
)
@pytest.mark.parametrize("number", [*HUGE, "-1", "0", "abc"])
def test_suggestion_forms_refuse_numbers_out_of_range(
    app, sponsor, drafted, action, field, number
):
    response = drafted.post(sponsor, action, {field: number})
    refused_with_reason(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(Revision.id))) == 1


@pytest.mark.parametrize("number", [*HUGE, "-1", "0", "abc"])
def test_a_review_action_refuses_a_revision_out_of_range(sponsor, drafted, number):
    response = drafted.post(
        sponsor, "review", {"action": "submit", "base_revision": number}
    )
    refused_with_reason(response)


def test_a_revision_whose_next_number_does_not_fit_is_refused(sponsor, drafted):
    """A change on revision N writes N + 1: a form's revision is at most one
    below what the column holds."""
    largest = str(DB_INT_MAX)
    refused_with_reason(drafted.post(sponsor, "accept", {"base_revision": largest}))


def test_the_largest_revision_a_form_takes_is_a_conflict(sponsor, editor, drafted):
    """Up to there, the usual answer: not the page's revision (409)."""
    largest = str(REVISION_MAX)
    accepted = drafted.post(sponsor, "accept", {"base_revision": largest})
    assert accepted.status_code == 409
    saved = editor.submit(
        drafted.editor_page,
        {"document_name": "Plan", "document_body": "New", "base_revision": largest},
    )
    assert saved.status_code == 409


@pytest.mark.parametrize("number", [*HUGE, "-1", "0", "abc"])
@pytest.mark.parametrize("role", ["sponsor", "editor"])
def test_a_save_on_a_revision_out_of_range_is_400_next_to_the_form(
    sponsor, editor, drafted, role, number
):
    browser = sponsor if role == "sponsor" else editor
    page = drafted.sponsor_page if role == "sponsor" else drafted.editor_page
    data = {"document_name": "Plan", "document_body": "Kept", "base_revision": number}
    if role == "sponsor":
        data["editor_id"] = editor.user_id
    response = browser.submit(page, data)
    refused_with_reason(response)
    assert "Kept" in response.get_data(as_text=True)


@pytest.mark.parametrize("number", [*HUGE, "-1", "0", "abc"])
def test_an_editor_choice_out_of_range_is_a_form_error(sponsor, drafted, number):
    response = sponsor.submit(
        drafted.sponsor_page,
        {"document_name": "Plan", "document_body": "Kept", "editor_id": number},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose an editor from the list." in html or "Not a valid choice" in html
    created = sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": "New", "document_body": "Body", "editor_id": number},
    )
    assert created.status_code == 400


@pytest.mark.parametrize("number", HUGE)
def test_a_timeline_page_past_the_last_is_the_last(sponsor, drafted, number):
    response = sponsor.get(drafted.sponsor_page, query_string={"timeline": number})
    assert response.status_code == 200
    assert "saved revision 1" in response.get_data(as_text=True)


@pytest.mark.parametrize("number", NOT_ALLOWED)
def test_a_timeline_page_that_is_no_number_is_400(sponsor, drafted, number):
    refused_with_reason(
        sponsor.get(drafted.sponsor_page, query_string={"timeline": number})
    )


@pytest.mark.parametrize("number", [str(2**40), str(10**20), "0"])
def test_an_audit_actor_id_out_of_range_is_400(admin, number):
    refused_with_reason(admin.get("/admin/audit", query_string={"actor": number}))
