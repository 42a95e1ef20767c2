"""The training set: only approved, consented documents of the chosen
sponsors; the JSONL schema; the split; the CLI; the admin download."""

import hashlib
import io
import json
import zipfile

import pytest

from docdraft.extensions import db
from docdraft.models import Autodoc, Role
from docdraft.training.dataset import (
    SCHEMA_VERSION,
    check_sponsors,
    is_validation,
    split,
    training_documents,
    write_dataset,
)

from .conftest import MACHINE

RECORD_KEYS = {
    "schema_version": int,
    "document_id": int,
    "sponsor_id": int,
    "name": str,
    "text": str,
    "approved_revision": int,
    "created_at": str,
    "approved_at": str,
    "machine_spans": list,
    "revisions": list,
    "suggestions": list,
}
REVISION_KEYS = {
    "number": int,
    "body": str,
    "author_id": int,
    "author_role": str,
    "created_at": str,
}
SUGGESTION_KEYS = {
    "id": int,
    "revision": int,
    "text": str,
    "fate": str,
    "model": str,
    "weights_sha256": str,
    "settings": dict,
    "mode": str,
    "length": str,
    "seed": (int, type(None)),
    "queued_at": str,
    "finished_at": str,
}
SPAN_KEYS = {"start": int, "end": int, "autodoc_id": int, "text": str}


def assert_keys(record, expected):
    assert set(record) == set(expected)
    for key, kind in expected.items():
        assert isinstance(record[key], kind), (key, record[key])


def create(sponsor, editor_id, consent=True, body="Write about Debian."):
    data = {"document_name": "Plan", "document_body": body, "editor_id": editor_id}
    if consent:
        data["train_consent"] = "y"
    response = sponsor.submit("/sponsor/documents/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.location.rsplit("/", 1)[1])


def approve(sponsor, editor, document_id):
    review = f"/documents/{document_id}/review"
    submitted = sponsor.submit(
        review, {"action": "submit"}, form_url=f"/sponsor/documents/{document_id}"
    )
    approved = editor.submit(
        review, {"action": "approve"}, form_url=f"/editor/documents/{document_id}"
    )
    assert (submitted.status_code, approved.status_code) == (302, 302)


def exported(app, sponsor_ids, directory):
    with app.app_context():
        manifest = write_dataset(sponsor_ids, directory)
    records = {}
    for name in ("train", "validation"):
        lines = (directory / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        records[name] = [json.loads(line) for line in lines]
    return manifest, records


def ids(records):
    return sorted(r["document_id"] for part in records.values() for r in part)


def test_only_approved_consented_documents_of_the_chosen_sponsors(
    app, sponsor, editor, login_as, fake_generator, run_queued, tmp_path
):
    wanted = create(sponsor, editor.user_id)
    no_consent = create(sponsor, editor.user_id, consent=False)
    unapproved = create(sponsor, editor.user_id)
    other_sponsor = login_as(Role.sponsor)
    others = create(other_sponsor, editor.user_id)
    run_queued()
    for document_id in (wanted, no_consent):
        approve(sponsor, editor, document_id)
    approve(other_sponsor, editor, others)

    _, records = exported(app, [sponsor.user_id], tmp_path / "one")
    assert ids(records) == [wanted]
    assert unapproved not in ids(records)
    _, both = exported(app, [sponsor.user_id, other_sponsor.user_id], tmp_path / "two")
    assert ids(both) == sorted([wanted, others])


def test_withdrawal_removes_the_document_from_later_sets(
    app, sponsor, editor, fake_generator, run_queued, tmp_path
):
    document_id = create(sponsor, editor.user_id)
    run_queued()
    approve(sponsor, editor, document_id)
    _, before = exported(app, [sponsor.user_id], tmp_path / "before")
    assert ids(before) == [document_id]

    page = f"/sponsor/documents/{document_id}"
    withdrawn = sponsor.submit(f"/documents/{document_id}/consent", {}, form_url=page)
    assert withdrawn.status_code == 302
    manifest, after = exported(app, [sponsor.user_id], tmp_path / "after")
    assert ids(after) == []
    assert manifest["documents"] == 0
    with app.app_context():
        assert training_documents([sponsor.user_id]) == []


def test_the_record_schema_and_every_fate(
    app, drafted, sponsor, editor, run_queued, fake_generator, tmp_path
):
    # Revision 1's suggestion accepted; revision 2's first dismissed; its
    # second ("try another") left alone.
    assert drafted.post(sponsor, "accept").status_code == 302
    run_queued()
    assert drafted.post(sponsor, "dismiss").status_code == 302
    assert (
        drafted.post(
            sponsor, "suggest", {"mode": "beam", "length": "short"}
        ).status_code
        == 302
    )
    run_queued()
    page = drafted.sponsor_page
    consent = sponsor.submit(
        f"/documents/{drafted.id}/consent", {"train_consent": "y"}, form_url=page
    )
    assert consent.status_code == 302
    approve(sponsor, editor, drafted.id)

    manifest, records = exported(app, [sponsor.user_id], tmp_path)
    [record] = records["train"] + records["validation"]
    assert_keys(record, RECORD_KEYS)
    assert record["schema_version"] == SCHEMA_VERSION == manifest["schema_version"]
    assert record["text"] == "Intro." + MACHINE
    assert record["approved_revision"] == 2
    assert [r["number"] for r in record["revisions"]] == [1, 2]
    for revision in record["revisions"]:
        assert_keys(revision, REVISION_KEYS)
        assert revision["author_role"] == "sponsor"
    fates = [(s["revision"], s["fate"]) for s in record["suggestions"]]
    assert fates == [(1, "accepted"), (2, "dismissed"), (2, "ignored")]
    for suggestion in record["suggestions"]:
        assert_keys(suggestion, SUGGESTION_KEYS)
        assert suggestion["model"] == "fake-generator"
        assert suggestion["weights_sha256"] == "f" * 64
    assert record["suggestions"][2]["length"] == "short"
    [span] = record["machine_spans"]
    assert_keys(span, SPAN_KEYS)
    assert span["text"] == MACHINE.strip()
    assert span["autodoc_id"] == record["suggestions"][0]["id"]
    assert record["text"][span["start"] : span["end"]] == span["text"]
    assert record["approved_at"] >= record["created_at"]

    # The manifest describes the files it sits beside.
    for name, counts in manifest["files"].items():
        data = (tmp_path / name).read_bytes()
        assert counts["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["characters"] == len(record["text"])
    assert manifest["sponsor_ids"] == [sponsor.user_id]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_a_suggestion_never_written_is_left_out(
    app, drafted, sponsor, editor, tmp_path
):
    # The "try another" job stays queued: nothing was written, so nothing to judge.
    drafted.post(sponsor, "suggest", {"mode": "beam", "length": "short"})
    page = drafted.sponsor_page
    sponsor.submit(
        f"/documents/{drafted.id}/consent", {"train_consent": "y"}, form_url=page
    )
    approve(sponsor, editor, drafted.id)
    _, records = exported(app, [sponsor.user_id], tmp_path)
    [record] = records["train"] + records["validation"]
    with app.app_context():
        statuses = [a.status.value for a in db.session.scalars(db.select(Autodoc))]
    assert sorted(statuses) == ["done", "queued"]
    assert [s["fate"] for s in record["suggestions"]] == ["ignored"]


def test_the_split_is_by_document_and_deterministic(
    app, sponsor, editor, fake_generator, run_queued, tmp_path
):
    documents = [create(sponsor, editor.user_id, body=f"Text {n}.") for n in range(12)]
    run_queued()
    for document_id in documents:
        approve(sponsor, editor, document_id)
    first, records = exported(app, [sponsor.user_id], tmp_path / "a")
    second, again = exported(app, [sponsor.user_id], tmp_path / "b")
    assert records == again
    assert first["files"] == second["files"]  # same bytes, same sha256
    validation = [r["document_id"] for r in records["validation"]]
    assert validation  # 2+ documents: at least one held out
    assert ids(records) == sorted(documents)
    ruled = [d for d in documents if is_validation(d)]
    if ruled:  # the rule decides whenever it picks any
        assert sorted(validation) == ruled
    assert first["files"]["validation.jsonl"]["documents"] == len(validation)


class Doc:
    def __init__(self, id):
        self.id = id


def test_the_split_rule():
    """sha256("id")[0] % 10 == 0 holds out; with none held out, the smallest
    digest is; one document alone is never held out."""
    held = [n for n in range(1, 200) if is_validation(n)]
    assert held == [
        n
        for n in range(1, 200)
        if hashlib.sha256(str(n).encode()).digest()[0] % 10 == 0
    ]
    assert 5 < len(held) < 40
    kept = [n for n in range(1, 200) if not is_validation(n)][:3]
    train, validation = split([Doc(n) for n in kept])
    smallest = min(kept, key=lambda n: hashlib.sha256(str(n).encode()).digest())
    assert [d.id for d in validation] == [smallest]
    assert len(train) == 2
    assert split([Doc(kept[0])])[1] == []


def test_the_cli_writes_the_files(
    app, runner, sponsor, editor, fake_generator, run_queued, tmp_path
):
    document_id = create(sponsor, editor.user_id)
    run_queued()
    approve(sponsor, editor, document_id)
    out = tmp_path / "set"
    result = runner.invoke(
        args=["dataset", "export", "--sponsor", str(sponsor.user_id), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["documents"] == 1
    assert "train.jsonl: 1 documents" in result.output


@pytest.mark.parametrize("who", ["missing", "editor"])
def test_the_cli_refuses_an_id_that_is_not_a_sponsor(
    app, runner, editor, tmp_path, who
):
    user_id = 999_999 if who == "missing" else editor.user_id
    result = runner.invoke(
        args=["dataset", "export", "--sponsor", str(user_id), "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    expected = "No user has id" if who == "missing" else "is editor, not a sponsor"
    assert expected in result.output
    assert not (tmp_path / "manifest.json").exists()


def test_check_sponsors_wants_at_least_one(app):
    with app.app_context(), pytest.raises(ValueError, match="at least one"):
        check_sponsors([])


def test_the_download_is_for_admins_only(
    app, client, admin, sponsor, editor, fake_generator, run_queued
):
    document_id = create(sponsor, editor.user_id)
    run_queued()
    approve(sponsor, editor, document_id)
    url = f"/admin/models/dataset?sponsor_ids={sponsor.user_id}"

    response = admin.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "manifest.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["documents"] == 1
    train = archive.read("train.jsonl")
    assert (
        manifest["files"]["train.jsonl"]["sha256"] == hashlib.sha256(train).hexdigest()
    )

    assert sponsor.get(url).status_code == 403
    assert editor.get(url).status_code == 403
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.location


@pytest.mark.parametrize(
    "query", ["", "?sponsor_ids=abc", "?sponsor_ids=999999", "?sponsor_ids=EDITOR"]
)
def test_the_download_refuses_bad_sponsor_ids(app, admin, editor, query):
    response = admin.get(
        "/admin/models/dataset" + query.replace("EDITOR", str(editor.user_id))
    )
    assert response.status_code == 400
