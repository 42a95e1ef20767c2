"""make load: Locust through nginx and gunicorn while the worker generates.

    python load.py model DIR      GPT-2 124M architecture, random weights
    python load.py run            inside with_prod_local.sh (TEXTGEN_MODEL=DIR)

`run` makes 10 sponsors and 10 editors with 2 documents each, waits until
the worker has generated their first suggestions (the model is loaded and
compiled), then runs 50 Locust users for LOAD_SECONDS (120), and prints one
JSON line: requests/s, errors, p50/p95/p99 per page, and the queue wait of
the jobs saved during the run.
"""

import csv
import json
import os
import statistics
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


def make_accounts(app):
    from docdraft.extensions import db
    from docdraft.models import Role, UserStatus
    from docdraft.services.documents import create_document
    from docdraft.services.users import signup_user

    tag = time.time_ns()
    accounts = {"sponsor": [], "editor": []}
    with app.app_context():

        def person(role, n):
            email = f"load-{role}-{n}-{tag}@example.org"
            user = signup_user(role, f"Load {role} {n}", email, PASSWORD, "Load")
            user.status = UserStatus.approved
            db.session.commit()
            return user, {"email": email, "documents": []}

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


def queue_waits(app, since):
    from docdraft.extensions import db
    from docdraft.models import Autodoc, JobStatus

    with app.app_context():
        rows = db.session.execute(
            db.select(Autodoc.queued_at, Autodoc.started_at, Autodoc.status).where(
                Autodoc.queued_at >= since
            )
        ).all()
    waits = [
        (started - queued).total_seconds() for queued, started, _ in rows if started
    ]
    done = sum(status == JobStatus.done for _, _, status in rows)
    return {
        "jobs_saved": len(rows),
        "jobs_done": done,
        "queue_wait_p50_s": round(statistics.median(waits), 1) if waits else None,
        "queue_wait_max_s": round(max(waits), 1) if waits else None,
    }


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
    result = summary(rows, seconds) | {"jobs": queue_waits(app, started)}
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "model":
        build_model(sys.argv[2])
    else:
        run()
