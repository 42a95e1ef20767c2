"""The Celery path, through a real Redis (database 15; see conftest's redis_url).

A Celery worker runs in a thread of the test (solo pool) on a queue of its
own, with the test's app and generator.
"""

import logging
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.jobs import status as job_status
from docdraft.jobs.celery_backend import GENERATE, SWEEP
from docdraft.models import Autodoc, JobStatus

from .conftest import redis_url

REDIS_URL = redis_url(15)
QUEUE = f"test-{uuid.uuid4().hex}"  # this run's own queue
pytestmark = pytest.mark.app_config(
    JOB_BACKEND="celery", REDIS_URL=REDIS_URL, JOB_QUEUE=QUEUE
)


@pytest.fixture
def celery_app(redis_server, app, fake_generator):
    """The app under test (JOB_BACKEND=celery), its queue emptied after."""
    yield app
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)


@contextmanager
def worker_thread(app):
    """A Celery worker in a thread on this run's queue; logging left as found
    (Celery sets the root logger's level, which later tests' caplog needs)."""
    level = logging.root.level
    try:
        with start_worker(
            dispatch.backend(app).celery,
            pool="solo",
            perform_ping_check=False,
            queues=[QUEUE],
        ) as worker:
            yield worker
    finally:
        logging.root.setLevel(level)


@pytest.fixture
def celery_worker(celery_app):
    with worker_thread(celery_app) as worker:
        yield worker


def rows(app):
    with app.app_context():
        return [(a.status, a.attempts) for a in db.session.scalars(select(Autodoc))]


def wait_for(app, expected, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows(app) == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{rows(app)} != {expected}")


def test_a_saved_document_is_generated_by_a_celery_worker(
    celery_app, celery_worker, sponsor, editor, create_document, fake_generator
):
    fake_generator.texts = ["via redis"]
    document_id = create_document(sponsor, editor.user_id)
    wait_for(celery_app, [(JobStatus.done, 1)])
    status = sponsor.get(f"/documents/{document_id}/status.json").get_json()
    assert status["text"] == "via redis"


def test_a_job_delivered_twice_through_redis_runs_once(
    celery_app, celery_worker, sponsor, editor, create_document, fake_generator
):
    create_document(sponsor, editor.user_id)
    wait_for(celery_app, [(JobStatus.done, 1)])
    with celery_app.app_context():
        job = db.session.scalar(select(Autodoc.id))
        dispatch.backend(celery_app).submit([job])
    time.sleep(1)
    assert rows(celery_app) == [(JobStatus.done, 1)]
    assert len(fake_generator.calls) == 1


def test_a_nudge_without_ids_serves_every_waiting_job_in_one_batch(
    celery_app, sponsor, editor, create_document, fake_generator
):
    """A message only wakes a worker: it takes whatever waits, in batches."""
    for body in ("one", "two", "three"):
        create_document(sponsor, editor.user_id, body=body)
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)  # their own messages: lost
    with worker_thread(celery_app):
        dispatch.backend(celery_app).celery.send_task(GENERATE, queue=QUEUE)
        wait_for(celery_app, [(JobStatus.done, 1)] * 3)
    assert fake_generator.calls == [["one", "two", "three"]]


def test_jobs_the_broker_lost_are_delivered_by_the_sweeper(
    celery_app, sponsor, editor, create_document, fake_generator
):
    """Redis restarted and kept nothing: the database still knows the jobs."""
    create_document(sponsor, editor.user_id)
    redis.Redis.from_url(REDIS_URL).delete(celery_app.config["JOB_QUEUE"])
    with celery_app.app_context():
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        db.session.execute(update(Autodoc).values(queued_at=an_hour_ago))
        db.session.commit()
    backend = dispatch.backend(celery_app)
    with worker_thread(celery_app):
        backend.celery.send_task(SWEEP, queue=QUEUE)
        wait_for(celery_app, [(JobStatus.done, 1)])


@pytest.mark.app_config(JOB_BACKEND="celery", REDIS_URL="redis://127.0.0.1:1/0")
def test_a_save_with_the_broker_down_still_records_the_job(
    app, sponsor, editor, create_document, client
):
    started = time.monotonic()
    create_document(sponsor, editor.user_id)
    assert time.monotonic() - started < 10
    assert rows(app) == [(JobStatus.queued, 0)]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["broker"].startswith("unreachable")


def test_readyz_says_why_the_worker_cannot_start(celery_app):
    client = celery_app.test_client()
    assert client.get("/readyz").status_code == 200
    job_status.report_worker_problem(celery_app, "model unusable: ModelLoadError: x")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["worker"] == (
            "model unusable: ModelLoadError: x"
        )
    finally:
        job_status.report_worker_problem(celery_app, None)
    assert client.get("/readyz").get_json() == {
        "ready": True,
        "checks": {"database": "ok", "broker": "ok", "worker": "ok"},
    }


def test_healthz_answers_without_the_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_worker_whose_model_cannot_load_exits_and_says_why(redis_server, tmp_path):
    """One log line, a non-zero exit, and the reason for /readyz."""
    import subprocess
    import sys

    broken = tmp_path / "not-a-model"
    broken.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ".",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": REDIS_URL,
        "TEXTGEN_MODEL": str(broken),
        "TEXTGEN_WARMUP": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from docdraft.jobs import worker; worker.load_model()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if "docdraft.jobs" in line]
    assert len(lines) == 1 and "worker not started, model unusable" in lines[0]
    problem = redis.Redis.from_url(REDIS_URL).get(job_status.PROBLEM_KEY)
    try:
        assert problem and b"ModelLoadError" in problem
    finally:
        redis.Redis.from_url(REDIS_URL).delete(job_status.PROBLEM_KEY)
