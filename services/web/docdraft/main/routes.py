"""The dashboard (each approved user's home, the status page for others), and
the health checks a supervisor or load balancer asks."""

import logging

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..jobs import dispatch
from ..jobs.status import job_checks
from ..metrics import internal_caller
from ..models import Role
from . import bp

log = logging.getLogger("docdraft.readyz")

HOME_BY_ROLE = {
    Role.admin: "admin.users",
    Role.sponsor: "sponsor.documents",
    Role.editor: "editor.documents",
}


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if not current_user.is_approved:
        return render_template("main/account_status.html")
    return redirect(url_for(HOME_BY_ROLE[current_user.role]))


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. Nothing else is checked."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers, and so do the broker and the worker.

    Everyone reads ready or not. Which check failed and why (hosts, ports,
    driver errors) goes to the log, and to the operators: the callers that
    may read /metrics (docdraft.metrics.internal_caller).
    """
    checks = {"database": _database_problem()}
    checks.update(job_checks(current_app, dispatch.backend()))
    ready = not any(checks.values())
    if not ready:
        problems = "; ".join(f"{name}: {why}" for name, why in checks.items() if why)
        log.warning("not ready: %s", problems)
    body = {"ready": ready}
    if internal_caller():
        body["checks"] = {name: why or "ok" for name, why in checks.items()}
    return body, 200 if ready else 503


def _database_problem():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return f"unreachable: {str(exc).splitlines()[0]}"
    return None
