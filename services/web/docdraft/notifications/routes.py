"""The bell and list of notifications, preferences on /account, and the
unsubscribe links in mail.

Every page but unsubscribe is for approved users, and finds notifications
by the user's own id (another user's: 404). Unsubscribe needs no login:
its signed token is the authority (unsubscribe.py).
"""

import logging

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from ..access import approved_required
from ..auth.routes import account
from ..errors import MESSAGES, error_page
from ..extensions import csrf, db
from ..forms import ActionForm
from ..numbers import query_int
from . import forms, inbox, preferences
from .kinds import KINDS
from .unsubscribe import BadLink, ExpiredLink, read_token

log = logging.getLogger("docdraft.notifications")
bp = Blueprint("notifications", __name__)

EXPIRED = (
    "This form had expired, so nothing was saved. The boxes below are as you "
    "ticked them: save again."
)


@bp.app_context_processor
def bell():
    """The navigation's unread count; a function, so only pages that show it
    (an approved user's, not error pages) run its query."""
    return {"unread_notifications": lambda: inbox.unread_count(current_user)}


@bp.app_template_global()
def notification_preferences():
    """The preferences section of /account: the form refused by
    save_preferences when there was one (its boxes as posted), else the
    user's choices."""
    return g.get("refused_preferences") or forms.preferences_form(
        current_user, posted=False
    )


@bp.get("/notifications")
@approved_required
def notification_list():
    page = query_int("page", 1, clamp=True)
    found = inbox.notification_page(current_user, page)
    return render_template("notifications/list.html", found=found, form=ActionForm())


@bp.post("/notifications/<int:notification_id>/read")
@approved_required
def read(notification_id):
    """Mark one read; with `open`, go on to the place it is about."""
    notification = inbox.own_notification(current_user, notification_id)
    if notification is None:
        abort(404)
    inbox.mark_read(notification)
    if request.form.get("open") and notification.link:
        return redirect(notification.link)
    return redirect(url_for("notifications.notification_list"))


@bp.post("/notifications/read-all")
@approved_required
def read_all():
    marked = inbox.mark_all_read(current_user)
    flash(f"{marked} notification{'' if marked == 1 else 's'} marked read.")
    return redirect(url_for("notifications.notification_list"))


@bp.post("/account/notifications")
@approved_required
def save_preferences():
    chosen = forms.preferences_form(current_user)
    if not chosen.form.validate_on_submit():
        return _refused(chosen)
    forms.save(current_user, chosen.rows)
    db.session.commit()
    flash("Saved: your notification choices.")
    return redirect(url_for("auth.account") + "#notifications")


@bp.errorhandler(CSRFError)
def csrf_refused(error):
    """A preferences form with a missing or stale token shows the account page
    with the boxes as they were ticked (400): nothing chosen is lost."""
    log.warning("CSRF check failed: %s", error.description)
    allowed = current_user.is_authenticated and current_user.is_approved
    if request.endpoint != "notifications.save_preferences" or not allowed:
        return error_page(400, MESSAGES[400])
    chosen = forms.preferences_form(current_user)
    chosen.form.csrf_token.errors = [EXPIRED]
    return _refused(chosen)


def _refused(chosen):
    """The account page (auth's own view) holding the refused form, 400."""
    g.refused_preferences = chosen
    response = make_response(account())
    response.status_code = 400
    return response


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token):
    """GET asks to confirm; POST turns that kind of mail off. The one-click
    POST of a mail client (RFC 8058) carries no CSRF token; the page's own
    form does, and is checked."""
    try:
        found = read_token(token)
    except BadLink:
        abort(404)
    except ExpiredLink as error:
        abort(400, description=f"{error} Log in and choose on your account page.")
    if request.method == "GET":
        return render_template(
            "notifications/unsubscribe.html",
            found=found,
            kind=KINDS[found.kind],
            form=ActionForm(),
        )
    # RFC 8058: a mail client posts List-Unsubscribe=One-Click, nothing else.
    if request.form.get("List-Unsubscribe") != "One-Click":
        csrf.protect()
    preferences.save_choice(found.user, found.kind, email=False)
    db.session.commit()
    log.info("user=%s unsubscribed from %s mail", found.user.id, found.kind)
    return render_template(
        "notifications/unsubscribed.html", found=found, kind=KINDS[found.kind]
    )
