"""Every API error is one JSON shape, declared in the OpenAPI document:

    {"error": {"code": "not_found", "message": "...", "fields": {}}}

Views raise `api_error(...)`; the blueprint turns ApiError into that body.
Errors raised outside a view (no route, 405, 413, 429, 500) reach
docdraft.errors, which answers with `error_response` for paths under /api/.
"""

from flask import jsonify
from pydantic import BaseModel, Field

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}
MESSAGES = {
    400: "The request could not be understood.",
    401: "Send a valid token: Authorization: Bearer ddt_...",
    403: "This token's user may not do this.",
    404: "There is nothing here.",
    405: "This method is not allowed here.",
    409: "The request conflicts with the current state of the resource.",
    413: "The request body is larger than this server takes.",
    422: "Some fields are not valid; see `fields`.",
    429: "Too many requests for this token. Wait a while, then try again.",
    500: "Something went wrong on our side.",
    503: "The service is briefly unavailable. Please try again in a moment.",
}
WWW_AUTHENTICATE = 'Bearer realm="docdraft"'


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable word for programs: not_found, ...")
    message: str = Field(description="What went wrong, for people.")
    fields: dict[str, list[str]] = Field(
        default_factory=dict, description="Messages per invalid field (422)."
    )


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class ConflictDetail(ErrorDetail):
    current_revision: int | None = Field(
        None, description="The document's revision now: base a retry on it."
    )


class ConflictBody(BaseModel):
    """A 409: the document moved on (or is locked); nothing was saved."""

    error: ConflictDetail


class ApiError(Exception):
    """An error answer; raise it with `api_error`."""

    def __init__(self, status, code=None, message=None, fields=None, **extra):
        super().__init__(message or MESSAGES.get(status, ""))
        self.status = status
        self.body = _body(status, code, message, fields, extra)


def api_error(status, code=None, message=None, fields=None, **extra):
    """Stop the view with an error answer (code and message default by status)."""
    raise ApiError(status, code, message, fields, **extra)


def _body(status, code, message, fields, extra):
    return {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": message or MESSAGES.get(status, "Error."),
            "fields": fields or {},
            **extra,
        }
    }


def error_response(status, message=None, code=None, fields=None, **extra):
    """A JSON error response (for handlers that must return, not raise)."""
    response = jsonify(_body(status, code, message, fields, extra))
    response.status_code = status
    return response


def http_error(status, detail=None):
    """The answer to an HTTP error raised outside a view (docdraft.errors):
    `detail` is the description given to abort(), or the limit hit (429)."""
    message = detail
    if status == 429:
        message = f"{MESSAGES[429]} (Limit: {detail}.)" if detail else None
    response = error_response(status, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def handle_api_error(error):
    response = jsonify(error.body)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def field_messages(validation_error):
    """pydantic's errors as {"field.path": [messages]} ("body": the whole body)."""
    fields = {}
    for problem in validation_error.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "body"
        error = problem.get("ctx", {}).get("error")
        # A ValueError of ours says it all, without pydantic's "Value error, ".
        message = str(error) if isinstance(error, ValueError) else problem["msg"]
        fields.setdefault(name, []).append(message)
    return fields


FORM_MIMETYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def reject_invalid(request, response, validation_error, instance, model_adapter):
    """spectree's hook before a view: an invalid request is a 422 in our
    shape. A form body is refused: spectree would not read it as JSON, and
    the view would get no body at all."""
    if request.mimetype in FORM_MIMETYPES and request.content_length:
        api_error(400, message="Send a JSON body (Content-Type: application/json).")
    if validation_error is not None:
        api_error(422, fields=field_messages(validation_error))
