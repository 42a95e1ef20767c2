"""Editors review the documents assigned to them and revise them."""

from flask import flash, redirect, url_for
from flask_login import current_user

from ..access import get_document_for, guard_blueprint
from ..documents.listing import render_document_list
from ..documents.pages import (
    edit_values,
    render_document_page,
    saved_message,
)
from ..forms import EditorDocumentForm, form_status
from ..models import Role
from ..services.documents import save_document
from . import bp

guard_blueprint(bp, Role.editor)


@bp.get("/documents")
def documents():
    return render_document_list()


@bp.route("/documents/<int:document_id>", methods=["GET", "POST"])
def document(document_id):
    document = get_document_for(current_user, document_id)
    form = EditorDocumentForm(data=edit_values(document))
    if form.validate_on_submit():
        revision = save_document(
            document,
            current_user,
            form.base_revision.data,
            form.document_name.data,
            form.document_body.data,
            length=form.suggestion_length.data,
        )
        flash(saved_message(revision))
        return redirect(url_for("editor.document", document_id=document.id))
    return render_document_page(document, form, form_status(form))
