"""Document pages and actions shared by sponsors and editors."""

from flask import Blueprint

bp = Blueprint("documents", __name__)

from . import routes  # noqa: E402,F401
