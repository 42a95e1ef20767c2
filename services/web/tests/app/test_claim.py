"""The queue and the worker loop: batch claims by two workers at once, the
fair order, positions, the registry; rows joining and leaving a running batch."""

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from docdraft.extensions import db
from docdraft.jobs.generator import install
from docdraft.jobs.queue import (
    claim_batch,
    fair_order,
    queue_position,
    report_worker,
    waiting_count,
    workers,
)
from docdraft.jobs.runner import sweep
from docdraft.jobs.serving import BatchWorker
from docdraft.models import Autodoc, Document, JobStatus, Revision, Role, utcnow

from .conftest import FakeGenerator

START = utcnow() - timedelta(hours=1)


@pytest.fixture
def queue_jobs(app, make_user):
    """queue_jobs(sponsor_id, n): n queued jobs on that sponsor's documents,
    each queued a second after the previous one of any sponsor; their ids."""
    clock = iter(range(100_000))

    def factory(sponsor_id, n):
        ids = []
        with app.app_context():
            for _ in range(n):
                document = Document(sponsor_id=sponsor_id, name="Doc", body="Body.")
                revision = Revision(
                    document=document,
                    number=1,
                    name="Doc",
                    body="Body.",
                    author_id=sponsor_id,
                )
                autodoc = Autodoc(
                    revision=revision,
                    queued_at=START + timedelta(seconds=next(clock)),
                )
                db.session.add(autodoc)
                db.session.commit()
                ids.append(autodoc.id)
        return ids

    return factory


def sponsors(make_user, n):
    return [make_user(Role.sponsor)[0] for _ in range(n)]


def test_a_sponsor_with_one_job_is_not_stuck_behind_another_with_24(
    app, make_user, queue_jobs
):
    a, b = sponsors(make_user, 2)
    queue_jobs(a, 24)
    (b_job,) = queue_jobs(b, 1)
    with app.app_context():
        first_two = claim_batch("worker-1", 2)
        assert b_job in first_two


def test_sponsors_take_turns_oldest_first_within_each(app, make_user, queue_jobs):
    a, b = sponsors(make_user, 2)
    a_jobs = queue_jobs(a, 3)
    b_jobs = queue_jobs(b, 3)
    with app.app_context():
        assert fair_order() == [
            a_jobs[0],
            b_jobs[0],
            a_jobs[1],
            b_jobs[1],
            a_jobs[2],
            b_jobs[2],
        ]
        claimed = [claim_batch("worker-1", 1) for _ in range(6)]
    turns = zip(a_jobs, b_jobs, strict=True)
    assert claimed == [[job] for pair in turns for job in pair]


def test_running_jobs_count_against_their_sponsor(app, make_user, queue_jobs):
    a, b = sponsors(make_user, 2)
    a_jobs = queue_jobs(a, 4)
    with app.app_context():
        assert claim_batch("worker-1", 2) == a_jobs[:2]
    b_jobs = queue_jobs(b, 3)
    with app.app_context():
        # A has two running: B's first two jobs rank before A's next one.
        assert fair_order() == [b_jobs[0], b_jobs[1], a_jobs[2], b_jobs[2], a_jobs[3]]


def test_a_claim_leases_the_jobs(app, make_user, queue_jobs):
    (a,) = sponsors(make_user, 1)
    jobs = queue_jobs(a, 3)
    with app.app_context():
        assert claim_batch("worker-1", 2) == jobs[:2]
        rows = db.session.scalars(select(Autodoc).order_by(Autodoc.id)).all()
        assert [r.status for r in rows] == [JobStatus.running] * 2 + [JobStatus.queued]
        assert [r.lease_owner for r in rows] == ["worker-1", "worker-1", None]
        assert [r.attempts for r in rows] == [1, 1, 0]
        assert all(r.started_at and r.lease_expires_at for r in rows[:2])
        assert claim_batch("worker-2", 5) == jobs[2:]
        assert claim_batch("worker-2", 5) == []


def test_two_workers_claiming_at_once_take_every_job_once(app, make_user, queue_jobs):
    jobs = [job for s in sponsors(make_user, 3) for job in queue_jobs(s, 20)]
    claimed = {"worker-1": [], "worker-2": []}
    errors = []
    barrier = threading.Barrier(2)

    def work(owner):
        with app.app_context():
            try:
                barrier.wait()
                while batch := claim_batch(owner, 3):
                    claimed[owner].extend(batch)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(o,)) for o in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = claimed["worker-1"] + claimed["worker-2"]
    assert sorted(every) == sorted(jobs)  # none twice, none skipped
    with app.app_context():
        owners = db.session.execute(
            select(Autodoc.lease_owner, func.count()).group_by(Autodoc.lease_owner)
        ).all()
    assert {owner: n for owner, n in owners} == {
        owner: len(ids) for owner, ids in claimed.items() if ids
    }


def test_queue_position_follows_the_fair_order(app, make_user, queue_jobs):
    a, b = sponsors(make_user, 2)
    a_jobs = queue_jobs(a, 2)
    b_jobs = queue_jobs(b, 1)
    with app.app_context():
        places = [queue_position(db.session.get(Autodoc, i)) for i in a_jobs + b_jobs]
        assert places == [1, 3, 2]
        claim_batch("worker-1", 1)
        assert queue_position(db.session.get(Autodoc, a_jobs[0])) is None
        assert queue_position(db.session.get(Autodoc, b_jobs[0])) == 1


def test_waiting_count_counts_queued_jobs_of_the_sponsor(app, make_user, queue_jobs):
    a, b = sponsors(make_user, 2)
    queue_jobs(a, 3)
    queue_jobs(b, 1)
    with app.app_context():
        claim_batch("worker-1", 1)  # A's oldest: running, no longer waiting
        assert waiting_count(a) == 2
        assert waiting_count(b) == 1
        assert waiting_count(a + b + 100) == 0


def test_workers_report_themselves(app):
    with app.app_context():
        report_worker("host:1:aa", "inprocess", rows=8, running=0)
        report_worker("host:1:aa", "inprocess", rows=8, running=3)
        report_worker("host:2:bb", "celery", rows=4, running=1)
        listed = {w.name: (w.backend, w.rows, w.running) for w in workers()}
    assert listed == {
        "host:1:aa": ("inprocess", 8, 3),
        "host:2:bb": ("celery", 4, 1),
    }


# The worker loop (serving.BatchWorker), through the running-batch interface.


@dataclass(frozen=True)
class Ended:
    key: object
    text: str


class CountdownBatch:
    """A running batch whose rows end after as many advances as their
    prompt has words (an engine whose rows leave early), recording the keys
    of each advance and what `probe()` saw meanwhile."""

    def __init__(self, generator, rows):
        self.generator, self.rows, self.left, self.prompts = generator, rows, {}, {}

    def __len__(self):
        return len(self.left)

    def keys(self):
        return list(self.left)

    def free_rows(self):
        return self.rows - len(self.left)

    def admit(self, key, request):
        if "refuse" in request.prompt:
            raise ValueError("prompt refused")
        self.left[key] = len(request.prompt.split())
        self.prompts[key] = request.prompt
        return self.generator.prepare(request.prompt, request.new_tokens)

    def advance(self, on_compile=None):
        self.generator.advances.append((self.keys(), self.generator.probe()))
        ended = []
        for key in self.keys():
            self.left[key] -= 1
            if not self.left[key]:
                del self.left[key]
                ended.append(Ended(key, f"after {self.prompts.pop(key)}"))
        return ended


class CountdownGenerator(FakeGenerator):
    def __init__(self, probe):
        super().__init__()
        self.probe, self.advances = probe, []

    def running_batch(self, rows=8):
        return CountdownBatch(self, rows)


@pytest.fixture
def queue_bodies(app, make_user):
    """queue_bodies(*bodies): one sponsor's queued jobs, oldest first; ids."""
    sponsor_id = make_user(Role.sponsor)[0]

    def factory(*bodies):
        ids = []
        with app.app_context():
            for body in bodies:
                document = Document(sponsor_id=sponsor_id, name="Doc", body=body)
                revision = Revision(
                    document=document,
                    number=1,
                    name="Doc",
                    body=body,
                    author_id=sponsor_id,
                )
                autodoc = Autodoc(revision=revision)
                db.session.add(autodoc)
                db.session.commit()
                ids.append(autodoc.id)
        return ids

    return factory


def statuses(app):
    with app.app_context():
        rows = db.session.execute(select(Autodoc.id, Autodoc.status)).all()
        return {autodoc_id: status for autodoc_id, status in rows}


def test_rows_that_end_are_written_at_once_and_free_rows_take_waiting_jobs(
    app, queue_bodies
):
    generator = install(app, CountdownGenerator(probe=lambda: statuses(app)))
    short, long, waiting = queue_bodies("one", "three words long", "two words")
    with app.app_context():
        BatchWorker("worker-1", rows=2, backend="inprocess").serve()
    keys = [keys for keys, _ in generator.advances]
    # `waiting` took the row `short` left, while `long` still decoded.
    assert keys == [[short, long], [long, waiting], [long, waiting]]
    _, seen_at_second = generator.advances[1]
    assert seen_at_second[short] == JobStatus.done
    assert seen_at_second[long] == JobStatus.running
    with app.app_context():
        texts = dict(db.session.execute(select(Autodoc.id, Autodoc.text)).all())
    assert texts == {
        short: "after one",
        long: "after three words long",
        waiting: "after two words",
    }
    assert set(statuses(app).values()) == {JobStatus.done}


def test_a_refused_prompt_fails_its_own_job_at_admission(app, queue_bodies):
    install(app, CountdownGenerator(probe=dict))
    fine, refused = queue_bodies("fine", "please refuse")
    with app.app_context():
        BatchWorker("worker-1", rows=4).serve()
        failed = db.session.get(Autodoc, refused)
        assert failed.error == "ValueError: prompt refused"
    assert statuses(app) == {fine: JobStatus.done, refused: JobStatus.failed}


def test_after_an_engine_error_only_jobs_still_leased_run_again(app, queue_bodies):
    """The batch fails; meanwhile the sweeper took one job back (its lease
    expired). The fallback runs the others one by one, never that one."""
    jobs = queue_bodies("first", "lost", "third")
    crashed = []

    class FailingOnce(FakeGenerator):
        def generate(self, requests, on_compile=None):
            if len(requests) > 1:
                crashed.append([request.prompt for request in requests])
                with app.app_context():  # the worker stalled past its lease
                    db.session.execute(
                        update(Autodoc)
                        .where(Autodoc.id == jobs[1])
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
                    )
                    db.session.commit()
                    assert sweep() == [jobs[1]]
                raise RuntimeError("engine crashed")
            return super().generate(requests, on_compile)

    generator = install(app, FailingOnce(texts=["again"]))
    with app.app_context():
        BatchWorker("worker-1", rows=4).run(jobs)
    assert crashed == [["first", "lost", "third"]]
    assert generator.calls == [["first"], ["third"]]
    assert statuses(app) == {
        jobs[0]: JobStatus.done,
        jobs[1]: JobStatus.queued,
        jobs[2]: JobStatus.done,
    }


def test_a_serving_worker_shows_in_the_registry(app, queue_bodies):
    install(app, FakeGenerator())
    queue_bodies("a", "b")
    with app.app_context():
        BatchWorker("host:7:cafe", rows=3, backend="celery").serve()
        (worker,) = workers()
        assert (worker.name, worker.backend, worker.rows, worker.running) == (
            "host:7:cafe",
            "celery",
            3,
            0,
        )


def test_a_database_error_ends_the_run_but_fails_no_job(app, queue_bodies):
    """The database went away mid-chunk: not the jobs' fault. They stay
    leased until their leases expire and the sweeper queues them again."""

    class DatabaseAway(FakeGenerator):
        def generate(self, requests, on_compile=None):
            raise OperationalError("UPDATE", {}, Exception("connection lost"))

    install(app, DatabaseAway())
    jobs = queue_bodies("one", "two")
    with app.app_context(), pytest.raises(OperationalError):
        BatchWorker("worker-1", rows=4).serve()
    assert statuses(app) == {job: JobStatus.running for job in jobs}


@pytest.mark.parametrize(("sweep_every", "ends"), [(30, JobStatus.done), (None, None)])
def test_a_serving_worker_that_sweeps_takes_back_a_dead_workers_job(
    app, queue_bodies, sweep_every, ends
):
    install(app, FakeGenerator())
    (job,) = queue_bodies("orphan")
    with app.app_context():
        assert claim_batch("dead-worker", 1) == [job]
        db.session.execute(
            update(Autodoc).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        BatchWorker("worker-1", rows=2).serve(sweep_every=sweep_every)
    assert statuses(app) == {job: ends or JobStatus.running}


def test_a_job_another_claim_holds_is_skipped_not_waited_for(
    app, make_user, queue_jobs
):
    """PostgreSQL: a row locked by a claim still in progress is passed over
    (SKIP LOCKED) by every claim meanwhile, which take the next ones."""
    (a,) = sponsors(make_user, 1)
    jobs = queue_jobs(a, 4)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has no row locks: its writes take turns")
        with db.engine.connect() as other:
            other.execute(
                select(Autodoc.id).where(Autodoc.id == jobs[0]).with_for_update()
            )
            db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert claim_batch("worker-1", 2) == jobs[1:3]
            db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert claim_batch("worker-2", 5) == jobs[3:]
            other.rollback()
