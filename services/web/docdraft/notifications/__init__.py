"""Notifications: what happened to a user's documents or account, in the app
(the bell, /notifications) and by mail (through docdraft.mail's outbox).

The services call `events` inside the transaction of the change; `notify`
(core.py) applies the rules: never the actor, never a pending or rejected
user except about their own account, and each user's preferences.

This module imports nothing: the services import `events` from a package
whose pages (routes.py) import the app's forms and views in turn.
"""


def init_app(app):
    """Register the pages: the list, preferences, unsubscribe."""
    from .routes import bp

    app.register_blueprint(bp)
