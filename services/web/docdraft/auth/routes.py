"""Signup, login and logout."""

import logging

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..forms import ActionForm, LoginForm, SignupForm, form_status
from ..models import Role
from ..services.users import EmailTaken, authenticate, signup_user
from . import bp
from .next_url import is_safe_next

log = logging.getLogger("docdraft.auth")
SIGNUP_ROLES = {"sponsor": Role.sponsor, "editor": Role.editor}


@bp.route("/signup/<role_name>", methods=["GET", "POST"])
def signup(role_name):
    role = SIGNUP_ROLES.get(role_name)
    if role is None:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        try:
            signup_user(
                role,
                form.name.data,
                form.email.data,
                form.password.data,
                form.organization.data,
            )
        except EmailTaken:
            form.email.errors.append("An account with this email already exists.")
        else:
            flash("Thanks for signing up. An admin will review your account.")
            return redirect(url_for("auth.login"))
    return render_template("auth/signup.html", form=form, role=role), form_status(form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_url = request.args.get("next", "")
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            log.warning("failed login")
            form.password.errors.append("Invalid email or password.")
        else:
            session.clear()  # a fresh session at login (no fixation)
            login_user(user)
            log.info("login user=%s", user.id)
            safe = is_safe_next(next_url)
            return redirect(next_url if safe else url_for("main.index"))
    return render_template("auth/login.html", form=form), form_status(form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    log.info("logout user=%s", current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
