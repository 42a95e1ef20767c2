"""Paths and absolute URLs for notifications, built outside any request.

A notification is made in a request, or in a worker that has none, so
paths come from the app's URL map (never a hand-written "/documents/..."),
and mail links start with APP_BASE_URL, never with a request's host.
"""

from flask import current_app


def app_path(endpoint, anchor=None, **values):
    """The path of `endpoint` inside the app, e.g. "/documents/7#timeline"."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return f"{path}#{anchor}" if anchor else path


def absolute(path):
    """`path` as a link a mail reader can follow."""
    return f"{current_app.config['APP_BASE_URL']}{path}"
