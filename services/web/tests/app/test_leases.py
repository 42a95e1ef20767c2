"""Leases: jobs are never lost and never run twice, whatever stops a worker."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.jobs import generator as generator_module
from docdraft.jobs.runner import MAX_ATTEMPTS, claim, renew, sweep
from docdraft.jobs.serving import run_jobs
from docdraft.models import Autodoc, JobStatus, Revision

from .conftest import FakeGenerator


def the_job(app):
    with app.app_context():
        job = db.session.scalar(select(Autodoc))
        db.session.expunge(job)
        return job


def set_job(app, **values):
    with app.app_context():
        db.session.execute(update(Autodoc).values(**values))
        db.session.commit()


def ago(seconds):
    return datetime.now(UTC) - timedelta(seconds=seconds)


@pytest.fixture
def job(app, sponsor, editor, create_document):
    create_document(sponsor, editor.user_id)
    return the_job(app).id


def test_two_workers_racing_for_one_job_only_one_wins(app, job):
    barrier = threading.Barrier(2)
    wins = []

    def take(owner):
        with app.app_context():
            barrier.wait()
            wins.append((owner, claim(job, owner)))
            db.session.remove()

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(won for _, won in wins) == [False, True]
    winner = next(owner for owner, won in wins if won)
    row = the_job(app)
    assert (row.status, row.lease_owner, row.attempts) == (
        JobStatus.running,
        winner,
        1,
    )
    assert row.lease_expires_at is not None


def test_an_expired_lease_is_queued_again_and_redelivered(app, job, fake_generator):
    with app.app_context():
        assert claim(job, "lost-worker")
        assert sweep() == []  # the lease still holds
    set_job(app, lease_expires_at=ago(1))
    with app.app_context():
        assert sweep() == [job]
        assert the_job(app).status == JobStatus.queued
        run_jobs([job], "new-worker")
    row = the_job(app)
    assert (row.status, row.attempts, row.lease_owner) == (JobStatus.done, 2, None)


def test_a_result_written_after_the_lease_was_lost_is_discarded(app, job):
    """Worker A stalls past its lease; B takes the job over; A's late result
    is thrown away instead of overwriting B's."""
    generators = {"b": FakeGenerator(texts=["text from B"])}

    class StallingGenerator(FakeGenerator):
        def generate(self, prompts, on_compile=None):
            with app.app_context():  # while A stalls, its lease expires...
                db.session.execute(update(Autodoc).values(lease_expires_at=ago(1)))
                db.session.commit()
                assert sweep() == [job]  # ...and the sweeper hands the job to B
                generator_module.install(app, generators["b"])
                run_jobs([job], "worker-b")
            return ["late text from A"]

    generator_module.install(app, StallingGenerator())
    with app.app_context():
        run_jobs([job], "worker-a")
    row = the_job(app)
    assert (row.status, row.text, row.attempts) == (JobStatus.done, "text from B", 2)


def test_a_job_whose_worker_keeps_dying_fails_after_the_cap(app, job):
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with app.app_context():
            assert claim(job, f"doomed-{attempt}")
        set_job(app, lease_expires_at=ago(1))  # the worker was SIGKILLed
        with app.app_context():
            redelivered = sweep()
        assert redelivered == ([job] if attempt < MAX_ATTEMPTS else [])
    row = the_job(app)
    assert row.status == JobStatus.failed and row.attempts == MAX_ATTEMPTS
    assert f"gave up after {MAX_ATTEMPTS} attempts" in row.error


@pytest.mark.app_config(JOB_TIME_LIMIT=30)
def test_a_job_past_the_time_limit_fails_as_timed_out(app, job):
    with app.app_context():
        assert claim(job, "slow-worker")
    set_job(app, started_at=ago(31))
    with app.app_context():
        assert renew([job], "slow-worker") == 0  # no renewal past the limit
        assert sweep() == []
    row = the_job(app)
    assert row.status == JobStatus.failed
    assert row.error == "TimeoutError: timed out after 30 s"


def test_retry_after_the_cap_starts_a_new_series(
    app, job, sponsor, fake_generator, run_queued
):
    set_job(app, status=JobStatus.failed, attempts=MAX_ATTEMPTS, error="gave up")
    with app.app_context():
        document_id = db.session.scalar(select(Revision.document_id))
    response = sponsor.post_action(
        f"/documents/{document_id}/retry", f"/sponsor/documents/{document_id}"
    )
    assert response.status_code == 302
    assert the_job(app).attempts == 0
    run_queued()
    assert (the_job(app).status, the_job(app).attempts) == (JobStatus.done, 1)


@pytest.mark.app_config(JOB_LEASE_SECONDS=0.6)
def test_a_long_generation_keeps_its_lease_alive(app, job):
    class SlowGenerator(FakeGenerator):
        def generate(self, prompts, on_compile=None):
            time.sleep(1.5)  # 2.5 leases
            with app.app_context():
                assert sweep() == []  # renewed: nothing to take back
            return super().generate(prompts)

    generator_module.install(app, SlowGenerator())
    with app.app_context():
        run_jobs([job], "patient-worker")
    row = the_job(app)
    assert (row.status, row.attempts) == (JobStatus.done, 1)


def test_a_job_queued_too_long_is_delivered_again(app, job):
    with app.app_context():
        assert sweep() == []  # just queued
    set_job(app, queued_at=ago(3600))
    with app.app_context():
        assert sweep() == [job]


def test_two_inprocess_workers_on_one_database_run_each_job_once(
    make_app, app, sponsor, editor, create_document
):
    for n in range(6):
        create_document(sponsor, editor.user_id, body=f"document {n}")
    workers = []
    for name in ("one", "two"):
        worker_app = make_app(JOB_BACKEND="inprocess")
        generator_module.install(worker_app, FakeGenerator([name]))
        workers.append(worker_app)
    for worker_app in workers:
        dispatch.backend(worker_app).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with app.app_context():
            rows = db.session.scalars(select(Autodoc)).all()
            if all(r.status == JobStatus.done for r in rows):
                break
        time.sleep(0.1)
    with app.app_context():
        rows = db.session.scalars(select(Autodoc)).all()
        assert [r.status for r in rows] == [JobStatus.done] * 6
        assert [r.attempts for r in rows] == [1] * 6
