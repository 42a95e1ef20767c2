"""The OpenAPI document, made by spectree from the views' decorators.

`spec.validate(...)` on a view validates its query and JSON body (taken
from the view's annotated `query` and `json` parameters) and its response,
and puts the operation in the document. `responses(...)` declares the
success answer with the error answers every API request can get.
"""

from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from .errors import ConflictBody, ErrorBody, reject_invalid

VERSION = "1.0.0"
BEARER = "bearer"


class ViewNames(FlaskPlugin):
    """Operation ids are the views' names (list_documents): unique, since
    Flask refuses two views of one name on a blueprint."""

    def get_func_operation_id(self, func, path, method):
        return func.__name__


spec = SpecTree(
    "flask",
    backend=ViewNames,
    title="Docdraft API",
    version=VERSION,
    description=(
        "Documents, suggestions and reviews of Docdraft. Authenticate with a "
        "personal access token (made on /account/tokens): "
        "`Authorization: Bearer ddt_...`. A `read` token may only GET."
    ),
    # Only decorated views, so that no page of the site leaks into it.
    mode="strict",
    security_schemes=[
        SecurityScheme(
            name=BEARER,
            data=SecuritySchemeData(
                type="http", scheme="bearer", bearer_format="ddt_..."
            ),
        )
    ],
    security={BEARER: []},
    # Components named as the classes are (no hash suffix): readable docs.
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    before=reject_invalid,
    validation_error_model=ErrorBody,
    # No doc pages: spectree's load their scripts from CDNs. The document is
    # served by docdraft.api.docs from `spec.spec`.
    page_templates={},
)

# What any request with a token may be answered, whatever the endpoint.
COMMON_ERRORS = (401, 403, 429)
# ... and a request with a body.
BODY_ERRORS = (400, 413)


def responses(*errors, **success):
    """spectree's Response: `success` (HTTP_200=Model) and the error statuses
    this endpoint may answer, besides COMMON_ERRORS (422 is added by
    spectree for any endpoint that validates input)."""
    models = {f"HTTP_{status}": ErrorBody for status in (*COMMON_ERRORS, *errors)}
    if 409 in errors:
        models["HTTP_409"] = ConflictBody
    return Response(**models, **success)


PUBLIC = {}  # `security=PUBLIC`: an operation anyone may call
