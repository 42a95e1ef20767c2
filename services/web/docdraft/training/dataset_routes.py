"""The admin's download of a training set: GET /admin/models/dataset.

The same files as `flask dataset export`, zipped; built in a temporary
directory by `write_dataset`, so the two can never differ.
"""

import io
import tempfile
import zipfile
from pathlib import Path

from flask import abort, request, send_file
from flask_login import current_user

from .. import audit
from ..admin import bp
from ..numbers import DB_INT_MAX, NotAWholeNumber, whole_number
from .dataset import (
    MANIFEST_FILE,
    TRAIN_FILE,
    VALIDATION_FILE,
    UnknownSponsor,
    write_dataset,
)

MAX_SPONSORS = 1000


@bp.get("/models/dataset")
def download_dataset():
    """A zip of train.jsonl, validation.jsonl and manifest.json for the
    sponsors in ?sponsor_ids= (repeated). Admins only (the blueprint's guard)."""
    sponsor_ids = _sponsor_ids()
    with tempfile.TemporaryDirectory() as directory:
        try:
            manifest = write_dataset(sponsor_ids, directory)
        except UnknownSponsor as error:
            abort(400, description=str(error))
        archive = _zip(Path(directory))
    # Users' text leaves the app here: who took whose is on the record.
    detail = f"sponsors {manifest['sponsor_ids']}: {manifest['documents']} documents"
    audit.record("dataset_downloaded", actor=current_user, detail=detail)
    ids = "-".join(str(i) for i in manifest["sponsor_ids"])
    return send_file(
        archive,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"dataset-sponsors-{ids[:100]}.zip",
    )


def _sponsor_ids():
    values = request.args.getlist("sponsor_ids")
    if not values:
        abort(400, description="Choose at least one sponsor: ?sponsor_ids=ID.")
    if len(values) > MAX_SPONSORS:
        abort(400, description=f"At most {MAX_SPONSORS} sponsors at a time.")
    try:
        return [whole_number(v, 1, DB_INT_MAX, "A sponsor id") for v in values]
    except NotAWholeNumber as error:
        abort(400, description=str(error))


def _zip(directory):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (TRAIN_FILE, VALIDATION_FILE, MANIFEST_FILE):
            archive.write(directory / name, arcname=name)
    buffer.seek(0)
    return buffer
