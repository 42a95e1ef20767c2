"""Signup, login and logout."""

import logging

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..forms import ActionForm, LoginForm, SignupForm, form_status
from ..models import Role
from ..services.users import authenticate, normalize_email, signup_user
from . import bp
from .next_url import is_safe_next

log = logging.getLogger("docdraft.auth")
SIGNUP_ROLES = {"sponsor": Role.sponsor, "editor": Role.editor}


def _setting(name):
    return lambda: current_app.config[name]


def _account_key():
    """Failed logins count per account (the email as typed, normalized)."""
    return "account:" + normalize_email(request.form.get("email", ""))


@bp.route("/signup/<role_name>", methods=["GET", "POST"])
@limiter.limit(_setting("RATELIMIT_SIGNUP"), methods=["POST"])
def signup(role_name):
    role = SIGNUP_ROLES.get(role_name)
    if role is None:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        # A known email gets exactly the answer a new one gets (no account
        # enumeration); the service spends the same hashing time on it.
        signup_user(
            role,
            form.name.data,
            form.email.data,
            form.password.data,
            form.organization.data,
        )
        flash(
            "Thanks for signing up. If this email can be used, an admin will "
            "review your account; you can log in once it is approved."
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/signup.html", form=form, role=role), form_status(form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_setting("RATELIMIT_LOGIN"), methods=["POST"])
@limiter.limit(
    _setting("RATELIMIT_ACCOUNT"),
    methods=["POST"],
    key_func=_account_key,
    # Only failures count; once over, even the right password waits.
    deduct_when=lambda response: response.status_code != 302,
)
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
