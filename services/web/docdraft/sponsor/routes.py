"""Sponsors create documents, assign an editor, revise, archive and restore."""

from functools import partial

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import get_document_for, guard_blueprint
from ..documents.listing import render_document_list
from ..documents.pages import (
    edit_values,
    offer_editors,
    render_document_page,
    saved_message,
)
from ..extensions import db
from ..forms import ActionForm, NewDocumentForm, SponsorDocumentForm, form_status
from ..models import Role
from ..services import quota, review
from ..services.documents import InvalidEditor, create_document, save_document
from ..services.users import approved_editors
from . import bp

guard_blueprint(bp, Role.sponsor)


@bp.get("/documents")
def documents():
    return render_document_list()


@bp.route("/documents/new", methods=["GET", "POST"])
def new_document():
    # The box starts as the sponsor's own default (set on /account).
    defaults = {"train_consent": current_user.train_consent_default}
    form = NewDocumentForm(data=defaults if request.method == "GET" else None)
    form.set_editor_choices(approved_editors())
    if form.validate_on_submit():
        create = partial(
            create_document,
            form_key=form.form_key.data,
            train_consent=form.train_consent.data,
        )
        document = _save(form, create, current_user)
        if document is not None:
            flash(_created_message(document))
            return redirect(url_for("sponsor.document", document_id=document.id))
    return render_template("sponsor/new.html", form=form), form_status(form)


@bp.route("/documents/<int:document_id>", methods=["GET", "POST"])
def document(document_id):
    document = get_document_for(current_user, document_id)
    form = SponsorDocumentForm(data=edit_values(document))
    offer_editors(form, document)
    if form.validate_on_submit():
        save = partial(save_document, train_consent=form.consent_change())
        revision = _save(form, save, document, current_user, form.base_revision.data)
        if not form.editor_id.errors:
            flash(saved_message(revision))
            return redirect(url_for("sponsor.document", document_id=document.id))
    return render_document_page(document, form, form_status(form))


def _created_message(document):
    if quota.is_held(document.latest_revision.autodoc):
        return f"Document created. {quota.message()}"
    return "Document created; the first suggestion is being written."


def _save(form, operation, *args):
    """Call `operation(*args, name, body, editor_id, length)` with the form's values.

    Returns its result, or None with the error shown at the editor field when
    the editor cannot be assigned (e.g. rejected meanwhile).
    """
    try:
        return operation(
            *args,
            form.document_name.data,
            form.document_body.data,
            form.editor_id.data,
            form.suggestion_length.data,
        )
    except InvalidEditor as error:
        db.session.rollback()
        form.editor_id.errors.append(str(error))
        return None


@bp.post("/documents/<int:document_id>/archive")
def archive(document_id):
    return _archive_action(document_id, review.archive, "archived")


@bp.post("/documents/<int:document_id>/restore")
def restore(document_id):
    return _archive_action(document_id, review.restore, "restored")


def _archive_action(document_id, operation, done):
    document = get_document_for(current_user, document_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    operation(document, current_user)
    flash(f"Document {done}.")
    return redirect(url_for("sponsor.document", document_id=document.id))
