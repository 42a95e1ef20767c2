"""The training set: approved documents whose sponsor consented, as JSONL.

A document enters a set only when it is approved (ReviewState.approved) and
its `train_consent` is on at the moment the set is built: withdrawing
consent takes it out of every later set. The record format is written down,
with its version, in docs/dataset-schema.md; `document_record` builds it for
the CLI and the admin download alike.
"""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    Document,
    EventKind,
    JobStatus,
    ReviewState,
    Revision,
    Role,
    User,
)
from ..services.suggestions import accepted_suggestion_id

# Bump when a key is added, removed or changes meaning (docs/dataset-schema.md).
SCHEMA_VERSION = 1
TRAIN_FILE, VALIDATION_FILE, MANIFEST_FILE = (
    "train.jsonl",
    "validation.jsonl",
    "manifest.json",
)
# About one document in ten is held out: sha256(str(id))[0] % 10 == 0.
VALIDATION_MODULUS = 10


class UnknownSponsor(ValueError):
    """An id that names no user, or a user who is not a sponsor."""


def check_sponsors(sponsor_ids):
    """The sorted, distinct ids if each names a sponsor; else UnknownSponsor
    saying which id is wrong and why."""
    ids = sorted(set(sponsor_ids))
    if not ids:
        raise UnknownSponsor("Name at least one sponsor.")
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    for sponsor_id in ids:
        user = users.get(sponsor_id)
        if user is None:
            raise UnknownSponsor(f"No user has id {sponsor_id}.")
        if user.role != Role.sponsor:
            raise UnknownSponsor(
                f"User {sponsor_id} is {user.role.value}, not a sponsor."
            )
    return ids


def training_documents(sponsor_ids):
    """The approved, consented documents of these sponsors, oldest first."""
    return db.session.scalars(
        select(Document)
        .where(
            Document.sponsor_id.in_(list(sponsor_ids)),
            Document.review_state == ReviewState.approved,
            Document.train_consent.is_(True),
        )
        .options(
            selectinload(Document.revisions).selectinload(Revision.suggestions),
            selectinload(Document.revisions).selectinload(Revision.author),
            selectinload(Document.events),
        )
        .order_by(Document.id)
    ).all()


def is_validation(document_id):
    """The split's rule, by document: the same id is always on the same side."""
    return _digest(document_id)[0] % VALIDATION_MODULUS == 0


def split(documents):
    """(train, validation): by `is_validation`, except that with two or more
    documents and none held out, the one with the smallest digest is."""
    validation = [d for d in documents if is_validation(d.id)]
    if not validation and len(documents) >= 2:
        validation = [min(documents, key=lambda d: _digest(d.id))]
    held_out = {d.id for d in validation}
    return [d for d in documents if d.id not in held_out], validation


def _digest(document_id):
    return hashlib.sha256(str(document_id).encode()).digest()


def document_record(document):
    """One document as one JSON-ready dict (schema SCHEMA_VERSION)."""
    approval = _last_approval(document)
    final = _approved_revision(document, approval)
    accepted = _accepted_suggestion_ids(document)
    revisions = sorted(document.revisions, key=lambda r: r.number)
    return {
        "schema_version": SCHEMA_VERSION,
        "document_id": document.id,
        "sponsor_id": document.sponsor_id,
        "name": document.name,
        "text": final.body,
        "approved_revision": final.number,
        "created_at": isoformat(document.created_at),
        "approved_at": isoformat(approval.created_at if approval else None),
        "machine_spans": [
            {"start": start, "end": end, "autodoc_id": autodoc_id}
            | {"text": final.body[start:end]}
            for start, end, autodoc_id in final.machine_spans or []
        ],
        "revisions": [_revision_record(r) for r in revisions],
        "suggestions": [
            _suggestion_record(revision, suggestion, accepted)
            for revision in revisions
            for suggestion in revision.suggestions
            # A failed or cancelled job wrote nothing anyone could judge.
            if suggestion.status == JobStatus.done
        ],
    }


def _last_approval(document):
    approvals = [
        e
        for e in document.events
        if e.kind == EventKind.transition
        and (e.detail or {}).get("action") == "approve"
    ]
    return max(approvals, key=lambda e: e.id, default=None)


def _approved_revision(document, approval):
    """The revision the editor approved; an approved document is locked, so
    it is also the latest."""
    number = approval.revision_number if approval else None
    return document.revision_number(number) or document.latest_revision


def _accepted_suggestion_ids(document):
    """Ids of the suggestions the document's accept events took."""
    accepted = set()
    for event in document.events:
        made = document.revision_number(event.revision_number)
        if event.kind == EventKind.accept and made is not None:
            accepted.add(accepted_suggestion_id(event.detail, made.machine_spans))
    return accepted - {None}


def _revision_record(revision):
    return {
        "number": revision.number,
        "body": revision.body,
        "author_id": revision.author_id,
        "author_role": revision.author.role.value,
        "created_at": isoformat(revision.created_at),
    }


def _suggestion_record(revision, suggestion, accepted):
    if suggestion.id in accepted:
        fate = "accepted"
    elif suggestion.dismissed_at is not None:
        fate = "dismissed"
    else:
        fate = "ignored"
    return {
        "id": suggestion.id,
        "revision": revision.number,
        "text": suggestion.text,
        "fate": fate,
        "model": suggestion.model_name,
        "weights_sha256": suggestion.weights_sha256,
        "settings": suggestion.settings,
        "mode": suggestion.mode,
        "length": suggestion.length,
        "seed": suggestion.seed,
        "queued_at": isoformat(suggestion.queued_at),
        "finished_at": isoformat(suggestion.finished_at),
    }


def write_dataset(sponsor_ids, directory):
    """Write train.jsonl, validation.jsonl and manifest.json into `directory`
    (made if missing) for these sponsors; returns the manifest.

    Raises UnknownSponsor for an id that is not a sponsor's.
    """
    sponsor_ids = check_sponsors(sponsor_ids)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    train, validation = split(training_documents(sponsor_ids))
    files = {
        TRAIN_FILE: _write_jsonl(directory / TRAIN_FILE, train),
        VALIDATION_FILE: _write_jsonl(directory / VALIDATION_FILE, validation),
    }
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "sponsor_ids": sponsor_ids,
        "created_at": isoformat(datetime.now(UTC)),
        "documents": sum(f["documents"] for f in files.values()),
        "characters": sum(f["characters"] for f in files.values()),
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (directory / MANIFEST_FILE).write_text(text, encoding="utf-8")
    return manifest


def _write_jsonl(path, documents):
    """One record a line; returns the file's counts and sha256."""
    digest, characters = hashlib.sha256(), 0
    with open(path, "wb") as out:
        for document in documents:
            record = document_record(document)
            characters += len(record["text"])
            line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
            data = line.encode("utf-8")
            digest.update(data)
            out.write(data)
    return {
        "documents": len(documents),
        "characters": characters,
        "sha256": digest.hexdigest(),
    }


def isoformat(moment):
    """ISO 8601 in UTC with a Z; SQLite hands back naive datetimes in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
