"""Staging a revision with its suggestion, and handing the job over.

A new revision and its job (a queued autodoc) commit in one transaction with
the timeline entry; the job is handed to the queue only after that commit, so
a queue can lose a delivery but never a job.
"""

import secrets

from textgen.lengths import LENGTHS, MODES

from ..extensions import db
from ..jobs import dispatch
from ..models import DOCUMENT_BODY_MAX, Autodoc, JobStatus, Revision, utcnow

# LENGTHS (tokens each length asks for) and MODES come from textgen.lengths,
# the one module of textgen that the web processes load (it imports nothing).
# Generous: GPT-2's tokens average about 4 characters of English.
CHARS_PER_TOKEN = 6
NO_ROOM = (
    f"The body is at its size limit ({DOCUMENT_BODY_MAX:,} characters), so no "
    "suggestion could be appended. Shorten the body to get one."
)


def length_for_room(length, room):
    """`length`, or the longest shorter one whose text fits in `room`
    characters; None when not even a short suggestion fits."""
    fitting = [
        name
        for name, tokens in LENGTHS.items()
        if tokens * CHARS_PER_TOKEN <= room and tokens <= LENGTHS[length]
    ]
    return fitting[-1] if fitting else None


def new_suggestion(document, mode="beam", length="medium"):
    """A queued job for `document`'s body; sample mode gets its seed now, so it
    is on record. A body at its size limit gets a failed job saying so, since
    nothing could be appended."""
    if mode not in MODES or length not in LENGTHS:
        raise ValueError(f"unknown suggestion mode or length: {mode!r}, {length!r}")
    fitting = length_for_room(length, DOCUMENT_BODY_MAX - len(document.body))
    seed = secrets.randbelow(2**31) if mode == "sample" else None
    if fitting is None:
        now = utcnow()
        return Autodoc(
            status=JobStatus.failed,
            error=NO_ROOM,
            queued_at=now,
            finished_at=now,
            mode=mode,
            length=length,
            seed=seed,
        )
    return Autodoc(
        status=JobStatus.queued,
        queued_at=utcnow(),
        mode=mode,
        length=fitting,
        seed=seed,
    )


def add_revision(document, author, spans, length="medium", suggestion=None):
    """Stage revision `document.head_revision` of the current body with its
    suggestion: `suggestion`, or a new job of `length`."""
    suggestion = suggestion or new_suggestion(document, length=length)
    revision = Revision(
        number=document.head_revision,
        name=document.name,
        body=document.body,
        author=author,
        machine_spans=spans,
        suggestions=[suggestion],
    )
    db.session.add(revision)
    revision.document = document
    return revision


def commit_and_enqueue(revision):
    db.session.commit()
    if revision is not None and revision.autodoc.is_pending:
        dispatch.enqueue([revision.autodoc.id])


COPIED_COLUMNS = (
    "status text error mode length seed model_name weights_sha256 settings "
    "prompt_tokens prompt_tokens_cut dismissed_at dismissed_by_id queued_at "
    "started_at finished_at attempts"
).split()


def copy_suggestion(autodoc):
    return Autodoc(**{name: getattr(autodoc, name) for name in COPIED_COLUMNS})
