"""Fine-tuning jobs: started by an admin's form, run by a training worker on
the tiny GPT-2, ending ready with metrics, cancelled, or failed when its
worker dies; refused before any work below the minimum of documents."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from docdraft.extensions import db
from docdraft.jobs import dispatch
from docdraft.jobs.model_cache import store_path
from docdraft.jobs.runner import sweep
from docdraft.models import AuditEvent, LanguageModel, ModelStatus, utcnow
from docdraft.training import jobs
from docdraft.training.registry import METRIC_KEYS, register_base

from .test_dataset import approve, create

BODIES = [
    "The package manager keeps a cache of downloaded archives, and apt clean "
    "empties it when the disk is full.",
    "Debian releases a new stable version about every two years; security "
    "updates come for three years after it.",
    "A service that fails at boot leaves its logs in the journal: journalctl "
    "shows them, newest last, with the unit named.",
    "To add a user to a group, run adduser with both names; the change counts "
    "from the user's next login.",
    "The firewall's rules live in one file that nft reads at boot; keep a copy "
    "before you change them.",
]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from textgen.tiny import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture
def base(app, tiny_dir, tmp_path):
    """The tiny GPT-2 as the deployment's base model, in the registry."""
    from textgen import Generator

    app.config["MODEL_STORE"] = str(tmp_path / "store")
    sha256 = Generator.load(str(tiny_dir), warmup=False).info.weights_sha256
    with app.app_context():
        return register_base("tiny", str(tiny_dir), "local", sha256).id


@pytest.fixture
def team(app, sponsor, editor, fake_generator, run_queued):
    """The sponsor's approved, consented documents (one of them held out)."""
    documents = [create(sponsor, editor.user_id, body=body) for body in BODIES]
    run_queued()
    for document_id in documents:
        approve(sponsor, editor, document_id)
    return documents


def train_form(admin, base_id, sponsor_ids, minutes="1"):
    return admin.submit(
        "/admin/models/train",
        {
            "base_model_id": str(base_id),
            "sponsor_ids": [str(i) for i in sponsor_ids],
            "max_minutes": minutes,
        },
    )


def model_row(app, model_id):
    with app.app_context():
        model = db.session.get(LanguageModel, model_id)
        db.session.expunge(model)
        return model


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_an_admin_trains_a_model_that_ends_ready_with_its_metrics(
    app, admin, sponsor, base, team
):
    started = train_form(admin, base, [sponsor.user_id])
    assert started.status_code == 302
    model_id = int(started.location.rstrip("/").rsplit("/", 1)[1])
    assert dispatch.backend(app).trainings == [model_id]  # never in the request
    waiting = model_row(app, model_id)
    assert (waiting.status, waiting.base_id, waiting.sha256) == (
        ModelStatus.training,
        base,
        None,
    )

    with app.app_context():
        assert jobs.run_training(model_id, "trainer-1") == ModelStatus.ready
        assert jobs.run_training(model_id, "trainer-2") is None  # ended: once

    model = model_row(app, model_id)
    assert model.status == ModelStatus.ready and model.lease_owner is None
    metrics = model.metrics
    assert set(METRIC_KEYS) <= set(metrics)
    assert (metrics["train_documents"], metrics["val_documents"]) == (4, 1)
    assert metrics["val_perplexity"] < metrics["val_perplexity_base"]
    assert metrics["steps"] == model.progress["step"] >= 1
    assert 0 <= metrics["memorized_share"] <= 1
    assert set(metrics["dataset_sha256"]) == {"train.jsonl", "validation.jsonl"}
    assert model.sha256 == model.reference != metrics["base_sha256"]
    stored = Path(store_path(app, model.sha256))
    assert (stored / "config.json").is_file()

    listed = admin.get("/admin/models.json").get_json()
    entry = next(m for m in listed if m["id"] == model_id)
    assert entry["status"] == "ready" and entry["base_id"] == base
    assert entry["audience"] == [sponsor.user_id] and entry["active_for"] == []
    assert entry["metrics"]["steps"] == metrics["steps"]
    assert len(metrics["samples"]) == 1  # one held-out document here
    page = admin.get(f"/admin/models/{model_id}").get_data(as_text=True)
    assert "<svg" in page  # the loss curve
    assert "Held-out prompt" in page


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=6)
def test_below_the_minimum_it_is_refused_before_any_work(
    app, admin, sponsor, base, team
):
    refused = train_form(admin, base, [sponsor.user_id], minutes="15")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "5 approved documents with consent" in page
    assert "at least 6" in page
    assert 'value="15"' in page  # what was typed is kept
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LanguageModel.id))) == 1
    assert dispatch.backend(app).trainings == []


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=1)
@pytest.mark.parametrize(
    ("base_id", "minutes", "words"),
    [(None, "1", "Choose a ready model"), ("base", "0", "between 1 and")],
)
def test_a_bad_base_or_time_is_refused_next_to_its_field(
    app, admin, sponsor, base, team, base_id, minutes, words
):
    refused = train_form(
        admin, base if base_id == "base" else 999, [sponsor.user_id], minutes
    )
    assert refused.status_code == 400
    assert words in refused.get_data(as_text=True)
    assert dispatch.backend(app).trainings == []


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_a_model_cancelled_while_it_trains_ends_cancelled(
    app, admin, sponsor, base, team, monkeypatch
):
    """The admin's cancel arrives after the first step: the run stops before
    its next one, writes nothing to the store, and says so."""
    import textgen.training

    real, cancelled = textgen.training.fine_tune, []
    model_id = int(
        train_form(admin, base, [sponsor.user_id]).location.rsplit("/", 1)[1]
    )

    def fine_tune_cancelled_after_a_step(*args, on_progress, **kwargs):
        def progress(step, *rest):
            on_progress(step, *rest)
            if step >= 1 and not cancelled:
                cancelled.append(step)
                done = admin.post_action(
                    f"/admin/models/{model_id}/cancel", f"/admin/models/{model_id}"
                )
                assert done.status_code == 302

        return real(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(textgen.training, "fine_tune", fine_tune_cancelled_after_a_step)
    with app.app_context():
        assert jobs.run_training(model_id, "trainer-1") == ModelStatus.cancelled
    model = model_row(app, model_id)
    assert model.status == ModelStatus.cancelled and model.sha256 is None
    assert model.progress["step"] == cancelled[0] < model.progress["planned_steps"]
    assert not list(Path(app.config["MODEL_STORE"]).iterdir())
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEvent.action)).all()
    assert "model_training_cancelled" in actions


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_a_model_cancelled_before_a_worker_took_it_never_runs(
    app, admin, sponsor, base, team
):
    model_id = int(
        train_form(admin, base, [sponsor.user_id]).location.rsplit("/", 1)[1]
    )
    page = f"/admin/models/{model_id}"
    waiting = admin.get(page).get_data(as_text=True)
    assert "Waiting for a training worker" in waiting
    assert 'http-equiv="refresh"' in waiting  # the page follows the training
    assert admin.post_action(f"{page}/cancel", page).status_code == 302
    assert model_row(app, model_id).status == ModelStatus.cancelled
    ended = admin.get(page).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in ended and "Cancel training" not in ended
    with app.app_context():
        assert jobs.run_training(model_id, "trainer-1") is None


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4, JOB_LEASE_SECONDS=30)
def test_a_training_whose_worker_died_is_failed_by_the_sweeper(
    app, admin, sponsor, base, team
):
    model_id = int(
        train_form(admin, base, [sponsor.user_id]).location.rsplit("/", 1)[1]
    )
    with app.app_context():
        assert jobs._claim(model_id, "killed-worker")
        assert not jobs._claim(model_id, "another-worker")  # the lease holds
        sweep()
        assert db.session.get(LanguageModel, model_id).status == ModelStatus.training
        # The worker was SIGKILLed: nobody renews its lease, which runs out.
        model = db.session.get(LanguageModel, model_id)
        model.lease_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        sweep()
    model = model_row(app, model_id)
    assert model.status == ModelStatus.failed and model.error == jobs.STOPPED
    with app.app_context():  # a late worker cannot take it back
        assert jobs.run_training(model_id, "another-worker") is None


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_two_workers_given_one_model_train_it_once(app, admin, sponsor, base, team):
    model_id = int(
        train_form(admin, base, [sponsor.user_id]).location.rsplit("/", 1)[1]
    )
    results = {}

    def work(owner):
        with app.app_context():
            results[owner] = jobs.run_training(model_id, owner)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values(), key=str) == [None, ModelStatus.ready]


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_the_cli_trains_here_and_prints_the_metrics(
    app, runner, admin, sponsor, base, team
):
    result = runner.invoke(
        args=[
            "models",
            "train",
            "--sponsor",
            str(sponsor.user_id),
            "--base-model-id",
            str(base),
            "--max-minutes",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert ": ready" in result.output and '"val_perplexity"' in result.output
    refused = runner.invoke(
        args=["models", "train", "--sponsor", "999999", "--base-model-id", str(base)]
    )
    assert refused.exit_code != 0 and "No user has id 999999" in refused.output


@pytest.mark.app_config(TRAIN_MIN_DOCUMENTS=4)
def test_a_training_worker_killed_mid_run_is_failed_by_the_sweeper(
    app, admin, sponsor, base, team, tmp_path
):
    """`flask models train` in a process of its own, SIGKILLed once it holds
    the model: nobody renews its lease, and the sweeper fails the model."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MODEL_STORE": app.config["MODEL_STORE"],
        "TRAIN_MIN_DOCUMENTS": "4",
        "JOB_LEASE_SECONDS": "2",
    }
    command = [sys.executable, "-m", "flask", "--app", "docdraft", "models", "train"]
    command += ["--sponsor", str(sponsor.user_id), "--base-model-id", str(base)]
    worker = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            with app.app_context():
                held = db.session.scalar(
                    db.select(LanguageModel).where(
                        LanguageModel.lease_owner.is_not(None)
                    )
                )
                if held is not None:
                    break
            time.sleep(0.05)
        assert held is not None, "the worker never took the model"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(2.5)  # its last lease runs out
    with app.app_context():
        sweep()
        model = db.session.get(LanguageModel, held.id)
        assert (model.status, model.error) == (ModelStatus.failed, jobs.STOPPED)
        assert jobs.run_training(model.id, "another-worker") is None
