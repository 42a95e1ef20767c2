"""A simulated team for showing fine-tuning: `flask --app docdraft demo-team`.

Its documents are entries of the Jargon File (Debian's jargon-text, public
domain): English prose the seed model never saw, since it learnt from
Debian's manuals and Python's documentation (pipeline/config.py). The
package is fetched and unpacked as the pipeline fetches its sources, without
installing it. Each document is a few consecutive entries of the lexicon;
each is created, consented and approved through the app's own services, as
a sponsor and an editor would, and its first suggestion is cancelled (a team
that is only there to train asks for none).
"""

import gzip
import re
import secrets

from pipeline.config import PipelineConfig, SourcePackage
from pipeline.download import download_sources

from ..models import ReviewState, Role, UserStatus
from ..notifications.kinds import choosable_kinds
from ..notifications.preferences import save_choice
from ..services.cancel import cancel_waiting
from ..services.documents import create_document
from ..services.review import transition
from ..services.users import find_user_by_email, set_user_status, signup_user

LEXICON = "usr/share/doc/jargon-text/jargon.txt.gz"
SOURCE = SourcePackage("jargon-text", "4.4.7-4.1", "public-domain", (LEXICON,))
ENTRIES = 4  # lexicon entries a document
SPONSOR = ("jargon-sponsor@demo.local", "Jargon File team")
EDITOR = ("jargon-editor@demo.local", "Jargon File editor")
# ":term: pos." opens an entry; the lexicon runs from its first entry to the
# appendices (whose heading has no-break spaces).
ENTRY_HEAD = re.compile(r"^   :[^:]+:")
LEXICON_END = re.compile(r"^Appendix\sA\.", re.MULTILINE)
# Layout, not prose: "{term}" links to another entry, "2. " numbers a sense,
# "[Usenet]" or "[from ...]" opening a paragraph labels its origin.
CROSS_REFERENCE = re.compile(r"\{([^{}]*)\}")
SENSE_NUMBER = re.compile(r"^\d+\.\s+")
ORIGIN_LABEL = re.compile(r"^\[[^\]]*\]\s*")


def texts(data_dir, count):
    """`count` documents (fewer if the lexicon runs out) as (name, body):
    runs of ENTRIES consecutive entries, spread evenly from A to Z; a body is
    its entries' definitions, a paragraph each, the name its first term."""
    config = PipelineConfig(data_dir=data_dir, sources=(SOURCE,))
    (tree,) = download_sources(config)
    with gzip.open(tree / LEXICON, "rt", encoding="utf-8") as lexicon:
        entries = lexicon_entries(lexicon.read())
    runs = [
        entries[start : start + ENTRIES]
        for start in range(0, len(entries) - ENTRIES + 1, ENTRIES)
    ]
    count = min(count, len(runs))
    chosen = (runs[n * len(runs) // count] for n in range(count))
    return [(run[0][0], "\n\n".join(body for _, body in run)) for run in chosen]


def lexicon_entries(text):
    """The lexicon's entries as (term, definition): the definition as one
    paragraph, without a dictionary's layout (the heading ":term:
    pronunciation, part of speech", sense numbers, origin labels, the braces
    of cross-references)."""
    lines = text[: LEXICON_END.search(text).start()].splitlines()
    entries, paragraphs, lines_of_paragraph = [], None, []

    def end_paragraph():
        if paragraphs is not None and lines_of_paragraph:
            paragraph = " ".join(lines_of_paragraph)
            if paragraphs:  # a definition, not the heading: its prose only
                paragraph = ORIGIN_LABEL.sub("", SENSE_NUMBER.sub("", paragraph))
                paragraph = CROSS_REFERENCE.sub(r"\1", paragraph)
            if paragraph:
                paragraphs.append(paragraph)
        lines_of_paragraph.clear()

    def end_entry():
        end_paragraph()
        if paragraphs and len(paragraphs) > 1:
            term = ENTRY_HEAD.match("   " + paragraphs[0]).group(0).strip()[1:-1]
            entries.append((term, " ".join(paragraphs[1:])))

    for line in lines:
        if ENTRY_HEAD.match(line):
            end_entry()
            paragraphs = []
        if not line.strip():
            end_paragraph()
        elif paragraphs is not None:
            lines_of_paragraph.append(line.strip())
    end_entry()
    return entries


def person(email, name, role):
    """The team's sponsor or editor: (user, its new password or None)."""
    user = find_user_by_email(email)
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    user = signup_user(role, name, email, password, "Demo team")
    # A simulated team reads no mail: of its 400 review steps none is mailed.
    for kind in choosable_kinds(role):
        save_choice(user, kind.name, email=False)
    set_user_status(None, user, UserStatus.approved)
    return user, password


def make_team(data_dir, count):
    """The sponsor, editor and their approved, consented documents; returns
    (sponsor, editor, passwords made, documents made)."""
    sponsor, sponsor_password = person(*SPONSOR, Role.sponsor)
    editor, editor_password = person(*EDITOR, Role.editor)
    made = 0
    for number, (term, body) in enumerate(texts(data_dir, count), 1):
        name = f"Jargon File {number:03d}: {term}"
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
