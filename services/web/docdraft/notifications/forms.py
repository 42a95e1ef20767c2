"""The notification preferences form on /account, one box per choice."""

from types import SimpleNamespace

from wtforms import BooleanField

from ..forms import AppForm
from . import preferences
from .kinds import choosable_kinds


def _email_field(kind):
    return f"email_{kind.name}"


def _in_app_field(kind):
    return f"in_app_{kind.name}"


def preferences_form(user, posted=True):
    """The form for `user`'s role: as posted, or (`posted` False) showing
    what they chose before. Kinds that cannot happen to them are left out."""
    kinds = choosable_kinds(user.role)

    class PreferencesForm(AppForm):
        pass

    for kind in kinds:
        setattr(PreferencesForm, _email_field(kind), BooleanField("By email"))
        if kind.in_app_optional:
            setattr(PreferencesForm, _in_app_field(kind), BooleanField("In Docdraft"))
    if posted:
        form = PreferencesForm()
    else:
        chosen = preferences.choices(user, kinds)
        data = {}
        for kind in kinds:
            data[_email_field(kind)] = chosen[kind.name].email
            data[_in_app_field(kind)] = chosen[kind.name].in_app
        form = PreferencesForm(formdata=None, data=data)
    return SimpleNamespace(form=form, rows=[_row(form, kind) for kind in kinds])


def _row(form, kind):
    """One line of the form: the kind and its boxes (in_app None: always on)."""
    return SimpleNamespace(
        kind=kind,
        email=form[_email_field(kind)],
        in_app=form[_in_app_field(kind)] if kind.in_app_optional else None,
    )


def save(user, rows):
    """Store the boxes of a validated form; the caller commits."""
    for row in rows:
        preferences.save_choice(
            user,
            row.kind.name,
            email=row.email.data,
            in_app=row.in_app.data if row.in_app is not None else None,
        )
