"""Pages for personal access tokens: a user's own (/account/tokens) and an
admin's view of anyone's (/admin/users/<id>/tokens). Forms with CSRF, like
every page; the API itself is docdraft.api."""

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length

from ..access import approved_required, check_approved
from ..extensions import db
from ..forms import ActionForm, AppForm, WholeNumberField, not_blank
from ..models import TOKEN_NAME_MAX, ApiToken, Role, TokenScope, User
from ..services import tokens

bp = Blueprint("tokens", __name__)


class TokenForm(AppForm):
    name = StringField(
        "Name (what the token is for)", [not_blank, Length(max=TOKEN_NAME_MAX)]
    )
    scope = RadioField(
        "Scope",
        choices=[
            SelectChoice(TokenScope.read.value, "Read: GET only"),
            SelectChoice(TokenScope.write.value, "Write: everything you may do"),
        ],
        default=TokenScope.read.value,
        validators=[InputRequired("Choose a scope.")],
    )
    expires_days = WholeNumberField(
        "Expires in (days)",
        [InputRequired("Say in how many days it expires.")],
        minimum=1,
        maximum=tokens.EXPIRES_DAYS_MAX,
        default=90,
    )


@bp.get("/account/tokens")
@approved_required
def own_tokens():
    return _tokens_page(TokenForm(formdata=None))


@bp.post("/account/tokens")
@approved_required
def create_token():
    """Make a token and show it, this once; a refused form is shown back."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, 400)
    row, raw = tokens.create_token(
        current_user, form.name.data, form.scope.data, form.expires_days.data
    )
    return render_template("auth/tokens_created.html", token=row, raw=raw)


def _tokens_page(form, status=200):
    page = render_template(
        "auth/tokens.html",
        tokens=tokens.tokens_of(current_user),
        form=form,
        action_form=ActionForm(),
        is_active=tokens.is_active,
    )
    return page, status


@bp.post("/account/tokens/<int:token_id>/revoke")
@approved_required
def revoke_own(token_id):
    if not ActionForm().validate_on_submit():
        abort(400)
    row = tokens.own_token(current_user, token_id)
    if row is None:
        abort(404)  # someone else's token, or none: the same answer
    _revoke(row)
    return redirect(url_for("tokens.own_tokens"))


def _revoke(row):
    if tokens.revoke_token(row, current_user):
        flash(f"The token {row.name} ({row.prefix}…) is revoked.")
    else:
        flash(f"The token {row.name} ({row.prefix}…) was already revoked.")


@bp.get("/admin/users/<int:user_id>/tokens")
def user_tokens(user_id):
    """An admin's list of one user's tokens, each with a revoke button."""
    refused = check_approved(Role.admin)
    if refused is not None:
        return refused
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return render_template(
        "auth/tokens_admin.html",
        user=user,
        tokens=tokens.tokens_of(user),
        action_form=ActionForm(),
        is_active=tokens.is_active,
    )


@bp.post("/admin/tokens/<int:token_id>/revoke")
def admin_revoke(token_id):
    refused = check_approved(Role.admin)
    if refused is not None:
        return refused
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(ApiToken, token_id)
    if row is None:
        abort(404)
    _revoke(row)
    return redirect(url_for("tokens.user_tokens", user_id=row.user_id))
