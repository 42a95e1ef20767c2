"""Plain error pages: no tracebacks, a request id to quote for a 500."""

import logging
import uuid

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from .extensions import login_manager
from .models import DOCUMENT_BODY_MAX

log = logging.getLogger("docdraft.errors")
MESSAGES = {
    400: "The request could not be understood (it may have expired; reload the "
    "page and try again).",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    401: "Your session has ended, so nothing was saved. Log in again to go on.",
    429: "Too many attempts. Wait a while, then try again.",
    503: "The service is briefly unavailable. Please try again in a moment.",
}


def init_app(app):
    for code in MESSAGES:
        app.register_error_handler(code, _render_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(CSRFError, _csrf_error)
    login_manager.unauthorized_handler(_unauthorized)
    app.register_error_handler(OperationalError, _database_unavailable)
    # A connection the server dropped (restart) surfaces as InterfaceError
    # and friends; any DBAPI error that says the connection is gone is a 503.
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(500, _internal_error)
    # Flask-SQLAlchemy ends every request by rolling its session back.  When
    # the database server has just dropped the connection (a restart), that
    # rollback raises after the page is made, outside every error handler,
    # and the client got a 500 (make faults).  The connection is gone and
    # holds nothing to roll back, so log it and let the page through.
    extension = app.extensions["sqlalchemy"]
    funcs = app.teardown_appcontext_funcs
    funcs[funcs.index(extension._teardown_session)] = _remove_session(extension)


def _remove_session(db):
    def remove(exception=None):
        try:
            db.session.remove()
        except DBAPIError as error:
            log.warning(
                "connection lost ending a request: %s", str(error).splitlines()[0]
            )
            db.session.registry.clear()

    return remove


def _render_error(error):
    code = getattr(error, "code", 500)
    # A description given to abort() explains this request; werkzeug's
    # stock one is replaced by ours.
    detail = error.description if error.description != type(error).description else None
    message = MESSAGES[code]
    if code == 400 and detail:  # refused for a stated reason, not expired
        message = "The request was refused; nothing was changed."
    return error_page(code, message, detail)


def error_page(code, message, detail=None):
    """An error as JSON for status.json and friends, else a page that shows
    back what the user typed, or the browser's draft of it, and the way back."""
    if request.path.startswith("/api/"):
        return _api_errors().http_error(code, detail)
    if request.path.endswith(".json"):
        return {"error": code, "message": message, "detail": detail}, code
    back_url, back_label = _way_back(code)
    return render_template(
        "errors/error.html",
        code=code,
        message=message,
        detail=detail,
        typed=typed_text(),
        draft_key=draft_key(),
        back_url=back_url,
        back_label=back_label,
    ), code


def draft_key():
    """The key under which the page's script keeps a draft of the refused
    form (see static/js/drafts.js), when it was a document form."""
    if request.method != "POST" or request.view_args is None:
        return None
    if "document_id" in request.view_args:
        return f"document-{request.view_args['document_id']}"
    if request.endpoint == "sponsor.new_document":
        return "new-document"
    return None


def _way_back(code):
    """Where the user goes on from here: the form they came from, or login."""
    key = draft_key()
    if key is None:
        return None, None
    if key == "new-document":
        page = url_for("sponsor.new_document")
    else:
        page = url_for(
            "documents.open_document", document_id=request.view_args["document_id"]
        )
    if code == 401:
        return url_for("auth.login", next=page), "Log in and go back to the page"
    if code == 404:
        return None, None
    return page, "Back to the page (your draft is offered there)"


def _too_large(error):
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    message = (
        f"The form was larger than this server takes ({limit / 2**20:.1f} MB in "
        f"all; a body holds at most {DOCUMENT_BODY_MAX:,} characters), so nothing "
        "was saved."
    )
    return error_page(413, message)


def _csrf_error(error):
    log.warning("CSRF check failed: %s", error.description)
    if not current_user.is_authenticated and draft_key() is not None:
        # A document form whose session ended meanwhile (logged out).
        return error_page(401, MESSAGES[401])
    return error_page(400, MESSAGES[400])


def _unauthorized():
    """Flask-Login's answer to a request without a valid session: the login
    page, except for a document form, whose typed text is shown back first."""
    if request.path.endswith(".json") or draft_key() is not None:
        return error_page(401, MESSAGES[401])
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _database_unavailable(error):
    """503 while the database is away: a plain page (see _plain_page)."""
    log.error("database unavailable: %s", str(error).splitlines()[0])
    if request.path.startswith("/api/"):
        return _api_errors().error_response(503), 503, {"Retry-After": "5"}
    page = _plain_page(
        "Briefly unavailable", MESSAGES[503] + " Nothing you saved is lost."
    )
    return page, 503, {"Retry-After": "5"}


def _plain_page(title, message):
    template = current_app.jinja_env.get_template("errors/plain.html")
    return template.render(title=title, message=message)


def typed_text():
    """Text the user typed into a refused POST, to show it back: never lost."""
    if request.method != "POST":
        return {}
    try:
        form = request.form
    except RequestEntityTooLarge:  # a 413 has no form to show back
        return {}
    fields = ("document_name", "document_body", "body", "comment")
    return {name: form[name] for name in fields if form.get(name)}


def _database_error(error):
    if error.connection_invalidated:
        return _database_unavailable(error)
    return _internal_error(error)


def _internal_error(error):
    request_id = uuid.uuid4().hex[:12]
    log.error(
        "request %s failed",
        request_id,
        exc_info=getattr(error, "original_exception", error),
    )
    message = f"Something went wrong on our side. Request id: {request_id}."
    if request.path.startswith("/api/"):
        return _api_errors().error_response(500, message)
    # Plain: whatever failed (the database included) must not fail this page.
    return _plain_page("Error 500", message), 500


def _api_errors():
    """docdraft.api.errors, imported when first needed: the api package
    imports the blueprints, which import this module."""
    from .api import errors

    return errors
