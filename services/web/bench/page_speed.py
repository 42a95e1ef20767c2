"""Page speed at 100,000 characters: server time and the browser's.

Builds a throwaway app on a temporary SQLite file, with a sponsor, an editor
and one document whose body grows to 100,000 characters over several
revisions, made through the real forms: machine suggestions accepted, words
changed all through the body, a paragraph inserted in the middle. Then:

- server time: the median of several requests through the test client for
  the document page, the diff of the two last revisions, status.json, and a
  save of the whole body (word provenance carried over);
- the word functions alone (diff, carry, share) on the two last bodies;
- the browser: headless Chromium (/usr/bin/chromium, or CHROMIUM) through
  Playwright against a live werkzeug server, each page loaded several times;
  the Performance API's navigation entry gives DOMContentLoaded (the page is
  interactive: deferred scripts have run) and load.

Prints a table, then one JSON line. Usage:
    python bench/page_speed.py [--runs 15] [--browser-runs 5] [--no-browser]
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import flask_migrate  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from docdraft import create_app, words  # noqa: E402
from docdraft.extensions import db  # noqa: E402
from docdraft.jobs import generator as generator_module  # noqa: E402
from docdraft.jobs.runner import queued_job_ids  # noqa: E402
from docdraft.jobs.serving import run_jobs  # noqa: E402
from docdraft.models import DOCUMENT_BODY_MAX, Revision, Role, User, UserStatus  # noqa: E402

PASSWORD = "correct horse battery"
HIDDEN = {
    name: re.compile(rf'name="{name}"[^>]*?value="([^"]*)"')
    for name in ("csrf_token", "base_revision", "suggestion_id", "form_key")
}
CSRF_META = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class MachineText:
    """Stands in for the model: a fixed continuation, and textgen's windowing
    (one token a word, the last 768 kept) for the token counts the page shows."""

    class info:  # noqa: N801 - read as generator.info.name
        name = "bench-generator"
        weights_sha256 = "b" * 64

    class settings:  # noqa: N801
        @staticmethod
        def as_dict():
            return {"num_beams": 5}

    def __init__(self, text):
        self.text = text

    def prepare(self, prompt, new_tokens=None):
        from types import SimpleNamespace

        ids = prompt.split()
        return SimpleNamespace(
            ids=ids[-768:], cut=max(len(ids) - 768, 0), new_tokens=new_tokens or 100
        )

    def generate(self, requests, on_compile=None):
        return [self.text for _ in requests]

    # The worker drives a running batch (textgen.running): the engine-neutral
    # one, which decodes what generate_ids returns through the tokenizer.
    def running_batch(self, rows=8):
        from textgen.running import StaticBatch

        return StaticBatch(self, rows)

    def generate_ids(self, requests, on_compile=None):
        return [[] for _ in requests]

    @property
    def tokenizer(self):
        from types import SimpleNamespace

        return SimpleNamespace(decode=lambda ids, **_: self.text)


def prose(size, seed):
    """`size` characters of prose-like text: Zipf-like words, sentences,
    paragraphs (the common words repeat hundreds of times, as in English)."""
    rng = random.Random(seed)
    vocabulary = [f"w{rank}" for rank in range(4000)]
    weights = [1 / (rank + 1) for rank in range(4000)]
    parts, length = [], 0
    while length < size:
        words_ = rng.choices(vocabulary, weights, k=rng.randint(6, 22))
        sentence = " ".join(words_).capitalize() + "."
        sentence += "\n\n" if rng.random() < 0.12 else " "
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)[: size - 1].rstrip() + "."  # at most `size`


def change_words(text, count, seed):
    """`text` with `count` words, spread through it, replaced by new ones."""
    rng = random.Random(seed)
    places = sorted(rng.sample(range(len(text) - 20), count), reverse=True)
    for number, place in enumerate(places):
        start = text.rfind(" ", 0, place) + 1
        end = text.find(" ", start)
        text = f"{text[:start]}edited{seed}x{number}{text[end:]}"
    return text


def insert_middle(text, paragraph):
    middle = text.find("\n\n", len(text) // 2)
    middle = middle if middle > 0 else len(text) // 2
    return f"{text[:middle]}\n\n{paragraph}{text[middle:]}"


class Client:
    """A logged-in test client that posts forms the way a browser does."""

    def __init__(self, app, email):
        self.client = app.test_client()
        self.post("/login", {"email": email, "password": PASSWORD})

    def post(self, url, data, form_url=None):
        html = self.client.get(form_url or url).get_data(as_text=True)
        hidden = {n: m[1] for n, p in HIDDEN.items() if (m := p.search(html))}
        response = self.client.post(url, data={**hidden, **data})
        assert response.status_code in (200, 302), (url, response.status_code)
        return response


def make_app(directory):
    os.environ["INSTANCE_PATH"] = str(directory / "instance")
    app = create_app(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'bench.sqlite3'}",
            "JOB_BACKEND": "manual",
            "TEXTGEN_WARMUP": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        for role in (Role.sponsor, Role.editor):
            user = User(
                role=role,
                status=UserStatus.approved,
                name=role.value.title(),
                email=f"{role.value}@example.org",
                organization="Bench",
            )
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
    return app


def run_jobs_now(app, text):
    app.extensions[generator_module.EXTENSION_KEY] = MachineText(text)
    with app.app_context():
        run_jobs(queued_job_ids())


def build_document(app):
    """A document grown to the limit over several revisions; returns its id."""
    sponsor = Client(app, "sponsor@example.org")
    editor = Client(app, "editor@example.org")
    with app.app_context():
        editor_id = db.session.query(User.id).filter_by(role=Role.editor).scalar()
    suggestion = " " + prose(560, seed=9).replace("\n", " ")
    body = prose(DOCUMENT_BODY_MAX - 3000, seed=1)
    response = sponsor.post(
        "/sponsor/documents/new",
        {
            "document_name": "Annual report",
            "document_body": body,
            "editor_id": editor_id,
        },
    )
    document_id = int(response.location.rsplit("/", 1)[1])
    page = f"/sponsor/documents/{document_id}"
    editor_page = f"/editor/documents/{document_id}"
    accept = f"/documents/{document_id}/accept"
    for step in range(3):
        run_jobs_now(app, suggestion)
        sponsor.post(accept, {}, form_url=page)  # a suggestion appended
        body = current_body(app, document_id)
        body = change_words(body, 6, seed=step)  # edits all through the body
        if step == 1:
            body = insert_middle(body, prose(300, seed=5))
        editor.post(
            editor_page, {"document_name": "Annual report", "document_body": body}
        )
    run_jobs_now(app, suggestion)
    body = current_body(app, document_id)
    fill = DOCUMENT_BODY_MAX - len(body)
    editor.post(
        editor_page,
        {
            "document_name": "Annual report",
            "document_body": insert_middle(body, prose(fill - 2, seed=7)),
        },
    )
    run_jobs_now(app, suggestion)
    return document_id, sponsor, editor


def current_body(app, document_id):
    with app.app_context():
        return (
            db.session.query(Revision.body)
            .filter_by(document_id=document_id)
            .order_by(Revision.number.desc())
            .limit(1)
            .scalar()
        )


def median_ms(function, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def server_times(app, document_id, editor, runs):
    """Median milliseconds of each page through the test client, and sizes."""
    with app.app_context():
        revisions = (
            db.session.query(Revision)
            .filter_by(document_id=document_id)
            .order_by(Revision.number)
            .all()
        )
        last, before = revisions[-1], revisions[-2]
        bodies = (before.body, before.machine_spans, last.body, last.machine_spans)
    count = len(revisions)
    urls = {
        "document page": f"/editor/documents/{document_id}",
        "diff page": f"/documents/{document_id}/diff?from={count - 1}&to={count}",
        "diff page, first to last": f"/documents/{document_id}/diff?from=1&to={count}",
        "status.json": f"/documents/{document_id}/status.json",
    }
    results, sizes = {}, {}
    for name, url in urls.items():
        response = editor.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        sizes[name] = len(response.data)
        results[name] = median_ms(lambda url=url: editor.client.get(url), runs)
    old, old_spans, new, new_spans = bodies
    results["words: diff_words"] = median_ms(lambda: words.diff_words(old, new), runs)
    results["words: carry_spans"] = median_ms(
        lambda: words.carry_spans(old, old_spans, new), runs
    )
    results["words: machine_share + segments"] = median_ms(
        lambda: (words.machine_share(new, new_spans), words.segments(new, new_spans)),
        runs,
    )
    results.update(hard_diffs(runs))
    return results, sizes, count, len(new)


def hard_diffs(runs):
    """diff_words on 100,000-character pairs made to be hard (few anchors)."""
    rng = random.Random(3)
    noise = " ".join(rng.choices("abcdefghij", k=50_000))[:DOCUMENT_BODY_MAX]
    body = prose(DOCUMENT_BODY_MAX, seed=1)
    pairs = {
        "ten words at random, 10% changed": (
            noise,
            " ".join(w if rng.random() < 0.9 else "k" for w in noise.split()),
        ),
        "two unrelated bodies": (body, prose(DOCUMENT_BODY_MAX, seed=2)),
        "paragraphs in reverse order": (
            body,
            "\n\n".join(reversed(body.split("\n\n"))),
        ),
        "every tenth word changed": (
            body,
            " ".join(w if i % 10 else "X" for i, w in enumerate(body.split(" "))),
        ),
    }
    return {
        f"words: diff, {name}": median_ms(
            lambda o=old, n=new: words.diff_words(o, n), 5
        )
        for name, (old, new) in pairs.items()
    }


def save_time(app, document_id, editor, runs):
    """Median milliseconds of saving the whole body with a word changed (the
    POST only; its page load for the form is not counted)."""
    page = f"/editor/documents/{document_id}"
    times = []
    for run in range(runs):
        html = editor.client.get(page).get_data(as_text=True)
        hidden = {n: m[1] for n, p in HIDDEN.items() if (m := p.search(html))}
        body = current_body(app, document_id)
        body = body.replace(" w1 ", f" w{run + 2} ", 1)  # the length kept
        data = {**hidden, "document_name": "Annual report", "document_body": body}
        started = time.perf_counter()
        response = editor.client.post(page, data=data)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302, response.status_code
    return round(statistics.median(times), 1)


def browser_times(app, document_id, runs):
    """Median DOMContentLoaded and load (ms from navigation start) per page."""
    from playwright.sync_api import sync_playwright

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium")
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}
            ).new_page()
            page.goto(f"{base}/login")
            page.fill("#email", "editor@example.org")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            with app.app_context():
                last = (
                    db.session.query(Revision.number)
                    .filter_by(document_id=document_id)
                    .order_by(Revision.number.desc())
                    .limit(1)
                    .scalar()
                )
            urls = {
                "document page": f"{base}/editor/documents/{document_id}",
                "diff page": f"{base}/documents/{document_id}/diff"
                f"?from={last - 1}&to={last}",
            }
            for name, url in urls.items():
                results[name] = navigation_times(page, url, runs)
            browser.close()
    finally:
        server.shutdown()
    return results


def navigation_times(page, url, runs):
    entries = []
    for _ in range(runs):
        page.goto(url, wait_until="load")
        entries.append(
            page.evaluate(
                """() => { const n = performance.getEntriesByType('navigation')[0];
                return {response: n.responseEnd, dcl: n.domContentLoadedEventEnd,
                        load: n.loadEventEnd}; }"""
            )
        )
    return {
        key: round(statistics.median(entry[key] for entry in entries), 1)
        for key in ("response", "dcl", "load")
    }


def cpu():
    """The CPU's model name and whether it has AVX-512 (from /proc/cpuinfo)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown", False
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    return (model[1].strip() if model else "unknown"), " avx512f" in info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--browser-runs", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        app = make_app(Path(directory))
        document_id, _, editor = build_document(app)
        server, sizes, revisions, length = server_times(
            app, document_id, editor, args.runs
        )
        server["save revision (POST)"] = save_time(app, document_id, editor, 5)
        browser = (
            {}
            if args.no_browser
            else browser_times(app, document_id, args.browser_runs)
        )
    model, avx512 = cpu()
    load = (round(load_before, 2), round(os.getloadavg()[0], 2))
    print(
        f"{length:,}-character body, {revisions} revisions; {model}, "
        f"AVX-512 {'yes' if avx512 else 'no'}, {os.cpu_count()} CPUs, "
        f"load average {load[0]} before, {load[1]} after"
    )
    print(f"{'server (median of ' + str(args.runs) + ')':<48} {'ms':>8} {'bytes':>10}")
    for name, ms in server.items():
        print(f"{name:<48} {ms:>8} {sizes.get(name, ''):>10}")
    if browser:
        print(
            f"\n{'browser (median of ' + str(args.browser_runs) + ')':<48} "
            f"{'response':>9} {'DOMContentLoaded':>17} {'load':>8}"
        )
        for name, ms in browser.items():
            print(f"{name:<48} {ms['response']:>9} {ms['dcl']:>17} {ms['load']:>8}")
    print(
        json.dumps(
            {
                "body_chars": length,
                "revisions": revisions,
                "cpu": model,
                "avx512": avx512,
                "cpus": os.cpu_count(),
                "load_average": load,
                "server_ms": server,
                "bytes": sizes,
                "browser_ms": browser,
            }
        )
    )


if __name__ == "__main__":
    main()
