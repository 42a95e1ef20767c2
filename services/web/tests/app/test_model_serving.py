"""Each job is written by its sponsor's active model; workers keep a few loaded."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.jobs import generator as generator_module
from docdraft.jobs.model_cache import BASE, ModelCache, store_path
from docdraft.models import (
    Autodoc,
    LanguageModel,
    ModelActivation,
    ModelAudience,
    ModelOrigin,
    ModelStatus,
    Revision,
)

PROMPT = "Debian is a free operating system"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A tiny GPT-2 (the base) and two 'trained' variants of it (its weights
    moved by seeded noise): {name: (directory, weights sha256)}."""
    from transformers import TFGPT2LMHeadModel

    from textgen import Generator
    from textgen.tiny import build_tiny_gpt2

    base = build_tiny_gpt2(tmp_path_factory.mktemp("base"))
    models = {"base": base}
    for seed in (1, 2):
        directory = tmp_path_factory.mktemp(f"trained-{seed}")
        shutil.copytree(base, directory, dirs_exist_ok=True)
        model = TFGPT2LMHeadModel.from_pretrained(str(base))
        noise = np.random.default_rng(seed)
        for weight in model.weights:
            weight.assign(weight + noise.normal(0, 0.2, weight.shape).astype("float32"))
        model.save_pretrained(str(directory))
        models[f"trained-{seed}"] = directory
    return {
        name: (
            directory,
            Generator.load(str(directory), warmup=False).info.weights_sha256,
        )
        for name, directory in models.items()
    }


@pytest.fixture(scope="session")
def base_generator(tiny_models):
    """The base model's generator, compiled once for the session."""
    from textgen import GenerationSettings, Generator

    settings = GenerationSettings(
        max_new_tokens=12, num_beams=2, min_new_tokens=4, length_buckets=(16,)
    )
    base_dir, _ = tiny_models["base"]
    return Generator.load(str(base_dir), settings, warmup=False, batch_sizes=(1, 4))


@pytest.fixture
def store(app, tiny_models, base_generator, tmp_path):
    """The app's model store holding the trained variants; the base installed."""
    app.config["MODEL_STORE"] = str(tmp_path / "store")
    for name, (directory, sha256) in tiny_models.items():
        if name != "base":
            shutil.copytree(directory, store_path(app, sha256))
    generator_module.install(app, base_generator)
    return base_generator


def trained_model(sha256, sponsor_ids, active_for=()):
    """A ready trained model with this audience, active for `active_for`."""
    model = LanguageModel(
        name=f"trained {sha256[:8]}",
        origin=ModelOrigin.trained,
        reference=sha256,
        sha256=sha256,
        status=ModelStatus.ready,
    )
    db.session.add(model)
    db.session.flush()
    for sponsor_id in sponsor_ids:
        db.session.add(ModelAudience(model_id=model.id, sponsor_id=sponsor_id))
    for sponsor_id in active_for:
        db.session.add(ModelActivation(sponsor_id=sponsor_id, model_id=model.id))
    db.session.commit()
    return model


def written(app, document_id):
    with app.app_context():
        autodoc = db.session.scalar(
            select(Autodoc)
            .join(Revision)
            .where(Revision.document_id == document_id)
            .order_by(Autodoc.id.desc())
        )
        return autodoc.status.value, autodoc.text, autodoc.weights_sha256


def test_each_sponsors_job_is_written_by_their_model_in_one_run(
    app, login_as, editor, create_document, store, tiny_models, run_queued
):
    from textgen import load_generator
    from textgen.settings import Request

    first, second = login_as(), login_as()
    _, trained_sha = tiny_models["trained-1"]
    with app.app_context():
        trained_model(trained_sha, [first.user_id], active_for=[first.user_id])
    mine = create_document(first, editor.user_id, body=PROMPT)
    theirs = create_document(second, editor.user_id, body=PROMPT)

    assert len(run_queued()) == 2  # one run of the worker: both jobs

    request = Request(PROMPT, new_tokens=100)
    trained = load_generator(store_path(app, trained_sha), store.settings, warmup=False)
    assert written(app, mine) == ("done", trained.generate([request])[0], trained_sha)
    assert written(app, theirs) == (
        "done",
        store.generate([request])[0],
        store.info.weights_sha256,
    )
    assert trained.generate([request]) != store.generate([request])


def test_a_model_that_is_not_ready_or_not_active_is_not_used(
    app, login_as, editor, create_document, store, tiny_models, run_queued
):
    failed, inactive = login_as(), login_as()
    with app.app_context():
        model = trained_model(
            tiny_models["trained-1"][1], [failed.user_id], active_for=[failed.user_id]
        )
        model.status = ModelStatus.failed
        trained_model(tiny_models["trained-2"][1], [inactive.user_id])  # not active
    documents = [
        create_document(sponsor, editor.user_id, body=PROMPT)
        for sponsor in (failed, inactive)
    ]
    run_queued()
    for document_id in documents:
        assert written(app, document_id)[2] == store.info.weights_sha256


def test_a_model_missing_from_the_store_fails_its_job_only(
    app, login_as, editor, create_document, store, run_queued
):
    first, second = login_as(), login_as()
    with app.app_context():
        trained_model("0" * 64, [first.user_id], active_for=[first.user_id])
    mine = create_document(first, editor.user_id, body=PROMPT)
    theirs = create_document(second, editor.user_id, body=PROMPT)
    run_queued()
    assert written(app, mine)[0] == "failed"
    assert written(app, theirs)[0] == "done"


@pytest.mark.app_config(TEXTGEN_MAX_MODELS=2)
def test_the_least_recently_used_trained_model_is_unloaded(app, store, tiny_models):
    one, two = tiny_models["trained-1"][1], tiny_models["trained-2"][1]
    with app.app_context():
        cache = ModelCache(app)
        assert cache.get(BASE) is store
        first = cache.get(one)
        assert cache.get(one) is first  # loaded once
        assert cache.loaded() == [BASE, one]
        cache.get(two)  # over the limit of 2: `one` goes
        assert cache.loaded() == [BASE, two]
        cache.get(one, in_use={two})  # `two` has rows in flight: it stays
        assert cache.loaded() == [BASE, two, one]
        assert cache.get(one).info.weights_sha256 == one


@pytest.mark.app_config(TEXTGEN_BACKEND="ctranslate2")
def test_a_ctranslate2_worker_converts_a_trained_model_on_first_use(
    app, store, tiny_models
):
    from textgen.backends import CT2_DIRECTORY, CT2Generator
    from textgen.settings import Request

    sha256 = tiny_models["trained-1"][1]
    converted = Path(store_path(app, sha256)) / CT2_DIRECTORY
    assert not converted.exists()
    with app.app_context():
        generator = ModelCache(app).get(sha256)
    assert isinstance(generator, CT2Generator) and converted.is_dir()
    assert generator.info.weights_sha256 == sha256
    assert generator.generate([Request(PROMPT, new_tokens=8)])[0].strip()


def test_a_worker_that_loads_its_model_enters_it_in_the_registry(
    app, tiny_models, admin
):
    directory, sha256 = tiny_models["base"]
    app.config.update(TEXTGEN_MODEL=str(directory), TEXTGEN_WARMUP=False)
    generator_module.install(app, None)  # nothing loaded yet
    with app.app_context():
        assert generator_module.get_generator(app).info.weights_sha256 == sha256
    (entry,) = admin.get("/admin/models.json").get_json()
    assert (entry["sha256"], entry["status"], entry["base_id"]) == (
        sha256,
        "ready",
        None,
    )
