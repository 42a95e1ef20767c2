"""Every form of the app. Length limits mirror the database columns."""

import secrets
import unicodedata

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
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
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from textgen.lengths import DEFAULT_LENGTH, DEFAULT_MODE, LENGTHS, MODES

from .models import (
    COMMENT_MAX,
    DOCUMENT_BODY_MAX,
    DOCUMENT_NAME_MAX,
    EMAIL_MAX,
    NAME_MAX,
    ORGANIZATION_MAX,
    REASON_MAX,
)
from .numbers import DB_INT_MAX, NotAWholeNumber, whole_number
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


class WholeNumberField(IntegerField):
    """A whole number within [minimum, maximum] (docdraft.numbers, which
    bounds every number a request carries): anything else is a form error
    that names the bounds, never a value the database cannot hold."""

    def __init__(
        self, label=None, validators=None, minimum=1, maximum=DB_INT_MAX, **kw
    ):
        super().__init__(label, validators, **kw)
        self.minimum, self.maximum = minimum, maximum

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = whole_number(valuelist[0], self.minimum, self.maximum, "It")
        except NotAWholeNumber:
            self.data = None
            raise


def optional_int(value):
    """Coerce a select's value, bounded like every number; the empty
    placeholder becomes None."""
    if value in ("", None):
        return None
    if isinstance(value, int):  # a choice's own value
        return value
    return whole_number(value, 1, DB_INT_MAX, "The choice")


# A change on revision N writes N + 1 (services.guard): that must fit too.
REVISION_MAX = DB_INT_MAX - 1


def base_revision_field(required=True):
    """The hidden revision number the page showed (see services.guard)."""
    rule = InputRequired("The form is missing its revision; reload the page.")
    return WholeNumberField(
        "Revision",
        [rule if required else Optional()],
        maximum=REVISION_MAX,
        widget=HiddenInput(),
    )


# C0 controls and DEL; tab, newline and carriage return are allowed in text
# areas only. PostgreSQL cannot store NUL, and none of these belongs in a name.
CONTROL_CHARACTERS = {chr(c) for c in range(32)} | {"\x7f"}
TEXT_AREA_WHITESPACE = {"\t", "\n", "\r"}
# Bidi controls that reorder what follows them: embeddings and overrides
# (U+202A-U+202E) and isolates (U+2066-U+2069). A right-to-left override
# shows "exe.txt" for "txt.exe" (Trojan Source, CVE-2021-42574). Refused in
# every text field, bodies and comments included.
BIDI_REORDERING = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
# The implicit marks (LRM, RLM, ALM) only set the direction of the neutral
# characters beside them: right-to-left writers type them in text, so bodies
# and comments keep them; a single-line field (a name) takes none at all.
BIDI_MARKS = {"\u200e", "\u200f", "\u061c"}
TEXT_AREA_REFUSED = (CONTROL_CHARACTERS - TEXT_AREA_WHITESPACE, BIDI_REORDERING)
LINE_REFUSED = (CONTROL_CHARACTERS, BIDI_REORDERING | BIDI_MARKS)
CONTROL_MESSAGE = "Remove the control characters."
TEXT_AREA_BIDI_MESSAGE = (
    "Remove the text-direction overrides, embeddings and isolates (U+202A to "
    "U+202E, U+2066 to U+2069): they show text in another order than it was "
    "written. Direction marks (U+200E, U+200F) are fine."
)
LINE_BIDI_MESSAGE = (
    "Remove the text-direction control characters (such as U+202E, right-to-left "
    "override): in a name they can disguise what it says."
)


class AppForm(FlaskForm):
    """Every form: refuses control characters in any text field, and bidi
    controls that reorder text (see BIDI_REORDERING, BIDI_MARKS)."""

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        for field in self:
            problem = isinstance(field.data, str) and _character_problem(field)
            if problem:
                field.errors = [*field.errors, problem]
                valid = False
        return valid


def _character_problem(field):
    """Why `field`'s text is refused, or None. Passwords are taken as typed
    (never shown, so no direction control disguises anything)."""
    area = isinstance(field, TextAreaField)
    controls, bidi = TEXT_AREA_REFUSED if area else LINE_REFUSED
    # One pass in C per set: under 1 ms for a 100,000-character body, where a
    # loop in Python over its characters took 40.
    if not controls.isdisjoint(field.data):
        return CONTROL_MESSAGE
    if isinstance(field, PasswordField) or bidi.isdisjoint(field.data):
        return None
    return TEXT_AREA_BIDI_MESSAGE if area else LINE_BIDI_MESSAGE


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
    SelectChoice(name, f"{name.capitalize()} (about {tokens} tokens)")
    for name, tokens in LENGTHS.items()
]
MODE_LABELS = {"beam": "Most likely (beam search)", "sample": "Varied (sampled)"}
MODE_CHOICES = [SelectChoice(mode, MODE_LABELS[mode]) for mode in MODES]


def length_field():
    return SelectField(
        "Suggestion length", choices=LENGTH_CHOICES, default=DEFAULT_LENGTH
    )


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
        invalid_value_message="Choose an editor from the list.",
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


class EditorDocumentForm(DocumentForm):
    base_revision = base_revision_field()


TRAIN_CONSENT_LABEL = "Use this document to train our team's model"


class TrainConsentForm(AppForm):
    """The sponsor's training consent for one document. An unchecked box
    is not posted at all, so its absence means "no", as in every browser."""

    train_consent = BooleanField(TRAIN_CONSENT_LABEL)


class NewDocumentForm(DocumentForm, EditorChoiceForm, TrainConsentForm):
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


class SponsorDocumentForm(EditorDocumentForm, EditorChoiceForm, TrainConsentForm):
    """Only the sponsor's form carries consent: an editor's edit cannot
    change it."""

    # The box as the form showed it ("1" or "0"): a save changes consent only
    # when the box was changed here, so an edit form left open in another tab
    # does not undo a change made since.
    train_consent_shown = StringField(widget=HiddenInput())

    def consent_change(self):
        """The consent this save asks for, or None to keep the current one."""
        shown = self.train_consent_shown.data
        if shown in ("0", "1") and (shown == "1") == self.train_consent.data:
            return None
        return self.train_consent.data


class TrainConsentDefaultForm(AppForm):
    """A sponsor's default for the consent box of their new documents."""

    train_consent_default = BooleanField(
        'Tick "Use this document to train our team\'s model" on my new documents'
    )


class RejectForm(AppForm):
    reason = TextAreaField(
        "Reason (shown to the user, optional)", [Length(max=REASON_MAX)]
    )


def suggestion_id_field():
    """The suggestion the page showed: accept and dismiss act on it alone."""
    rule = InputRequired("The form does not say which suggestion; reload the page.")
    return WholeNumberField("Suggestion", [rule], widget=HiddenInput())


class SuggestionForm(AppForm):
    """Dismiss the suggestion the page showed, of the revision it showed."""

    base_revision = base_revision_field()
    suggestion_id = suggestion_id_field()


class AcceptForm(SuggestionForm):
    """Accept the suggestion the page showed, or its first `words` words."""

    words = WholeNumberField(
        "Words to accept", [Optional()], maximum=DOCUMENT_BODY_MAX, widget=HiddenInput()
    )


class TryAnotherForm(AppForm):
    """Ask for one more suggestion for the revision the page showed."""

    base_revision = base_revision_field()
    mode = SelectField("Kind", choices=MODE_CHOICES, default=DEFAULT_MODE)
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
