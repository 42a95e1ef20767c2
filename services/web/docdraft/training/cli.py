"""The training commands: `flask --app docdraft dataset export --sponsor ID
... --out DIR`, `demo-team` and `models train --sponsor ID ...`."""

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import Role, User
from .dataset import UnknownSponsor, training_documents, write_dataset

dataset = AppGroup("dataset", help="The training set of approved, consented documents.")


@dataset.command("export")
@click.option(
    "--sponsor",
    "sponsor_ids",
    type=int,
    multiple=True,
    required=True,
    help="A sponsor's user id; repeat it for several sponsors.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, writable=True),
    required=True,
    help="Directory for train.jsonl, validation.jsonl and manifest.json.",
)
def export_command(sponsor_ids, out):
    """Write the approved, consented documents of these sponsors as JSONL."""
    try:
        manifest = write_dataset(sponsor_ids, out)
    except UnknownSponsor as error:
        raise click.ClickException(str(error)) from None
    for name, counts in manifest["files"].items():
        click.echo(
            f"{name}: {counts['documents']} documents, "
            f"{counts['characters']} characters, sha256 {counts['sha256']}"
        )
    click.echo(f"Wrote {out}/manifest.json (schema {manifest['schema_version']}).")


@click.command("demo-team")
@click.option("--documents", "count", default=200, show_default=True)
@with_appcontext
def demo_team_command(count):
    """A simulated team: a sponsor whose approved, consented documents are
    entries of the Jargon File (prose the seed model never saw)."""
    from ..jobs import dispatch
    from ..jobs.backend import ManualBackend
    from .demo import make_team

    # Their first suggestions are cancelled: no worker should start on them.
    dispatch.install(current_app, ManualBackend())
    data_dir = Path(current_app.instance_path) / "demo-team"
    sponsor, editor, passwords, made = make_team(data_dir, count)
    for email, password in passwords.items():
        click.echo(f"{email} password {password}")
    click.echo(
        f"sponsor id {sponsor.id}, editor id {editor.id}: {made} documents made, "
        f"{len(training_documents([sponsor.id]))} approved with consent"
    )


models = AppGroup("models", help="The model registry and fine-tuning.")


@models.command("train")
@click.option("--sponsor", "sponsor_ids", type=int, multiple=True, required=True)
@click.option("--base-model-id", type=int, help="Default: the deployment's model.")
@click.option("--max-minutes", type=int, default=15, show_default=True)
@with_appcontext
def train_command(sponsor_ids, base_model_id, max_minutes):
    """Fine-tune here and now (not on a worker); prints the model's metrics."""
    from ..jobs import dispatch
    from ..jobs.backend import ManualBackend
    from ..jobs.generator import get_generator
    from ..jobs.runner import new_worker_id
    from ..models import LanguageModel
    from .jobs import TrainingRefused, run_training, start_training

    dispatch.install(current_app, ManualBackend())  # this process trains it
    if base_model_id is None:
        current_app.config["TEXTGEN_WARMUP"] = False  # only its weights are read
        sha256 = get_generator().info.weights_sha256  # registers it
        base_model_id = db.session.scalar(
            select(LanguageModel.id).where(LanguageModel.sha256 == sha256)
        )
    admin = db.session.scalar(select(User).where(User.role == Role.admin))
    if admin is None:
        raise click.ClickException("Create an admin first (make create-admin).")
    try:
        model = start_training(base_model_id, sponsor_ids, max_minutes, admin)
    except TrainingRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    status = run_training(model.id, new_worker_id())
    model = db.session.get(LanguageModel, model.id)
    click.echo(f"model {model.id}: {status.value}")
    click.echo(json.dumps(model.metrics, indent=2))
