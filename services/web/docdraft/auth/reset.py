"""Forgotten passwords: ask for a link by mail, then choose a new password.

The views are thin: services/password_reset.py holds the rules (no
enumeration, single use, expiry, every session ended).
"""

from flask import current_app, flash, redirect, render_template, request, url_for
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from ..extensions import limiter
from ..forms import AppForm, confirm_field, form_status, new_password_field
from ..models import EMAIL_MAX
from ..passwords import weakness
from ..services.password_reset import find_valid, request_reset, reset_password
from . import bp, device_cookies

SENT_MESSAGE = (
    "If this email belongs to an approved account, a link to choose a new "
    "password is on its way. It works once, within {minutes} minutes."
)
INVALID_LINK = "This link does not work: it has expired, or it was used already."


class ResetRequestForm(AppForm):
    # An address to look up, not a new one: what login takes, if it has the
    # shape of an address (accounts made by the CLI may use any domain).
    email = StringField(
        "Email",
        [
            DataRequired(),
            Length(max=EMAIL_MAX),
            Regexp(r"^[^@\s]+@[^@\s]+$", message="Invalid email address."),
        ],
    )


class NewPasswordForm(AppForm):
    """Judged as signup judges a password, against the account's name and email."""

    password = new_password_field("New password")
    confirm = confirm_field("password")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_password(self, field):
        problem = weakness(field.data, self.user.name, self.user.email)
        if problem:
            raise ValidationError(problem)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_RESET"], methods=["POST"])
def reset_request():
    """The same answer whatever the address (services.password_reset)."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        request_reset(form.email.data, request.remote_addr)
        minutes = current_app.config["PASSWORD_RESET_SECONDS"] // 60
        flash(SENT_MESSAGE.format(minutes=minutes))
        return redirect(url_for("auth.login"))
    page = render_template("auth/reset_request.html", form=form)
    return page, form_status(form)


@bp.after_request
def _no_store_for_reset_links(response):
    """A page under a reset link stays out of every cache (its URL is a key)."""
    if request.endpoint == "auth.reset_password_page":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_RESET"], methods=["POST"])
def reset_password_page(token):
    """Choose a new password: a form while the link works, else a page that
    says why (404)."""
    reset = find_valid(token)
    if reset is None:
        return render_template("auth/reset_invalid.html", message=INVALID_LINK), 404
    form = NewPasswordForm(reset.user)
    if form.validate_on_submit():
        if not reset_password(reset, form.password.data):
            return render_template("auth/reset_invalid.html", message=INVALID_LINK), 404
        flash("Your password has been changed, and every session has ended. Log in.")
        response = redirect(url_for("auth.login"))
        # This browser opened the link from the mail: it may log in even if
        # failed guesses from elsewhere have locked out unknown browsers.
        device_cookies.issue(response, reset.user)
        return response
    page = render_template("auth/reset_password.html", form=form)
    return page, form_status(form)
