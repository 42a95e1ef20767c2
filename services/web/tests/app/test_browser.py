"""In a real browser: the document page follows its job without a reload.

Runs headless Chromium (Debian's `chromium`) through Playwright against a real
server on 127.0.0.1. The generator waits until the test releases it, so the
page is seen both while the job is pending and after it is done.
"""

import os
import threading

import pytest

from docdraft.jobs import generator as generator_module
from docdraft.models import Role

from .conftest import PASSWORD, FakeGenerator, needs_chromium

pytestmark = needs_chromium
HOSTILE = '<img src=x onerror="window.__pwned = 1">{{7*7}}'


class GatedGenerator(FakeGenerator):
    """Blocks inside generate() until `release` is set."""

    def __init__(self, texts):
        super().__init__(texts=texts)
        self.release = threading.Event()

    def generate(self, prompts, on_compile=None):
        assert self.release.wait(60), "test never released the generator"
        return super().generate(prompts)


def log_in(page, server, email):
    page.goto(f"{server}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def create_in_browser(page, server, name, body="Debian 13 brings"):
    """Fill the new-document form for the editor 'Eddie Editor' and submit it."""
    page.goto(f"{server}/sponsor/documents/new")
    page.fill("#document_name", name)
    page.fill("#document_body", body)
    page.select_option("#editor_id", label="Eddie Editor (Acme)")
    with page.expect_navigation():
        page.click("main button[type=submit]")


@pytest.mark.app_config(JOB_BACKEND="inprocess")
def test_document_page_shows_machine_text_without_reload(
    app, live_server, page, make_user
):
    generator = GatedGenerator([HOSTILE])
    generator_module.install(app, generator)
    _, sponsor_email = make_user(Role.sponsor)
    make_user(Role.editor, name="Eddie Editor")

    log_in(page, live_server, sponsor_email)
    create_in_browser(page, live_server, "Release notes")

    status = page.locator('#latest [data-field="status"]')
    assert status.text_content() in ("queued", "running")
    page.evaluate("window.__marker = 'same page'")
    generator.release.set()
    status.filter(has_text="done").wait_for(timeout=30_000)

    machine = page.locator('#latest [data-field="text"]')
    assert machine.text_content() == HOSTILE  # shown as text, not markup
    # The revision list follows too: it must not still say "running".
    assert page.locator('#revision-1 [data-status-of="1"]').text_content() == "done"
    assert page.locator('[data-text-of="1"]').text_content() == HOSTILE
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    assert page.evaluate("window.__pwned") is None
    assert page.locator('#latest [data-field="working"]').is_hidden()
    assert page.csp_errors == []


# An unbroken 450-character link: it must wrap, never widen the page.
LONG_WORD = "https://www.debian.org/releases/" + "trixie-release-notes-" * 20
SUGGESTION = (
    " a new installer, faster apt and better documentation. Read the notes"
    f" at {LONG_WORD}"
)


def assert_no_sideways_scroll(page):
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (
            f"{page.url} scrolls sideways by {overflow}px at {width}px"
        )
    page.set_viewport_size({"width": 1280, "height": 900})


def wait_for_suggestion(page):
    page.locator('#latest [data-field="status"]').filter(has_text="done").wait_for(
        timeout=30_000
    )


@pytest.mark.app_config(JOB_BACKEND="inprocess")
def test_review_flow_from_prompt_to_approved_export(
    app, live_server, new_page, make_user, tmp_path
):
    generator_module.install(app, FakeGenerator(texts=[SUGGESTION]))
    _, sponsor_email = make_user(Role.sponsor, name="Sia Sponsor")
    _, editor_email = make_user(Role.editor, name="Eddie Editor")
    shots = os.environ.get("DOCDRAFT_SCREENSHOTS")

    # The sponsor creates a document, accepts the suggestion, submits it.
    sponsor = new_page()
    log_in(sponsor, live_server, sponsor_email)
    create_in_browser(sponsor, live_server, "Release notes for Debian 13")
    document_url = sponsor.url
    document_id = document_url.rsplit("/", 1)[1]
    wait_for_suggestion(sponsor)
    with sponsor.expect_navigation():
        sponsor.click("text=Accept: append to the body")
    assert "Machine-written: 81% (13 of 16 words" in sponsor.inner_text(
        "#machine-share"
    )
    wait_for_suggestion(sponsor)
    assert_no_sideways_scroll(sponsor)
    with sponsor.expect_navigation():
        sponsor.click("text=Submit for review")
    assert sponsor.inner_text(".doc-name .state") == "in review"

    # The editor sees it is their turn, and a second tab keeps an old form.
    editor = new_page()
    log_in(editor, live_server, editor_email)
    assert editor.inner_text("#your-turn") == "Your turn: 1"
    editor.goto(f"{live_server}/editor/documents/{document_id}")
    stale = new_page(width=390)
    log_in(stale, live_server, editor_email)
    stale.goto(f"{live_server}/editor/documents/{document_id}")
    stale.fill("#document_body", "Typed in the old tab, never lost.")

    # The editor changes a machine word and saves.
    body = editor.input_value("#document_body")
    editor.fill("#document_body", body.replace("faster", "quicker"))
    with editor.expect_navigation():
        editor.click("text=Save revision")
    marked = editor.locator("#body .body-text mark").all_inner_texts()
    assert "new installer," in marked[0] and "quicker" not in " ".join(marked)
    if shots:
        editor.screenshot(path=os.path.join(shots, "document-review.png"))

    # The old tab is told, then its save is refused with the text kept.
    stale.locator('#latest [data-field="newer"]').wait_for(timeout=20_000)
    assert stale.inner_text('[data-field="newer-number"]') == "3"
    with stale.expect_navigation():
        stale.click("text=Save revision")
    assert "Not saved" in stale.inner_text("h1")
    assert stale.input_value("#document_body") == "Typed in the old tab, never lost."
    assert stale.locator("#changes .diff ins").first.inner_text() == "quicker"
    assert_no_sideways_scroll(stale)

    # The editor approves; the document is locked.
    wait_for_suggestion(editor)
    with editor.expect_navigation():
        editor.click("text=Approve")
    assert editor.inner_text(".doc-name .state") == "approved"
    assert editor.locator("text=Save revision").count() == 0

    # The sponsor downloads the approved text.
    sponsor.goto(document_url)
    with sponsor.expect_download() as download:
        sponsor.click("text=Markdown")
    path = tmp_path / "export.md"
    download.value.save_as(path)
    exported = path.read_text()
    assert exported.startswith("# Release notes")
    assert "Debian 13 brings a new installer, quicker apt and better" in exported
    if shots:
        sponsor.goto(f"{live_server}/sponsor/documents")
        sponsor.screenshot(path=os.path.join(shots, "document-list.png"))
    for page in (sponsor, editor, stale):
        assert_no_sideways_scroll(page)
        assert page.csp_errors == []


def test_csp_blocks_injected_inline_script_handlers_and_javascript_links(
    live_server, page, make_user
):
    """As if an escape were missed: markup injected into a real page stays inert."""
    _, email = make_user(Role.sponsor)
    log_in(page, live_server, email)
    page.goto(f"{live_server}/sponsor/documents")
    page.evaluate(
        """() => {
        window.__violations = [];
        document.addEventListener('securitypolicyviolation',
            (e) => window.__violations.push(e.violatedDirective));
        const script = document.createElement('script');
        script.textContent = 'window.__inline = 1';
        document.body.appendChild(script);
        const holder = document.createElement('div');
        holder.innerHTML = '<img src="/nothing.png" onerror="window.__onerror = 1">'
            + '<a id="evil" href="javascript:window.__link = 1">x</a>';
        document.body.appendChild(holder);
    }"""
    )
    page.click("#evil")
    page.wait_for_timeout(500)
    ran = page.evaluate("[window.__inline, window.__onerror, window.__link]")
    assert ran == [None, None, None]
    violations = page.evaluate("window.__violations")
    assert len(violations) >= 3, violations
    assert all(v.startswith("script-src") for v in violations)
