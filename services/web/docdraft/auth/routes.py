"""Signup, login, logout, and an approved user's own account."""

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

from .. import audit, sessions
from ..access import approved_required, deny
from ..extensions import db, limiter
from ..forms import (
    ActionForm,
    LoginForm,
    PasswordChangeForm,
    SignupForm,
    TrainConsentDefaultForm,
    form_status,
)
from ..models import Role
from ..services.users import (
    SIGNUP_ROLES,
    authenticate,
    find_user_by_email,
    signup_user,
)
from . import bp, device_cookies
from .next_url import is_safe_next

log = logging.getLogger("docdraft.auth")


def _setting(name):
    return lambda: current_app.config[name]


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
def login():
    """Log in. Wrong passwords count per device cookie, or per account for
    untrusted clients (device_cookies); a full counter answers 429 before the
    password is checked. The per-address limit above counts every POST."""
    form = LoginForm()
    next_url = request.args.get("next", "")
    if form.validate_on_submit():
        known = find_user_by_email(form.email.data)
        counter = device_cookies.counter_for(form.email.data, known)
        if counter.locked():
            return device_cookies.refusal(counter)
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            _failed_login(form, known, counter)
        else:
            session.clear()  # a fresh session at login (no fixation)
            login_user(user)
            sessions.start(user)
            log.info("login user=%s from %s", user.id, request.remote_addr)
            audit.record("login", actor=user)
            safe = is_safe_next(next_url)
            response = redirect(next_url if safe else url_for("main.index"))
            device_cookies.issue(response, user)
            return response
    return render_template("auth/login.html", form=form), form_status(form)


def _failed_login(form, known, counter):
    """A wrong password: audited, logged, counted, said next to the field."""
    audit.record("login_failed", target=known)
    log.warning(
        "failed login for user=%s from %s",
        known.id if known else "unknown",
        request.remote_addr,
    )
    device_cookies.count_failure(counter, known)
    form.password.errors.append("Invalid email or password.")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End this session on the server (every copy of its cookie); the user's
    sessions on other devices go on."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    log.info("logout user=%s", current_user.id)
    audit.record("logout", actor=current_user)
    row = sessions.current()
    if row is not None:
        sessions.end(row)
    _log_out_here()
    return redirect(url_for("auth.login"))


def _log_out_here():
    """Commit the ended session(s), then forget the user in this browser."""
    db.session.commit()
    logout_user()
    session.clear()


@bp.get("/account")
@approved_required
def account():
    return _account_page()


def _account_page(consent_form=None, status=200):
    """The account page; `consent_form` a refused one, shown as posted."""
    if consent_form is None and current_user.role == Role.sponsor:
        default = {"train_consent_default": current_user.train_consent_default}
        consent_form = TrainConsentDefaultForm(formdata=None, data=default)
    page = render_template(
        "auth/account.html",
        login_sessions=sessions.active_sessions(current_user),
        this_session=sessions.current(),
        form=ActionForm(),
        consent_form=consent_form,
    )
    return page, status


@bp.post("/account/training")
@approved_required
def training_default():
    """A sponsor's default for the training-consent box of new documents."""
    if current_user.role != Role.sponsor:
        deny("only sponsors have a training-consent default")
    form = TrainConsentDefaultForm()
    if not form.validate_on_submit():
        return _account_page(form, 400)
    current_user.train_consent_default = form.train_consent_default.data
    db.session.commit()
    on = "ticked" if current_user.train_consent_default else "not ticked"
    flash(f"Saved: the training-consent box of your new documents starts {on}.")
    return redirect(url_for("auth.account") + "#training")


@bp.post("/account/sessions/<int:session_id>/end")
@approved_required
def end_session(session_id):
    """End one of the user's own sessions; ending this one logs out here."""
    if not ActionForm().validate_on_submit():
        abort(400)
    row = sessions.own_session(current_user, session_id)
    if row is None:
        abort(404)  # someone else's session, or none: the same answer
    if row.ended_at is not None:
        flash(f"The session on {row.device} had already ended.")
        return redirect(url_for("auth.account"))
    detail = f"session {row.id}: {row.device} from {row.address or 'unknown'}"
    audit.record("session_ended", actor=current_user, detail=detail)
    sessions.end(row)
    if row == sessions.current():
        _log_out_here()
        flash("This session has ended; your other sessions go on.")
        return redirect(url_for("auth.login"))
    db.session.commit()
    flash(f"The session on {row.device} has ended.")
    return redirect(url_for("auth.account"))


@bp.post("/account/sessions/end-all")
@approved_required
def end_all_sessions():
    """Log out everywhere, this browser included."""
    if not ActionForm().validate_on_submit():
        abort(400)
    log.info("logout everywhere user=%s", current_user.id)
    audit.record("logout_everywhere", actor=current_user)
    sessions.end_all(current_user)
    _log_out_here()
    flash("You have been logged out everywhere.")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_setting("RATELIMIT_LOGIN"), methods=["POST"])
@approved_required
def change_password():
    form = PasswordChangeForm(current_user)
    if form.validate_on_submit():
        if current_user.check_password(form.current_password.data):
            current_user.set_password(form.new_password.data)
            # Every other session ends; this one goes on.
            sessions.end_all(current_user, keep=sessions.current())
            db.session.commit()
            log.info("password changed user=%s", current_user.id)
            audit.record("password_changed", actor=current_user)
            flash("Password changed; your other sessions have ended.")
            # The new password voids every device cookie; this browser
            # just proved it, so it gets a fresh one.
            response = redirect(url_for("auth.account"))
            device_cookies.issue(response, current_user)
            return response
        form.current_password.errors.append("This is not your current password.")
    return render_template("auth/password.html", form=form), form_status(form)
