"""Diff, export, and the small things a person notices on the pages."""

import re

import pytest

from docdraft.models import Role, UserStatus

from .test_escaping import HOSTILE, RAW_MARKERS


@pytest.fixture
def two_revisions(sponsor, editor, create_document):
    document_id = create_document(
        sponsor, editor.user_id, name="Notes: <b>Q3</b>", body="alpha beta <gamma>"
    )
    editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "Notes: <b>Q3</b>", "document_body": "alpha <delta> gamma"},
    )
    return document_id


def test_diff_marks_words_and_escapes_them(sponsor, two_revisions):
    response = sponsor.get(f"/documents/{two_revisions}/diff?from=1&to=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "alpha <del>beta &lt;gamma&gt;</del> <ins>&lt;delta&gt; gamma</ins>" in html


@pytest.mark.parametrize(
    ("query", "status"),
    [("from=1&to=9", 404), ("from=0&to=1", 400), ("from=1", 400), ("from=x&to=2", 400)],
)
def test_diff_with_unknown_or_missing_revisions(sponsor, two_revisions, query, status):
    assert sponsor.get(f"/documents/{two_revisions}/diff?{query}").status_code == status


@pytest.mark.parametrize("hostile", HOSTILE)
def test_diff_and_conflict_pages_escape_hostile_text(
    sponsor, editor, create_document, hostile
):
    document_id = create_document(sponsor, editor.user_id, body="safe")
    editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "n", "document_body": hostile},
    )
    diff = sponsor.get(f"/documents/{document_id}/diff?from=1&to=2")
    stale = editor.submit(
        f"/editor/documents/{document_id}",
        {"document_name": "n", "document_body": hostile + "!", "base_revision": "1"},
    )
    assert stale.status_code == 409
    for page in (diff, stale):
        html = page.get_data(as_text=True)
        for marker in RAW_MARKERS:
            assert marker not in html


def test_export_of_a_non_ascii_name_keeps_it(sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id, name="Plan für 2027")
    disposition = sponsor.get(f"/documents/{document_id}/export.txt").headers[
        "Content-Disposition"
    ]
    assert "filename*=UTF-8''Plan-f%C3%BCr-2027.txt" in disposition


def test_export_downloads_the_body(sponsor, editor, two_revisions):
    markdown = editor.get(f"/documents/{two_revisions}/export.md")
    assert markdown.status_code == 200
    assert markdown.mimetype == "text/markdown"
    disposition = markdown.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="Notes-b-Q3-b.md"'
    assert (
        markdown.get_data(as_text=True) == "# Notes: <b>Q3</b>\n\nalpha <delta> gamma\n"
    )
    text = sponsor.get(f"/documents/{two_revisions}/export.txt")
    assert text.mimetype == "text/plain"
    assert text.get_data(as_text=True) == "alpha <delta> gamma\n"
    assert "attachment" in text.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "invisible", ["\u200b\u200b", " \u200d\u2060 ", "\u202e\u200e", "\u3164", "\t\n"]
)
@pytest.mark.parametrize("field", ["document_name", "document_body"])
def test_names_and_bodies_with_nothing_visible_are_refused(
    app, sponsor, editor, field, invisible
):
    data = {
        "document_name": "Plan",
        "document_body": "Text",
        "editor_id": editor.user_id,
    }
    response = sponsor.submit("/sponsor/documents/new", {**data, field: invisible})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert re.search(f'aria-describedby="[^"]*{field}-error"', html)
    assert 'class="error-summary"' in html and f'href="#{field}"' in html


def test_editor_picker_needs_a_choice(sponsor, editor):
    html = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    assert '<option selected value="">Choose an editor…</option>' in html
    response = sponsor.submit(
        "/sponsor/documents/new", {"document_name": "a", "document_body": "b"}
    )
    assert response.status_code == 400 and "Choose an editor." in response.get_data(
        True
    )


def test_rejected_editor_is_marked_and_cannot_be_given_work(
    app, sponsor, editor, admin, create_document, make_user
):
    document_id = create_document(sponsor, editor.user_id)
    users = admin.get("/admin/users").get_data(as_text=True)
    assert "Reject (1 open document)" in users
    admin.post_action(f"/admin/users/{editor.user_id}/reject", "/admin/users")
    page = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "can no longer work on this document" in page
    assert "- rejected</option>" in page
    other_id, _ = make_user(Role.editor, UserStatus.approved)
    response = sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": "x", "document_body": "y", "editor_id": editor.user_id},
    )
    assert response.status_code == 400
    # Keeping the rejected editor on a save is allowed; the page says so.
    kept = sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {
            "document_name": "Launch plan",
            "document_body": "z",
            "editor_id": editor.user_id,
        },
    )
    assert kept.status_code == 302
    moved = sponsor.submit(
        f"/sponsor/documents/{document_id}",
        {"document_name": "Launch plan", "document_body": "z", "editor_id": other_id},
    )
    assert moved.status_code == 302


def test_pages_have_no_slips(sponsor, editor, admin, create_document):
    document_id = create_document(sponsor, editor.user_id, body="Body text")
    pages = [
        sponsor.get("/sponsor/documents/new"),
        sponsor.get(f"/sponsor/documents/{document_id}"),
        editor.get(f"/editor/documents/{document_id}"),
        admin.get("/admin/users"),
        sponsor.get("/sponsor/documents"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert 'autocomplete="None"' not in html
        assert "<th></th>" not in html
        assert 'rel="icon"' in html
        assert 'class="flashes" role="status"' in html
    detail = pages[1].get_data(as_text=True)
    # The text card holds the text and nothing else: no template whitespace.
    assert '<div class="text-card body-text" dir="auto">Body text</div>' in detail
    assert sponsor.get("/static/favicon.svg").status_code == 200


def test_body_counter_is_shown_never_a_silent_limit(sponsor, editor, create_document):
    document_id = create_document(sponsor, editor.user_id)
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert 'data-counter-for="document_body" data-max="100000"' in html
    assert "maxlength" not in html
