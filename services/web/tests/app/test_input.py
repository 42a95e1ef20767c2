"""Hostile input gets a clear refusal: size, control characters, huge ids."""

import pytest

from .conftest import csrf_token


def test_an_oversized_request_is_413_and_saves_nothing(app, sponsor, editor):
    page = sponsor.get("/sponsor/documents/new").get_data(as_text=True)
    response = sponsor.client.post(
        "/sponsor/documents/new",
        data={
            "csrf_token": csrf_token(page),
            "document_name": "Big",
            "document_body": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 413
    assert "larger than this server takes" in response.get_data(as_text=True)
    assert "Big" not in sponsor.get("/sponsor/documents").get_data(as_text=True)


@pytest.mark.parametrize("value", ["a\x00b", "tab\there", "bell\x07", "del\x7f"])
def test_control_characters_in_a_name_are_a_form_error(sponsor, editor, value):
    response = sponsor.submit(
        "/sponsor/documents/new",
        {"document_name": value, "document_body": "ok", "editor_id": editor.user_id},
    )
    assert response.status_code == 400
    assert "Remove the control characters." in response.get_data(as_text=True)


def test_a_nul_in_the_login_form_is_a_form_error(browser):
    response = browser.login("ada\x00@example.org", "pass\x00word")
    assert response.status_code == 400
    assert "Remove the control characters." in response.get_data(as_text=True)


def test_tabs_and_newlines_stay_allowed_in_a_body(sponsor, editor):
    response = sponsor.submit(
        "/sponsor/documents/new",
        {
            "document_name": "Lines",
            "document_body": "one\n\ttwo\r\nthree",
            "editor_id": editor.user_id,
        },
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "/sponsor/documents/99999999999999",
        "/documents/99999999999999/status.json",
        "/documents/2147483648/diff?from=1&to=2",
    ],
)
def test_an_id_beyond_the_integer_range_is_404(sponsor, url):
    assert sponsor.get(url).status_code == 404
