"""Fixtures for the web app: a real database, real forms, real logins.

Every app test runs on SQLite and, when TEST_DATABASE_URL is set, again on
PostgreSQL. The schema is built once per database by the Alembic migrations
(so they are tested too); each test then starts from empty tables.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import flask_migrate
import pytest
import redis
from sqlalchemy import text
from werkzeug.serving import make_server

from docdraft import create_app
from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.jobs import generator as generator_module
from docdraft.jobs.runner import queued_job_ids
from docdraft.jobs.serving import run_jobs
from docdraft.models import Role, User, UserStatus

DATABASES = ["sqlite"]
if os.environ.get("TEST_DATABASE_URL"):
    DATABASES.append("postgresql")

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)

# Hidden fields a page's forms carry, which a browser posts back as shown.
HIDDEN_RES = {
    name: re.compile(rf'name="{name}"[^>]*?value="([^"]+)"')
    for name in ("base_revision", "suggestion_id", "form_key", "train_consent_shown")
}


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory):
    """A migrated, empty database for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = os.environ["TEST_DATABASE_URL"]
    app = create_app(_config(url))
    with app.app_context():
        _drop_everything()
        flask_migrate.upgrade()
    yield url
    with app.app_context():
        flask_migrate.downgrade(revision="base")
        db.engine.dispose()


def pytest_collection_modifyitems(config, items):
    """Browser tests run on SQLite only: they test what the page does, and
    every server behaviour they touch is tested on both databases over HTTP.
    (Chromium is the slowest part of the suite.)"""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        in_browser = "chromium" in getattr(item, "fixturenames", ())
        on_postgresql = params.get("database_url") == "postgresql"
        (dropped if in_browser and on_postgresql else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _drop_everything():
    """Leftovers of an interrupted earlier run must not break this one."""
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _config(url, **overrides):
    return {
        "TESTING": True,
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": url,
        "JOB_BACKEND": "manual",
        "TEXTGEN_WARMUP": False,
        # The suite logs in hundreds of times from 127.0.0.1; the limits
        # have tests of their own that turn them on.
        "RATELIMIT_ENABLED": False,
        # Still scrypt, at 1/32 of the cost: the suite hashes and checks
        # thousands of passwords (test_auth checks the real setting).
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        **overrides,
    }


@pytest.fixture
def make_app(database_url, tmp_path, monkeypatch):
    """Create apps on the session's database; empties the tables afterwards."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    home = create_app(_config(database_url))  # empties the tables afterwards
    apps = [home]

    def factory(**overrides):
        apps.append(create_app(_config(database_url, **overrides)))
        return apps[-1]

    yield factory
    for app in apps:  # no worker thread of this test may outlive it
        dispatch.backend(app).stop()
    with home.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    for app in apps:  # every app has its own pool: close it, or PostgreSQL runs out
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app, request):
    """The app under test; `@pytest.mark.app_config(KEY=value)` overrides config."""
    marker = request.node.get_closest_marker("app_config")
    return make_app(**(marker.kwargs if marker else {}))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class FakeGeneratorInfo:
    name: str = "fake-generator"
    weights_sha256: str = "f" * 64


@dataclass
class FakeSettings:
    def as_dict(self):
        return {"max_length": 100, "num_beams": 5}


@dataclass
class FakePrepared:
    ids: tuple
    cut: int
    new_tokens: int


@dataclass
class FakeGenerator:
    """Returns fixed texts (or raises), to test what the app does with them."""

    texts: list = field(default_factory=lambda: ["a continuation"])
    error: Exception | None = None
    info: FakeGeneratorInfo = field(default_factory=FakeGeneratorInfo)
    settings: FakeSettings = field(default_factory=FakeSettings)
    calls: list = field(default_factory=list)  # the prompts of each call
    requests: list = field(default_factory=list)  # every textgen Request
    compiling: bool = False  # announce a compile before the first call

    window: int = 64

    def prepare(self, prompt, new_tokens=None):
        """Words stand in for tokens; like the engine, keep the last `window`."""
        ids = tuple(range(len(prompt.split())))
        return FakePrepared(
            ids=ids[-self.window :],
            cut=max(len(ids) - self.window, 0),
            new_tokens=new_tokens or 100,
        )

    def generate(self, requests, on_compile=None):
        self.calls.append([request.prompt for request in requests])
        self.requests.extend(requests)
        if self.compiling and on_compile is not None:
            on_compile(16, 1, "beam")
            self.compiling = False
        if self.error is not None:
            raise self.error
        return [self.texts[i % len(self.texts)] for i in range(len(requests))]

    def running_batch(self, rows=8):
        return FakeBatch(self, rows)


@dataclass(frozen=True)
class FakeFinished:
    key: object
    text: str


class FakeBatch:
    """textgen's StaticBatch over FakeGenerator.generate: what was admitted
    since the last advance runs as one call (the engine-neutral batch)."""

    def __init__(self, generator, rows):
        self.generator, self.rows, self.waiting = generator, rows, {}

    def __len__(self):
        return len(self.waiting)

    def keys(self):
        return list(self.waiting)

    def free_rows(self):
        return self.rows - len(self.waiting)

    def admit(self, key, request):
        prepared = self.generator.prepare(request.prompt, request.new_tokens)
        self.waiting[key] = request
        return prepared

    def advance(self, on_compile=None):
        if not self.waiting:
            return []
        keys, requests = list(self.waiting), list(self.waiting.values())
        self.waiting.clear()

        def compiling(*_program):
            if on_compile:
                on_compile(keys)

        texts = self.generator.generate(requests, on_compile=compiling)
        return [FakeFinished(k, t) for k, t in zip(keys, texts, strict=True)]


@pytest.fixture
def fake_generator(app):
    generator = FakeGenerator()
    generator_module.install(app, generator)
    return generator


@pytest.fixture
def run_queued(app):
    """Run every queued job through the worker's own code path."""

    def run():
        with app.app_context():
            return [autodoc.id for autodoc in run_jobs(queued_job_ids())]

    return run


def csrf_token(page_html):
    match = CSRF_RE.search(page_html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class Browser:
    """Drives the app like a person: loads a page, submits its form with CSRF."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def submit(self, url, data, form_url=None, **kwargs):
        """POST `data` with the page's CSRF token and, like a browser, the
        hidden fields the page showed: its revision, its suggestion, its form
        key (unless `data` sets them)."""
        html = self.client.get(form_url or url).get_data(as_text=True)
        hidden = {"csrf_token": csrf_token(html)}
        for name, pattern in HIDDEN_RES.items():
            found = pattern.search(html)
            if found:
                hidden[name] = found.group(1)
        return self.client.post(url, data={**hidden, **data}, **kwargs)

    def post_action(self, url, from_url="/login"):
        """POST a button form (approve, retry, logout...) with a valid token."""
        page = self.client.get(from_url, follow_redirects=True)
        token = csrf_token(page.get_data(as_text=True))
        return self.client.post(url, data={"csrf_token": token})

    def login(self, email, password=PASSWORD):
        return self.submit("/login", {"email": email, "password": password})

    def logout(self):
        return self.post_action("/logout", from_url="/")


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def make_user(app):
    """Create a user directly in the database (signup itself is tested via forms)."""
    counter = iter(range(1, 10_000))

    def factory(role=Role.sponsor, status=UserStatus.approved, name=None, email=None):
        n = next(counter)
        with app.app_context():
            user = User(
                role=role,
                status=status,
                name=name or f"{role.value.title()} {n}",
                email=email or f"{role.value}{n}@example.org",
                organization="Acme",
            )
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.commit()
            return user.id, user.email

    return factory


@pytest.fixture
def login_as(app, make_user):
    """A fresh logged-in Browser for a new user of `role` and `status`."""

    def factory(role=Role.sponsor, status=UserStatus.approved, **kwargs):
        user_id, email = make_user(role, status, **kwargs)
        browser = Browser(app.test_client())
        response = browser.login(email)
        assert response.status_code == 302
        browser.user_id = user_id
        return browser

    return factory


@pytest.fixture
def sponsor(login_as):
    return login_as(Role.sponsor)


@pytest.fixture
def editor(login_as):
    return login_as(Role.editor)


@pytest.fixture
def admin(login_as):
    return login_as(Role.admin)


@pytest.fixture
def create_document(app):
    """A sponsor's document made through the real form; returns its id."""

    def factory(sponsor, editor_id, name="Launch plan", body="Write about Debian."):
        response = sponsor.submit(
            "/sponsor/documents/new",
            {"document_name": name, "document_body": body, "editor_id": editor_id},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return int(response.location.rsplit("/", 1)[1])

    return factory


MACHINE = " one two three four five six seven eight"


@pytest.fixture
def drafted(app, sponsor, editor, create_document, fake_generator, run_queued):
    """A document whose revision 1 has a done suggestion; returns helpers."""
    fake_generator.texts = [MACHINE]
    document_id = create_document(sponsor, editor.user_id, body="Intro.")
    run_queued()

    class Drafted:
        id = document_id
        sponsor_page = f"/sponsor/documents/{document_id}"
        editor_page = f"/editor/documents/{document_id}"

        @staticmethod
        def post(browser, action, data=None, page=None):
            page = page or (
                Drafted.sponsor_page if browser is sponsor else Drafted.editor_page
            )
            return browser.submit(
                f"/documents/{document_id}/{action}", data or {}, form_url=page
            )

        @staticmethod
        def status(browser=sponsor):
            return browser.get(f"/documents/{document_id}/status.json").get_json()

    return Drafted


# Browser tests: Debian's Chromium driven by Playwright against a real server.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def chromium():
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
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):
    """A page in a fresh browser context (its own cookies), CSP errors recorded."""

    def factory(width=1280, height=900):
        context = chromium.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        page = context.new_page()
        page.csp_errors = []
        page.on(
            "console",
            lambda m: (
                "Content Security Policy" in m.text and page.csp_errors.append(m.text)
            ),
        )
        return page

    return factory


@pytest.fixture
def page(new_page):
    return new_page()


# Redis, for the tests that need it (Celery, the limiter's shared counters):
# TEST_REDIS_URL (default the machine's, 127.0.0.1:6379) when something
# answers there; else a redis-server of the suite's own on a free port, in
# memory only, stopped at the end; else those tests are skipped, saying why.
# With CI=true they fail instead: CI must run them.
WANTED_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")


def _answers(url):
    address = urlsplit(url)
    try:
        socket.create_connection((address.hostname, address.port or 6379), 1).close()
    except OSError:
        return False
    return True


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


OWN_REDIS_PORT = None if _answers(WANTED_REDIS) else _free_port()
REDIS_BASE = (
    WANTED_REDIS if OWN_REDIS_PORT is None else f"redis://127.0.0.1:{OWN_REDIS_PORT}"
)


def redis_url(database):
    """The tests' Redis, one database of it; tests using it ask for redis_server."""
    return f"{REDIS_BASE}/{database}"


def _without_redis(reason):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true: the Redis tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Redis at redis_url(): the one that answered, or one started here."""
    if OWN_REDIS_PORT is None:
        yield REDIS_BASE
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _without_redis(
            f"nothing answers at {WANTED_REDIS} and redis-server is not installed"
        )
    directory = tmp_path_factory.mktemp("redis")
    options = ["--bind", "127.0.0.1", "--port", str(OWN_REDIS_PORT)]
    # In memory only: no snapshot, no append-only file.
    options += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
    server = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL)
    try:
        _wait_for_redis(server)
        yield REDIS_BASE
    finally:
        server.kill()
        server.wait()


def _wait_for_redis(server, seconds=10):
    client = redis.Redis.from_url(REDIS_BASE)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    pytest.fail(
        f"redis-server on port {OWN_REDIS_PORT} did not answer (exit {server.poll()})"
    )
