"""The markup of every page: unique ids, labelled controls, isolated user text.

Each kind of user visits every GET page of the app, found in the URL map (a
new page is checked without being listed here), and the HTML is parsed with
the standard library's parser. A duplicate id makes `label[for]` and
`aria-describedby` point at the wrong element, so a screen reader reads the
wrong label; a control without a label is announced as "edit text".

Names, bodies, comments and model output may be Hebrew or Arabic: each must
sit in an element of its own with `dir="auto"` (or a `<bdi>`), so that it
is shown in its own direction without reversing the English around it.
"""

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from flask import url_for

from docdraft.extensions import db
from docdraft.models import LanguageModel, ModelOrigin, Role, User, UserStatus
from docdraft.training import registry

# Pages that answer with something other than HTML: these, and every rule
# whose path ends in a file name (status.json, export.md, export.txt...).
NON_HTML = {"static", "metrics", "main.healthz", "main.readyz"}
FILE_NAME = re.compile(r"\.\w+$")
# Query strings a page needs to show something (see `Scene`).
QUERY = {"documents.diff": {"from": 1, "to": 2}}
# Pages each kind of user must reach with a 200, so the crawl cannot pass
# by seeing only login redirects and error pages.
MUST_SEE = {
    "sponsor": {"sponsor.documents", "sponsor.document", "documents.diff"},
    "editor": {"editor.documents", "editor.document", "documents.diff"},
    "admin": {
        "admin.users",
        "admin.audit_log",
        "admin.reject",
        "auth.account",
        "admin.models_page",
        "admin.model_page",
    },
    "pending": {"main.index"},
    "anonymous": {"auth.login", "auth.signup"},
}

# Right-to-left user text: Hebrew and Arabic names, bodies and comments.
SPONSOR_NAME = "דנה כהן"
EDITOR_NAME = "سارة العلي"
ADMIN_NAME = "מנהלת המערכת"
PENDING_NAME = "يوسف حداد"
DOCUMENT_NAME = "תוכנית השקה"
RENAMED = "תוכנית השקה מעודכנת"
BODY = "اكتب عن ديبيان."
MACHINE = " והמשך הטקסט כאן"
COMMENT = "הערה על הגרסה"
RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")

CONTROLS = {"input", "textarea", "select"}
NOT_LABELLED = {"hidden", "submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link"}
VOID |= {"meta", "source", "track", "wbr"}
# Parts of one text (word marks, diff marks) inherit its direction.
TEXT_PARTS = {"mark", "ins", "del"}
# The document's <title> cannot carry dir; option labels are WTForms'.
NO_DIR = {"title", "option"}


@dataclass
class Element:
    tag: str
    attrs: dict
    line: int
    text: str = ""


@dataclass
class PageMarkup(HTMLParser):
    """Collects ids, labels, controls and the elements holding each text."""

    ids: Counter = field(default_factory=Counter)
    empty_ids: list = field(default_factory=list)  # lines of id=""
    label_for: set = field(default_factory=set)
    controls: list = field(default_factory=list)  # (Element, inside a label)
    references: list = field(default_factory=list)  # (Element, attribute, id)
    texts: list = field(default_factory=list)  # (text, [Element, ...] innermost last)
    stack: list = field(default_factory=list)

    def __post_init__(self):
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self.getpos()[0])
        self._note(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if data.strip():
            self.texts.append((data, list(self.stack)))

    def _note(self, element):
        attrs = element.attrs
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        elif "id" in attrs:
            self.empty_ids.append(element.line)
        if element.tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        for name in ("for", "aria-labelledby", "aria-describedby"):
            if name != "for" or element.tag == "label":
                for target in attrs.get(name, "").split():
                    self.references.append((element, name, target))
        if element.tag in CONTROLS:
            kind = attrs.get("type", "text").lower()
            if element.tag != "input" or kind not in NOT_LABELLED:
                wrapped = any(open_.tag == "label" for open_ in self.stack)
                self.controls.append((element, wrapped))
            if element.tag == "input" and RTL.search(attrs.get("value", "")):
                self.texts.append((attrs["value"], [*self.stack, element]))


def parse(html):
    page = PageMarkup()
    page.feed(html)
    page.close()
    return page


def describe(element):
    attrs = " ".join(f'{k}="{v}"' for k, v in element.attrs.items() if k != "value")
    return f"line {element.line}: <{element.tag} {attrs}>"


def markup_problems(html):
    """Duplicate ids, dangling references and unlabelled controls of a page."""
    page = parse(html)
    problems = [f'id="{name}" used {n} times' for name, n in page.ids.items() if n > 1]
    problems += [f'empty id="" at line {line}' for line in page.empty_ids]
    problems += [
        f'{name}="{target}" names no element, at {describe(element)}'
        for element, name, target in page.references
        if target not in page.ids
    ]
    problems += [
        f"unlabelled control at {describe(element)}"
        for element, wrapped in page.controls
        if not (wrapped or _labelled(element.attrs, page))
    ]
    return problems


def _labelled(attrs, page):
    if attrs.get("aria-label", "").strip():
        return True
    if attrs.get("aria-labelledby", "").strip():
        return True  # its targets are checked with the other references
    # A label names the first element with its id: a shared id labels nothing.
    name = attrs.get("id")
    return bool(name) and name in page.label_for and page.ids[name] == 1


def direction_problems(html):
    """Right-to-left text that does not sit in its own dir="auto" element."""
    problems = []
    for text, elements in parse(html).texts:
        if not RTL.search(text) or any(e.tag in NO_DIR for e in elements):
            continue
        holder = _holder(elements)
        if not (holder.tag == "bdi" or holder.attrs.get("dir") == "auto"):
            problems.append(f"{text.strip()!r} in {describe(holder)}")
    return problems


def _holder(elements):
    """The element that decides a text's direction (marks inherit it)."""
    inner = list(elements)
    while len(inner) > 1 and inner[-1].tag in TEXT_PARTS:
        inner.pop()
    return inner[-1]


@dataclass
class Scene:
    """Browsers for each kind of user, and ids for every page's arguments."""

    browsers: dict
    documents: list
    pending_id: int
    models: list

    def values(self, argument):
        return {
            "document_id": self.documents,
            "user_id": [self.pending_id],
            "number": [1, 2],  # revision numbers
            "role_name": ["sponsor", "editor"],
            "model_id": self.models,  # the base model, and one trained from it
            # Links from mail (reset, unsubscribe): one that does not work; the
            # reset form behind a working one is checked in test_password_reset.
            "token": ["no-such-token"],
        }.get(argument)


@pytest.fixture
def scene(app, login_as, create_document, fake_generator, run_queued):
    """Three documents that between them show every part of the document page.

    The first has two revisions (a diff), a rename, two suggestions of its head
    revision, a comment and is in review; the second's suggestion is still
    queued; the third is archived.
    """
    sponsor = login_as(Role.sponsor, name=SPONSOR_NAME)
    editor = login_as(Role.editor, name=EDITOR_NAME)
    admin = login_as(Role.admin, name=ADMIN_NAME)
    pending = login_as(Role.editor, UserStatus.pending, name=PENDING_NAME)
    fake_generator.texts = [MACHINE]

    reviewed = create_document(sponsor, editor.user_id, DOCUMENT_NAME, BODY)
    run_queued()
    page = f"/sponsor/documents/{reviewed}"
    _post(
        sponsor,
        page,
        page,
        document_name=RENAMED,
        document_body=f"{BODY} {BODY}",
        editor_id=editor.user_id,
        suggestion_length="short",
    )
    run_queued()
    actions = f"/documents/{reviewed}"
    _post(sponsor, f"{actions}/suggest", page, mode="sample", length="short")
    run_queued()
    _post(sponsor, f"{actions}/comments", page, body=COMMENT)
    _post(sponsor, f"{actions}/review", page, action="submit")

    archived = create_document(sponsor, editor.user_id, DOCUMENT_NAME, BODY)
    run_queued()
    archive = f"/sponsor/documents/{archived}/archive"
    assert sponsor.post_action(archive, from_url="/").status_code == 302
    # Left queued: its page shows a suggestion still being written.
    queued = create_document(sponsor, editor.user_id, DOCUMENT_NAME, BODY)

    browsers = {
        "sponsor": sponsor,
        "editor": editor,
        "admin": admin,
        "pending": pending,
        "anonymous": type(sponsor)(app.test_client()),
    }
    models = _registry(app, sponsor.user_id, admin.user_id)
    return Scene(browsers, [reviewed, queued, archived], pending.user_id, models)


def _registry(app, sponsor_id, admin_id):
    """A right-to-left named base model, and one trained from it for the
    sponsor, active, with metrics and a loss curve: every part of both
    registry pages."""
    with app.app_context():
        base = registry.register_base("מודל בסיס", "models/seed", "seed", "a" * 64)
        trained = LanguageModel(
            name="מודל הצוות",
            origin=ModelOrigin.trained,
            reference="store/" + "b" * 64,
            sha256="b" * 64,
            base_id=base.id,
            audience=[db.session.get(User, sponsor_id)],
            metrics={"val_perplexity_base": 40.0, "val_perplexity": 25.0},
            progress={"step": 3, "planned_steps": 9, "losses": [[0, 3.0, 3.1]]},
        )
        db.session.add(trained)
        db.session.commit()
        registry.activate(trained, [sponsor_id], db.session.get(User, admin_id))
        return [base.id, trained.id]


def _post(browser, url, form_url, **data):
    response = browser.submit(url, data, form_url=form_url)
    assert response.status_code == 302, response.get_data(as_text=True)


def get_pages(app, scene):
    """Every GET page of the app with each set of arguments: (url, endpoint)."""
    pages = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or _non_html(rule):
                continue
            arguments = sorted(rule.arguments)
            choices = [scene.values(name) for name in arguments]
            missing = [n for n, c in zip(arguments, choices, strict=True) if c is None]
            assert not missing, f"{rule.rule}: give Scene.values a value for {missing}"
            for values in itertools.product(*choices):
                query = QUERY.get(rule.endpoint, {})
                named = dict(zip(arguments, values, strict=True))
                url = url_for(rule.endpoint, **named, **query)
                pages.append((url, rule.endpoint))
    return pages


def _non_html(rule):
    api = rule.rule.startswith("/api/v1/")  # JSON (docdraft.api)
    return api or rule.endpoint in NON_HTML or FILE_NAME.search(rule.rule)


def visit_all(app, scene, role, check):
    """Visit every page as `role`; returns the problems `check` finds."""
    browser = scene.browsers[role]
    problems, seen = [], set()
    for url, endpoint in get_pages(app, scene):
        response = browser.get(url, follow_redirects=True)
        kind = response.mimetype
        assert kind == "text/html", f"{url} answers {kind}: add it to NON_HTML"
        if response.status_code == 200 and not response.history:
            seen.add(endpoint)
        problems += [f"{url}: {p}" for p in check(response.get_data(as_text=True))]
    assert MUST_SEE[role] <= seen, f"{role} never saw {MUST_SEE[role] - seen}"
    return problems


@pytest.mark.parametrize("role", sorted(MUST_SEE))
def test_every_page_has_unique_ids_and_labelled_controls(app, scene, role):
    problems = visit_all(app, scene, role, markup_problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["sponsor", "editor", "admin", "pending"])
def test_user_text_shows_in_its_own_direction(app, scene, role):
    problems = visit_all(app, scene, role, direction_problems)
    assert not problems, "\n".join(problems)


def refused_forms(scene):
    """Pages shown after a refused POST: (browser, url, data, form url)."""
    sponsor, editor = scene.browsers["sponsor"], scene.browsers["editor"]
    reviewed, queued = scene.documents[0], scene.documents[1]
    return {
        "signup": (scene.browsers["anonymous"], "/signup/editor", {"name": ""}, None),
        "login": (scene.browsers["anonymous"], "/login", {"email": "x"}, None),
        "new document": (sponsor, "/sponsor/documents/new", {}, None),
        "document": (
            sponsor,
            f"/sponsor/documents/{queued}",
            {"document_name": "", "document_body": BODY},
            None,
        ),
        "stale save": (
            editor,
            f"/editor/documents/{reviewed}",
            {"document_name": RENAMED, "document_body": "ابدأ", "base_revision": "1"},
            None,
        ),
        "password": (sponsor, "/account/password", {"new_password": "x"}, None),
        "reject": (
            scene.browsers["admin"],
            f"/admin/users/{scene.pending_id}/reject",
            {"reason": "x" * 5000},
            None,
        ),
    }


@pytest.mark.parametrize(
    "name",
    ["signup", "login", "new document", "document", "stale save", "password", "reject"],
)
def test_refused_forms_keep_ids_unique_and_controls_labelled(scene, name):
    browser, url, data, form_url = refused_forms(scene)[name]
    response = browser.submit(url, data, form_url=form_url)
    assert response.status_code in (400, 409), response.status_code
    html = response.get_data(as_text=True)
    problems = markup_problems(html) + direction_problems(html)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("export", "content_type"),
    [
        ("export.md", "text/markdown; charset=utf-8"),
        ("export.txt", "text/plain; charset=utf-8"),
    ],
)
def test_exports_name_their_charset_once(drafted, sponsor, export, content_type):
    response = sponsor.get(f"/documents/{drafted.id}/{export}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type


def test_checker_finds_what_it_looks_for():
    """The parser itself: each kind of problem is reported, a clean page is not."""
    page = """
      <form><input type="hidden" name="csrf_token" id="csrf_token">
      <input type="hidden" name="csrf_token" id="csrf_token">
      <textarea name="body" id="body"></textarea>
      <label>Wrapped <input name="q"></label>
      <input name="n" aria-describedby="nowhere">
      <p>Sponsor: <span>דנה</span> <bdi>دنا</bdi></p>
      <div dir="auto"><mark>עברית</mark></div></form>"""
    problems = markup_problems(page)
    assert 'id="csrf_token" used 2 times' in problems
    assert any("unlabelled control" in p and 'name="body"' in p for p in problems)
    shared = '<label for="body">Comment</label><textarea id="body"></textarea>'
    assert any("unlabelled" in p for p in markup_problems(f'<p id="body"></p>{shared}'))
    assert any("names no element" in p for p in problems)
    assert not any('name="q"' in p for p in problems)
    assert direction_problems(page) == ["'דנה' in line 7: <span >"]
