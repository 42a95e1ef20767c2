"""Password rules: length bounds and a refusal list of the most common ones."""

from functools import cache
from importlib.resources import files

PASSWORD_MIN = 8
PASSWORD_MAX = 128


@cache
def _common_passwords():
    text = files("docdraft").joinpath("data/common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line)


def is_common_password(password):
    """True when `password` is on the list of the most common passwords."""
    return (password or "").lower() in _common_passwords()
