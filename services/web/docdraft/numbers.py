"""Whole numbers read from requests: one parser and one set of bounds.

Every number a client sends (a form field, a query-string argument) passes
through `whole_number`, so none reaches the database beyond what its column
holds: PostgreSQL answers "integer out of range" (a 500) for 2**40 in an
INTEGER column, and SQLite's driver cannot even bind 10**20.
"""

import re

from flask import abort, request

# PostgreSQL's INTEGER, the type of every id, revision number and count here.
DB_INT_MAX = 2**31 - 1
# ASCII digits only: int() would also take " 2", "+2", "1_000" and "٣".
_WHOLE = re.compile(r"-?[0-9]+")


class NotAWholeNumber(ValueError):
    """Text that is no whole number within the bounds; the message says why."""


def bounds_message(label, minimum, maximum=None):
    """What a number must be, in words: "The page must be a whole number,
    1 or more." or "... from 1 to 2,147,483,647."."""
    if maximum is None:
        return f"{label} must be a whole number, {minimum:,} or more."
    return f"{label} must be a whole number from {minimum:,} to {maximum:,}."


def whole_number(text, minimum, maximum, label="The number", clamp=False):
    """`text` as an int in [minimum, maximum], else NotAWholeNumber.

    With `clamp`, a number above `maximum` gives `maximum` (a page past the
    last is the last page) and the message names no upper bound. Leading zeros
    are fine ("0002" is 2); a thousand digits are not converted, only counted.
    """
    message = bounds_message(label, minimum, None if clamp else maximum)
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise NotAWholeNumber(message)
    negative, digits = text.startswith("-"), text.lstrip("-").lstrip("0") or "0"
    if len(digits) > len(str(maximum)):  # beyond every bound: no int() of it
        value = -(10 ** len(str(maximum))) if negative else maximum + 1
    else:
        value = -int(digits) if negative else int(digits)
    if value > maximum and clamp:
        return maximum
    if not minimum <= value <= maximum:
        raise NotAWholeNumber(message)
    return value


def query_int(
    name, default, minimum=1, maximum=DB_INT_MAX, clamp=False, label=None, args=None
):
    """Query-string argument `name` (of `args`, default the request's) as a
    bounded whole number (see `whole_number`); `default` when absent or
    empty, a 400 with the reason when it is no number or out of bounds."""
    text = (request.args if args is None else args).get(name)
    if not text:
        return default
    try:
        return whole_number(text, minimum, maximum, label or f"The {name}", clamp)
    except NotAWholeNumber as error:
        abort(400, description=str(error))
