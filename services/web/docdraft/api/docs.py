"""The OpenAPI document, made from the code (spectree), for anyone to read."""

from flask import jsonify
from spectree import Response

from . import bp
from .auth import public
from .spec import PUBLIC, spec


@bp.get("/openapi.json")
@public
@spec.validate(resp=Response("HTTP_200"), tags=["meta"], security=PUBLIC)
def openapi():
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return jsonify(spec.spec)
