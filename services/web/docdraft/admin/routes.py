"""Admins decide who gets in, and read the audit log."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import guard_blueprint
from ..extensions import db
from ..forms import ActionForm, RejectForm
from ..models import Role, User, UserStatus
from ..numbers import query_int
from ..services.users import (
    documents_held,
    end_all_sessions,
    find_users,
    set_user_status,
)
from . import audit_search, bp

PAGE_SIZE = 50
guard_blueprint(bp, Role.admin)
QUERY_MAX = 200


@bp.get("/users")
def users():
    status = request.args.get("status") or None
    if status is not None and status not in UserStatus.__members__:
        abort(400)
    query = request.args.get("q", "").strip()
    if len(query) > QUERY_MAX:
        abort(400, description=f"Search for at most {QUERY_MAX} characters.")
    # A page past the last is the last page (find_users clamps it).
    page = query_int("page", 1, clamp=True)
    found = find_users(query, status, page, PAGE_SIZE)
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
    """The audit log, newest first, filtered (see admin.audit_search)."""
    filters = audit_search.parse_filters(request.args)
    return render_template(
        "admin/audit.html",
        found=audit_search.find_events(filters, PAGE_SIZE),
        filters=filters,
        actions=audit_search.actions(),
    )


def _changeable_user(user_id):
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.admin:
        abort(404)
    return user
