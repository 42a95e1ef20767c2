"""When the database is away: a 503 page with Retry-After, never a bare 500."""

import re

import pytest

from .conftest import Browser


def test_a_logged_in_page_during_a_database_outage_is_a_503(
    make_app, sponsor, editor, create_document
):
    document_id = create_document(sponsor, editor.user_id)
    cookie = sponsor.client.get_cookie("session")
    down = make_app(SQLALCHEMY_DATABASE_URI="postgresql://u:p@127.0.0.1:1/gone")
    visitor = Browser(down.test_client())
    visitor.client.set_cookie("session", cookie.value)
    for url in (f"/sponsor/documents/{document_id}", "/sponsor/documents"):
        response = visitor.get(url)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "Content-Security-Policy" in response.headers
        assert response.headers["Cache-Control"] == "no-store"
        assert "Briefly unavailable" in response.get_data(as_text=True)
        assert "Nothing you saved is lost" in response.get_data(as_text=True)
    assert visitor.get("/readyz").status_code == 503
    assert visitor.get("/healthz").status_code == 200


@pytest.mark.app_config(PROPAGATE_EXCEPTIONS=False)
def test_an_unexpected_error_is_a_plain_500_with_a_request_id(app, client, caplog):
    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom", "boom", boom)
    response = client.get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    request_id = re.search(r"Request id: ([0-9a-f]{12})", html).group(1)
    assert "secret internals" not in html and "Traceback" not in html
    assert "Content-Security-Policy" in response.headers
    assert request_id in caplog.text  # the id leads to the logged traceback


def test_a_connection_dropped_as_the_request_ends_still_gives_the_page(
    app, client, monkeypatch, caplog
):
    """PostgreSQL restarting between a page and its session's rollback."""
    from sqlalchemy.exc import OperationalError

    from docdraft.extensions import db

    calls = []
    remove = db.session.remove

    def dropped():  # the first request's rollback fails, later ones work
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))
        remove()

    monkeypatch.setattr(db.session, "remove", dropped)
    response = client.get("/login")
    assert calls and response.status_code == 200
    assert "connection lost ending a request" in caplog.text
