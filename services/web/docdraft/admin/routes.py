"""Admins decide who gets in."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..access import guard_blueprint
from ..extensions import db
from ..forms import ActionForm
from ..models import Role, User, UserStatus
from ..services.users import documents_held, set_user_status, users_by_status
from . import bp

guard_blueprint(bp, Role.admin)


@bp.get("/users")
def users():
    return render_template(
        "admin/users.html",
        groups=users_by_status(),
        held=documents_held(),
        form=ActionForm(),
    )


@bp.post("/users/<int:user_id>/approve")
def approve(user_id):
    return _change_status(user_id, UserStatus.approved)


@bp.post("/users/<int:user_id>/reject")
def reject(user_id):
    return _change_status(user_id, UserStatus.rejected)


def _change_status(user_id, status):
    if not ActionForm().validate_on_submit():
        abort(400)
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.admin:
        abort(404)
    set_user_status(current_user, user, status)
    flash(f"{user.name} is now {status.value}.")
    return redirect(url_for("admin.users"))
