"""The text generator a worker process uses, loaded once per process."""

import logging
import threading

from flask import current_app

log = logging.getLogger("docdraft.jobs")
EXTENSION_KEY = "docdraft.generator"
_lock = threading.Lock()


def get_generator(app=None):
    """The app's generator, loading the configured model on first use.

    Raises textgen.ModelLoadError (one clear line) when the model is unusable.
    """
    app = app or current_app._get_current_object()
    with _lock:
        generator = app.extensions.get(EXTENSION_KEY)
        if generator is None:
            generator = _load(app)
            app.extensions[EXTENSION_KEY] = generator
    return generator


def install(app, generator):
    """Make `generator` the app's (a fake or a small model, in tests)."""
    with _lock:
        app.extensions[EXTENSION_KEY] = generator
    return generator


def _load(app):
    # Imported here: TensorFlow is heavy and the web processes never need it.
    from textgen import load_generator, resolve_model_reference, runtime

    # Before the engine imports TensorFlow (a no-op once the process's entry
    # point, such as the Celery worker, has done it).
    runtime.setup()
    reference = resolve_model_reference(app.config["TEXTGEN_MODEL"])
    generator = load_generator(
        reference,
        backend=app.config["TEXTGEN_BACKEND"],
        warmup=app.config["TEXTGEN_WARMUP"],
    )
    log.info("generator ready: %s", generator.info.name)
    _register(app, reference, generator.info)
    return generator


def _register(app, reference, info):
    """Enter the deployment's base model in the registry (/admin/models):
    trained models name it as their base. A worker whose database is down
    still serves; the next worker to start registers it."""
    from pathlib import Path

    from textgen.loading import SEED_MODEL_DIR

    from ..training.registry import register_base

    if Path(reference).resolve() == Path(SEED_MODEL_DIR).resolve():
        origin = "seed"
    else:
        origin = "local" if Path(reference).is_dir() else "hub"
    try:
        with app.app_context():
            register_base(info.name, str(reference), origin, info.weights_sha256)
    except Exception:  # noqa: BLE001 - the registry is for people to read
        log.warning("could not register the base model", exc_info=True)
