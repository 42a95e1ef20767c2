"""Admins decide who gets in, and read the audit log."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import guard_blueprint
from ..extensions import db
from ..forms import ActionForm, RejectForm
from ..models import AuditEvent, Role, User, UserStatus
from ..services.users import (
    documents_held,
    end_all_sessions,
    find_users,
    set_user_status,
)
from . import bp

PAGE_SIZE = 50
guard_blueprint(bp, Role.admin)


def _page():
    return max(request.args.get("page", 1, type=int), 1)


@bp.get("/users")
def users():
    status = request.args.get("status") or None
    if status is not None and status not in UserStatus.__members__:
        abort(400)
    query = request.args.get("q", "").strip()
    found = find_users(query, status, _page(), PAGE_SIZE)
    return render_template(
        "admin/users.html",
        found=found,
        query=query,
        status=status,
        held=documents_held(),
        form=ActionForm(),
    )


@bp.post("/users/<int:user_id>/approve")
def approve(user_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _changeable_user(user_id)
    set_user_status(current_user, user, UserStatus.approved)
    flash(f"{user.name} is now approved.")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/reject", methods=["GET", "POST"])
def reject(user_id):
    """GET asks for confirmation (and an optional reason); POST rejects."""
    user = _changeable_user(user_id)
    form = RejectForm()
    if form.validate_on_submit():
        set_user_status(current_user, user, UserStatus.rejected, form.reason.data)
        flash(f"{user.name} is now rejected.")
        return redirect(url_for("admin.users"))
    status = 400 if form.is_submitted() else 200
    held = documents_held().get(user.id, 0)
    return render_template("admin/reject.html", user=user, form=form, held=held), status


@bp.post("/users/<int:user_id>/end-sessions")
def end_sessions(user_id):
    """Log the user out everywhere (a lost laptop, a leaked cookie)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _changeable_user(user_id)
    end_all_sessions(current_user, user)
    flash(f"Every session of {user.name} has ended.")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
def audit_log():
    page = _page()
    events = db.session.scalars(
        select(AuditEvent)
        .order_by(AuditEvent.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "admin/audit.html",
        events=events[:PAGE_SIZE],
        page=page,
        has_next=len(events) > PAGE_SIZE,
    )


def _changeable_user(user_id):
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.admin:
        abort(404)
    return user
