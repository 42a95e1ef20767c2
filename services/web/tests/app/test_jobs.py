"""The worker: claiming, batching, failures, restarts, and real TensorFlow text."""

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.jobs import generator as generator_module
from docdraft.jobs.runner import claim
from docdraft.jobs.serving import BatchWorker, run_jobs
from docdraft.models import Autodoc, JobStatus, Revision

from .conftest import FakeGenerator


def autodocs(app):
    with app.app_context():
        rows = db.session.scalars(select(Autodoc).order_by(Autodoc.id)).all()
        return [(a.status, a.text) for a in rows]


def wait_until_done(app, count, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = autodocs(app)
        if len(rows) == count and all(s == JobStatus.done for s, _ in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"jobs not done in time: {autodocs(app)}")


def test_a_job_delivered_twice_runs_once(
    app, sponsor, editor, create_document, fake_generator
):
    create_document(sponsor, editor.user_id)
    with app.app_context():
        (autodoc_id,) = db.session.scalars(select(Autodoc.id)).all()
        assert claim(autodoc_id, "worker-a") is True
        assert claim(autodoc_id, "worker-b") is False
        db.session.execute(update(Autodoc).values(status=JobStatus.queued))
        db.session.commit()
        run_jobs([autodoc_id, autodoc_id])
        run_jobs([autodoc_id])
    assert fake_generator.calls == [["Write about Debian."]]
    assert autodocs(app) == [(JobStatus.done, "a continuation")]


def test_waiting_jobs_run_as_one_batch(
    app, sponsor, editor, create_document, fake_generator, run_queued
):
    for body in ("one", "two", "three"):
        create_document(sponsor, editor.user_id, body=body)
    run_queued()
    assert fake_generator.calls == [["one", "two", "three"]]


class PickyGenerator(FakeGenerator):
    def generate(self, prompts, on_compile=None):
        if "poison" in [request.prompt for request in prompts]:
            raise ValueError("cannot continue 'poison'")
        return super().generate(prompts, on_compile)


def test_one_bad_prompt_fails_only_its_own_job(
    app, sponsor, editor, create_document, run_queued
):
    generator_module.install(app, PickyGenerator())
    for body in ("fine", "poison", "also fine"):
        create_document(sponsor, editor.user_id, body=body)
    run_queued()
    statuses = [status for status, _ in autodocs(app)]
    assert statuses == [JobStatus.done, JobStatus.failed, JobStatus.done]
    with app.app_context():
        failed = db.session.scalar(
            select(Autodoc).where(Autodoc.status == JobStatus.failed)
        )
        assert failed.error == "ValueError: cannot continue 'poison'"
        assert failed.finished_at is not None


@pytest.mark.app_config(JOB_BACKEND="inprocess")
def test_inprocess_worker_runs_jobs_in_the_background(
    app, sponsor, editor, create_document
):
    generator_module.install(app, FakeGenerator(["from the thread"]))
    create_document(sponsor, editor.user_id)
    assert wait_until_done(app, 1) == [(JobStatus.done, "from the thread")]


def test_jobs_left_by_a_stopped_process_finish_after_restart(
    make_app, app, sponsor, editor, create_document
):
    for body in ("left queued", "left running"):
        create_document(sponsor, editor.user_id, body=body)
    with app.app_context():  # the old process died mid-generation on the second
        running = db.session.scalars(select(Autodoc.id)).all()[1]
        assert claim(running, "dead-worker")
        db.session.execute(  # ... and its lease ran out since
            update(Autodoc)
            .where(Autodoc.id == running)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    restarted = make_app(JOB_BACKEND="inprocess")
    generator_module.install(restarted, FakeGenerator(["recovered"]))
    dispatch.backend(restarted).start()
    rows = wait_until_done(restarted, 2)
    assert rows == [(JobStatus.done, "recovered")] * 2
    with restarted.app_context():
        attempts = db.session.scalars(select(Autodoc.attempts).order_by(Autodoc.id))
        assert attempts.all() == [1, 2]


def test_unusable_model_stops_the_worker_with_one_clear_line(
    make_app, app, sponsor, editor, create_document, tmp_path, caplog
):
    create_document(sponsor, editor.user_id)
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    worker_app = make_app(JOB_BACKEND="inprocess", TEXTGEN_MODEL=str(broken))
    worker = dispatch.backend(worker_app)
    with caplog.at_level(logging.ERROR, logger="docdraft.jobs"):
        worker.start()
        worker._thread.join(timeout=60)
    assert not worker._thread.is_alive()
    assert "ModelLoadError" in worker.load_error
    lines = [r for r in caplog.records if r.name == "docdraft.jobs"]
    assert len(lines) == 1 and "worker not started" in lines[0].getMessage()
    assert autodocs(app) == [(JobStatus.queued, None)]  # nothing lost


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory):
    """A real GPT-2 (tiny, random weights) on TensorFlow, built for this session."""
    from textgen import GenerationSettings, Generator
    from textgen.tiny import build_tiny_gpt2

    directory = build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))
    settings = GenerationSettings(
        max_new_tokens=24, num_beams=2, min_new_tokens=5, length_buckets=(16,)
    )
    return Generator.load(str(directory), settings, warmup=False, batch_sizes=(1, 8))


@pytest.mark.app_config(JOB_BACKEND="inprocess")
def test_worker_writes_real_text_with_a_tiny_gpt2(
    app, sponsor, editor, create_document, tiny_generator
):
    generator_module.install(app, tiny_generator)
    create_document(sponsor, editor.user_id, body="Debian is a free operating system")
    ((status, text),) = wait_until_done(app, 1, timeout=300)
    assert text.strip()
    from textgen.settings import Request

    # The app asks for a medium suggestion (100 new tokens; the tiny model's
    # 128-token context leaves a 16-token window for it).
    expected = Request("Debian is a free operating system", new_tokens=100)
    assert text == tiny_generator.generate([expected])[0]
    with app.app_context():
        autodoc = db.session.scalar(select(Autodoc))
        assert autodoc.model_name == tiny_generator.info.name
        assert autodoc.settings == {
            **tiny_generator.settings.as_dict(),
            "new_tokens": 100,
        }
        assert autodoc.weights_sha256 == tiny_generator.info.weights_sha256
        revision = db.session.scalar(select(Revision))
        assert revision.autodoc.id == autodoc.id


class ArrivalsDuringTheFirstChunk:
    """The tiny engine, with a document saved while its first chunk decodes;
    records the keys of every chunk."""

    def __init__(self, engine, arrive):
        self.engine, self.arrive, self.chunks = engine, arrive, []

    def __getattr__(self, name):  # info, settings, prepare: the engine's own
        return getattr(self.engine, name)

    def running_batch(self, rows=8):
        batch = self.engine.running_batch(rows)
        advance = batch.advance

        def advance_and_record(on_compile=None):
            self.chunks.append(batch.keys())
            if len(self.chunks) == 1:
                self.arrive()
            return advance(on_compile)

        batch.advance = advance_and_record
        return batch


def test_a_job_saved_while_a_batch_runs_joins_the_same_worker_run(
    app, sponsor, editor, create_document, tiny_generator
):
    """One serve() call takes both: the job that arrived mid-batch is admitted
    at a chunk boundary, with no new wake-up, and writes what it would alone."""
    from textgen.settings import Request

    bodies = ["Debian is a free operating system", "Packages are built from source"]
    generator = ArrivalsDuringTheFirstChunk(
        tiny_generator, lambda: create_document(sponsor, editor.user_id, body=bodies[1])
    )
    generator_module.install(app, generator)
    create_document(sponsor, editor.user_id, body=bodies[0])
    with app.app_context():
        (first,) = db.session.scalars(select(Autodoc.id)).all()
        BatchWorker("worker-1", rows=8, backend="inprocess").serve()
        second = db.session.scalar(select(Autodoc.id).where(Autodoc.id != first))
    assert generator.chunks[0] == [first]
    assert any(second in keys for keys in generator.chunks[1:])
    alone = [tiny_generator.generate([Request(b, new_tokens=100)])[0] for b in bodies]
    assert autodocs(app) == [(JobStatus.done, alone[0]), (JobStatus.done, alone[1])]
