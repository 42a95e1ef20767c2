"""Nothing typed is lost, and nothing unseen is accepted (server side).

Every refusal of a document form shows the typed text back, or names the
draft the browser keeps (a 413 cannot be read); Accept and Dismiss act on the
suggestion the page showed and nothing else.
"""

import re

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.models import DOCUMENT_BODY_MAX, Document, JobStatus, Role
from docdraft.services import documents as document_service

from .conftest import HIDDEN_RES, MACHINE, csrf_token

TYPED = "Words typed over an hour <b>bold</b>"


def documents_of(app, sponsor):
    with app.app_context():
        return db.session.scalar(
            select(func.count(Document.id)).where(
                Document.sponsor_id == sponsor.user_id
            )
        )


def body_of(app, document_id):
    with app.app_context():
        return db.session.get(Document, document_id).body


def edit(body=TYPED, **extra):
    return {"document_name": "Launch plan", "document_body": body, **extra}


def post_from(browser, url, page_html, **data):
    """POST as the page `page_html` would, on revision 1, whatever happened
    since it was served."""
    form = {"csrf_token": csrf_token(page_html), "base_revision": "1", **data}
    return browser.client.post(url, data=form)


# --- Accept and Dismiss name their suggestion ---------------------------


def test_accept_of_a_suggestion_the_page_did_not_show_is_409(
    app, sponsor, drafted, fake_generator, run_queued
):
    page = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    shown = HIDDEN_RES["suggestion_id"].search(page)[1]
    fake_generator.texts = [" a newer text"]
    drafted.post(sponsor, "suggest", {"mode": "beam", "length": "short"})
    run_queued()  # a newer suggestion the page never showed
    response = post_from(
        sponsor, f"/documents/{drafted.id}/accept", page, suggestion_id=shown
    )
    assert response.status_code == 409
    assert "not the newest finished suggestion" in response.get_data(as_text=True)
    assert body_of(app, drafted.id) == "Intro."


def test_accept_while_the_suggestion_is_being_written_is_409(app, sponsor, drafted):
    drafted.post(sponsor, "suggest", {"mode": "beam", "length": "short"})
    response = drafted.post(sponsor, "accept")  # the page shows the queued one
    assert response.status_code == 409
    assert "queued, not written" in response.get_data(as_text=True)
    assert body_of(app, drafted.id) == "Intro."


@pytest.mark.parametrize("action", ["accept", "dismiss"])
def test_accept_or_dismiss_without_a_suggestion_id_is_400(sponsor, drafted, action):
    response = drafted.post(sponsor, action, {"suggestion_id": ""})
    assert response.status_code == 400
    assert "which suggestion" in response.get_data(as_text=True)


def test_dismiss_of_another_suggestion_is_409(sponsor, drafted):
    status = drafted.status()
    response = drafted.post(
        sponsor, "dismiss", {"suggestion_id": status["suggestion_id"] + 1}
    )
    assert response.status_code == 409
    assert drafted.status()["dismissed"] is False


# --- Partial accept ----------------------------------------------------


def test_partial_accept_appends_the_chosen_words_and_marks_only_them(
    app, sponsor, drafted
):
    assert drafted.post(sponsor, "accept", {"words": "3"}).status_code == 302
    assert body_of(app, drafted.id) == "Intro. one two three"
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    body = html[html.index('id="body"') : html.index('id="latest"')]
    marked = re.findall(r'<mark class="machine-word" title[^>]*>([^<]*)</mark>', body)
    assert " ".join(marked).split() == ["one", "two", "three"]
    assert "(3 of 4 words" in html
    assert "accepted 3 of 8 words of the suggestion of revision 1" in html


@pytest.mark.parametrize("words", ["0", "-2", "abc", str(10**12)])
def test_partial_accept_refuses_a_bad_word_count(app, sponsor, drafted, words):
    assert drafted.post(sponsor, "accept", {"words": words}).status_code == 400
    assert body_of(app, drafted.id) == "Intro."


def test_a_word_count_past_the_end_accepts_it_all(app, sponsor, drafted):
    assert drafted.post(sponsor, "accept", {"words": "99"}).status_code == 302
    assert body_of(app, drafted.id) == "Intro." + MACHINE


# --- The body's size limit ----------------------------------------------


def test_a_body_at_the_limit_gets_no_suggestion_that_cannot_fit(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    body = "x" * (DOCUMENT_BODY_MAX - 300)  # room for a short one only
    document_id = create_document(sponsor, editor.user_id, body=body)
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["length"] == "short"  # medium asked for, short fits
    full = create_document(sponsor, editor.user_id, body="y" * DOCUMENT_BODY_MAX)
    status = sponsor.get(f"/documents/{full}/status.json").get_json()
    assert status["status"] == JobStatus.failed.value
    assert "size limit" in status["error"]
    assert len(run_queued()) == 1  # the full one is no job at all


def test_accept_past_the_limit_says_how_many_words_fit(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.texts = [" tail" * 60]
    body = "x" * (DOCUMENT_BODY_MAX - 300)
    document_id = create_document(sponsor, editor.user_id, body=body)
    run_queued()
    with app.app_context():  # the body grew meanwhile, as by another save
        document = db.session.get(Document, document_id)
        document.body = "x" * (DOCUMENT_BODY_MAX - 12)
        db.session.commit()
    page = f"/sponsor/documents/{document_id}"
    response = sponsor.submit(f"/documents/{document_id}/accept", {}, form_url=page)
    assert response.status_code == 409
    assert "first 2 words" in response.get_data(as_text=True)
    ok = sponsor.submit(
        f"/documents/{document_id}/accept", {"words": "2"}, form_url=page
    )
    assert ok.status_code == 302
    assert len(body_of(app, document_id)) == DOCUMENT_BODY_MAX - 2


def test_line_breaks_count_as_one_character_as_on_the_page(
    app, sponsor, editor, drafted
):
    """A browser sends each line break as CRLF; the page's counter, like the
    stored body, counts one character."""
    lines = "line\n" * (DOCUMENT_BODY_MAX // 5)
    assert len(lines) == DOCUMENT_BODY_MAX
    response = sponsor.submit(
        drafted.sponsor_page,
        edit(body=lines.replace("\n", "\r\n"), editor_id=editor.user_id),
    )
    assert response.status_code == 302, re.findall(
        r'class="error"[^>]*>([^<]*)', response.get_data(as_text=True)
    )
    assert body_of(app, drafted.id) == lines


# --- One document per create form ----------------------------------------


def test_the_same_create_form_posted_twice_makes_one_document(app, sponsor, editor):
    page = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "form_key": HIDDEN_RES["form_key"].search(page)[1],
        "document_name": "Twice",
        "document_body": "Clicked twice.",
        "editor_id": editor.user_id,
    }
    first = sponsor.client.post("/sponsor/documents/new", data=data)
    second = sponsor.client.post("/sponsor/documents/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    assert documents_of(app, sponsor) == 1
    another = sponsor.submit(
        "/sponsor/documents/new",
        {k: v for k, v in data.items() if k not in ("csrf_token", "form_key")},
    )
    assert another.status_code == 302 and another.location != first.location


def test_two_racing_creates_with_one_key_make_one_document(
    app, sponsor, editor, monkeypatch
):
    """The second insert of a key loses on the unique constraint, not on the
    check before it, as when two requests check at the same moment."""
    with app.app_context():
        from docdraft.models import User

        owner = db.session.get(User, sponsor.user_id)
        first = document_service.create_document(
            owner, "Race", "Body.", editor.user_id, form_key="k" * 20
        )
        first_id = first.id
        monkeypatch.setattr(document_service, "_created_with", _miss_once())
        again = document_service.create_document(
            owner, "Race", "Body.", editor.user_id, form_key="k" * 20
        )
        assert again.id == first_id
    assert documents_of(app, sponsor) == 1


def _miss_once():
    real = document_service._created_with
    calls = []

    def created_with(sponsor, form_key):
        calls.append(form_key)
        return None if len(calls) == 1 else real(sponsor, form_key)

    return created_with


def test_a_create_form_without_its_key_is_refused_with_the_text_kept(sponsor, editor):
    page = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    response = sponsor.client.post(
        "/sponsor/documents/new",
        data={
            "csrf_token": csrf_token(page),
            "document_name": "No key",
            "document_body": TYPED,
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "reload the page" in html
    assert "Words typed over an hour &lt;b&gt;bold&lt;/b&gt;" in html


# --- Refusals show the typed text ----------------------------------------


def test_a_save_after_logout_shows_the_text_and_leads_back(app, sponsor, drafted):
    page = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    sponsor.logout()  # as from another tab
    response = post_from(sponsor, drafted.sponsor_page, page, **edit())
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Your session has ended" in html
    assert "Words typed over an hour &lt;b&gt;bold&lt;/b&gt;" in html
    assert f'href="/login?next=/documents/{drafted.id}"' in html
    assert f'data-draft-key="document-{drafted.id}"' in html
    # Logging in again leads back to the document's page.
    login = sponsor.client.get("/login").get_data(as_text=True)
    response = sponsor.client.post(
        f"/login?next=/documents/{drafted.id}",
        data={
            "csrf_token": csrf_token(login),
            "email": _email(app, sponsor),
            "password": "correct horse battery",
        },
    )
    assert response.location == f"/documents/{drafted.id}"
    assert sponsor.get(response.location).location == drafted.sponsor_page


def _email(app, browser):
    from docdraft.models import User

    with app.app_context():
        return db.session.get(User, browser.user_id).email


def test_a_save_with_an_expired_token_shows_the_text(app, sponsor, drafted):
    response = sponsor.client.post(
        drafted.sponsor_page,
        data={"csrf_token": "expired", "base_revision": "1", **edit()},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Words typed over an hour" in html
    assert f'href="/documents/{drafted.id}"' in html
    assert body_of(app, drafted.id) == "Intro."


def test_an_ended_session_answers_status_json_with_401_json(sponsor, drafted):
    sponsor.logout()
    response = sponsor.get(f"/documents/{drafted.id}/status.json")
    assert response.status_code == 401
    assert response.get_json()["error"] == 401


@pytest.mark.app_config(MAX_CONTENT_LENGTH=4096)
def test_a_body_over_the_request_limit_states_the_limit_and_names_the_draft(
    app, sponsor, drafted
):
    response = sponsor.submit(drafted.sponsor_page, edit(body="é" * 5000))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "0.0 MB in all" in html or "MB in all" in html
    assert f"{DOCUMENT_BODY_MAX:,} characters" in html
    assert f'data-draft-key="document-{drafted.id}"' in html
    assert 'data-field="draft-restore"' in html
    assert body_of(app, drafted.id) == "Intro."


def test_a_reassigned_editor_is_told_why_and_keeps_the_text(
    app, sponsor, editor, login_as, drafted
):
    stale = editor.get(drafted.editor_page).get_data(as_text=True)
    other = login_as(Role.editor)
    sponsor.submit(
        drafted.sponsor_page, {**edit(body="Intro."), "editor_id": other.user_id}
    )
    response = post_from(editor, drafted.editor_page, stale, **edit())
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "no longer the editor of this document" in html
    assert "Words typed over an hour" in html
    status = editor.get(f"/documents/{drafted.id}/status.json")
    assert status.status_code == 404
    assert "no longer the editor" in status.get_json()["detail"]
    # A stranger learns nothing.
    stranger = login_as(Role.editor).get(f"/documents/{drafted.id}/status.json")
    assert stranger.get_json()["detail"] is None


def test_the_409_page_compares_your_text_with_theirs_and_keeps_the_length(
    app, sponsor, editor, drafted
):
    stale = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    editor.submit(drafted.editor_page, edit(body="Intro. Their sentence."))
    response = post_from(
        sponsor,
        drafted.sponsor_page,
        stale,
        editor_id=editor.user_id,
        suggestion_length="long",
        **edit(body="Intro. My sentence."),
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    section = html[html.index('id="yours-against-theirs"') :]
    section = section[: section.index("</section>")]
    # Theirs struck, yours marked: saving replaces their word with yours.
    assert "<del>Their</del> <ins>My</ins>" in section
    assert '<input type="hidden" name="suggestion_length" value="long">' in html


def test_a_refused_comment_is_shown_next_to_its_box_on_the_document_page(
    sponsor, drafted
):
    long_comment = "c" * 2001
    response = drafted.post(sponsor, "comments", {"body": long_comment})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="comment-body-error"' in html
    assert long_comment in html
    assert "it may have expired" not in html
    assert 'data-counter-for="comment-body"' in html


def test_the_rejected_editor_warning_fits_a_document_in_review(
    app, sponsor, editor, drafted, admin
):
    drafted.post(sponsor, "review", {"action": "submit"})
    admin.post_action(f"/admin/users/{editor.user_id}/reject", from_url="/admin/users")
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    assert "in review with nobody to review it" in html
    assert "before submitting it for review" not in html
