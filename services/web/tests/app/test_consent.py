"""Training consent: the checkbox on every sponsor's document form, the
sponsor's default on /account, the consent route, status.json and the timeline."""

import re

import pytest

from docdraft.extensions import db
from docdraft.models import Event, EventKind, User

from .conftest import csrf_token

LABEL = "Use this document to train our team&#39;s model"
GAVE = "gave consent to train the team&#39;s model"
WITHDREW = "withdrew consent to train the team&#39;s model"


def box(html, box_id="train_consent"):
    """The checkbox input with this id, or None."""
    match = re.search(rf'<input[^>]*\bid="{box_id}"[^>]*>', html)
    return match.group(0) if match else None


def is_checked(html, box_id="train_consent"):
    found = box(html, box_id)
    assert found is not None, f"no checkbox #{box_id}"
    return " checked" in found


def consent_events(app, document_id):
    with app.app_context():
        events = db.session.scalars(
            db.select(Event)
            .where(Event.document_id == document_id, Event.kind == EventKind.consent)
            .order_by(Event.id)
        ).all()
        return [(e.actor_id, e.detail) for e in events]


def new_document(sponsor, editor_id, **extra):
    data = {
        "document_name": "Plan",
        "document_body": "Write about Debian.",
        "editor_id": editor_id,
        **extra,
    }
    response = sponsor.submit("/sponsor/documents/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.location.rsplit("/", 1)[1])


def status(browser, document_id):
    return browser.get(f"/documents/{document_id}/status.json").get_json()


def edit(browser, document_id, role="sponsor", **extra):
    page = f"/{role}/documents/{document_id}"
    data = {"document_name": "Plan", "document_body": "Write about Debian.", **extra}
    if role == "sponsor":
        data.setdefault("editor_id", extra.pop("editor_id", None))
    return browser.submit(page, data)


def post_consent(browser, document_id, on, page):
    data = {"train_consent": "y"} if on else {}
    return browser.submit(f"/documents/{document_id}/consent", data, form_url=page)


def test_off_by_default_and_on_when_ticked_at_create(app, sponsor, editor):
    form = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    assert LABEL in form
    assert not is_checked(form)

    without = new_document(sponsor, editor.user_id)
    assert status(sponsor, without)["train_consent"] is False
    assert consent_events(app, without) == []

    ticked = new_document(sponsor, editor.user_id, train_consent="y")
    assert status(sponsor, ticked)["train_consent"] is True
    assert consent_events(app, ticked) == [(sponsor.user_id, {"on": True})]
    page = sponsor.get(f"/sponsor/documents/{ticked}").get_data(as_text=True)
    assert GAVE in page
    assert is_checked(page)  # the edit form shows it as it is


def test_the_default_from_account_ticks_the_new_form(app, sponsor, editor):
    account = sponsor.get("/account").get_data(as_text=True)
    assert not is_checked(account, "train_consent_default")
    saved = sponsor.submit("/account/training", {"train_consent_default": "y"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(User, sponsor.user_id).train_consent_default is True
    assert is_checked(
        sponsor.get("/account").get_data(as_text=True), "train_consent_default"
    )
    form = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    assert is_checked(form)

    # Unticking the box on the form still wins over the default.
    document_id = new_document(sponsor, editor.user_id)
    assert status(sponsor, document_id)["train_consent"] is False

    assert sponsor.submit("/account/training", {}).status_code == 302
    assert not is_checked(sponsor.get("/sponsor/documents/new").get_data(as_text=True))


def test_only_sponsors_have_a_default_and_it_needs_csrf(app, sponsor, editor, client):
    assert (
        box(editor.get("/account").get_data(as_text=True), "train_consent_default")
        is None
    )
    refused = editor.submit(
        "/account/training", {"train_consent_default": "y"}, form_url="/account"
    )
    assert refused.status_code == 403
    no_token = sponsor.client.post(
        "/account/training", data={"train_consent_default": "y"}
    )
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.get(User, sponsor.user_id).train_consent_default is False
    anonymous = client.post("/account/training", data={})
    assert anonymous.status_code in (302, 400)  # login first, or no token


def test_an_edit_gives_and_withdraws_consent(app, sponsor, editor):
    document_id = new_document(sponsor, editor.user_id)
    given = edit(sponsor, document_id, editor_id=editor.user_id, train_consent="y")
    assert given.status_code == 302
    assert status(sponsor, document_id)["train_consent"] is True
    # An unchanged box records nothing more.
    edit(sponsor, document_id, editor_id=editor.user_id, train_consent="y")
    withdrawn = edit(sponsor, document_id, editor_id=editor.user_id)
    assert withdrawn.status_code == 302
    assert status(sponsor, document_id)["train_consent"] is False
    who = sponsor.user_id
    assert consent_events(app, document_id) == [
        (who, {"on": True}),
        (who, {"on": False}),
    ]
    page = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert GAVE in page and WITHDREW in page


def test_the_consent_route_works_on_an_approved_document(app, sponsor, editor):
    document_id = new_document(sponsor, editor.user_id)
    sponsor_page = f"/sponsor/documents/{document_id}"
    review = f"/documents/{document_id}/review"
    assert (
        sponsor.submit(review, {"action": "submit"}, form_url=sponsor_page).status_code
        == 302
    )
    editor_page = f"/editor/documents/{document_id}"
    assert (
        editor.submit(review, {"action": "approve"}, form_url=editor_page).status_code
        == 302
    )
    page = sponsor.get(sponsor_page).get_data(as_text=True)
    assert 'id="edit-form"' not in page  # locked: no edit form
    assert not is_checked(page, "consent-train_consent")

    assert post_consent(sponsor, document_id, True, sponsor_page).status_code == 302
    assert status(sponsor, document_id)["train_consent"] is True
    assert is_checked(
        sponsor.get(sponsor_page).get_data(as_text=True), "consent-train_consent"
    )
    assert post_consent(sponsor, document_id, False, sponsor_page).status_code == 302
    assert status(sponsor, document_id)["train_consent"] is False
    assert consent_events(app, document_id) == [
        (sponsor.user_id, {"on": True}),
        (sponsor.user_id, {"on": False}),
    ]
    # Archived documents too.
    sponsor.submit(
        f"/sponsor/documents/{document_id}/archive", {}, form_url=sponsor_page
    )
    assert status(sponsor, document_id)["archived"] is True
    assert post_consent(sponsor, document_id, True, sponsor_page).status_code == 302
    assert status(sponsor, document_id)["train_consent"] is True


def test_an_editor_cannot_change_consent(app, sponsor, editor, login_as):
    document_id = new_document(sponsor, editor.user_id, train_consent="y")
    editor_page = f"/editor/documents/{document_id}"
    page = editor.get(editor_page).get_data(as_text=True)
    assert 'name="train_consent"' not in page
    assert "Only the sponsor can change this." in page

    # The editor's edit form ignores the field; the body change is saved.
    saved = edit(editor, document_id, role="editor", document_body="New text.")
    assert saved.status_code == 302
    assert status(editor, document_id)["revision"] == 2
    assert status(editor, document_id)["train_consent"] is True
    # The consent route: 403 for the editor who sees it, 404 for others.
    assert post_consent(editor, document_id, False, editor_page).status_code == 403
    other_sponsor = login_as()
    refused = post_consent(other_sponsor, document_id, False, "/sponsor/documents")
    assert refused.status_code == 404
    assert status(sponsor, document_id)["train_consent"] is True
    assert consent_events(app, document_id) == [(sponsor.user_id, {"on": True})]


def test_the_consent_route_needs_csrf(app, sponsor, editor):
    document_id = new_document(sponsor, editor.user_id)
    response = sponsor.client.post(
        f"/documents/{document_id}/consent", data={"train_consent": "y"}
    )
    assert response.status_code == 400
    assert status(sponsor, document_id)["train_consent"] is False


@pytest.mark.parametrize("ticked", [True, False])
def test_a_refused_form_keeps_the_box_as_posted(app, sponsor, editor, ticked):
    extra = {"train_consent": "y"} if ticked else {}
    refused = sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": " ", "document_body": "Kept.", "editor_id": editor.user_id}
        | extra,
    )
    assert refused.status_code == 400
    assert is_checked(refused.get_data(as_text=True)) is ticked

    document_id = new_document(
        sponsor, editor.user_id, train_consent="" if ticked else "y"
    )
    page = f"/sponsor/documents/{document_id}"
    refused_edit = sponsor.submit(
        page,
        {"document_name": "Plan", "document_body": " ", "editor_id": editor.user_id}
        | extra,
    )
    assert refused_edit.status_code == 400
    assert is_checked(refused_edit.get_data(as_text=True)) is ticked


def test_a_conflict_keeps_the_box_as_posted(app, sponsor, editor):
    document_id = new_document(sponsor, editor.user_id)
    page = f"/sponsor/documents/{document_id}"
    html = sponsor.get(page).get_data(as_text=True)
    stale = {
        "csrf_token": csrf_token(html),
        "base_revision": "1",
        "document_name": "Plan",
        "document_body": "Mine.",
        "editor_id": editor.user_id,
        "train_consent": "y",
    }
    edit(sponsor, document_id, editor_id=editor.user_id, document_body="Theirs.")
    conflict = sponsor.client.post(page, data=stale)
    assert conflict.status_code == 409
    assert is_checked(conflict.get_data(as_text=True))
    assert status(sponsor, document_id)["train_consent"] is False


def test_an_edit_form_left_open_does_not_undo_a_consent_change(app, sponsor, editor):
    """Tab 1 shows the edit form (box off); tab 2 gives consent; tab 1 saves
    its text with the box as it showed it: consent stays given. Ticking or
    unticking the box in tab 1 would still change it."""
    document_id = new_document(sponsor, editor.user_id)
    page = f"/sponsor/documents/{document_id}"
    stale = sponsor.get(page).get_data(as_text=True)
    assert 'name="train_consent_shown" type="hidden" value="0"' in stale
    assert post_consent(sponsor, document_id, True, page).status_code == 302

    saved = sponsor.client.post(
        page,
        data={
            "csrf_token": csrf_token(stale),
            "base_revision": "1",
            "train_consent_shown": "0",
            "document_name": "Plan",
            "document_body": "Write about Debian, and about its releases.",
            "editor_id": editor.user_id,
        },
    )
    assert saved.status_code == 302
    assert status(sponsor, document_id)["train_consent"] is True
    assert consent_events(app, document_id) == [(sponsor.user_id, {"on": True})]

    withdrawn = edit(sponsor, document_id, editor_id=editor.user_id)
    assert withdrawn.status_code == 302
    assert status(sponsor, document_id)["train_consent"] is False
