"""`flask --app docdraft dataset export --sponsor ID ... --out DIR`."""

import click
from flask.cli import AppGroup

from .dataset import UnknownSponsor, write_dataset

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
