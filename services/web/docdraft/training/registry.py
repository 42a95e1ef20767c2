"""The model registry's rules: which models exist, and which one serves whom.

- The deployment's base model (seed, hub or a local directory) enters the
  registry, ready and with no base, when a worker loads it (`register_base`).
- A trained model serves only its audience, the sponsors whose documents
  trained it, and only those it is activated for. One activation per sponsor;
  a sponsor with none is served by the base model (`model_for_sponsor`).
- Activation and deactivation are all or nothing, and each one is in the
  audit log.
"""

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..extensions import db
from ..models import (
    LanguageModel,
    ModelActivation,
    ModelOrigin,
    ModelStatus,
    Role,
    User,
    utcnow,
)
from .usage import Usage, usage_by_sha

AUDIENCE_RULE = "a trained model serves only the sponsors whose documents trained it"
METRIC_KEYS = (
    "train_documents",
    "val_documents",
    "train_tokens",
    "val_tokens",
    "val_perplexity_base",
    "val_perplexity",
    "memorized_share_base",
    "memorized_share",
    "steps",
    "seconds",
)


class ActivationRefused(ValueError):
    """An activation or deactivation that breaks a rule; the message names it."""


@dataclass(frozen=True)
class Activation:
    """What an activation or deactivation did, for the page's flash."""

    model: LanguageModel
    sponsors: list


def register_base(name, reference, origin, sha256):
    """The base model with these weights, added (ready, no base) if new.

    Idempotent by sha256; two workers registering the same weights at once
    both end with the one row, because sha256 is unique and the loser of the
    race reads the winner's row.
    """
    found = _by_sha(sha256)
    if found is not None:
        return found
    model = LanguageModel(
        name=name,
        reference=reference,
        origin=ModelOrigin(origin),
        sha256=sha256,
        status=ModelStatus.ready,
        finished_at=utcnow(),
    )
    db.session.add(model)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _by_sha(sha256)
    return model


def _by_sha(sha256):
    return db.session.scalar(
        select(LanguageModel).where(LanguageModel.sha256 == sha256)
    )


def base_model():
    """The newest registered model that was not trained here, or None."""
    return db.session.scalar(
        select(LanguageModel)
        .where(LanguageModel.origin != ModelOrigin.trained)
        .order_by(LanguageModel.id.desc())
        .limit(1)
    )


def model_for_sponsor(sponsor_id):
    """The model that writes `sponsor_id`'s suggestions: their active trained
    model, else the base model (None while nothing is registered)."""
    active = db.session.scalar(
        select(LanguageModel)
        .join(ModelActivation, ModelActivation.model_id == LanguageModel.id)
        .where(
            ModelActivation.sponsor_id == sponsor_id,
            LanguageModel.status == ModelStatus.ready,
        )
    )
    return active or base_model()


def activate(model, sponsor_ids, actor):
    """Make `model` the active model of each sponsor; replaces their earlier one.

    Raises ActivationRefused, changing nothing, unless the model is a ready
    trained model and every sponsor is in its audience.
    """
    sponsors = _checked_sponsors(model, sponsor_ids, "activated")
    now = utcnow()
    for sponsor in sponsors:
        db.session.execute(_upsert_activation(model, sponsor, actor, now))
    _audit("model_activated", model, sponsors, actor)
    return Activation(model, sponsors)


def deactivate(model, sponsor_ids, actor):
    """Return each sponsor to the base model. Raises ActivationRefused,
    changing nothing, for a sponsor whose active model is not `model`."""
    sponsors = _checked_sponsors(model, sponsor_ids, "deactivated")
    active = set(active_for([model])[model.id])
    idle = [sponsor for sponsor in sponsors if sponsor.id not in active]
    if idle:
        raise ActivationRefused(
            f"{model.name} is not active for {_names(idle)}: nothing to deactivate."
        )
    db.session.execute(
        delete(ModelActivation).where(
            ModelActivation.model_id == model.id,
            ModelActivation.sponsor_id.in_([sponsor.id for sponsor in sponsors]),
        )
    )
    _audit("model_deactivated", model, sponsors, actor)
    return Activation(model, sponsors)


def _checked_sponsors(model, sponsor_ids, verb):
    """The sponsors of `sponsor_ids` if `model` may be `verb` for all of them."""
    if model.origin != ModelOrigin.trained:
        raise ActivationRefused(
            f"{model.name} is the deployment's base model: it serves every sponsor "
            f"with no active trained model, and is not {verb}."
        )
    if model.status != ModelStatus.ready:
        raise ActivationRefused(
            f"{model.name} is {model.status.value}: only a ready model is {verb}."
        )
    if not sponsor_ids:
        raise ActivationRefused("Choose at least one sponsor.")
    sponsors = _sponsors(sponsor_ids)
    audience = {member.id for member in model.audience}
    outside = [sponsor for sponsor in sponsors if sponsor.id not in audience]
    if outside:
        raise ActivationRefused(
            f"Refused: {AUDIENCE_RULE}. {_names(outside)} "
            f"{'is' if len(outside) == 1 else 'are'} not in the audience of "
            f"{model.name}."
        )
    return sponsors


def _sponsors(sponsor_ids):
    wanted = sorted(set(sponsor_ids))
    found = db.session.scalars(
        select(User).where(User.id.in_(wanted), User.role == Role.sponsor)
    ).all()
    unknown = sorted(set(wanted) - {sponsor.id for sponsor in found})
    if unknown:
        ids = ", ".join(str(sponsor_id) for sponsor_id in unknown)
        if len(unknown) == 1:
            raise ActivationRefused(f"No sponsor has the id {ids}.")
        raise ActivationRefused(f"No sponsors have the ids {ids}.")
    return sorted(found, key=lambda sponsor: sponsor.id)


def _names(sponsors):
    return ", ".join(f"{sponsor.name} (id {sponsor.id})" for sponsor in sponsors)


def _upsert_activation(model, sponsor, actor, now):
    """One statement per sponsor: two admins activating at once leave one row,
    the later one's."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if postgres else sqlite  # the two databases we run on
    values = {"model_id": model.id, "activated_at": now, "activated_by_id": actor.id}
    return (
        dialect.insert(ModelActivation)
        .values(sponsor_id=sponsor.id, **values)
        .on_conflict_do_update(index_elements=[ModelActivation.sponsor_id], set_=values)
    )


def _audit(action, model, sponsors, actor):
    """One audit entry per sponsor; the first commits the change with it."""
    for sponsor in sponsors:
        detail = f"model {model.id} ({model.name}) for sponsor {sponsor.id}"
        audit.record(action, actor=actor, target=sponsor, detail=detail)
    db.session.commit()


def active_for(models):
    """{model id: [sponsor ids it is active for]} for `models`, one query."""
    ids = [model.id for model in models]
    found = {model_id: [] for model_id in ids}
    rows = db.session.execute(
        select(ModelActivation.model_id, ModelActivation.sponsor_id)
        .where(ModelActivation.model_id.in_(ids))
        .order_by(ModelActivation.sponsor_id)
    )
    for model_id, sponsor_id in rows:
        found[model_id].append(sponsor_id)
    return found


def all_models():
    """Every registered model, oldest first, with its base and audience."""
    return db.session.scalars(select(LanguageModel).order_by(LanguageModel.id)).all()


def usage(model):
    """How `model`'s suggestions fared (see training.usage)."""
    return usage_by_sha([model.sha256]).get(model.sha256, Usage())


def describe_all(models):
    """The registry's JSON for `models`; a few queries whatever their number."""
    shas = [model.sha256 for model in models if model.sha256]
    used = usage_by_sha(shas)
    active = active_for(models)
    return [_describe(model, active[model.id], used) for model in models]


def describe(model):
    """One model as /admin/models.json lists it."""
    return describe_all([model])[0]


def _describe(model, active_ids, used):
    metrics = model.metrics or {}
    return {
        "id": model.id,
        "name": model.name,
        "sha256": model.sha256,
        "base_id": model.base_id,
        "status": model.status.value,
        "audience": [member.id for member in model.audience],
        "active_for": active_ids,
        "metrics": {key: metrics.get(key) for key in METRIC_KEYS},
        "usage": used.get(model.sha256, Usage()).as_dict(),
    }
