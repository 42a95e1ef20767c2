"""Bodies up to 100,000 characters: saved, refused one past it, sent within the
request limits, shown and diffed, and continued from their end by the model."""

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from docdraft.config import load_config
from docdraft.extensions import db
from docdraft.models import DOCUMENT_BODY_MAX, DOCUMENT_NAME_MAX, Autodoc, Revision

ROOT = Path(__file__).resolve().parents[4]
# A 4-byte UTF-8 character: 12 bytes once urlencoded (%F0%9F%98%80).
WIDEST = "\N{GRINNING FACE}"


def prose(size):
    """Exactly `size` characters of words, sentences and paragraphs."""
    sentence = "The plan covers the launch, the budget and the risks we accept. "
    text = "".join(
        sentence + ("\n\n" if number % 5 == 4 else "") for number in range(size // 60)
    )
    return (text + "x" * size)[:size]


def bodies(app, document_id):
    with app.app_context():
        query = select(Revision.body).where(Revision.document_id == document_id)
        return db.session.scalars(query.order_by(Revision.number)).all()


def test_the_limit_is_100k_characters():
    assert DOCUMENT_BODY_MAX == 100_000


def test_a_body_of_exactly_the_limit_saves_and_shows(
    app, sponsor, editor, create_document
):
    body = prose(DOCUMENT_BODY_MAX)
    document_id = create_document(sponsor, editor.user_id, body=body)
    edited = body.replace("the budget", "the BUDGET", 3)
    editor_page = f"/editor/documents/{document_id}"
    response = editor.submit(
        editor_page, {"document_name": "Launch plan", "document_body": edited}
    )
    assert response.status_code == 302
    assert bodies(app, document_id) == [body, edited]
    page = editor.get(editor_page).get_data(as_text=True)
    assert 'data-max="100000"' in page
    diff = editor.get(f"/documents/{document_id}/diff?from=1&to=2")
    html = diff.get_data(as_text=True)
    assert diff.status_code == 200 and html.count("<ins>BUDGET</ins>") == 3


def test_the_document_page_links_earlier_revisions_instead_of_carrying_them(
    app, sponsor, editor, create_document
):
    body = prose(DOCUMENT_BODY_MAX - 40)
    first = "FIRST ONLY <b>bold?</b> " + body
    document_id = create_document(sponsor, editor.user_id, body=first)
    editor_page = f"/editor/documents/{document_id}"
    for number in (2, 3):
        editor.submit(
            editor_page,
            {"document_name": "Launch plan", "document_body": f"v{number} {body}"},
        )
    html = editor.get(editor_page).get_data(as_text=True)
    # The latest body twice (marked, and in the edit box); no earlier one.
    assert "FIRST ONLY" not in html and "v2 The plan" not in html
    assert len(html) < 2 * len(body) + 40_000
    assert f'href="/documents/{document_id}/revisions/1">Read revision 1</a>' in html
    page = editor.get(f"/documents/{document_id}/revisions/1")
    assert page.status_code == 200
    marked = '<div class="text-card body-text" dir="auto">FIRST ONLY &lt;b&gt;bold?'
    assert marked in page.get_data(as_text=True)
    for number in (0, 4):
        assert (
            editor.get(f"/documents/{document_id}/revisions/{number}").status_code
            == 404
        )


@pytest.mark.parametrize("page", ["/sponsor/documents/new", "editor"])
def test_one_character_more_is_refused_next_to_the_field_and_kept(
    app, sponsor, editor, create_document, page
):
    body = prose(DOCUMENT_BODY_MAX) + "!"
    data = {"document_name": "Long one", "document_body": body}
    if page == "editor":
        document_id = create_document(sponsor, editor.user_id, body="Short.")
        response = editor.submit(f"/editor/documents/{document_id}", data)
        assert bodies(app, document_id) == ["Short."]
    else:
        response = sponsor.submit(page, {**data, "editor_id": editor.user_id})
        assert "Long one" not in sponsor.get("/sponsor/documents").get_data(
            as_text=True
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(
        r'<span class="error" id="document_body-error">'
        r"Keep it to 100,000 characters or fewer\.</span>",
        html,
    )
    assert body in html  # the typed text is back in its box


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart/form-data"])
def test_the_widest_full_form_fits_the_request_limit(
    app, sponsor, editor, create_document, encoding
):
    """100,000 four-byte characters and a 200-character name of them: the
    most a valid form can weigh (urlencoded: 12 bytes a character) saves."""
    body, name = WIDEST * DOCUMENT_BODY_MAX, WIDEST * DOCUMENT_NAME_MAX
    document_id = create_document(sponsor, editor.user_id, body="Short.")
    data = {"document_name": name, "document_body": body}
    assert len(urlencode(data)) > 12 * (DOCUMENT_BODY_MAX + DOCUMENT_NAME_MAX)
    kwargs = {} if encoding == "urlencoded" else {"content_type": encoding}
    response = editor.submit(f"/editor/documents/{document_id}", data, **kwargs)
    assert response.status_code == 302, response.status_code
    assert bodies(app, document_id) == ["Short.", body]


def test_request_limit_covers_the_widest_form_and_nginx_agrees(monkeypatch, tmp_path):
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    limit = load_config(str(tmp_path))["MAX_CONTENT_LENGTH"]
    widest = 12 * (DOCUMENT_BODY_MAX + DOCUMENT_NAME_MAX)
    # Room for the other fields, but not a second body.
    assert widest + 4096 < limit < 2 * widest
    assert limit == 1280 * 1024
    for conf in (
        "services/nginx/docdraft.conf.template",
        "services/prodlocal/nginx.conf.in",
    ):
        sizes = re.findall(r"client_max_body_size (\d+)k;", (ROOT / conf).read_text())
        assert sizes == [str(limit // 1024)], conf


def test_the_model_reads_the_end_of_a_100k_body(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    """The job hands the whole body to the engine, whose prepare step (the
    fake's stands in: one token a word, a 64-token window) keeps its end."""
    # Room left for a medium suggestion: a body at the limit gets none.
    body = prose(DOCUMENT_BODY_MAX - 1000) + " THE END."
    document_id = create_document(sponsor, editor.user_id, body=body)
    run_queued()
    assert fake_generator.calls == [[body]]
    words = len(body.split())
    with app.app_context():
        autodoc = db.session.scalars(select(Autodoc)).one()
        assert (autodoc.prompt_tokens, autodoc.prompt_tokens_cut) == (64, words - 64)
    html = editor.get(f"/editor/documents/{document_id}").get_data(as_text=True)
    assert f"its last 64 tokens. The first {words - 64} tokens are cut." in html


def test_the_engine_window_keeps_the_last_tokens_of_a_100k_body():
    """textgen's own prepare step, with one token a character."""
    from textgen.prompts import prepare_prompt, prompt_window
    from textgen.settings import GenerationSettings

    def tokenizer(text):
        return {"input_ids": [ord(character) for character in text]}

    body = prose(DOCUMENT_BODY_MAX)
    settings = GenerationSettings()
    prepared = prepare_prompt(tokenizer, body, settings, 1024, 100)
    kept = "".join(map(chr, prepared.ids))
    assert len(kept) == prompt_window(settings.length_buckets, 1024, 100)
    assert body.endswith(kept) and len(kept) + prepared.cut == len(body)
