"""Starting and cancelling fine-tuning: /admin/models/train, .../cancel.

The rules live in training.jobs; a refusal is shown next to its field, with
every choice kept (400).
"""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import IntegerField, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, NumberRange

from ..admin import bp
from ..extensions import db
from ..forms import ActionForm, AppForm
from ..models import (
    Document,
    LanguageModel,
    ModelStatus,
    ReviewState,
    Role,
    User,
    UserStatus,
)
from .jobs import MAX_MINUTES, TrainingRefused, cancel_training, start_training


class TrainForm(AppForm):
    base_model_id = SelectField("Start from", coerce=int, validate_choice=False)
    sponsor_ids = SelectMultipleField(
        "Sponsors whose documents train it (and whom it may serve)",
        coerce=int,
        validate_choice=False,
    )
    max_minutes = IntegerField(
        "At most this many minutes",
        [
            InputRequired("Give a number of minutes."),
            NumberRange(1, MAX_MINUTES, f"Give between 1 and {MAX_MINUTES} minutes."),
        ],
        default=15,
    )


@bp.route("/models/train", methods=["GET", "POST"])
def train_model():
    form = TrainForm()
    form.base_model_id.choices = [(m.id, m.name) for m in _ready_models()]
    sponsors = _sponsors_with_documents()
    form.sponsor_ids.choices = [
        (user.id, f"{user.name} ({user.email}): {count} approved with consent")
        for user, count in sponsors
    ]
    if form.validate_on_submit():
        try:
            model = start_training(
                form.base_model_id.data,
                form.sponsor_ids.data,
                form.max_minutes.data,
                current_user,
            )
        except TrainingRefused as refusal:
            getattr(form, refusal.field).errors.append(str(refusal))
        else:
            flash(f"Training started: {model.name}.")
            return redirect(url_for("admin.model_page", model_id=model.id))
    status = 400 if form.errors else 200
    return render_template("admin/train.html", form=form), status


@bp.post("/models/<int:model_id>/cancel")
def cancel_model_training(model_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    model = db.session.get(LanguageModel, model_id)
    if model is None:
        abort(404)
    if cancel_training(model, current_user):
        flash(
            "Training cancelled."
            if model.status == ModelStatus.cancelled
            else "Training stops after its current step."
        )
    else:
        flash("That model is not training.")
    return redirect(url_for("admin.model_page", model_id=model.id))


def _ready_models():
    return db.session.scalars(
        select(LanguageModel)
        .where(
            LanguageModel.status == ModelStatus.ready, LanguageModel.sha256.is_not(None)
        )
        .order_by(LanguageModel.id)
    ).all()


def _sponsors_with_documents():
    """Approved sponsors, each with their approved, consented documents."""
    counted = (
        select(Document.sponsor_id, func.count(Document.id).label("documents"))
        .where(
            Document.review_state == ReviewState.approved,
            Document.train_consent.is_(True),
        )
        .group_by(Document.sponsor_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User, func.coalesce(counted.c.documents, 0))
        .outerjoin(counted, counted.c.sponsor_id == User.id)
        .where(User.role == Role.sponsor, User.status == UserStatus.approved)
        .order_by(User.name, User.id)
    )
    return rows.all()
