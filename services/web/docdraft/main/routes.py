"""The dashboard, and the document routes shared by sponsors and editors."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..access import check_approved, get_document_for
from ..forms import ActionForm
from ..models import Role
from ..services.documents import retry_generation
from ..views import status_payload
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


@bp.get("/documents/<int:document_id>/status.json")
def document_status(document_id):
    denied = check_approved(Role.sponsor, Role.editor)
    if denied:
        return denied
    return status_payload(get_document_for(current_user, document_id))


@bp.post("/documents/<int:document_id>/retry")
def retry(document_id):
    denied = check_approved(Role.sponsor, Role.editor)
    if denied:
        return denied
    document = get_document_for(current_user, document_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if retry_generation(document):
        flash("Generation queued again.")
    else:
        flash("Only a failed generation can be retried.")
    endpoint = f"{current_user.role.value}.document"
    return redirect(url_for(endpoint, document_id=document.id))
