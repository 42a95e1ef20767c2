"""Bidi controls cannot disguise a name or reorder a text (docdraft.forms).

Names (a user's, an organization's, a document's) take none; bodies and
comments refuse the controls that reorder text (embeddings, overrides,
isolates) and keep the direction marks right-to-left writers type.
"""

import re

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.models import Document, User

from .conftest import PASSWORD

RLO = "\u202e"  # right-to-left override: "invoice\u202eexe.pdf" shows "invoicefdp.exe"
REORDERING = ["\u202a", "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067"]
REORDERING += ["\u2068", "\u2069"]
MARKS = ["\u200e", "\u200f", "\u061c"]
NAME_ERROR = "Remove the text-direction control characters"
TEXT_ERROR = "Remove the text-direction overrides, embeddings and isolates"


def signup(browser, **changes):
    data = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "organization": "Babbage and Co",
        **changes,
    }
    return browser.submit("/signup/sponsor", data)


def users(app):
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


@pytest.mark.parametrize("character", REORDERING + MARKS)
@pytest.mark.parametrize("field", ["name", "organization"])
def test_a_signup_name_refuses_bidi_controls_next_to_the_field(
    app, browser, field, character
):
    response = signup(browser, **{field: f"Ada{character}Lovelace"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">[^<]*{NAME_ERROR}', html)
    assert users(app) == 0


def test_a_password_is_taken_as_typed(app, browser):
    password = f"{PASSWORD}{RLO}\u200f"
    response = signup(browser, password=password, confirm=password)
    assert response.status_code == 302
    assert users(app) == 1


def documents(app):
    with app.app_context():
        return db.session.scalars(select(Document.body)).all()


def new_document(sponsor, editor, name="Plan", body="Body"):
    return sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": name, "document_body": body, "editor_id": editor.user_id},
    )


@pytest.mark.parametrize("character", [RLO, "\u2067", "\u200f"])
def test_a_document_name_refuses_bidi_controls(app, sponsor, editor, character):
    response = new_document(sponsor, editor, name=f"invoice{character}fdp.exe")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="document_name-error">[^<]*{NAME_ERROR}', html)
    assert "invoice" in html  # the typed text stays in the form
    assert documents(app) == []


@pytest.mark.parametrize("character", REORDERING)
def test_a_body_refuses_controls_that_reorder_text(app, sponsor, editor, character):
    response = new_document(sponsor, editor, body=f"Pay {character}001 to 100")
    assert response.status_code == 400
    assert TEXT_ERROR in response.get_data(as_text=True)
    assert documents(app) == []


@pytest.mark.parametrize("mark", MARKS)
def test_a_body_keeps_direction_marks(app, sponsor, editor, mark):
    body = f"שלום{mark} (Debian 12)"
    assert new_document(sponsor, editor, body=body).status_code == 302
    assert documents(app) == [body]


def test_a_comment_refuses_an_override_and_keeps_a_mark(sponsor, drafted):
    refused = drafted.post(sponsor, "comments", {"body": f"ok {RLO}cba"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert re.search(rf'id="comment-body-error">[^<]*{TEXT_ERROR}', html)
    kept = drafted.post(sponsor, "comments", {"body": "שלום\u200f (ok)"})
    assert kept.status_code == 302
