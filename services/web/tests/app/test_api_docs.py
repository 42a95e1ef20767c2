"""/api/docs: Swagger UI over the OpenAPI document, every asset from the app."""

import re

from .test_api_core import issue_token


def test_docs_page_is_public_and_loads_nothing_from_elsewhere(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(source.startswith(("/", "#")) for source in sources), sources
    assert "<script>" not in html  # no inline script: the CSP forbids it
    bundle = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200


def test_swagger_ui_renders_under_the_strict_csp(live_server, page):
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/documents" in [text.replace("\u200b", "") for text in summaries]
    assert page.csp_errors == []


def test_try_it_out_with_a_token(app, live_server, page, sponsor):
    """The page sends the typed token, and shows the API's answer."""
    token = issue_token(app, sponsor.user_id)
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector(".opblock")
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    page.locator(".auth-container input").first.fill(token)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator(".btn-done").click()
    operation = page.locator("#operations-documents-list_documents")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    status.first.wait_for()
    assert status.first.inner_text().strip().startswith("200")
    assert "Launch plan" not in operation.inner_text()  # none yet: an empty list
    assert '"documents": []' in operation.locator(".live-responses-table").inner_text()
    assert page.csp_errors == []
