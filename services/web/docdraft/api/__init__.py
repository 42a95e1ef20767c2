"""The JSON API at /api/v1, for scripts holding a personal access token.

Writing an endpoint (see documents.py):

    @bp.get("/things/<int:thing_id>")
    @spec.validate(resp=responses(404, HTTP_200=ThingOut), tags=["things"])
    def get_thing(thing_id, query: ThingQuery):   # `json: ThingIn` for a body
        thing = get_thing_for(current_user, thing_id)   # the pages' own checks
        return ThingOut.from_row(thing)

- Auth: every view of `bp` needs `Authorization: Bearer ddt_...` (auth.py):
  no token, or an unknown, expired or revoked one, is 401; a pending or
  rejected user's token is 403. `current_user` is the token's user, so call
  the same services and access checks (docdraft.access) as the pages.
  `@public` (under the route decorator) marks a view that needs no token.
- Scope: a `read` token may only GET; anything else is refused before the
  view runs. Nothing to do in the view.
- Errors: `api_error(status, code=None, message=None, fields=None)` stops
  the view with `{"error": {"code", "message", "fields"}}` (errors.py).
  List each status the view can answer in `responses(...)`; 401, 403, 429
  are there already, and spectree adds 422 for an invalid query or body.
- `spec.validate` checks the annotated `query` and `json` models (pydantic,
  schemas.py) and the response, and puts the operation in the OpenAPI
  document at /api/v1/openapi.json; an undecorated view is left out of it
  (and test_api_openapi fails).
- No CSRF token and no cookie: the blueprint is exempt from CSRF, because a
  cookie never authenticates here.
- Rate limit: RATELIMIT_API per token, on the whole blueprint.
"""

from flask import Blueprint, current_app

from ..extensions import csrf, limiter
from .auth import authenticate, rate_limit_key
from .errors import ApiError, handle_api_error

bp = Blueprint("api", __name__)
csrf.exempt(bp)
bp.before_request(authenticate)
bp.register_error_handler(ApiError, handle_api_error)
limiter.limit(lambda: current_app.config["RATELIMIT_API"], key_func=rate_limit_key)(bp)

from . import docs, documents, review, suggestions, users  # noqa: E402,F401  (routes register themselves on bp)


def init_app(app):
    """Register the API (at /api/v1), its documentation and the token pages."""
    from . import token_pages

    app.register_blueprint(bp, url_prefix="/api/v1")
    app.register_blueprint(token_pages.bp)
    app.register_blueprint(docs.pages)
