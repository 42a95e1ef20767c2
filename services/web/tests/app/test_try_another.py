"""Try another: more suggestions for one revision, lengths, modes and seeds."""

import threading

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.models import Autodoc, Document, User
from docdraft.services.guard import Conflict
from docdraft.services.suggestions import request_suggestion

pytestmark = pytest.mark.usefixtures("drafted")


def suggestions(app, document_id):
    with app.app_context():
        rows = db.session.scalars(select(Autodoc).order_by(Autodoc.id)).all()
        return [
            (row.revision.number, row.status.value, row.mode, row.length, row.seed)
            for row in rows
            if row.revision.document_id == document_id
        ]


def test_try_another_adds_a_suggestion_to_the_same_revision(
    app, sponsor, drafted, fake_generator, run_queued
):
    fake_generator.texts = [" a second opinion"]
    response = drafted.post(sponsor, "suggest", {"mode": "beam", "length": "long"})
    assert response.status_code == 302
    assert suggestions(app, drafted.id) == [
        (1, "done", "beam", "medium", None),
        (1, "queued", "beam", "long", None),
    ]
    status = drafted.status()
    assert (status["revision"], status["status"], status["suggestions"]) == (
        1,
        "queued",
        2,
    )
    run_queued()
    # The worker was asked for 200 new tokens: "long".
    assert fake_generator.requests[-1].new_tokens == 200
    status = drafted.status()
    assert (status["status"], status["text"], status["length"]) == (
        "done",
        " a second opinion",
        "long",
    )
    assert status["weights_sha256"] == "f" * 64
    assert status["settings"]["new_tokens"] == 200
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    # The newest is shown; the first stays readable under "earlier".
    assert "Earlier suggestions for revision 1 (1)" in html
    assert html.index("a second opinion") < html.index("Earlier suggestions")
    assert "one two three" in html.split("Earlier suggestions")[1]


def test_accept_takes_the_newest_suggestion(
    app, sponsor, editor, drafted, fake_generator, run_queued
):
    fake_generator.texts = [" the newer words"]
    drafted.post(editor, "suggest", {"mode": "beam", "length": "short"})
    run_queued()
    assert drafted.post(sponsor, "accept").status_code == 302
    with app.app_context():
        document = db.session.get(Document, drafted.id)
        assert document.body == "Intro. the newer words"


def test_sample_mode_records_its_seed_and_the_worker_uses_it(
    app, sponsor, drafted, fake_generator, run_queued
):
    drafted.post(sponsor, "suggest", {"mode": "sample", "length": "medium"})
    [(_, _, mode, _, seed)] = suggestions(app, drafted.id)[1:]
    assert mode == "sample" and 0 <= seed < 2**31
    run_queued()
    request = fake_generator.requests[-1]
    assert (request.mode, request.seed, request.new_tokens) == ("sample", seed, 100)
    assert drafted.status()["seed"] == seed
    html = sponsor.get(drafted.sponsor_page).get_data(as_text=True)
    assert f"sampled (seed {seed})" in html


def test_only_one_suggestion_is_written_at_a_time(app, sponsor, editor, drafted):
    assert drafted.post(sponsor, "suggest", {"length": "short"}).status_code == 302
    response = drafted.post(editor, "suggest", {"length": "long"})
    assert response.status_code == 409
    assert "still being written" in response.get_data(as_text=True)
    assert len(suggestions(app, drafted.id)) == 2


@pytest.mark.parametrize(
    "data, status",
    [
        ({"mode": "greedy", "length": "medium"}, 400),
        ({"mode": "beam", "length": "huge"}, 400),
        ({"mode": "beam", "length": "medium", "base_revision": "7"}, 409),
    ],
)
def test_bad_or_stale_requests_change_nothing(app, sponsor, drafted, data, status):
    assert drafted.post(sponsor, "suggest", data).status_code == status
    assert len(suggestions(app, drafted.id)) == 1


def test_a_locked_document_gets_no_new_suggestion(app, sponsor, editor, drafted):
    drafted.post(sponsor, "review", {"action": "submit"})
    drafted.post(editor, "review", {"action": "approve"})
    assert drafted.post(sponsor, "suggest", {"length": "short"}).status_code == 409
    assert len(suggestions(app, drafted.id)) == 1


def test_two_requests_at_once_queue_exactly_one(app, sponsor, drafted):
    barrier, outcomes = threading.Barrier(2), []

    def ask(length):
        with app.app_context():
            document = db.session.get(Document, drafted.id)
            user = db.session.get(User, sponsor.user_id)
            assert not document.latest_revision.autodoc.is_pending  # both see it done
            barrier.wait()
            try:
                request_suggestion(document, user, 1, "beam", length)
                outcomes.append("queued")
            except Conflict:
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("short", "long")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict", "queued"]
    assert len(suggestions(app, drafted.id)) == 2


def test_a_running_job_that_compiles_says_so(app, sponsor, drafted, fake_generator):
    from docdraft.jobs.serving import run_jobs

    drafted.post(sponsor, "suggest", {"length": "long"})
    seen = []

    def compiling(*program):
        seen.append(drafted.status()["detail"])

    class Announcing(type(fake_generator)):
        def generate(self, requests, on_compile=None):
            def hook(*program):
                on_compile(*program)
                compiling(*program)

            return super().generate(requests, hook)

    generator = Announcing(texts=[" compiled"], compiling=True)
    from docdraft.jobs import generator as generator_module

    generator_module.install(app, generator)
    with app.app_context():
        [job] = [s.id for s in db.session.scalars(select(Autodoc)) if s.is_pending]
        run_jobs([job])
    assert seen == ["compiling"]
    status = drafted.status()
    assert (status["status"], status["detail"]) == ("done", None)
