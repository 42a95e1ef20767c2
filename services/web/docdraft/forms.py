"""Every form of the app. Length limits mirror the database columns."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    ValidationError,
)

from .models import (
    DOCUMENT_BODY_MAX,
    DOCUMENT_NAME_MAX,
    EMAIL_MAX,
    NAME_MAX,
    ORGANIZATION_MAX,
)
from .passwords import PASSWORD_MAX, PASSWORD_MIN, is_common_password


def not_blank(form, field):
    """Reject input that is only whitespace (DataRequired lets some through)."""
    if not (field.data or "").strip():
        raise ValidationError("This field is required.")


class ActionForm(FlaskForm):
    """A form with nothing but the CSRF token, for POST-only buttons."""


class SignupForm(FlaskForm):
    name = StringField("Name", [not_blank, Length(max=NAME_MAX)])
    email = StringField("Email", [DataRequired(), Length(max=EMAIL_MAX), Email()])
    password = PasswordField(
        "Password", [InputRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)]
    )
    confirm = PasswordField(
        "Confirm password",
        [InputRequired(), EqualTo("password", message="Passwords must match.")],
    )
    organization = StringField(
        "Organization", [not_blank, Length(max=ORGANIZATION_MAX)]
    )

    def validate_password(self, field):
        if is_common_password(field.data):
            raise ValidationError("This password is too common; choose another.")


class LoginForm(FlaskForm):
    email = StringField("Email", [DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", [InputRequired(), Length(max=PASSWORD_MAX)])


class EditorDocumentForm(FlaskForm):
    document_name = StringField("Name", [not_blank, Length(max=DOCUMENT_NAME_MAX)])
    document_body = TextAreaField("Prompt", [not_blank, Length(max=DOCUMENT_BODY_MAX)])


class SponsorDocumentForm(EditorDocumentForm):
    editor_id = SelectField(
        "Editor",
        coerce=int,
        validate_choice=True,
        validators=[InputRequired(message="Choose an editor.")],
    )

    def set_editor_choices(self, editors):
        self.editor_id.choices = [
            (editor.id, f"{editor.name} ({editor.organization})") for editor in editors
        ]
