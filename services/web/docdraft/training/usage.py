"""How each model's suggestions fared: written, accepted, dismissed, and how
much of the approved documents it wrote.

A model is known in the suggestions by the sha256 of its weights
(Autodoc.weights_sha256). Everything is computed for many models at once in a
fixed number of queries: the accepted suggestions and the approved documents'
machine spans are read once, then their autodoc ids are mapped to weights.
"""

from dataclasses import asdict, dataclass

from sqlalchemy import and_, case, func, select

from ..extensions import db
from ..models import (
    Autodoc,
    Document,
    Event,
    EventKind,
    JobStatus,
    ReviewState,
    Revision,
)
from ..services.suggestions import accepted_suggestion_id

# Ids per IN (...) list: well under SQLite's limit of bound parameters.
CHUNK = 5000


@dataclass(frozen=True)
class Usage:
    suggestions: int = 0
    accepted: int = 0
    dismissed: int = 0
    acceptance_rate: float | None = None
    machine_share_at_approval: float | None = None

    def as_dict(self):
        return asdict(self)


def usage_by_sha(shas):
    """{sha256: Usage} for the models whose weights have these sha256s."""
    shas = sorted({sha for sha in shas if sha})
    if not shas:
        return {}
    written = _written(shas)
    accepted_ids = _accepted_suggestion_ids()
    approved = _approved_spans()
    span_ids = {span[2] for _length, spans in approved for span in spans}
    weights = _weights_of(accepted_ids | span_ids, shas)
    accepted = _count_by_sha(accepted_ids, weights)
    shares = _machine_shares(approved, weights)
    return {
        sha: _usage(written.get(sha, (0, 0)), accepted.get(sha, 0), shares.get(sha))
        for sha in shas
    }


def _usage(written, accepted, share):
    suggestions, dismissed = written
    rate = accepted / suggestions if suggestions else None
    return Usage(suggestions, accepted, dismissed, rate, share)


def _written(shas):
    """{sha: (finished suggestions, dismissed ones)}."""
    rows = db.session.execute(
        select(
            Autodoc.weights_sha256,
            func.count(),
            func.sum(case((Autodoc.dismissed_at.is_not(None), 1), else_=0)),
        )
        .where(Autodoc.status == JobStatus.done, Autodoc.weights_sha256.in_(shas))
        .group_by(Autodoc.weights_sha256)
    )
    return {sha: (count, int(dismissed or 0)) for sha, count, dismissed in rows}


def _accepted_suggestion_ids():
    """Ids of every accepted suggestion (services.suggestions says which
    suggestion an accept event took)."""
    rows = db.session.execute(
        select(Event.detail, Revision.machine_spans)
        .join(
            Revision,
            and_(
                Revision.document_id == Event.document_id,
                Revision.number == Event.revision_number,
            ),
        )
        .where(Event.kind == EventKind.accept)
    )
    accepted = {accepted_suggestion_id(detail, spans) for detail, spans in rows}
    return accepted - {None}


def _approved_spans():
    """(characters, machine spans) of each approved document's approved
    revision, for those with any machine text."""
    rows = db.session.execute(
        select(func.length(Revision.body), Revision.machine_spans)
        .join(
            Document,
            and_(
                Document.id == Revision.document_id,
                Document.head_revision == Revision.number,
            ),
        )
        .where(Document.review_state == ReviewState.approved)
    )
    return [(length, spans) for length, spans in rows if spans]


def _weights_of(autodoc_ids, shas):
    """{autodoc id: sha} for those of `autodoc_ids` written by these weights."""
    ids, found = sorted(autodoc_ids), {}
    for start in range(0, len(ids), CHUNK):
        rows = db.session.execute(
            select(Autodoc.id, Autodoc.weights_sha256).where(
                Autodoc.id.in_(ids[start : start + CHUNK]),
                Autodoc.weights_sha256.in_(shas),
            )
        )
        found.update(dict(rows.all()))
    return found


def _count_by_sha(autodoc_ids, weights):
    counts = {}
    for autodoc_id in autodoc_ids:
        if autodoc_id in weights:
            counts[weights[autodoc_id]] = counts.get(weights[autodoc_id], 0) + 1
    return counts


def _machine_shares(approved, weights):
    """{sha: its characters in approved documents / those documents'
    characters}, over the approved documents holding any text of it."""
    written, total = {}, {}
    for length, spans in approved:
        mine = {}
        for start, end, autodoc_id in spans:
            sha = weights.get(autodoc_id)
            if sha is not None:
                mine[sha] = mine.get(sha, 0) + end - start
        for sha, characters in mine.items():
            written[sha] = written.get(sha, 0) + characters
            total[sha] = total.get(sha, 0) + length
    return {sha: written[sha] / total[sha] for sha in written if total[sha]}
