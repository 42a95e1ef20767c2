"""In a real browser, the two ways work was lost: accepting a suggestion that
was never on screen, and saving after the session ended in another tab.
(The third, a save over the size limit, is in test_browser_editing.py.)
"""

from docdraft.models import Role

from . import test_browser_editing as editing
from .conftest import PASSWORD, needs_chromium
from .test_browser import log_in
from .test_browser_editing import type_into_body, wait_for_draft

# The fixtures of test_browser_editing.py, used by name.
document = editing.document
people = editing.people
pytestmark = needs_chromium


def test_accept_is_not_offered_while_a_suggestion_is_written(
    app, page, document, fake_generator
):
    fake_generator.texts = [" never shown"]
    page.select_option("#length", "short")
    with page.expect_navigation():
        page.click("#try-another-form button[type=submit]")
    # The new suggestion is queued: its card is empty, and no button or
    # shortcut accepts what is not on screen.
    assert page.is_hidden("#accept-form button")
    assert page.is_hidden("#dismiss-form button")
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert "never shown" not in page.inner_text("#body")
    # A form posted anyway (an old tab, a script) is refused by the server.
    with page.expect_navigation():
        page.evaluate("document.getElementById('accept-form').submit()")
    assert "not written" in page.inner_text("main")
    assert "never shown" not in page.content()


def test_a_save_after_logging_out_in_another_tab_keeps_the_text(
    live_server, page, document, people
):
    typed = " A paragraph written while the other tab logged out."
    type_into_body(page, typed)
    wait_for_draft(page, typed)
    other_tab = page.context.new_page()
    other_tab.goto(document)
    with other_tab.expect_navigation():
        other_tab.click("header form button.link")  # Log out
    other_tab.close()

    with page.expect_navigation():
        page.click("#edit-form button[type=submit]")
    assert "Your session has ended" in page.inner_text("main")
    assert typed.strip() in page.input_value("#kept-document_body")

    with page.expect_navigation():
        page.click("text=Log in and go back to the page")
    page.fill("#email", people["sponsor"])
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url == document
    # Back on the document, this browser's draft is offered.
    offer = page.locator("text=You have unsaved text")
    offer.wait_for()
    page.click("text=Restore")
    assert page.input_value("#document_body").endswith(typed)


def test_an_open_page_says_when_its_editor_was_reassigned(
    live_server, page, new_page, document, people, make_user
):
    make_user(Role.editor, name="Olga Other")
    editor_page = new_page()
    log_in(editor_page, live_server, people["editor"])
    editor_page.goto(document.replace("/sponsor/", "/editor/"))
    gone = editor_page.locator('[data-field="gone"]')
    assert gone.is_hidden()

    page.reload()  # Olga joined after the page was served
    page.select_option("#editor_id", label="Olga Other (Acme)")
    with page.expect_navigation():
        page.click("#edit-form button[type=submit]")

    gone.wait_for(timeout=15_000)  # the page's next status check
    assert "no longer the editor of this document" in gone.inner_text()
