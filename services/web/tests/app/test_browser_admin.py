"""In a real browser at 1280 px: the admin tables show every column, their
scroll regions take keyboard focus, and a refused form moves focus to its
error summary (forms.js).

The rows hold long but plausible values (long emails and names, a reason
of 500 characters), since they decide the widths.
"""

import os

import pytest

from docdraft.models import Role, UserStatus

from .conftest import needs_chromium
from .test_browser import log_in

pytestmark = needs_chromium

LONG_EMAIL = "maximilian.featherstonehaugh-worthington@research.example-university.org"
LONG_NAME = "Maximilian Alexander Featherstonehaugh-Worthington"
REASON = "Not a member of any organization we work with; " * 10

# Every cell, button and link of the region's table, with what the region shows:
# the boxes are compared with the region's, so a cell scrolled out of a
# table-scroll's view counts as cut off although it is inside the window.
CUT_OFF = """(region) => {
  const shown = region.getBoundingClientRect();
  const right = Math.min(shown.right, document.documentElement.clientWidth);
  return Array.from(region.querySelectorAll('th, td, button, a'))
    .filter((el) => { const box = el.getBoundingClientRect();
      return box.left < shown.left - 0.5 || box.right > right + 0.5; })
    .map((el) => el.tagName + ': ' + el.textContent.trim().slice(0, 40));
}"""


@pytest.fixture
def admin_email(make_user):
    return make_user(Role.admin, name="Ada Admin")[1]


@pytest.fixture
def crowded_users(make_user, login_as, create_document):
    """Users whose rows are as wide as they get; returns the pending one's id."""
    pending_id, _ = make_user(
        Role.editor,
        UserStatus.pending,
        name=LONG_NAME,
        email=LONG_EMAIL,
    )
    editor = login_as(Role.editor, name=f"{LONG_NAME} II")
    sponsor = login_as(Role.sponsor)
    for _ in range(2):  # "Reject (2 open documents)"
        create_document(sponsor, editor.user_id)
    return pending_id


def assert_all_shown(page, selector):
    if os.environ.get("DOCDRAFT_SCREENSHOTS"):
        name = page.url.rsplit("/", 1)[1] + ".png"
        page.screenshot(path=os.path.join(os.environ["DOCDRAFT_SCREENSHOTS"], name))
    region = page.locator(selector)
    assert region.evaluate("(el) => el.scrollWidth <= el.clientWidth"), (
        f"{selector} scrolls sideways at 1280 px"
    )
    assert region.evaluate(CUT_OFF) == []


def tab_until(page, selector, presses=60):
    """Press Tab from the top of the page until `selector` has focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return True
    return False


def poll(page, expression, tries=50):
    """True once `expression` is; page.wait_for_function would need eval,
    which the Content-Security-Policy refuses."""
    for _ in range(tries):
        if page.evaluate(expression):
            return True
        page.wait_for_timeout(100)
    return False


def test_admin_users_table_shows_every_action_at_1280(
    app, live_server, page, admin_email, crowded_users
):
    log_in(page, live_server, admin_email)
    page.goto(f"{live_server}/admin/users")
    assert page.viewport_size["width"] == 1280
    assert page.get_by_role("button", name="End sessions").count() == 3
    assert page.get_by_text("Reject (2 open documents)").count() == 2  # both ends
    assert_all_shown(page, ".table-scroll")
    assert tab_until(page, ".table-scroll")
    assert page.csp_errors == []


def test_audit_log_shows_every_column_and_scrolls_by_keyboard(
    app, live_server, page, admin_email, crowded_users, login_as
):
    # Who and whom both long: two long emails side by side in one row.
    admin = login_as(Role.admin, email=f"admin.{LONG_EMAIL}")
    reject = f"/admin/users/{crowded_users}/reject"
    assert admin.submit(reject, {"reason": REASON[:500]}).status_code == 302

    log_in(page, live_server, admin_email)
    page.goto(f"{live_server}/admin/audit")
    headers = page.locator("table.audit th").all_inner_texts()
    assert headers[-2:] == ["Detail", "From"]
    assert page.get_by_text(REASON[:60]).is_visible()
    assert_all_shown(page, ".table-scroll")

    region = page.locator(".table-scroll")
    assert region.get_attribute("role") == "region"
    assert region.get_attribute("aria-label")
    assert tab_until(page, ".table-scroll"), "the audit log cannot be reached by Tab"
    # At phone width it scrolls, and the keyboard scrolls it.
    page.set_viewport_size({"width": 390, "height": 800})
    assert region.evaluate("(el) => el.scrollWidth > el.clientWidth")
    region.focus()
    page.keyboard.press("ArrowRight")
    assert poll(page, "document.querySelector('.table-scroll').scrollLeft > 0")
    assert page.csp_errors == []


def test_refused_form_moves_focus_to_the_error_summary(live_server, page, make_user):
    _, email = make_user(Role.sponsor)
    log_in(page, live_server, email)
    page.goto(f"{live_server}/account/password")
    assert page.evaluate("document.activeElement === document.body")
    page.fill("#current_password", "not my password")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    # forms.js runs deferred, before the load event that navigation waits for.
    assert page.evaluate("document.activeElement.id") == "error-summary"
    # From the summary, Tab reaches its first link to a field.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#error-summary') !== null")
    assert page.csp_errors == []
