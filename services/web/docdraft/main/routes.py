"""The dashboard: each approved user's home, and the status page for others."""

from flask import redirect, render_template, url_for
from flask_login import current_user

from ..models import Role
from . import bp

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
