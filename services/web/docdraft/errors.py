"""Plain error pages: no tracebacks, a request id to quote for a 500."""

import logging
import uuid

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

log = logging.getLogger("docdraft.errors")
MESSAGES = {
    400: "The request could not be understood (it may have expired; reload the "
    "page and try again).",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    413: "That was far more text than any form here takes; nothing was saved.",
    429: "Too many attempts. Wait a while, then try again.",
    503: "The service is briefly unavailable. Please try again in a moment.",
}


def init_app(app):
    for code in MESSAGES:
        app.register_error_handler(code, _render_error)
    app.register_error_handler(CSRFError, _csrf_error)
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
    return render_template(
        "errors/error.html",
        code=code,
        message=MESSAGES[code],
        detail=detail,
        typed=typed_text(),
    ), code


def _csrf_error(error):
    log.warning("CSRF check failed: %s", error.description)
    return render_template("errors/error.html", code=400, message=MESSAGES[400]), 400


def _database_unavailable(error):
    """503 while the database is away: a plain page (see _plain_page)."""
    log.error("database unavailable: %s", str(error).splitlines()[0])
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
    fields = ("document_body", "body", "comment")
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
    # Plain: whatever failed (the database included) must not fail this page.
    return _plain_page("Error 500", message), 500
