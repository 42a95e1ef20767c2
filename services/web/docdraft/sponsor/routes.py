"""Sponsors create documents, assign an editor, and revise their prompts."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..access import get_document_for, guard_blueprint
from ..extensions import db
from ..forms import SponsorDocumentForm
from ..models import Role
from ..services.documents import InvalidEditor, create_document, update_document
from ..services.users import approved_editors
from ..views import (
    form_status,
    prefill,
    render_document_list,
    render_document_page,
    saved_message,
)
from . import bp

guard_blueprint(bp, Role.sponsor)


@bp.get("/documents")
def documents():
    return render_document_list()


@bp.route("/documents/new", methods=["GET", "POST"])
def new_document():
    form = SponsorDocumentForm()
    form.set_editor_choices(approved_editors())
    if form.validate_on_submit():
        saved, document = _save(form, create_document, current_user)
        if saved:
            flash("Document created; the machine text is being written.")
            return redirect(url_for("sponsor.document", document_id=document.id))
    return render_template("sponsor/new.html", form=form), form_status(form)


@bp.route("/documents/<int:document_id>", methods=["GET", "POST"])
def document(document_id):
    document = get_document_for(current_user, document_id)
    # Pre-filled from the document; a POST is read from the request alone,
    # so a field missing from it is an error, never a silent keep.
    form = SponsorDocumentForm(data=prefill(document, "editor_id"))
    form.set_editor_choices(_assignable_editors(document))
    if form.validate_on_submit():
        saved, revision = _save(form, update_document, document, current_user)
        if saved:
            flash(saved_message(revision))
            return redirect(url_for("sponsor.document", document_id=document.id))
    return render_document_page(document, form), form_status(form)


def _save(form, operation, *args):
    """Call `operation(*args, name, body, editor_id)` with the form's values.

    Returns (True, result), or (False, None) with the error shown at the editor
    field when the editor cannot be assigned (e.g. rejected meanwhile).
    """
    try:
        return True, operation(
            *args,
            form.document_name.data,
            form.document_body.data,
            form.editor_id.data,
        )
    except InvalidEditor as error:
        db.session.rollback()
        form.editor_id.errors.append(str(error))
        return False, None


def _assignable_editors(document):
    """Approved editors, plus the current one so an unchanged save stays valid."""
    editors = approved_editors()
    current = document.retention.editor
    return editors if current in editors else [current, *editors]
