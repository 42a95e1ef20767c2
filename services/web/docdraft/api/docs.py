"""The OpenAPI document, made from the code (spectree), for anyone to read,
and /api/docs, a page that shows it (Swagger UI, served by the app itself:
docdraft/static/vendor/swagger-ui)."""

from flask import Blueprint, jsonify, render_template, url_for
from spectree import Response

from ..security import CONTENT_SECURITY_POLICY
from . import bp
from .auth import public
from .spec import PUBLIC, spec


@bp.get("/openapi.json")
@public
@spec.validate(resp=Response("HTTP_200"), tags=["meta"], security=PUBLIC)
def openapi():
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return jsonify(spec.spec)


pages = Blueprint("api_docs", __name__)


@pages.get("/api/docs")
def docs():
    """The documentation page: public, like the document it shows."""
    page = render_template("api/docs.html", spec_url=url_for("api.openapi"))
    return page, {"Content-Security-Policy": DOCS_POLICY}


# Swagger UI's stylesheet draws its icons as data: SVG images; scripts and
# styles stay 'self' only.
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")
