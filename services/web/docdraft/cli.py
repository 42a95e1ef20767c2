"""Command-line entry points: `flask create-admin`, `flask seed-demo`, `flask serve`."""

import os
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from .models import Role, UserStatus
from .passwords import PASSWORD_MAX, PASSWORD_MIN, weakness
from .services.users import (
    EmailTaken,
    create_admin,
    find_user_by_email,
    set_user_status,
    signup_user,
)
from .training.cli import dataset as dataset_command
from .training.cli import demo_team_command, models

DEMO_USERS = (
    ("sponsor@demo.local", "Demo Sponsor", Role.sponsor),
    ("editor@demo.local", "Demo Editor", Role.editor),
)


def init_app(app):
    app.cli.add_command(create_admin_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(dataset_command)
    app.cli.add_command(demo_team_command)
    app.cli.add_command(models)


def _check_password(password):
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise click.BadParameter(
            f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters",
            param_hint="password",
        )
    problem = weakness(password)
    if problem:
        raise click.BadParameter(problem, param_hint="password")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", required=True)
@with_appcontext
def create_admin_command(email, name):
    """Create an admin; the password comes from ADMIN_PASSWORD or a prompt."""
    password = os.environ.get("ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    _check_password(password)
    try:
        admin = create_admin(email, name, password)
    except EmailTaken:
        raise click.ClickException(f"an account for {email} already exists") from None
    click.echo(f"Admin {admin.email} created.")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Development only: an approved demo sponsor and editor, printed at each start.

    Passwords are random per installation and kept in instance/ (mode 600),
    so the same credentials are shown again on the next `make run`.
    """
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo is for development only")
    saved = Path(current_app.instance_path) / "demo-credentials.txt"
    lines = saved.read_text().splitlines() if saved.exists() else []
    for email, name, role in DEMO_USERS:
        if find_user_by_email(email):
            continue
        password = secrets.token_urlsafe(9)
        user = signup_user(role, name, email, password, "Demo")
        set_user_status(None, user, UserStatus.approved)
        lines.append(f"demo {role.value}: {email} password {password}")
    saved.write_text("".join(f"{line}\n" for line in lines))
    saved.chmod(0o600)
    click.echo("\n".join(lines))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", 5000)))
@with_appcontext
def serve_command(host, port):
    """Development server (one process) with the in-process worker started."""
    from .jobs import dispatch

    if not os.environ.get("APP_BASE_URL"):  # links in mail: this server
        current_app.config["APP_BASE_URL"] = f"http://{host}:{port}"
    dispatch.start_worker(current_app)  # recover queued jobs, warm the model now
    # Not app.run(): the flask CLI refuses to block inside a command.
    run_simple(host, port, current_app._get_current_object(), threaded=True)
