"""When the database is away: a 503 page with Retry-After, never a bare 500."""

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
    assert visitor.get("/readyz").status_code == 503
    assert visitor.get("/healthz").status_code == 200
