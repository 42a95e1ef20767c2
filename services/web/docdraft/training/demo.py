"""A simulated team for showing fine-tuning: `flask --app docdraft demo-team`.

Its documents are the English prose of Python's own documentation (Debian's
python3.11-doc: the tutorial, the HOWTOs and the FAQ), which the seed model
never saw (it learnt from Debian's manuals, pipeline/config.py). The package
is fetched and unpacked as the pipeline fetches its sources, without
installing it. Each page is cut into documents of a few paragraphs; each
document is created, consented and approved through the app's own services,
as a sponsor and an editor would, and its first suggestion is cancelled (a
team that is only there to train asks for none).
"""

import secrets

from pipeline.config import PipelineConfig, SourcePackage
from pipeline.download import download_sources
from pipeline.extract import iter_documents

from ..extensions import db
from ..models import ReviewState, Role, UserStatus
from ..services.cancel import cancel_waiting
from ..services.documents import create_document
from ..services.review import transition
from ..services.users import find_user_by_email, signup_user

HTML = "usr/share/doc/python3.11/html"
SOURCE = SourcePackage(
    "python3.11-doc",
    "3.11.2-6+deb12u9",
    "PSF-2.0",
    tuple(f"{HTML}/{part}/*.html" for part in ("tutorial", "howto", "faq")),
    tuple(f"{HTML}/{part}/index.html" for part in ("tutorial", "howto", "faq")),
)
PARAGRAPHS = 4  # paragraphs a document
SPONSOR = ("python-docs-sponsor@demo.local", "Python docs team")
EDITOR = ("python-docs-editor@demo.local", "Python docs editor")


def texts(data_dir, count):
    """Up to `count` documents' bodies, in a fixed order: every page's
    paragraphs, PARAGRAPHS at a time."""
    config = PipelineConfig(data_dir=data_dir, sources=(SOURCE,))
    download_sources(config)
    bodies = []
    for page in iter_documents(config):
        for start in range(0, len(page.paragraphs), PARAGRAPHS):
            bodies.append("\n\n".join(page.paragraphs[start : start + PARAGRAPHS]))
            if len(bodies) == count:
                return bodies
    return bodies


def person(email, name, role):
    """The team's sponsor or editor: (user, its new password or None)."""
    user = find_user_by_email(email)
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    user = signup_user(role, name, email, password, "Demo team")
    user.status = UserStatus.approved
    db.session.commit()
    return user, password


def make_team(data_dir, count):
    """The sponsor, editor and their approved, consented documents; returns
    (sponsor, editor, passwords made, documents made)."""
    sponsor, sponsor_password = person(*SPONSOR, Role.sponsor)
    editor, editor_password = person(*EDITOR, Role.editor)
    made = 0
    for number, body in enumerate(texts(data_dir, count), 1):
        name = f"Python docs {number:03d}"
        document = create_document(
            sponsor,
            name,
            body,
            editor.id,
            form_key=f"demo-team-{number:04d}",
            train_consent=True,
        )
        if document.review_state == ReviewState.approved:
            continue  # made by an earlier run (the form key)
        suggestion = document.latest_revision.autodoc
        if suggestion.is_pending:
            cancel_waiting(document, sponsor, suggestion.id)
        transition(document, sponsor, "submit", document.head_revision)
        transition(document, editor, "approve", document.head_revision)
        made += 1
    made_now = ((SPONSOR[0], sponsor_password), (EDITOR[0], editor_password))
    passwords = {email: password for email, password in made_now if password}
    return sponsor, editor, passwords, made
