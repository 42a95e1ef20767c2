"""docdraft: sponsors write prompts, GPT-2 drafts, editors review."""

import os

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import load_config
from .extensions import csrf, db, limiter, login_manager, migrate


class DatabaseId(IntegerConverter):
    """`<int:...>` limited to what an INTEGER column holds."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config=None):
    """Application factory: config, extensions, blueprints, errors, commands."""
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path, test_config))
    # Ids beyond the database's integer range are no route (404), not an
    # out-of-range error from PostgreSQL.
    app.url_map.converters["int"] = DatabaseId
    configure_logging(app)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_logging(app):
    from . import logs

    logs.configure()


def trust_proxies(app):
    """Read the client address from exactly TRUSTED_PROXY_HOPS proxies, on
    requests that come from one of TRUSTED_PROXIES only (docdraft.proxies)."""
    from .proxies import FromTrustedProxy, parse_addresses

    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        proxies = parse_addresses(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = FromTrustedProxy(app.wsgi_app, hops, proxies)


def register_extensions(app):
    from . import metrics, security, sessions
    from .jobs import dispatch

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(app.root_path, "..", "migrations"),
        render_as_batch=True,  # SQLite can only alter tables by copying them
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # No binding to the client address (a forwarded header anyone can set):
    # sessions end on the server instead (docdraft.sessions).
    login_manager.session_protection = None
    login_manager.user_loader(sessions.load_user)
    security.init_app(app)
    metrics.init_app(app)
    dispatch.init_app(app)


def register_blueprints(app):
    from . import admin, api, auth, documents, editor, main, notifications, sponsor

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(sponsor.bp, url_prefix="/sponsor")
    app.register_blueprint(editor.bp, url_prefix="/editor")
    notifications.init_app(app)
    api.init_app(app)


def register_errorhandlers(app):
    from . import errors

    errors.init_app(app)


def register_commands(app):
    from . import cli

    cli.init_app(app)
