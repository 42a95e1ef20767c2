"""The model registry at /admin/models: every model, its lineage, audience,
activations, metrics and use; activating a trained model for its sponsors.

The rules live in training.registry; these views parse, call it, and show
its refusals next to the sponsor field, with the sponsors chosen kept.
"""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..forms import ActionForm
from ..models import LanguageModel, User
from ..numbers import DB_INT_MAX, NotAWholeNumber, whole_number
from ..training import registry
from ..training.plot import loss_curve_svg
from . import bp
from .jobs import duration

# Where an activation form sends the admin back to: the list or the model.
BACK_TO = ("list", "model")


@bp.get("/models")
def models_page():
    return _render_list()


@bp.get("/models/<int:model_id>")
def model_page(model_id):
    return _render_model(_model_or_404(model_id))


@bp.get("/models.json")
def models_json():
    return jsonify(registry.describe_all(_models()))


@bp.post("/models/<int:model_id>/activate")
def activate_model(model_id):
    return _change(model_id, registry.activate, "now writes the suggestions of")


@bp.post("/models/<int:model_id>/deactivate")
def deactivate_model(model_id):
    return _change(model_id, registry.deactivate, "no longer writes for")


def _change(model_id, action, done):
    """Run `action` (activate or deactivate) for the sponsors posted; on a
    refusal, the page again with the reason and the choice kept (400)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    model = _model_or_404(model_id)
    back = request.form.get("back") if request.form.get("back") in BACK_TO else "list"
    raw_ids = request.form.getlist("sponsor_ids")
    try:
        result = action(model, _sponsor_ids(raw_ids), current_user)
    except registry.ActivationRefused as refused:
        db.session.rollback()
        refusal = {"model_id": model.id, "message": str(refused), "chosen": raw_ids}
        if back == "model":
            return _render_model(model, refusal), 400
        return _render_list(refusal), 400
    names = ", ".join(sponsor.name for sponsor in result.sponsors)
    flash(f"{model.name} {done} {names}.")
    if back == "model":
        return redirect(url_for("admin.model_page", model_id=model.id))
    return redirect(url_for("admin.models_page"))


def _sponsor_ids(raw_ids):
    try:
        return [whole_number(text, 1, DB_INT_MAX, "A sponsor id") for text in raw_ids]
    except NotAWholeNumber as wrong:
        raise registry.ActivationRefused(str(wrong)) from None


def _models():
    return db.session.scalars(
        select(LanguageModel)
        .options(selectinload(LanguageModel.audience))
        .order_by(LanguageModel.id)
    ).all()


def _model_or_404(model_id):
    model = db.session.get(LanguageModel, model_id)
    if model is None:
        abort(404)
    return model


def _render_list(refusal=None):
    models = _models()
    return render_template(
        "admin/models.html", **_page_data(models, refusal), models=models
    )


def _render_model(model, refusal=None):
    progress = model.progress or {}
    return render_template(
        "admin/model.html",
        **_page_data([model], refusal),
        model=model,
        progress=progress,
        loss_curve=loss_curve_svg(
            progress.get("losses"), "Training and validation loss"
        ),
    )


def _page_data(models, refusal):
    """What both pages show of each model: its JSON, and names for its ids."""
    described = {entry["id"]: entry for entry in registry.describe_all(models)}
    ids = {i for entry in described.values() for i in entry["active_for"]}
    ids |= {member.id for model in models for member in model.audience}
    users = db.session.scalars(select(User).where(User.id.in_(ids))).all()
    bases = _bases(models)
    return {
        "described": described,
        "users": {user.id: user for user in users},
        "bases": bases,
        "refusal": refusal or {},
        "form": ActionForm(),
    }


def _bases(models):
    """{id: model} of the models' bases, for the lineage links."""
    ids = {model.base_id for model in models if model.base_id}
    found = db.session.scalars(select(LanguageModel).where(LanguageModel.id.in_(ids)))
    return {model.id: model for model in found}


METRIC_LABELS = {
    "train_documents": "Training documents",
    "val_documents": "Validation documents",
    "train_tokens": "Training tokens",
    "val_tokens": "Validation tokens",
    "val_perplexity_base": "Validation perplexity of the base model",
    "val_perplexity": "Validation perplexity",
    "memorized_share_base": "Memorized 8-token sequences, base model",
    "memorized_share": "Memorized 8-token sequences",
    "steps": "Training steps",
    "seconds": "Training time",
}


def metric_label(key):
    return METRIC_LABELS.get(key, key)


def metric_text(key, value):
    """A metric as people read it; "—" when unknown."""
    if value is None:
        return "—"
    if key.startswith("memorized_share"):
        return f"{value:.1%}"
    if key.startswith("val_perplexity"):
        return f"{value:,.2f}"
    if key == "seconds":
        return duration(value)
    return f"{value:,}"


def share_text(value):
    return "—" if value is None else f"{value:.1%}"


bp.add_app_template_filter(metric_label)
bp.add_app_template_filter(metric_text)
bp.add_app_template_filter(share_text)
