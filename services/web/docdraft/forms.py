"""Every form of the app. Length limits mirror the database columns."""

import secrets
import unicodedata

from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from .models import (
    COMMENT_MAX,
    DOCUMENT_BODY_MAX,
    DOCUMENT_NAME_MAX,
    EMAIL_MAX,
    NAME_MAX,
    ORGANIZATION_MAX,
    REASON_MAX,
)
from .passwords import PASSWORD_MAX, PASSWORD_MIN, SAME_AS_CURRENT, weakness
from .services.review import ACTIONS as REVIEW_ACTIONS

# Characters that draw nothing although Unicode files them as letters or symbols.
BLANK_LETTERS = {"\u115f", "\u1160", "\u2800", "\u3164", "\uffa0"}
# Control, format (zero-width joiners, direction marks...), separators,
# combining marks on nothing, private use and unassigned code points.
INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}


def has_visible_text(text):
    """True if `text` would show at least one visible character."""
    return any(
        not ch.isspace()
        and ch not in BLANK_LETTERS
        and unicodedata.category(ch) not in INVISIBLE_CATEGORIES
        for ch in text or ""
    )


def not_blank(form, field):
    """Refuse input with nothing visible: whitespace, zero-width or format marks."""
    if not has_visible_text(field.data):
        raise ValidationError("This field is required.")


def form_status(form):
    """HTTP status for a form page: 400 when a submitted form was refused."""
    return 400 if form.is_submitted() and form.errors else 200


def optional_int(value):
    """Coerce a select's value; the empty placeholder becomes None."""
    return int(value) if value not in ("", None) else None


def base_revision_field(required=True):
    """The hidden revision number the page showed (see services.guard)."""
    rule = InputRequired("The form is missing its revision; reload the page.")
    return IntegerField(
        "Revision", [rule if required else Optional()], widget=HiddenInput()
    )


# C0 controls and DEL; tab, newline and carriage return are allowed in text
# areas only. PostgreSQL cannot store NUL, and none of these belongs in a name.
CONTROL_CHARACTERS = {chr(c) for c in range(32)} | {"\x7f"}
TEXT_AREA_WHITESPACE = {"\t", "\n", "\r"}


class AppForm(FlaskForm):
    """Every form: refuses control characters in any text field."""

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and _has_control_characters(field):
                field.errors = [*field.errors, "Remove the control characters."]
                valid = False
        return valid


def _has_control_characters(field):
    allowed = TEXT_AREA_WHITESPACE if isinstance(field, TextAreaField) else set()
    # One pass in C: under 1 ms for a 100,000-character body, where a loop
    # in Python over its characters took 40.
    return not (CONTROL_CHARACTERS - allowed).isdisjoint(field.data)


class ActionForm(AppForm):
    """A form with nothing but the CSRF token, for POST-only buttons."""


def new_password_field(label="Password"):
    return PasswordField(
        label, [InputRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)]
    )


def confirm_field(of):
    return PasswordField(
        "Confirm password",
        [InputRequired(), EqualTo(of, message="Passwords must match.")],
    )


def strong_enough(form, field):
    known = [getattr(form, name).data for name in ("name", "email") if name in form]
    problem = weakness(field.data, *[word for word in known if word])
    if problem:
        raise ValidationError(problem)


class SignupForm(AppForm):
    name = StringField("Name", [not_blank, Length(max=NAME_MAX)])
    email = StringField("Email", [DataRequired(), Length(max=EMAIL_MAX), Email()])
    password = new_password_field()
    confirm = confirm_field("password")
    organization = StringField(
        "Organization", [not_blank, Length(max=ORGANIZATION_MAX)]
    )
    validate_password = strong_enough


class PasswordChangeForm(AppForm):
    current_password = PasswordField(
        "Current password", [InputRequired(), Length(max=PASSWORD_MAX)]
    )
    new_password = new_password_field("New password")
    confirm = confirm_field("new_password")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_new_password(self, field):
        """What signup refuses (the user's own name or email), and the
        current password as typed (the view checks that it is the real one)."""
        if field.data == self.current_password.data:
            raise ValidationError(SAME_AS_CURRENT)
        problem = weakness(field.data, self.user.name, self.user.email)
        if problem:
            raise ValidationError(problem)


class LoginForm(AppForm):
    email = StringField("Email", [DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", [InputRequired(), Length(max=PASSWORD_MAX)])


LENGTH_CHOICES = [
    SelectChoice("short", "Short (about 40 tokens)"),
    SelectChoice("medium", "Medium (about 100 tokens)"),
    SelectChoice("long", "Long (about 200 tokens)"),
]
MODE_CHOICES = [
    SelectChoice("beam", "Most likely (beam search)"),
    SelectChoice("sample", "Varied (sampled)"),
]


def length_field():
    return SelectField("Suggestion length", choices=LENGTH_CHOICES, default="medium")


def unix_newlines(text):
    """Browsers send a text box's line breaks as CRLF; store and count them as
    one character each, as the page's counter does."""
    return text.replace("\r\n", "\n") if text else text


def at_most(limit):
    return Length(max=limit, message=f"Keep it to {limit:,} characters or fewer.")


class DocumentForm(AppForm):
    document_name = StringField("Name", [not_blank, Length(max=DOCUMENT_NAME_MAX)])
    document_body = TextAreaField(
        "Body", [not_blank, at_most(DOCUMENT_BODY_MAX)], filters=[unix_newlines]
    )
    suggestion_length = length_field()


class EditorChoiceForm(AppForm):
    editor_id = SelectField(
        "Editor",
        coerce=optional_int,
        validate_choice=True,
        validators=[InputRequired(message="Choose an editor.")],
    )

    def set_editor_choices(self, editors, rejected=None):
        """Approved editors after a placeholder, and `rejected`: the current
        editor when no longer approved, so an unchanged save stays valid."""
        choices = [SelectChoice("", "Choose an editor…")]
        if rejected is not None:
            status = rejected.status.value
            label = f"{rejected.name} ({rejected.organization}) - {status}"
            choices.append(SelectChoice(rejected.id, label))
        choices += [SelectChoice(e.id, f"{e.name} ({e.organization})") for e in editors]
        self.editor_id.choices = choices


def new_form_key():
    return secrets.token_urlsafe(24)


class NewDocumentForm(DocumentForm, EditorChoiceForm):
    # One key per form page: the same key posted twice (a double click, a
    # resent request) gives the first document, not a second one.
    form_key = StringField(
        "Form key",
        [
            InputRequired("The form is missing its key; reload the page."),
            Regexp(r"^[A-Za-z0-9_-]{16,64}$", message="The form key is malformed."),
        ],
        default=new_form_key,
        widget=HiddenInput(),
    )


class EditorDocumentForm(DocumentForm):
    base_revision = base_revision_field()


class SponsorDocumentForm(EditorDocumentForm, EditorChoiceForm):
    pass


class RejectForm(AppForm):
    reason = TextAreaField(
        "Reason (shown to the user, optional)", [Length(max=REASON_MAX)]
    )


def suggestion_id_field():
    """The suggestion the page showed: accept and dismiss act on it alone."""
    rule = InputRequired("The form does not say which suggestion; reload the page.")
    return IntegerField("Suggestion", [rule], widget=HiddenInput())


class SuggestionForm(AppForm):
    """Dismiss the suggestion the page showed, of the revision it showed."""

    base_revision = base_revision_field()
    suggestion_id = suggestion_id_field()


class AcceptForm(SuggestionForm):
    """Accept the suggestion the page showed, or its first `words` words."""

    words = IntegerField(
        "Words to accept",
        [Optional(), NumberRange(min=1, max=DOCUMENT_BODY_MAX)],
        widget=HiddenInput(),
    )


class TryAnotherForm(AppForm):
    """Ask for one more suggestion for the revision the page showed."""

    base_revision = base_revision_field()
    mode = SelectField("Kind", choices=MODE_CHOICES, default="beam")
    length = length_field()


class ReviewForm(AppForm):
    action = StringField(
        "Action", [InputRequired("Choose an action."), AnyOf(REVIEW_ACTIONS)]
    )
    comment = TextAreaField("Comment", [Length(max=COMMENT_MAX)])
    base_revision = base_revision_field()

    def validate_comment(self, field):
        if self.action.data == "request_changes" and not has_visible_text(field.data):
            raise ValidationError("Say what should change.")


class CommentForm(AppForm):
    # The posted name stays `body`; the id must not clash with the document
    # page's body section (id="body").
    body = TextAreaField(
        "Comment",
        [not_blank, at_most(COMMENT_MAX)],
        filters=[unix_newlines],
        id="comment-body",
    )
    base_revision = base_revision_field(required=False)
