"""Actions on a document by its sponsor or its assigned editor.

Every route finds the document through `get_document_for` (a foreign or
missing id is 404), and every change goes through a service that raises
Conflict (409, the user's text kept) or WrongActor (403).
"""

import re
import unicodedata
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
)
from flask_login import current_user

from .. import words
from ..access import deny, get_document_for, guard_blueprint
from ..extensions import db, limiter
from ..forms import (
    AcceptForm,
    ActionForm,
    CommentForm,
    ReviewForm,
    SuggestionForm,
    TrainConsentForm,
    TryAnotherForm,
)
from ..models import Role
from ..numbers import query_int
from ..services import review, suggestions
from ..services.cancel import NotCancellable, cancel_waiting
from ..services.documents import set_train_consent
from ..services.guard import Conflict, WrongActor
from ..services.quota import QuotaExceeded
from . import bp
from .listing import summary_payload
from .pages import (
    document_url,
    ordinal,
    render_conflict,
    render_document_page,
    render_revision_page,
    status_payload,
)

guard_blueprint(bp, Role.sponsor, Role.editor)


@bp.app_context_processor
def waiting_for_me():
    """The navigation's "your turn" count; a function, so only pages that show
    it (those of approved sponsors and editors) run its query."""
    return {"waiting_count": lambda: review.waiting_count(current_user)}


bp.add_app_template_filter(ordinal)


@bp.app_errorhandler(Conflict)
def conflict(error):
    return render_conflict(error)


@bp.app_errorhandler(QuotaExceeded)
def quota_exceeded(error):
    """429: the document page, saying why, the choices made kept in the form."""
    form = TryAnotherForm() if request.endpoint == "documents.suggest" else None
    db.session.refresh(error.document)
    return render_document_page(
        error.document, None, 429, try_another_form=form, refusal=error.message
    )


def _valid(form):
    """Validate a posted action form; a refused one is a 400 with its reason."""
    if form.validate_on_submit():
        return form
    abort(400, description=_first_error(form))


def _first_error(form):
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        return f"{label}: {errors[0]}"
    return None


@bp.get("/documents/<int:document_id>")
def open_document(document_id):
    """The document's page for the user's role: a link that fits everyone."""
    return redirect(document_url(get_document_for(current_user, document_id)))


@bp.get("/documents/<int:document_id>/status.json")
def document_status(document_id):
    return status_payload(get_document_for(current_user, document_id))


@bp.get("/documents/summary.json")
def summary():
    """The "Your turn" count and, for a list, its rows (list.js polls it)."""
    return summary_payload()


@bp.post("/documents/<int:document_id>/retry")
def retry(document_id):
    document = get_document_for(current_user, document_id)
    _valid(ActionForm())
    if suggestions.retry_generation(document):
        flash("The suggestion is being written again.")
    else:
        flash("Only a failed suggestion can be retried.")
    return redirect(document_url(document))


@bp.post("/documents/<int:document_id>/accept")
def accept(document_id):
    document = get_document_for(current_user, document_id)
    form = _valid(AcceptForm())
    revision = suggestions.accept_suggestion(
        document,
        current_user,
        form.base_revision.data,
        form.suggestion_id.data,
        form.words.data,
    )
    flash(f"Suggestion accepted as revision {revision.number}.")
    return redirect(document_url(document))


@bp.post("/documents/<int:document_id>/dismiss")
def dismiss(document_id):
    document = get_document_for(current_user, document_id)
    form = _valid(SuggestionForm())
    suggestions.dismiss_suggestion(
        document, current_user, form.base_revision.data, form.suggestion_id.data
    )
    flash("Suggestion dismissed.")
    return redirect(document_url(document))


@bp.post("/documents/<int:document_id>/suggest")
def suggest(document_id):
    document = get_document_for(current_user, document_id)
    form = _valid(TryAnotherForm())
    suggestions.request_suggestion(
        document,
        current_user,
        form.base_revision.data,
        form.mode.data,
        form.length.data,
    )
    flash("Another suggestion is being written.")
    return redirect(document_url(document) + "#latest")


@bp.post("/documents/<int:document_id>/ask-again")
def ask_again(document_id):
    """Queue again a cancelled suggestion (one the quota held back, say)."""
    document = get_document_for(current_user, document_id)
    form = _valid(SuggestionForm())
    suggestions.ask_again(
        document, current_user, form.base_revision.data, form.suggestion_id.data
    )
    flash("The suggestion is being written.")
    return redirect(document_url(document) + "#latest")


@bp.post("/documents/<int:document_id>/cancel")
def cancel(document_id):
    """Cancel a waiting suggestion of this document (its sponsor or editor)."""
    document = get_document_for(current_user, document_id)
    form = _valid(SuggestionForm())
    try:
        cancel_waiting(document, current_user, form.suggestion_id.data)
        flash("Suggestion cancelled. You can ask for it again.")
    except LookupError:
        abort(404)
    except NotCancellable as refused:
        flash(str(refused))
    return redirect(document_url(document) + "#latest")


@bp.post("/documents/<int:document_id>/consent")
def consent(document_id):
    """The sponsor gives or withdraws training consent, on its own: approved
    and archived documents are locked against edits, not against this."""
    document = get_document_for(current_user, document_id)
    form = _valid(TrainConsentForm())
    try:
        changed = set_train_consent(document, current_user, form.train_consent.data)
    except WrongActor as error:
        deny(str(error))
    if not changed:
        flash("Training consent was already as you chose; nothing changed.")
    elif document.train_consent:
        flash("This document may now be used to train your team's model.")
    else:
        flash(
            "This document will not be used for any later training. Models "
            "already trained keep what they learned from it."
        )
    return redirect(document_url(document) + "#training")


@bp.post("/documents/<int:document_id>/review")
def review_action(document_id):
    document = get_document_for(current_user, document_id)
    form = _valid(ReviewForm())
    try:
        review.transition(
            document,
            current_user,
            form.action.data,
            form.base_revision.data,
            form.comment.data,
        )
    except WrongActor as error:
        deny(str(error))
    flash(f"The document is now {document.review_state.value.replace('_', ' ')}.")
    return redirect(document_url(document))


def _commenter():
    """Comments count per user: one account from many addresses is one count.
    (The limit is checked before the login guard: anonymous ones per address.)"""
    return f"comment:{current_user.get_id() or request.remote_addr}"


@bp.post("/documents/<int:document_id>/comments")
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_COMMENT"],
    scope="comment",  # one count with the API's comments (docdraft/api/review.py)
    key_func=_commenter,
    error_message="You are posting comments faster than this site takes, so this "
    "one was not posted. It is below: post it again a little later.",
)
def comment(document_id):
    document = get_document_for(current_user, document_id)
    form = CommentForm()
    if not form.validate_on_submit():
        if form.base_revision.errors:  # hidden: the page has no place to show it
            abort(400, description=f"Revision: {form.base_revision.errors[0]}")
        # Shown on the document page next to the box, the text kept in it.
        return render_document_page(document, None, 400, comment_form=form)
    review.add_comment(document, current_user, form.body.data, form.base_revision.data)
    flash("Comment added.")
    return redirect(document_url(document) + "#timeline")


@bp.get("/documents/<int:document_id>/diff")
def diff(document_id):
    document = get_document_for(current_user, document_id)
    numbers = [
        query_int(key, None, label=f"The revision number in ?{key}=")
        for key in ("from", "to")
    ]
    if None in numbers:
        abort(400, description="Give two revision numbers: ?from=N&to=M.")
    old, new = (document.revision_number(number) for number in numbers)
    if old is None or new is None:
        abort(404)
    return render_template(
        "documents/diff.html",
        document=document,
        old=old,
        new=new,
        parts=words.diff_words(old.body, new.body),
    )


@bp.get("/documents/<int:document_id>/revisions/<int:number>")
def revision(document_id, number):
    document = get_document_for(current_user, document_id)
    found = document.revision_number(number)
    if found is None:
        abort(404)
    return render_revision_page(document, found)


@bp.get("/documents/<int:document_id>/export.md")
def export_markdown(document_id):
    document = get_document_for(current_user, document_id)
    title = " ".join(document.name.split())
    return _download(document, f"# {title}\n\n{document.body}\n", "md", "text/markdown")


@bp.get("/documents/<int:document_id>/export.txt")
def export_text(document_id):
    document = get_document_for(current_user, document_id)
    return _download(document, document.body + "\n", "txt", "text/plain")


def _download(document, content, extension, mimetype):
    # A text mimetype gets "; charset=utf-8" from Werkzeug; a full content_type
    # is sent as given (a mimetype with the charset would name it twice).
    response = Response(content, content_type=f"{mimetype}; charset=utf-8")
    response.headers["Content-Disposition"] = _attachment(document, extension)
    return response


def _attachment(document, extension):
    """An attachment header: an ASCII filename, and the UTF-8 one (RFC 6266)."""
    stem = re.sub(r"[^\w.-]+", "-", document.name).strip("-.")[:80]
    name = f"{stem or f'document-{document.id}'}.{extension}"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=UTF-8''{quote(name)}"
    return header
