"""The models a worker keeps loaded, and which one writes each job.

A sponsor's job is written by the trained model active for them
(ModelActivation), otherwise by this worker's own base model
(TEXTGEN_MODEL). The base model stays loaded: it was warmed when the worker
started and serves everyone else. Trained models are loaded from the model
store (MODEL_STORE/<sha256>) when a job needs one, up to TEXTGEN_MAX_MODELS
loaded in all; past that, the least recently used trained model with no row
in flight is unloaded.
"""

import logging
import os
from collections import OrderedDict

from ..extensions import db
from ..models import (
    Autodoc,
    Document,
    LanguageModel,
    ModelActivation,
    ModelStatus,
    Revision,
)
from .generator import get_generator

log = logging.getLogger("docdraft.jobs")

BASE = None  # the key of this worker's base model


def store_path(app, sha256):
    """Where the model store keeps a trained model's weights."""
    return os.path.join(app.config["MODEL_STORE"], sha256)


def models_for(autodoc_ids):
    """{autodoc id: sha256 of the trained model that writes it, or BASE}."""
    if not autodoc_ids:
        return {}
    rows = db.session.execute(
        db.select(Autodoc.id, LanguageModel.sha256)
        .join(Revision, Autodoc.revision_id == Revision.id)
        .join(Document, Revision.document_id == Document.id)
        .join(ModelActivation, ModelActivation.sponsor_id == Document.sponsor_id)
        .join(LanguageModel, ModelActivation.model_id == LanguageModel.id)
        .where(
            Autodoc.id.in_(autodoc_ids),
            LanguageModel.status == ModelStatus.ready,
            LanguageModel.sha256.is_not(None),
        )
    )
    trained = dict(rows.all())
    return {autodoc_id: trained.get(autodoc_id, BASE) for autodoc_id in autodoc_ids}


class ModelCache:
    """Loaded generators by key: BASE, or a trained model's sha256."""

    def __init__(self, app):
        self.app = app
        self.limit = max(app.config["TEXTGEN_MAX_MODELS"], 1)
        self._trained = OrderedDict()  # sha256 -> generator, least recent first

    def get(self, key, in_use=()):
        """The generator of `key`, loading it (and unloading the least
        recently used trained model not `in_use`) when it is not loaded."""
        if key is BASE:
            return get_generator(self.app)
        if key in self._trained:
            self._trained.move_to_end(key)
            return self._trained[key]
        self._make_room(set(in_use))
        generator = self._load(key)
        self._trained[key] = generator
        return generator

    def loaded(self):
        """The keys loaded now, base first, then least to most recently used."""
        return [BASE, *self._trained]

    def _make_room(self, in_use):
        for key in list(self._trained):
            if 1 + len(self._trained) < self.limit:
                return
            if key not in in_use:
                del self._trained[key]
                log.info("model %s unloaded (least recently used)", key[:12])

    def _load(self, sha256):
        # Imported here: TensorFlow is heavy and the web processes never need it.
        from textgen import load_generator

        generator = load_generator(
            store_path(self.app, sha256),
            get_generator(self.app).settings,  # the deployment's, for every model
            backend=self.app.config["TEXTGEN_BACKEND"],
            warmup=self.app.config["TEXTGEN_WARMUP"],
        )
        if generator.info.weights_sha256 != sha256:
            raise RuntimeError(
                f"the model store's {sha256[:12]} holds other weights"
                f" ({generator.info.weights_sha256[:12]})"
            )
        log.info("model %s loaded from the store", sha256[:12])
        return generator
