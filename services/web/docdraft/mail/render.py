"""Mail bodies from templates/mail/<name>.txt (plain) and .html (escaped)."""

from flask import current_app, render_template


def render(template, **context):
    """(text, html) of templates/mail/`template`.txt and .html.

    Links in mail must be absolute: `base_url` (APP_BASE_URL, no trailing
    slash) is in every template's context.
    """
    context.setdefault("base_url", current_app.config["APP_BASE_URL"])
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    return text, html
