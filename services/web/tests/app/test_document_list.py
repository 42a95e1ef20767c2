"""The document lists: search, sort, pages, whose turn, and live updates.

Search is PostgreSQL full-text search there and a LIKE scan on SQLite; both
are run by every test here (see conftest). The browser tests drive Chromium
at a phone's width and watch a list follow another user's action.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from docdraft.documents.listing import PAGE_SIZE, search_condition, updated_words
from docdraft.extensions import db
from docdraft.models import Document, Role

from .conftest import Browser, needs_chromium
from .test_browser import log_in

NAME_RE = re.compile(r'<td class="name"><a [^>]*>([^<]*)</a>')
ROW_RE = re.compile(r'<tr data-document-id="(\d+)"')
HREF_RE = re.compile(r'<a rel="(prev|next)" href="([^"]+)"')


def names(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return NAME_RE.findall(response.get_data(as_text=True))


def review(browser, role, document_id, action):
    response = browser.submit(
        f"/documents/{document_id}/review",
        {"action": action, "comment": "Please expand."},
        form_url=f"/{role}/documents/{document_id}",
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def set_updated(app, document_id, moment):
    with app.app_context():
        db.session.execute(
            update(Document).where(Document.id == document_id).values(updated_at=moment)
        )
        db.session.commit()


@pytest.fixture
def library(app, sponsor, editor, create_document):
    """Three documents: words in names and bodies, updated a day apart."""
    documents = {
        "Launch plan": "Write about Debian.",
        "Budget 2027": "Quarterly numbers for the trixie release.",
        "apt notes": "Faster installs; the launch is in spring.",
    }
    ids = {}
    now = datetime.now(UTC)
    for age, (name, body) in enumerate(documents.items()):
        ids[name] = create_document(sponsor, editor.user_id, name=name, body=body)
        set_updated(app, ids[name], now - timedelta(days=age))
    return ids


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("budget", ["Budget 2027"]),  # a word of the name, any case
        ("TRIXIE", ["Budget 2027"]),  # a word of the body
        ("launch", ["Launch plan", "apt notes"]),  # name or body
        ("quarterly trixie", ["Budget 2027"]),  # every word must match
        ("launch spring", ["apt notes"]),
        ("kernel", []),
        ("%", []),  # LIKE's wildcards are searched for, not obeyed
        ("_", []),
        ("\\", []),
        ("'\"&|!:*()<>", []),  # query syntax of to_tsquery does not break it
    ],
)
def test_search_finds_words_of_names_and_bodies(sponsor, library, q, found):
    assert names(sponsor.get("/sponsor/documents", query_string={"q": q})) == found


def test_search_is_within_the_users_own_documents(
    sponsor, editor, login_as, create_document, library
):
    stranger = login_as(Role.sponsor)
    create_document(stranger, editor.user_id, name="Budget of a stranger")
    assert names(sponsor.get("/sponsor/documents?q=budget")) == ["Budget 2027"]
    assert names(stranger.get("/sponsor/documents?q=budget")) == [
        "Budget of a stranger"
    ]
    other_editor = login_as(Role.editor)
    assert names(other_editor.get("/editor/documents?q=budget")) == []
    assert names(editor.get("/editor/documents?q=budget")) == [
        "Budget of a stranger",
        "Budget 2027",
    ]


def test_search_keeps_the_state_filter_and_shows_what_was_searched(
    sponsor, editor, library
):
    review(sponsor, "sponsor", library["apt notes"], "submit")
    listed = sponsor.get("/sponsor/documents?q=launch&state=in_review")
    assert names(listed) == ["apt notes"]
    html = listed.get_data(as_text=True)
    assert 'value="launch"' in html and 'name="state" value="in_review"' in html
    assert '<q dir="auto">launch</q>' in html


def test_an_overlong_search_is_refused_with_its_reason(sponsor):
    response = sponsor.get("/sponsor/documents", query_string={"q": "x" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in response.get_data(as_text=True)


def test_sort_by_updated_name_or_state(app, sponsor, editor, library):
    assert names(sponsor.get("/sponsor/documents")) == [
        "Launch plan",
        "Budget 2027",
        "apt notes",
    ]
    assert names(sponsor.get("/sponsor/documents?sort=updated")) == names(
        sponsor.get("/sponsor/documents")
    )
    assert names(sponsor.get("/sponsor/documents?sort=name")) == [
        "apt notes",
        "Budget 2027",
        "Launch plan",
    ]
    review(sponsor, "sponsor", library["Budget 2027"], "submit")
    review(sponsor, "sponsor", library["apt notes"], "submit")
    review(editor, "editor", library["apt notes"], "request_changes")
    # Workflow order: draft, in review, changes requested, approved.
    assert names(sponsor.get("/sponsor/documents?sort=state")) == [
        "Launch plan",
        "Budget 2027",
        "apt notes",
    ]
    assert sponsor.get("/sponsor/documents?sort=size").status_code == 400


@pytest.fixture
def many(sponsor, editor, create_document):
    """PAGE_SIZE + 2 drafts, "Doc 01" made first, each through the form."""
    for number in range(1, PAGE_SIZE + 3):
        create_document(sponsor, editor.user_id, name=f"Doc {number:02}")
    return PAGE_SIZE + 2


def test_pages_of_25_with_links_that_keep_the_query(sponsor, many):
    first = sponsor.get("/sponsor/documents?q=doc&sort=name&state=draft")
    assert names(first) == [f"Doc {n:02}" for n in range(1, PAGE_SIZE + 1)]
    html = first.get_data(as_text=True)
    assert "27 documents" in html and "page 1 of 2" in html
    links = dict(HREF_RE.findall(html))
    assert "prev" not in links
    assert_query(links["next"], q="doc", sort="name", state="draft", page="2")

    second = sponsor.get(links["next"].replace("&amp;", "&"))
    assert names(second) == ["Doc 26", "Doc 27"]
    links = dict(HREF_RE.findall(second.get_data(as_text=True)))
    assert "next" not in links
    assert_query(links["prev"], q="doc", sort="name", state="draft")


def assert_query(href, **expected):
    query = href.split("?", 1)[1].replace("&amp;", "&")
    assert dict(pair.split("=", 1) for pair in query.split("&")) == expected


@pytest.mark.parametrize("page", ["3", "0002", "999999999", "9" * 40, "9" * 5000])
def test_a_page_past_the_last_shows_the_last(sponsor, many, page):
    response = sponsor.get(f"/sponsor/documents?page={page}")
    assert names(response) == ["Doc 02", "Doc 01"]
    assert "page 2 of 2" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["0", "000", "-1", "abc", "1.5", "²", "1e3", " 2"])
def test_a_page_that_is_no_number_is_refused_with_its_reason(sponsor, page):
    response = sponsor.get("/sponsor/documents", query_string={"page": page})
    assert response.status_code == 400
    assert "page must be a whole number" in response.get_data(as_text=True)


def turns(response):
    """{name: (turn text, updated text)} of a list page."""
    html = response.get_data(as_text=True)
    rows = re.findall(
        r'<td class="name"><a [^>]*>([^<]*)</a>.*?data-field="turn"[^>]*>([^<]*)<'
        r'.*?<time data-field="updated" datetime="([^"]+)"[^>]*>([^<]*)</time>',
        html,
        re.S,
    )
    return {name: (turn, words) for name, turn, _, words in rows}


def test_rows_show_whose_turn_it_is_and_the_last_update(app, sponsor, editor, library):
    review(sponsor, "sponsor", library["Budget 2027"], "submit")
    review(sponsor, "sponsor", library["apt notes"], "submit")
    review(editor, "editor", library["apt notes"], "request_changes")
    set_updated(app, library["Launch plan"], datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    assert turns(sponsor.get("/sponsor/documents")) == {
        "Budget 2027": ("Editor", "just now"),
        "apt notes": ("Yours", "just now"),
        "Launch plan": ("No one", "2026-01-05"),
    }
    assert turns(editor.get("/editor/documents")) == {
        "Budget 2027": ("Yours", "just now"),
        "apt notes": ("Sponsor", "just now"),
        "Launch plan": ("No one", "2026-01-05"),
    }
    html = sponsor.get("/sponsor/documents").get_data(as_text=True)
    assert '<time data-field="updated" datetime="2026-01-05T09:30:00' in html


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=-5), "just now"),  # a clock a little ahead
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=6, hours=23), "6 days ago"),
        (timedelta(days=7), "2026-05-25"),
    ],
)
def test_updated_words(ago, words):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert updated_words(now - ago, now) == words
    assert updated_words((now - ago).replace(tzinfo=None), now) == words  # SQLite


def test_summary_counts_your_turn_and_lists_only_own_rows(
    app, sponsor, editor, login_as, create_document, library
):
    review(sponsor, "sponsor", library["Budget 2027"], "submit")
    stranger = login_as(Role.sponsor)
    create_document(stranger, editor.user_id, name="Budget of a stranger")

    assert sponsor.get("/documents/summary.json").get_json() == {"your_turn": 0}
    assert editor.get("/documents/summary.json").get_json() == {"your_turn": 1}

    summary = sponsor.get("/documents/summary.json?list=1&q=budget").get_json()
    assert summary["your_turn"] == 0
    assert (summary["page"], summary["pages"], summary["total"]) == (1, 1, 1)
    [row] = summary["documents"]
    assert row["id"] == library["Budget 2027"]
    assert row["state"] == "in_review" and row["state_label"] == "in review"
    assert row["turn"] == "editor" and row["turn_label"] == "Editor"
    assert row["yours"] is False and row["updated"] == "just now"
    assert row["updated_at"].endswith("Z")

    rows = editor.get("/documents/summary.json?list=1&q=budget").get_json()
    assert [r["turn_label"] for r in rows["documents"]] == ["No one", "Yours"]
    empty = login_as(Role.editor).get("/documents/summary.json?list=1").get_json()
    assert empty["documents"] == [] and empty["your_turn"] == 0


def test_summary_rows_match_the_page_that_asks(sponsor, library):
    """The list page hands list.js the summary URL of its own query."""
    html = sponsor.get("/sponsor/documents?q=launch&sort=name").get_data(True)
    url = re.search(r'<table [^>]*data-summary-url="([^"]+)"', html).group(1)
    summary = sponsor.get(url.replace("&amp;", "&")).get_json()
    assert [row["id"] for row in summary["documents"]] == [
        int(id_) for id_ in ROW_RE.findall(html)
    ]


def test_the_search_index_serves_postgresql_searches(app, library):
    """PostgreSQL finds words through the GIN index of the migration: the
    query's expression and the index's must stay the same."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite searches with LIKE; it has no such index")
        statement = select(Document.id).where(search_condition("trixie"))
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = db.session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
        db.session.rollback()
    assert "ix_documents_search" in "\n".join(plan)


# In Chromium: a phone's list, and a list that follows another user.

LONG_NAME = "Launch plan for the quarterly infrastructure migration review"


def logged_in(app, email):
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser


# For each word of the name: on one line? (A word cut in two has two boxes.)
WORDS_ON_ONE_LINE = """(link) => {
    const node = link.firstChild, text = node.textContent, result = [];
    for (const match of text.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = Array.from(range.getClientRects());
        const tops = new Set(rects.map((r) => Math.round(r.top)));
        result.push([match[0], tops.size]);
    }
    return result;
}"""


@needs_chromium
def test_a_phone_wraps_names_between_words_and_cuts_off_no_column(
    app, live_server, new_page, make_user, create_document
):
    _, sponsor_email = make_user(Role.sponsor)
    editor_id, _ = make_user(Role.editor, name="Eddie Editor")
    sponsor = logged_in(app, sponsor_email)
    create_document(sponsor, editor_id, name=LONG_NAME)
    create_document(sponsor, editor_id, name="Launch")

    page = new_page(width=390, height=800)
    log_in(page, live_server, sponsor_email)
    page.goto(f"{live_server}/sponsor/documents")
    link = page.locator("td.name a", has_text=LONG_NAME)
    words = link.evaluate(WORDS_ON_ONE_LINE)
    assert [word for word, lines in words if lines != 1] == [], words
    assert len(words) == len(LONG_NAME.split())

    overflow = page.evaluate(
        """() => {
        const table = document.querySelector('table.documents');
        return [document.documentElement.scrollWidth
                    - document.documentElement.clientWidth,
                table.scrollWidth - table.parentElement.clientWidth];
    }"""
    )
    assert overflow[0] <= 0 and overflow[1] <= 0, overflow
    # Every cell, the job's included, lies within the screen.
    rights = page.eval_on_selector_all(
        "table.documents td", "cells => cells.map(c => c.getBoundingClientRect().right)"
    )
    assert rights and max(rights) <= 390
    assert page.locator("table.documents .status").first.is_visible()
    assert page.csp_errors == []


@needs_chromium
def test_your_turn_and_rows_follow_another_users_action_without_reload(
    app, live_server, new_page, make_user, create_document
):
    _, sponsor_email = make_user(Role.sponsor)
    editor_id, editor_email = make_user(Role.editor, name="Eddie Editor")
    sponsor = logged_in(app, sponsor_email)
    document_id = create_document(sponsor, editor_id, name="Launch plan")

    page = new_page()
    page.clock.install()  # the test, not the wall clock, says when 10 s passed
    log_in(page, live_server, editor_email)
    page.goto(f"{live_server}/editor/documents")
    assert page.inner_text("#your-turn") == "Your turn: 0"
    row = page.locator(f'tr[data-document-id="{document_id}"]')
    assert row.locator('[data-field="turn"]').inner_text() == "No one"
    assert page.locator("#list-changed").is_hidden()
    page.evaluate("window.__marker = 'same page'")

    review(sponsor, "sponsor", document_id, "submit")
    page.clock.run_for(11_000)
    page.locator("#your-turn", has_text="Your turn: 1").wait_for(timeout=10_000)
    assert row.locator('[data-field="turn"]').inner_text() == "Yours"
    assert row.locator('[data-field="state"]').inner_text() == "in review"
    assert page.inner_text("#list-changed") == "1 document changed: reload"
    assert page.evaluate("window.__marker") == "same page"  # no reload happened

    # On a document's page too, the count follows.
    page.goto(f"{live_server}/editor/documents/{document_id}")
    assert page.inner_text("#your-turn") == "Your turn: 1"
    review(logged_in(app, editor_email), "editor", document_id, "request_changes")
    page.clock.run_for(11_000)
    page.locator("#your-turn", has_text="Your turn: 0").wait_for(timeout=10_000)
    assert page.csp_errors == []
