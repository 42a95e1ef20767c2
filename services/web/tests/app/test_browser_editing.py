"""In a real browser: typed text is kept as a draft, the leave warning, partial
accept, keyboard shortcuts, and what the document page does as its suggestion
changes (drafts.js, status.js, shortcuts.js).

Jobs run on the manual backend: the test decides when a suggestion is written
(`run_queued`), so the page is seen while it is pending and after.
"""

import re

import pytest

from docdraft.models import Role

from .conftest import needs_chromium
from .test_browser import create_in_browser, log_in, wait_for_suggestion

pytestmark = needs_chromium

MACHINE = " one two three four five six seven eight"
DRAFTS = """() => Object.keys(localStorage)
    .filter((key) => key.startsWith('docdraft:draft:'))
    .map((key) => [key, JSON.parse(localStorage.getItem(key))])"""


@pytest.fixture
def people(make_user):
    """A sponsor and the editor that create_in_browser assigns."""
    _, sponsor = make_user(Role.sponsor, name="Sia Sponsor")
    _, editor = make_user(Role.editor, name="Eddie Editor")
    return {"sponsor": sponsor, "editor": editor}


@pytest.fixture
def document(live_server, page, people, fake_generator, run_queued):
    """The sponsor's page of a new document whose suggestion is MACHINE."""
    fake_generator.texts = [MACHINE]
    log_in(page, live_server, people["sponsor"])
    create_in_browser(page, live_server, "Launch plan", "Intro.")
    run_queued()
    page.reload()
    wait_for_suggestion(page)
    return page.url


def drafts(page):
    return page.evaluate(DRAFTS)


def type_into_body(page, text):
    """Click and type as a person does (a click gives the page the user
    activation that Chromium asks before any leave warning)."""
    page.click("#document_body")
    page.keyboard.press("End")
    page.keyboard.type(text)


def wait_for_draft(page, body_ends_with):
    page.wait_for_function(
        """(end) => Object.keys(localStorage).some((key) =>
            key.startsWith('docdraft:draft:')
            && JSON.parse(localStorage.getItem(key)).body.endsWith(end))""",
        arg=body_ends_with,
    )


def posts(page):
    """Record the page's POST requests: a shortcut that should do nothing."""
    sent = []
    page.on("request", lambda r: r.method == "POST" and sent.append(r.url))
    return sent


def test_draft_is_offered_after_leaving_and_only_to_its_user(
    live_server, page, document, people
):
    page.fill("#document_name", "Launch plan, second try")
    type_into_body(page, " Typed, never saved.")
    wait_for_draft(page, " Typed, never saved.")
    page.on("dialog", lambda dialog: dialog.accept())  # the leave warning
    page.goto(f"{live_server}/sponsor/documents")

    page.goto(document)
    offer = page.locator("#draft-offer")
    assert re.fullmatch(
        r"You have unsaved text from \d\d:\d\d \(based on revision 1\)\.",
        offer.locator("p").inner_text(),
    )
    assert offer.get_attribute("role") == "status"
    assert page.input_value("#document_body") == "Intro."  # not filled unasked
    offer.get_by_role("button", name="Restore").click()
    assert page.input_value("#document_body") == "Intro. Typed, never saved."
    assert page.input_value("#document_name") == "Launch plan, second try"
    assert offer.count() == 0

    # Another user of this browser is never offered it.
    page.click("text=Log out")
    log_in(page, live_server, people["editor"])
    page.goto(document.replace("/sponsor/", "/editor/"))
    assert page.input_value("#document_body") == "Intro."
    assert page.locator("#draft-offer").count() == 0
    assert page.csp_errors == []


def test_discard_forgets_the_draft(live_server, page, document):
    type_into_body(page, " To be thrown away.")
    wait_for_draft(page, " To be thrown away.")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/sponsor/documents")
    page.goto(document)
    page.get_by_role("button", name="Discard").click()
    assert drafts(page) == []
    page.reload()
    assert page.locator("#draft-offer").count() == 0


def test_draft_of_an_older_revision_is_saved_through_the_conflict_page(
    live_server, page, new_page, document, people, run_queued
):
    """A draft written on revision 1, restored on revision 2, must not
    silently replace revision 2: the save shows what changed (409)."""
    type_into_body(page, " Mine.")
    wait_for_draft(page, " Mine.")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/sponsor/documents")
    other = new_page()  # the same sponsor, in another browser
    log_in(other, live_server, people["sponsor"])
    other.goto(document)
    other.fill("#document_body", "Intro. Theirs.")
    with other.expect_navigation():
        other.click("text=Save revision")

    page.goto(document)
    offer = page.locator("#draft-offer p").inner_text()
    assert "based on revision 1" in offer and "revision 2 is newer" in offer
    page.get_by_role("button", name="Restore").click()
    with page.expect_navigation():
        page.click("text=Save revision")
    assert "Not saved" in page.inner_text("h1")
    assert page.input_value("#document_body") == "Intro. Mine."


def test_draft_is_cleared_by_a_successful_save(live_server, page, document):
    type_into_body(page, " Saved for real.")
    wait_for_draft(page, " Saved for real.")
    with page.expect_navigation():
        page.click("text=Save revision")
    assert "revision 2" in page.inner_text("#body h2")
    assert drafts(page) == []
    page.reload()
    assert page.locator("#draft-offer").count() == 0


def test_new_document_draft_is_cleared_once_created(live_server, page, people):
    log_in(page, live_server, people["sponsor"])
    page.goto(f"{live_server}/sponsor/documents/new")
    page.fill("#document_name", "Kept name")
    page.fill("#document_body", "Kept body.")
    wait_for_draft(page, "Kept body.")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/sponsor/documents")
    page.goto(f"{live_server}/sponsor/documents/new")
    page.get_by_role("button", name="Restore").click()
    assert page.input_value("#document_body") == "Kept body."
    page.select_option("#editor_id", label="Eddie Editor (Acme)")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert drafts(page) == []
    page.goto(f"{live_server}/sponsor/documents/new")
    assert page.locator("#draft-offer").count() == 0


def test_leave_warning_while_unsaved_but_not_on_save(live_server, page, document):
    asked = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.click("text=My documents")  # nothing typed: no question
    page.wait_for_url(f"{live_server}/sponsor/documents")
    assert asked == []

    page.goto(document)
    type_into_body(page, " Unsaved.")
    page.click("text=My documents", no_wait_after=True)
    page.wait_for_function("document.readyState === 'complete'")
    assert asked == ["beforeunload"]
    assert page.url == document
    with page.expect_navigation():
        page.click("text=Save revision")
    assert asked == ["beforeunload"]


def body_after_accept(page):
    with page.expect_navigation():
        page.click('[data-field="accept-label"]')
    return page.input_value("#document_body")


def test_partial_accept_by_click(page, document):
    card = page.locator('#latest [data-field="text"]')
    card.get_by_text("three", exact=True).click()
    assert page.input_value('#accept-form [data-field="words"]') == "3"
    assert page.inner_text('[data-field="accept-label"]') == "Accept 3 of 8 words"
    assert card.locator(".word-left-out").count() == 5
    # The last word: all of it again.
    card.get_by_text("eight", exact=True).click()
    assert page.input_value('#accept-form [data-field="words"]') == ""
    assert page.inner_text('[data-field="accept-label"]') == (
        "Accept: append to the body"
    )
    card.get_by_text("three", exact=True).click()
    assert body_after_accept(page) == "Intro. one two three"
    assert "Machine-written: 75% (3 of 4 words" in page.inner_text("#machine-share")


def test_partial_accept_by_keyboard(page, document):
    card = page.locator('#latest [data-field="text"]')
    assert card.get_attribute("tabindex") == "0"
    assert "arrow keys" in card.get_attribute("aria-label")
    card.focus()
    spoken = page.locator('#latest [data-field="partial-status"]')
    for key in ["ArrowLeft", "ArrowLeft", "ArrowLeft"]:
        page.keyboard.press(key)
    assert spoken.inner_text() == "Accept 5 of 8 words"
    page.keyboard.press("Home")
    assert page.input_value('#accept-form [data-field="words"]') == "1"
    page.keyboard.press("ArrowRight")
    assert spoken.inner_text() == "Accept 2 of 8 words"
    page.keyboard.press("Escape")
    assert page.input_value('#accept-form [data-field="words"]') == ""
    assert spoken.inner_text() == "Accept all 8 words"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    with page.expect_navigation():
        page.keyboard.press("a")  # the accept shortcut takes the chosen words
    assert page.input_value("#document_body") == "Intro. one two"


def test_shortcuts_act_and_are_inert_while_typing(live_server, page, document):
    sent = posts(page)
    page.evaluate("window.__marker = 'same page'")
    assert page.inner_text(".shortcuts-hint") == "Press ? for keyboard shortcuts."

    # Typing in a field: the letters are text, not commands.
    type_into_body(page, " a d t s ?")
    assert page.input_value("#document_body") == "Intro. a d t s ?"
    page.fill("#document_body", "Intro.")
    page.locator("#document_body").blur()
    page.keyboard.press("Alt+d")  # the browser's, not ours

    # ? opens the list; Escape closes it and focus comes back.
    card = page.locator('#latest [data-field="text"]')
    card.focus()
    page.keyboard.press("?")
    assert page.locator("#shortcuts-help").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#shortcuts-help").is_hidden()
    assert page.evaluate("document.activeElement.dataset.field") == "text"
    assert sent == [] and page.evaluate("window.__marker") == "same page"

    # d dismisses; then a does nothing, its button being hidden.
    with page.expect_navigation():
        page.keyboard.press("d")
    assert "Suggestion dismissed." in page.inner_text(".flashes")
    assert page.locator("#accept-form").is_hidden()
    sent.clear()
    page.evaluate("window.__marker = 'same page'")
    page.keyboard.press("a")
    page.keyboard.press("?")
    page.locator("#shortcuts-help").wait_for()
    page.keyboard.press("Escape")
    assert sent == [] and page.evaluate("window.__marker") == "same page"

    # t asks for another; while it is written, a and d do nothing.
    with page.expect_navigation():
        page.keyboard.press("t")
    assert "Another suggestion is being written." in page.inner_text(".flashes")
    sent.clear()
    page.keyboard.press("a")
    page.keyboard.press("d")
    page.keyboard.press("?")
    page.locator("#shortcuts-help").wait_for()
    page.keyboard.press("Escape")
    assert sent == []

    # s saves the edit form.
    page.fill("#document_body", "Intro. Saved by s.")
    page.locator("#document_body").blur()
    with page.expect_navigation():
        page.keyboard.press("s")
    assert "revision 2" in page.inner_text("#body h2")
    assert page.csp_errors == []


def test_try_another_keeps_the_chosen_kind(page, document):
    page.select_option("#try-another-form select[name=mode]", "sample")
    page.select_option("#try-another-form select[name=length]", "long")
    with page.expect_navigation():
        page.click("text=Try another")
    assert page.input_value("#try-another-form select[name=mode]") == "sample"
    assert page.input_value("#try-another-form select[name=length]") == "long"


def status_route(page, payload):
    """Answer the page's status.json with `payload` (a dict changed in place)."""

    def fulfill(route):
        route.fulfill(json=payload)

    page.route("**/status.json", fulfill)


def test_suggestion_id_changes_only_with_the_text_on_screen(page, document):
    ids = page.locator('#latest [data-field="suggestion-id"]')
    first = ids.first.input_value()
    newer = int(first) + 1
    payload = page.evaluate(
        "fetch(document.getElementById('latest').dataset.statusUrl)"
        ".then((r) => r.json())"
    )
    payload.update(status="running", suggestion_id=newer, text=None)
    status_route(page, payload)
    page.locator('#latest [data-field="working"]').wait_for()
    # Written but unseen: Accept is hidden and still names the shown one.
    assert page.locator("#accept-form").is_hidden()
    assert [ids.nth(i).input_value() for i in range(ids.count())] == [first, first]

    payload.update(status="done", text=" brand new words")
    page.locator('#latest [data-field="text"]').filter(
        has_text="brand new words"
    ).wait_for(timeout=15_000)
    assert page.locator("#accept-form").is_visible()
    assert [ids.nth(i).input_value() for i in range(ids.count())] == [
        str(newer),
        str(newer),
    ]


def test_flash_and_token_hint_follow_the_suggestion(
    live_server, page, people, fake_generator, run_queued
):
    log_in(page, live_server, people["sponsor"])
    create_in_browser(page, live_server, "Launch plan", "Intro to Debian.")
    assert "being written" in page.inner_text(".flashes")
    hint = page.locator("#document_body-hint")
    assert "once a suggestion is written" in hint.inner_text()
    run_queued()
    wait_for_suggestion(page)
    page.locator(".flashes .flash").filter(has_text="being written").wait_for(
        state="detached"
    )
    assert hint.inner_text() == "The model reads all 3 tokens of this body."


def test_newer_revision_notice_is_on_screen_while_typing_on_a_phone(
    live_server, new_page, document, people
):
    phone = new_page(width=390, height=844)
    log_in(phone, live_server, people["editor"])
    phone.goto(document.replace("/sponsor/", "/editor/"))
    phone.click("#document_body")
    phone.keyboard.type(" typed on the phone")

    other = new_page()
    log_in(other, live_server, people["sponsor"])
    other.goto(document)
    other.fill("#document_body", "Intro. Newer.")
    with other.expect_navigation():
        other.click("text=Save revision")

    copy = phone.locator('#edit [data-field="newer-copy"]')
    copy.wait_for(timeout=20_000)
    assert phone.evaluate("document.activeElement.id") == "document_body"
    box = copy.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    assert "Revision 2 was saved" in " ".join(copy.inner_text().split())


@pytest.mark.app_config(MAX_CONTENT_LENGTH=64 * 1024)
def test_too_large_save_shows_the_draft_and_the_page_offers_it(page, document):
    """A 413 cannot read the form back: the page shows this browser's draft."""
    pasted = "Pasted from a long report. " * 2700  # 73 KB, over the request limit
    page.fill("#document_body", pasted)
    with page.expect_navigation():
        page.click("#edit-form button[type=submit]")
    assert page.inner_text("h1") == "Error 413"
    kept = page.locator('#kept-text [data-field="draft-restore"]')
    assert page.get_by_label("Your body (kept in this browser)").input_value() == (
        pasted
    )
    assert page.get_by_label("Your name (kept in this browser)").input_value() == (
        "Launch plan"
    )
    assert "The document page will offer it back" in kept.inner_text()

    with page.expect_navigation():
        page.click("text=Back to the page")
    page.get_by_role("button", name="Restore").click()
    assert page.input_value("#document_body") == pasted
    assert page.csp_errors == []
