"""make throughput: one sponsor saves 24 documents at once, then another one.

    bash with_prod_local.sh python throughput.py    (TEXTGEN_MODEL=DIR, 124M)

On prod-local (nginx, gunicorn, the Celery worker), through nginx, logged
in, with CSRF: sponsor A saves THROUGHPUT_DOCUMENTS (24) new documents at
once; when those saves have been answered, sponsor B saves one. Untimed
rounds of that come first, until one compiles nothing (the worker's log),
then the timed round. status.json is polled until all are done.
Then `make bench`'s figures for THROUGHPUT_BENCH_MODEL (124m) on the same
machine, the worker idle. Prints one JSON line:

- seconds_per_document: from A's first save to A's last finished_at, / 24;
- second_sponsor: B's save (queued_at) to its started_at and finished_at;
- admission: the largest save -> started_at of a document saved while a
  batch ran with a row free for it (fewer than JOB_BATCH_ROWS running or
  waiting ahead of it);
- bench: one document alone, and seconds per document in a batch of 8;
- targets: A's documents at <= 1.1x the bench's batch seconds per document,
  B's done within 3x the bench's one document, admission within 2 s.
"""

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
WEB = HERE.parent / "web"
sys.path[:0] = [str(HERE), str(HERE / "load"), str(WEB)]

from load import PASSWORD, approved_user  # noqa: E402
from smoke import Forms, Visitor, wait_ready  # noqa: E402

NEW = "/sponsor/documents/new"
ENDED = ("done", "failed", "cancelled")
TARGETS = {"documents_vs_bench_batch": 1.1, "second_vs_bench_one": 3.0}
ADMISSION_TARGET_S = 2.0


def make_people(app, tag):
    """Two approved sponsors and an editor: (sponsor emails, the editor's id)."""
    from docdraft.models import Role

    people = {"a": Role.sponsor, "b": Role.sponsor, "editor": Role.editor}
    emails = {who: f"throughput-{who}-{tag}@example.org" for who in people}
    with app.app_context():
        ids = {
            who: approved_user(role, f"Throughput {who}", emails[who]).id
            for who, role in people.items()
        }
    return (emails["a"], emails["b"]), ids["editor"]


def logged_in(base, email):
    visitor = Visitor(base)
    visitor.submit("/login", {"email": email, "password": PASSWORD})
    return visitor


def filled_form(visitor, editor_id, number, body):
    """The new-document form's fields, as a browser would post them."""
    forms = Forms(NEW)
    forms.feed(visitor.get(NEW).text)
    return {
        **forms.fields(NEW),
        "document_name": f"Throughput {number}",
        "document_body": body,
        "editor_id": str(editor_id),
    }


def post_form(visitor, data):
    """One save on a session of its own (same login): (document id, sent at)."""
    session = requests.Session()
    session.cookies.update(visitor.session.cookies)
    sent = datetime.now(UTC)
    response = session.post(
        visitor.base + NEW,
        data=data,
        headers={"Referer": visitor.base + NEW},
        allow_redirects=False,
        timeout=120,
        verify=Visitor.certificate,
    )
    assert response.status_code == 302, response.status_code
    document_id = int(re.search(r"/documents/(\d+)", response.headers["Location"])[1])
    return document_id, sent


def save_at_once(visitor, editor_id, bodies):
    """Save one new document per body, all at once: [(document id, sent at)]."""
    forms = [filled_form(visitor, editor_id, n, b) for n, b in enumerate(bodies)]
    with ThreadPoolExecutor(len(forms)) as pool:
        return list(pool.map(lambda data: post_form(visitor, data), forms))


def wait_done(owners, seconds=1800):
    """Poll status.json of {document id: visitor} until every job ended.

    One request at a time, every 2 s while nothing ends: the figures are the
    server's timestamps, so polling faster would only take CPU from the
    worker it measures."""
    deadline = time.monotonic() + seconds
    pending, statuses = list(owners), {}
    while pending and time.monotonic() < deadline:
        document_id = pending[0]
        status = owners[document_id].get(f"/documents/{document_id}/status.json")
        statuses[document_id] = status.json()
        if statuses[document_id]["status"] in ENDED:
            pending.pop(0)
        else:
            time.sleep(2)
    if pending:
        raise SystemExit(f"not done after {seconds} s: {statuses}")
    return statuses


def moments(status):
    """(queued_at, started_at, finished_at) of a status.json, as datetimes."""
    return tuple(
        datetime.fromisoformat(status[key])
        for key in ("queued_at", "started_at", "finished_at")
    )


def admission(times, rows):
    """Largest save -> start of the documents saved while a batch ran with a
    row free for them (fewer than JOB_BATCH_ROWS running or waiting ahead):
    (how many such documents, their largest wait in seconds).  A document
    saved behind others that fill the free rows waits for a row to end,
    which is the queue, not admission."""
    waits = []
    for queued, started, _ in times:
        running = sum(s <= queued < f for _, s, f in times)
        ahead = sum(q < queued < s for q, s, _ in times)
        if running and running + ahead < rows:
            waits.append((started - queued).total_seconds())
    return len(waits), round(max(waits), 2) if waits else None


def bench(model):
    """make bench's one-document and batch-of-8 figures for `model`."""
    command = [sys.executable, "bench/bench_textgen.py", "--models", model]
    command += ["--skip-eager", "--batch", "8", "--new-tokens", "100"]
    command += ["--arrivals", "none"]  # its own scenario; not compared here
    done = subprocess.run(command, cwd=WEB, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])["results"][model]
    return {
        "model": model,
        "one_document_s": round(result["engine_single_s"], 3),
        "batch8_s_per_document": round(result["engine_batch_s_per_doc"], 3),
    }


def verdict(per_document, second_done, admission_max, figures):
    documents = per_document / figures["batch8_s_per_document"]
    second = second_done / figures["one_document_s"]
    return {
        "documents_vs_bench_batch": round(documents, 2),
        "second_vs_bench_one": round(second, 2),
        "limits": TARGETS | {"admission_s": ADMISSION_TARGET_S},
        "met": {
            "documents": documents <= TARGETS["documents_vs_bench_batch"],
            "second": second <= TARGETS["second_vs_bench_one"],
            "admission": None
            if admission_max is None
            else admission_max <= ADMISSION_TARGET_S,
        },
    }


def one_round(editor_id, sponsor, other, bodies):
    """A saves one document per body at once, then B one: their statuses."""
    saved = save_at_once(sponsor, editor_id, bodies)
    [(second_id, _)] = save_at_once(other, editor_id, bodies[:1])
    owners = {document_id: sponsor for document_id, _ in saved}
    statuses = wait_done(owners | {second_id: other})
    return saved, statuses, second_id


def compiles_logged():
    """How many programs the worker has logged compiling so far."""
    logs = Path(os.environ["PROD_LOCAL_STATE"], "logs").glob("worker*.log")
    return sum(log.read_text(errors="replace").count(" compiled ") for log in logs)


def measure(editor_id, sponsor, other, count, warm_rounds=3):
    """Untimed rounds until one compiles nothing (a program compiled in the
    timed round would count as generating; a running batch compiles per
    rows and bucket, 12 s each at 124M), then the timed round."""
    from textgen.equivalence import FIXED_PROMPTS

    bodies = [FIXED_PROMPTS[n % len(FIXED_PROMPTS)] for n in range(count)]
    for _ in range(warm_rounds):
        before = compiles_logged()
        one_round(editor_id, sponsor, other, bodies)
        if compiles_logged() == before:
            break
    return one_round(editor_id, sponsor, other, bodies)


def main():
    from docdraft import create_app

    base, Visitor.certificate = os.environ["PROD_BASE"], os.environ["PROD_CERT"]
    count = int(os.environ.get("THROUGHPUT_DOCUMENTS", "24"))
    rows = int(os.environ.get("JOB_BATCH_ROWS", "8"))
    wait_ready(base, 300)
    emails, editor_id = make_people(create_app(), time.time_ns())
    sponsor, other = (logged_in(base, email) for email in emails)
    saved, statuses, second_id = measure(editor_id, sponsor, other, count)
    ended = {s["status"] for s in statuses.values()}
    if ended != {"done"}:
        raise SystemExit(f"not every job was done ({ended}): {statuses}")
    times = {document_id: moments(s) for document_id, s in statuses.items()}
    first_sent = min(sent for _, sent in saved)
    last_done = max(times[document_id][2] for document_id, _ in saved)
    per_document = (last_done - first_sent).total_seconds() / count
    queued, started, finished = times[second_id]
    second = {
        "wait_s": round((started - queued).total_seconds(), 2),
        "done_s": round((finished - queued).total_seconds(), 2),
        "running_at_save": sum(s <= queued < f for _, s, f in times.values()),
    }
    admitted, admission_max = admission(list(times.values()), rows)
    print(  # what prod-local measured, in case the bench does not finish
        f"throughput: {per_document:.2f} s/document; second sponsor {second};"
        f" admission {admitted} documents, max {admission_max} s; bench next",
        file=sys.stderr,
        flush=True,
    )
    figures = bench(os.environ.get("THROUGHPUT_BENCH_MODEL", "124m"))
    result = {
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "documents": count,
        "rows": rows,
        "wall_s": round(per_document * count, 1),
        "seconds_per_document": round(per_document, 3),
        "second_sponsor": second,
        "admission": {"documents": admitted, "max_wait_s": admission_max},
        "bench": figures,
        "targets": verdict(per_document, second["done_s"], admission_max, figures),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
