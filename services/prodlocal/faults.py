"""The fault walk (make faults): jobs survive any crash, none runs twice.

Runs inside with_prod_local.sh, against a real prod-local (nginx, gunicorn,
a Celery worker on the seed model, beat, the machine's Redis and
PostgreSQL). For each fault, 20 documents of 4 sponsors are queued, the
fault is caused, and the walk waits until every job has ended:

  (a) SIGKILL the worker in the middle of a batch (several jobs in flight);
  (b) restart Redis (it keeps nothing on disk) with the jobs queued in it;
  (c) restart PostgreSQL while jobs run and pages are served;
  (d) deliver every job twice.

After each, every revision must end with exactly one done autodoc, and no job
may have run more often than its faults explain. During (c), pages may answer
503 (with Retry-After) but never 500. Prints one JSON line of counts.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

WEB = Path(__file__).resolve().parents[1] / "web"
sys.path.insert(0, str(WEB))

from docdraft import create_app
from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.models import (
    Autodoc,
    JobStatus,
    Revision,
    Role,
    User,
    UserStatus,
)
from docdraft.services.documents import create_document
from docdraft.services.users import set_user_status, signup_user

STATE = os.environ["PROD_LOCAL_STATE"]
BIN = Path(sys.executable).parent
DOCUMENTS = 20
# The documents are spread over sponsors: the fair queue interleaves them,
# and none has more waiting than the per-user quota (JOB_MAX_WAITING_PER_USER).
SPONSORS = 4
ENDED = (JobStatus.done, JobStatus.failed, JobStatus.cancelled)
PASSWORD = "fault walk password 9!"
PROMPTS = [
    "To install a package with apt,",
    "The Debian project",
    "The maintainer of a package should",
    "A security update",
]


def supervisor(*args):
    conf = os.path.join(STATE, "supervisord.conf")
    subprocess.run([BIN / "supervisorctl", "-c", conf, *args], check=True)


def restart_redis():
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    time.sleep(1)
    subprocess.run(
        "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
        "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
        shell=True,
        check=True,
    )


def restart_postgresql(down_seconds=3):
    version = max(os.listdir("/etc/postgresql"))
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    subprocess.run([*cluster, "stop", "-m", "fast"], check=True)
    time.sleep(down_seconds)
    subprocess.run([*cluster, "start"], check=True)


class Walk:
    def __init__(self):
        self.app = create_app()
        self.run = 0
        with self.app.app_context():
            tag = f"{os.getpid()}-{time.time_ns()}"
            self.sponsor_email = f"faults-sponsor-0-{tag}@example.org"
            self.sponsors = [self._user(Role.sponsor, self.sponsor_email)] + [
                self._user(Role.sponsor, f"faults-sponsor-{n}-{tag}@example.org")
                for n in range(1, SPONSORS)
            ]
            self.editor = self._user(Role.editor, f"faults-editor-{tag}@example.org")

    def _user(self, role, email):
        user = signup_user(role, "Fault walk", email, PASSWORD, "Faults")
        set_user_status(None, user, UserStatus.approved)
        return user.id

    def queue_documents(self):
        """20 documents through the real service: rows, then Redis."""
        self.run += 1
        with self.app.app_context():
            sponsors = [db.session.get(User, s) for s in self.sponsors]
            return [
                create_document(
                    sponsors[n % SPONSORS],
                    f"Fault walk {self.run}.{n}",
                    PROMPTS[n % len(PROMPTS)],
                    self.editor,
                ).id
                for n in range(DOCUMENTS)
            ]

    def jobs(self, document_ids):
        with self.app.app_context():
            rows = db.session.execute(
                db.select(Revision.document_id, Autodoc.status, Autodoc.attempts)
                .join(Autodoc)
                .where(Revision.document_id.in_(document_ids))
            ).all()
            db.session.remove()
        return rows

    def wait_all_ended(self, document_ids, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                rows = self.jobs(document_ids)
            except Exception:  # noqa: BLE001 - the database may be restarting
                time.sleep(1)
                continue
            if len(rows) == len(document_ids) and all(
                status in ENDED for _, status, _ in rows
            ):
                return rows
            time.sleep(1)
        raise SystemExit(f"jobs did not end in {timeout} s: {self.jobs(document_ids)}")

    def wait_running(self, document_ids, at_least=1, timeout=300):
        """Wait until `at_least` of the jobs run at once; how many do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.jobs(document_ids)
            running = sum(s == JobStatus.running for _, s, _ in rows)
            if running >= at_least:
                return running
            time.sleep(0.05)
        raise SystemExit(f"{at_least} jobs never ran at once")

    def report(self, document_ids, rows, allowed_extra_attempts):
        counts = Counter(status.value for _, status, _ in rows)
        extra = sum(attempts - 1 for _, _, attempts in rows)
        result = {
            "documents": len(document_ids),
            "autodocs": len(rows),
            "done": counts.get("done", 0),
            "failed": counts.get("failed", 0),
            "extra_attempts": extra,
        }
        ok = (
            len(rows) == len(document_ids)
            and len({document for document, _, _ in rows}) == len(document_ids)
            and result["done"] == len(document_ids)
            and extra <= allowed_extra_attempts
        )
        return result, ok


class PageWatcher(threading.Thread):
    """Polls pages through nginx as a logged-in sponsor; records statuses."""

    def __init__(self, base, certificate):
        super().__init__(daemon=True)
        self.base, self.certificate = base, certificate
        self.session = requests.Session()
        self.statuses = Counter()
        self.missing_retry_after = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for path in ("/login", "/sponsor/documents"):
                try:
                    response = self.session.get(
                        self.base + path,
                        verify=self.certificate,
                        timeout=10,
                        allow_redirects=False,
                    )
                except requests.RequestException:
                    self.statuses["no answer"] += 1
                    continue
                self.statuses[str(response.status_code)] += 1
                if (
                    response.status_code == 503
                    and "Retry-After" not in response.headers
                ):
                    self.missing_retry_after += 1
            time.sleep(0.05)

    def log_in(self, email, password):
        page = self.session.get(self.base + "/login", verify=self.certificate).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        self.session.post(
            self.base + "/login",
            data={"csrf_token": token, "email": email, "password": password},
            headers={"Referer": self.base + "/login"},
            verify=self.certificate,
        )


def wait_ready(base, certificate, seconds=300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/readyz", verify=certificate, timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit("prod-local never became ready")


def main():
    base, certificate = os.environ["PROD_BASE"], os.environ["PROD_CERT"]
    wait_ready(base, certificate)
    walk = Walk()
    results, all_ok = {}, True

    # (a) SIGKILL the worker mid-batch: the leases of the jobs in flight
    # expire, the sweeper queues them again; at most those jobs run a second
    # time, and each still ends done once.
    documents = walk.queue_documents()
    walk.wait_running(documents, at_least=2)
    in_flight = sum(s == JobStatus.running for _, s, _ in walk.jobs(documents))
    supervisor("signal", "KILL", "worker")
    rows = walk.wait_all_ended(documents)
    result, ok = walk.report(documents, rows, max(in_flight, 2))
    result["in_flight_when_killed"] = in_flight
    ok &= in_flight >= 2
    results["a_sigkill_worker"] = result
    all_ok &= ok

    # (b) Redis restarted with the jobs queued in it (the worker is stopped,
    # so they wait there): the database still knows them; the sweeper
    # delivers them again.
    supervisor("stop", "worker")
    documents = walk.queue_documents()
    restart_redis()
    supervisor("start", "worker")
    rows = walk.wait_all_ended(documents)
    results["b_restart_redis"], ok = walk.report(documents, rows, 0)
    all_ok &= ok

    # (c) PostgreSQL restarted while jobs run and pages are served.
    watcher = PageWatcher(base, certificate)
    watcher.log_in(walk.sponsor_email, PASSWORD)
    watcher.start()
    documents = walk.queue_documents()
    walk.wait_running(documents)
    restart_postgresql()
    rows = walk.wait_all_ended(documents)
    time.sleep(2)
    watcher.stop.set()
    watcher.join()
    extra_allowed = DOCUMENTS  # a job interrupted by the restart runs again
    result, ok = walk.report(documents, rows, extra_allowed)
    result["pages"] = dict(watcher.statuses)
    result["503_without_retry_after"] = watcher.missing_retry_after
    ok &= "500" not in watcher.statuses and watcher.missing_retry_after == 0
    results["c_restart_postgresql"] = result
    all_ok &= ok

    # (d) Every job delivered twice (a nudge each, on top of the save's own):
    # each still runs once.
    supervisor("stop", "worker")
    documents = walk.queue_documents()
    with walk.app.app_context():
        ids = db.session.scalars(
            db.select(Autodoc.id)
            .join(Revision)
            .where(Revision.document_id.in_(documents))
        ).all()
        for autodoc_id in ids:
            dispatch.backend().submit([autodoc_id])
    supervisor("start", "worker")
    rows = walk.wait_all_ended(documents)
    results["d_double_delivery"], ok = walk.report(documents, rows, 0)
    all_ok &= ok

    print(json.dumps({"faults": results, "ok": all_ok}))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
