"""make load: Locust through nginx and gunicorn while the worker generates.

    python load.py model DIR      GPT-2 124M architecture, random weights
    python load.py run            inside with_prod_local.sh (TEXTGEN_MODEL=DIR)

`run` makes 10 sponsors and 10 editors with 2 documents each, waits until
the worker has generated their first suggestions (the model is loaded and
compiled), then runs 50 Locust users for LOAD_SECONDS (120), and prints one
JSON line: requests/s, errors, p50/p95/p99 per page, and the jobs of the run
(all, and per sponsor: suggestions asked for and written, written per
minute, queue wait p50/p95 from queued_at to started_at).
"""

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEB = HERE.parents[1] / "web"
sys.path.insert(0, str(WEB))
sys.path.insert(0, str(WEB / "bench"))
PASSWORD = "load test password 7!"


def build_model(directory):
    from bench_textgen import _replace_with_124m
    from textgen.tiny import build_tiny_gpt2

    path = build_tiny_gpt2(Path(directory))
    _replace_with_124m(path)
    print(path)


def approved_user(role, name, email):
    """A sponsor or editor who signed up and was approved (in an app context)."""
    from docdraft.models import UserStatus
    from docdraft.services.users import set_user_status, signup_user

    user = signup_user(role, name, email, PASSWORD, "Load")
    set_user_status(None, user, UserStatus.approved)
    return user


def make_accounts(app):
    from docdraft.models import Role
    from docdraft.services.documents import create_document

    tag = time.time_ns()
    accounts = {"sponsor": [], "editor": []}
    with app.app_context():

        def person(role, n):
            email = f"load-{role}-{n}-{tag}@example.org"
            user = approved_user(role, f"Load {role} {n}", email)
            return user, {"email": email, "id": user.id, "documents": []}

        editors = [person(Role.editor, n) for n in range(10)]
        for n in range(10):
            sponsor, account = person(Role.sponsor, n)
            for k in range(2):
                editor, editor_account = editors[(n + k) % 10]
                document = create_document(
                    sponsor, f"Load {n}.{k}", "The Debian project", editor.id
                )
                account["documents"].append(document.id)
                editor_account["documents"].append(document.id)
            accounts["sponsor"].append(account)
        accounts["editor"] = [account for _, account in editors]
    return accounts


def wait_until_done(app, seconds=600):
    from docdraft.extensions import db
    from docdraft.models import Autodoc, JobStatus

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context():
            pending = db.session.scalar(
                db.select(db.func.count(Autodoc.id)).where(
                    Autodoc.status.in_([JobStatus.queued, JobStatus.running])
                )
            )
        if pending == 0:
            return
        time.sleep(2)
    raise SystemExit("the worker did not finish the first suggestions")


def percentile(values, share):
    """The nearest-rank percentile (share 0.5, 0.95) of values, or None."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)


def job_rows(app, since):
    """(sponsor id, queued_at, started_at, finished_at, status) of every job
    queued or finished since `since`."""
    from docdraft.extensions import db
    from docdraft.models import Autodoc, Document, Revision

    with app.app_context():
        return db.session.execute(
            db.select(
                Document.sponsor_id,
                Autodoc.queued_at,
                Autodoc.started_at,
                Autodoc.finished_at,
                Autodoc.status,
            )
            .join(Revision, Autodoc.revision_id == Revision.id)
            .join(Document, Revision.document_id == Document.id)
            .where((Autodoc.queued_at >= since) | (Autodoc.finished_at >= since))
        ).all()


def job_figures(rows, since, until):
    """Suggestions asked for during [since, until], written in it (and per
    minute), still waiting at its end, and the queue wait p50/p95/max of
    those that started."""
    from docdraft.models import JobStatus

    asked = [row for row in rows if since <= row.queued_at <= until]
    written = [
        row
        for row in rows
        if row.status == JobStatus.done and since <= row.finished_at <= until
    ]
    waits = [
        (r.started_at - r.queued_at).total_seconds() for r in asked if r.started_at
    ]
    minutes = (until - since).total_seconds() / 60
    return {
        "asked": len(asked),
        "written": len(written),
        "written_per_min": round(len(written) / minutes, 1),
        "not_started": sum(r.started_at is None for r in asked),
        "queue_wait_p50_s": percentile(waits, 0.5),
        "queue_wait_p95_s": percentile(waits, 0.95),
        "queue_wait_max_s": round(max(waits), 1) if waits else None,
    }


def jobs_by_sponsor(app, accounts, since, until):
    """job_figures for all the run's jobs, and for each sponsor's documents."""
    rows = job_rows(app, since)
    figures = job_figures(rows, since, until)
    figures["per_sponsor"] = {
        f"sponsor {n}": job_figures(
            [row for row in rows if row.sponsor_id == account["id"]], since, until
        )
        for n, account in enumerate(accounts["sponsor"])
    }
    return figures


def run_locust(accounts_file, base, seconds, out):
    locust = HERE.parents[2] / ".venv-load" / "bin" / "locust"
    subprocess.run(
        [
            locust,
            "-f",
            HERE / "locustfile.py",
            "--headless",
            "--users",
            "50",
            "--spawn-rate",
            "10",
            "--run-time",
            f"{seconds}s",
            "--host",
            base,
            "--csv",
            out,
            "--only-summary",
        ],
        env={**os.environ, "LOAD_ACCOUNTS": accounts_file},
        check=False,
    )
    with open(f"{out}_stats.csv") as stats:
        return list(csv.DictReader(stats))


def summary(rows, seconds):
    pages = {}
    total = {}
    for row in rows:
        figures = {
            "requests": int(row["Request Count"]),
            "errors": int(row["Failure Count"]),
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]),
        }
        if row["Name"] == "Aggregated":
            total = figures | {"requests_per_s": round(float(row["Requests/s"]), 1)}
        else:
            pages[f"{row['Type']} {row['Name']}".replace("GET /", "/")] = figures
    return {"seconds": seconds, "users": 50, "total": total, "pages": pages}


def run():
    from docdraft import create_app

    app = create_app()
    base, certificate = os.environ["PROD_BASE"], os.environ["PROD_CERT"]
    accounts = make_accounts(app)
    wait_until_done(app)
    accounts |= {"certificate": certificate, "password": PASSWORD}
    seconds = int(os.environ.get("LOAD_SECONDS", "120"))
    with tempfile.TemporaryDirectory() as tmp:
        accounts_file = os.path.join(tmp, "accounts.json")
        Path(accounts_file).write_text(json.dumps(accounts))
        started = datetime.now(UTC)
        rows = run_locust(accounts_file, base, seconds, os.path.join(tmp, "load"))
        ended = datetime.now(UTC)
    jobs = jobs_by_sponsor(app, accounts, started, ended)
    print(json.dumps(summary(rows, seconds) | {"jobs": jobs}))


if __name__ == "__main__":
    if sys.argv[1] == "model":
        build_model(sys.argv[2])
    else:
        run()
