"""In a real browser: the document page follows its job without a reload.

Runs headless Chromium (Debian's `chromium`) through Playwright against a real
server on 127.0.0.1. The generator waits until the test releases it, so the
page is seen both while the job is pending and after it is done.
"""

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from docdraft.jobs import generator as generator_module
from docdraft.models import Role

from .conftest import PASSWORD, FakeGenerator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
HOSTILE = '<img src=x onerror="window.__pwned = 1">{{7*7}}'


class GatedGenerator(FakeGenerator):
    """Blocks inside generate() until `release` is set."""

    def __init__(self, texts):
        super().__init__(texts=texts)
        self.release = threading.Event()

    def generate(self, prompts):
        assert self.release.wait(60), "test never released the generator"
        return super().generate(prompts)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.csp_errors = []
        page.on(
            "console",
            lambda m: (
                "Content Security Policy" in m.text and page.csp_errors.append(m.text)
            ),
        )
        yield page
        browser.close()


def log_in(page, server, email):
    page.goto(f"{server}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


@pytest.mark.app_config(JOB_BACKEND="inprocess")
def test_document_page_shows_machine_text_without_reload(
    app, live_server, page, make_user
):
    generator = GatedGenerator([HOSTILE])
    app.extensions[generator_module.EXTENSION_KEY] = generator
    _, sponsor_email = make_user(Role.sponsor)
    make_user(Role.editor, name="Eddie Editor")

    log_in(page, live_server, sponsor_email)
    page.goto(f"{live_server}/sponsor/documents/new")
    page.fill("#document_name", "Release notes")
    page.fill("#document_body", "Debian 13 brings")
    page.select_option("#editor_id", label="Eddie Editor (Acme)")
    with page.expect_navigation():
        page.click("main button[type=submit]")

    status = page.locator('#latest [data-field="status"]')
    assert status.text_content() in ("queued", "running")
    page.evaluate("window.__marker = 'same page'")
    generator.release.set()
    status.filter(has_text="done").wait_for(timeout=30_000)

    machine = page.locator('#latest [data-field="text"]')
    assert machine.text_content() == HOSTILE  # shown as text, not markup
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    assert page.evaluate("window.__pwned") is None
    assert page.locator('#latest [data-field="working"]').is_hidden()
    assert page.csp_errors == []
