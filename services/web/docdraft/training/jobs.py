"""Fine-tuning jobs: a trained model's registry row is its job.

`start_training` checks the request (a ready base model, sponsors, enough
approved documents with consent) before any work is done, then adds the
model (status training, its audience the sponsors) and nudges the train
queue. A training worker claims it under a lease (one conditional UPDATE),
renews the lease from a heartbeat thread while `textgen.training` runs,
stores progress as it goes, and ends the model ready (weights in the model
store under their sha256, metrics recorded), cancelled or failed. A worker
that dies leaves its lease to expire, and the sweeper fails the model, as it
does a generation job's lease (runner.sweep).
"""

import json
import logging
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..extensions import db
from ..jobs import dispatch
from ..jobs.model_cache import store_path
from ..models import LanguageModel, ModelAudience, ModelOrigin, ModelStatus, utcnow
from .dataset import (
    TRAIN_FILE,
    VALIDATION_FILE,
    UnknownSponsor,
    check_sponsors,
    training_documents,
    write_dataset,
)

log = logging.getLogger("docdraft.training")

MAX_MINUTES = 24 * 60
PROMPT_WORDS = 24  # held-out prompts for the memorization check
MEMORIZATION_PROMPTS = 8
MEMORIZATION_TOKENS = 40
STOPPED = "The training worker stopped (its lease expired)."


class TrainingRefused(ValueError):
    """A training request that cannot start: why, and the field it is about."""

    def __init__(self, message, field="sponsor_ids"):
        super().__init__(message)
        self.field = field


def start_training(base_id, sponsor_ids, max_minutes, actor):
    """Check, then add the model to train and nudge a training worker."""
    base = db.session.get(LanguageModel, base_id) if base_id else None
    if base is None or base.status != ModelStatus.ready or not base.sha256:
        raise TrainingRefused("Choose a ready model to start from.", "base_model_id")
    if not 1 <= max_minutes <= MAX_MINUTES:
        raise TrainingRefused(
            f"Give between 1 and {MAX_MINUTES} minutes.", "max_minutes"
        )
    try:
        sponsor_ids = check_sponsors(sponsor_ids)
    except UnknownSponsor as exc:
        raise TrainingRefused(str(exc)) from exc
    count = len(training_documents(sponsor_ids))
    minimum = current_app.config["TRAIN_MIN_DOCUMENTS"]
    if count < minimum:
        raise TrainingRefused(
            f"These sponsors have {count} approved documents with consent to"
            f" train; training needs at least {minimum}."
        )
    model = LanguageModel(
        name=f"{base.name} tuned at {utcnow():%Y-%m-%d %H:%M}",
        origin=ModelOrigin.trained,
        reference="",  # the store's directory, once written
        base_id=base.id,
        status=ModelStatus.training,
        created_by_id=actor.id,
        max_minutes=max_minutes,
        progress={"step": 0, "planned_steps": None, "losses": []},
    )
    db.session.add(model)
    db.session.flush()
    db.session.add_all(
        ModelAudience(model_id=model.id, sponsor_id=sponsor_id)
        for sponsor_id in sponsor_ids
    )
    audit.record(
        "model_training_started",
        actor=actor,
        detail=f"model={model.id} base={base.id} sponsors={sponsor_ids}",
    )
    db.session.commit()
    dispatch.backend().submit_training(model.id)
    return model


def cancel_training(model, actor):
    """Stop a training model: at once if no worker took it yet, else at the
    worker's next step. False when it is not training."""
    now = utcnow()
    ended = db.session.execute(
        update(LanguageModel)
        .where(
            LanguageModel.id == model.id,
            LanguageModel.status == ModelStatus.training,
            LanguageModel.lease_owner.is_(None),
        )
        .values(status=ModelStatus.cancelled, finished_at=now, cancel_requested=True)
    ).rowcount
    asked = (
        ended
        or db.session.execute(
            update(LanguageModel)
            .where(
                LanguageModel.id == model.id,
                LanguageModel.status == ModelStatus.training,
            )
            .values(cancel_requested=True)
        ).rowcount
    )
    if asked:
        detail = f"model={model.id}"
        audit.record("model_training_cancelled", actor=actor, detail=detail)
    db.session.commit()
    return bool(asked)


def run_training(model_id, owner):
    """Train the model `model_id` if it is still to train: its claim, the run
    and its end. Returns the model's status, or None when not claimed."""
    if not _claim(model_id, owner):
        return None
    app = current_app._get_current_object()
    model = db.session.get(LanguageModel, model_id)
    with (
        _lease(app, model_id, owner),
        tempfile.TemporaryDirectory(prefix="training-", dir=_store(app)) as workdir,
    ):
        try:
            status, values = _train(app, model, owner, Path(workdir))
        except Exception as exc:  # noqa: BLE001 - any failure must end the job
            log.exception("training of model=%s failed", model_id)
            db.session.rollback()
            status, values = ModelStatus.failed, {"error": _error(exc)}
    _finish(model_id, owner, status, values)
    return status


def sweep_training():
    """Fail the models whose training worker stopped renewing its lease;
    nudge again those no worker took. Returns (failed ids, nudged ids)."""
    now = utcnow()
    failed = db.session.scalars(
        update(LanguageModel)
        .where(
            LanguageModel.status == ModelStatus.training,
            LanguageModel.lease_expires_at < now,
        )
        .values(
            status=ModelStatus.failed,
            error=STOPPED,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(LanguageModel.id)
    ).all()
    late = now - timedelta(seconds=current_app.config["JOB_REDELIVER_AFTER"])
    waiting = db.session.scalars(
        db.select(LanguageModel.id).where(
            LanguageModel.status == ModelStatus.training,
            LanguageModel.lease_owner.is_(None),
            LanguageModel.created_at < late,
        )
    ).all()
    db.session.commit()
    for model_id in failed:
        log.warning("model=%s failed: its training worker stopped", model_id)
    for model_id in waiting:
        dispatch.backend().submit_training(model_id)
    return failed, waiting


def _claim(model_id, owner):
    claimed = db.session.execute(
        update(LanguageModel)
        .where(
            LanguageModel.id == model_id,
            LanguageModel.status == ModelStatus.training,
            LanguageModel.cancel_requested.is_(False),
            or_(
                LanguageModel.lease_owner.is_(None),
                LanguageModel.lease_expires_at < utcnow(),
            ),
        )
        .values(lease_owner=owner, lease_expires_at=_lease_end())
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _lease_end():
    return utcnow() + timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])


class _lease:
    """Renews the lease every third of its length while the block runs."""

    def __init__(self, app, model_id, owner):
        self.app, self.model_id, self.owner = app, model_id, owner
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._beat, name="docdraft-train-lease")
        self.thread.daemon = True
        self.thread.start()

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()

    def _beat(self):
        with self.app.app_context():
            while not self.stop.wait(self.app.config["JOB_LEASE_SECONDS"] / 3):
                try:
                    _owned(self.model_id, self.owner, lease_expires_at=_lease_end())
                except Exception:  # noqa: BLE001 - a missed beat is not fatal
                    log.warning("training lease renewal failed", exc_info=True)
                    db.session.rollback()
            db.session.remove()


def _owned(model_id, owner, **values):
    """Update the model while this worker holds it; False once it does not."""
    changed = db.session.execute(
        update(LanguageModel)
        .where(
            LanguageModel.id == model_id,
            LanguageModel.status == ModelStatus.training,
            LanguageModel.lease_owner == owner,
        )
        .values(**values)
    ).rowcount
    db.session.commit()
    return bool(changed)


def _train(app, model, owner, workdir):
    """The run itself: (status, column values) to end the model with."""
    from textgen import evaluation, load_generator
    from textgen.settings import Request
    from textgen.training import fine_tune

    sponsor_ids = [sponsor.id for sponsor in model.audience]
    # The model learns from the very files whose sha256 it records.
    manifest = write_dataset(sponsor_ids, workdir / "dataset")
    train, validation = (
        _texts(workdir / "dataset" / name) for name in (TRAIN_FILE, VALIDATION_FILE)
    )
    base = model.base
    base_dir = _weights_dir(app, base)
    losses = []

    def on_progress(step, planned, loss, val_loss):
        if loss is not None or val_loss is not None:
            losses.append([step, loss, val_loss])
        progress = {"step": step, "planned_steps": planned, "losses": list(losses)}
        if not _owned(model.id, owner, progress=progress):
            raise RuntimeError("this worker no longer holds the training job")

    def should_stop():
        db.session.expire_all()
        return db.session.get(LanguageModel, model.id).cancel_requested

    result = fine_tune(
        base_dir,
        train,
        validation,
        workdir / "model",
        max_seconds=model.max_minutes * 60,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    if result.cancelled:
        return ModelStatus.cancelled, {}
    prompts = [" ".join(text.split()[:PROMPT_WORDS]) for text in validation]
    prompts = prompts[:MEMORIZATION_PROMPTS]

    def memorized(directory):
        """(memorized share, continuations) of the model in `directory`."""
        generator = load_generator(str(directory), warmup=False)
        requests = [Request(p, new_tokens=MEMORIZATION_TOKENS) for p in prompts]
        written = generator.generate(requests)
        share = evaluation.memorized_share(
            lambda _prompts: written, prompts, train, tokenizer=generator.tokenizer
        )
        return share, written

    (base_share, base_texts), (share, texts) = (
        memorized(base_dir),
        memorized(workdir / "model"),
    )
    stored = Path(store_path(app, result.weights_sha256))
    if not stored.exists():
        shutil.move(str(workdir / "model"), stored)
    metrics = {
        "train_documents": result.train_documents,
        "val_documents": result.val_documents,
        "train_tokens": result.train_tokens,
        "val_tokens": result.val_tokens,
        "val_perplexity_base": result.val_perplexity_base,
        "val_perplexity": result.val_perplexity,
        "memorized_share_base": base_share,
        "memorized_share": share,
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "base_sha256": result.base_weights_sha256,
        "dataset_sha256": {
            name: entry["sha256"] for name, entry in manifest["files"].items()
        },
        # What each model wrote for the first held-out prompts, to read.
        "samples": [
            {"prompt": prompt, "base": before, "trained": after}
            for prompt, before, after in zip(
                prompts[:3], base_texts, texts, strict=False
            )
        ],
    }
    values = {
        "sha256": result.weights_sha256,
        "reference": result.weights_sha256,
        "metrics": metrics,
        "progress": {
            "step": result.steps,
            "planned_steps": result.planned_steps,
            "losses": result.losses,
        },
    }
    return ModelStatus.ready, values


def _texts(path):
    """The documents' final texts in one of the dataset's JSONL files."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def _weights_dir(app, model):
    """Where the weights of a registered model are read from."""
    if model.origin == ModelOrigin.trained:
        return store_path(app, model.sha256)
    return model.reference


def _store(app):
    directory = Path(app.config["MODEL_STORE"])
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _finish(model_id, owner, status, values):
    ended = {"finished_at": utcnow(), "lease_owner": None, "lease_expires_at": None}
    try:
        owned = _owned(model_id, owner, status=status, **ended, **values)
    except IntegrityError:  # the same weights as a model trained before
        db.session.rollback()
        twin = db.session.scalar(
            db.select(LanguageModel.id).where(LanguageModel.sha256 == values["sha256"])
        )
        status = ModelStatus.failed
        error = f"It came out the same as model {twin} (the same weights)."
        owned = _owned(model_id, owner, status=status, error=error, **ended)
    if owned:
        log.info("model=%s %s", model_id, status.value)
    else:
        log.warning("model=%s ended here after its lease was lost", model_id)


def _error(exc):
    return f"{type(exc).__name__}: {exc}"[:2000]
