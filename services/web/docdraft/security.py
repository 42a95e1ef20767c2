"""Response headers that limit the damage of any missed escape or framing."""

from flask import request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def init_app(app):
    production = app.config["APP_ENV"] == "production"

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if production:
            headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        # Every page is per-user or per-request: none may be cached. (Not
        # asked of current_user: on a 503 the database cannot say who it is.)
        if not request.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response
