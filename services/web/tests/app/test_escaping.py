"""Model output and user text are data, never markup, on every page."""

import pytest

from docdraft.models import Role

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "</textarea><script>alert(2)</script>",
    "{{7*7}} {% print 'ssti' %}",
    '<svg onload="alert(3)"><circle/></svg>',
]
RAW_MARKERS = [
    "<script>alert",
    "<img src=x",
    '<a href="javascript:',
    "<svg onload",
    "</textarea><script>",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_model_output_is_escaped_everywhere(
    app, sponsor, editor, admin, create_document, fake_generator, run_queued, hostile
):
    fake_generator.texts = [hostile]
    document_id = create_document(sponsor, editor.user_id, name=hostile, body=hostile)
    run_queued()
    pages = [
        sponsor.get("/sponsor/documents"),
        sponsor.get(f"/sponsor/documents/{document_id}"),
        editor.get("/editor/documents"),
        editor.get(f"/editor/documents/{document_id}"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        for marker in RAW_MARKERS:
            assert marker not in html
        if hostile.startswith("{{"):
            assert "{{7*7}}" in html  # shown as typed, never evaluated
    status = sponsor.get(f"/documents/{document_id}/status.json")
    assert status.mimetype == "application/json"
    assert status.get_json()["text"] == hostile


@pytest.mark.parametrize("hostile", HOSTILE)
def test_accepted_hostile_output_stays_text_in_the_marked_body(
    sponsor, editor, create_document, fake_generator, run_queued, hostile
):
    fake_generator.texts = [" " + hostile]
    document_id = create_document(sponsor, editor.user_id, body="Start")
    run_queued()
    page = f"/sponsor/documents/{document_id}"
    sponsor.submit(f"/documents/{document_id}/accept", {}, form_url=page)
    sponsor.submit(
        f"/documents/{document_id}/comments", {"body": hostile}, form_url=page
    )
    for html in (
        sponsor.get(page).get_data(as_text=True),
        sponsor.get(f"/documents/{document_id}/diff?from=1&to=2").get_data(True),
    ):
        assert '<mark class="machine-word"' in html or "<ins>" in html
        for marker in RAW_MARKERS:
            assert marker not in html


def test_hostile_user_fields_are_escaped_on_admin_page(admin, make_user):
    make_user(Role.sponsor, name="<script>alert('name')</script>")
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "<script>alert('name')" not in html
    assert "&lt;script&gt;alert(" in html


def test_error_message_from_generator_is_escaped(
    sponsor, editor, create_document, fake_generator, run_queued
):
    fake_generator.error = RuntimeError("<img src=x onerror=alert(1)>")
    document_id = create_document(sponsor, editor.user_id)
    run_queued()
    html = sponsor.get(f"/sponsor/documents/{document_id}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_pages_send_a_strict_content_security_policy(sponsor):
    response = sponsor.get("/sponsor/documents")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script


def test_no_code_or_weights_are_served_as_static(client, app):
    from pathlib import Path

    static = Path(app.static_folder)
    files = [path for path in static.rglob("*") if path.is_file()]
    # A vendored package (static/vendor/) keeps its licence beside its code.
    notices = {"LICENSE", "NOTICE", "VERSION"}
    served = {path.suffix for path in files if path.name not in notices}
    assert served <= {".css", ".js", ".svg"}
    assert client.get("/static/../__init__.py").status_code == 404
    assert client.get("/static/js/status.js").status_code == 200
