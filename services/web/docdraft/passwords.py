"""Password rules: length bounds and a strength estimate (zxcvbn).

zxcvbn knows the common password lists, keyboard walks, dates, repeats and
l33t substitutions ("P@ssw0rd"), which a refusal list cannot. What it does
not know is the user: their name and email are given to it as known words,
and a password built on them is refused with a message that says so.
"""

import re

from zxcvbn import zxcvbn

PASSWORD_MIN = 8
PASSWORD_MAX = 128
MIN_SCORE = 3  # of 0-4: "safely unguessable" for an online attack
_ESTIMATED_PREFIX = 64  # zxcvbn slows down on long input; the rest only adds
_SEPARATORS = re.compile(r"[\s@._+-]+")
_SHORTEST_WORD = 3  # shorter parts ("Li", "a1") would match half of all passwords
TOO_EASY = "This password is too easy to guess."
HAS_NAME = "It must not contain your name or email."
SAME_AS_CURRENT = "The new password must differ from your current one."


def _squeezed(text):
    return _SEPARATORS.sub("", (text or "").lower())


def _known_words(user_inputs):
    """Each input whole, and its parts: email local part, name words."""
    words = set()
    for value in filter(None, user_inputs):
        local = value.lower().split("@")[0]
        words.update([value.lower(), local, _squeezed(local)])
        words.update(_SEPARATORS.split(local))
    return sorted(word for word in words if len(word) >= _SHORTEST_WORD)


def _contains_user(password, user_inputs):
    """The whole name, email or email local part, separators ignored."""
    squeezed = _squeezed(password)
    wholes = {_squeezed(value) for value in filter(None, user_inputs)}
    wholes |= {_squeezed(value.split("@")[0]) for value in filter(None, user_inputs)}
    return any(len(whole) >= _SHORTEST_WORD and whole in squeezed for whole in wholes)


def weakness(password, *user_inputs):
    """Why `password` is too easy to guess, or None when it is strong enough.

    `user_inputs` (the user's name, email...) count as known words.
    """
    password = password or ""
    if _contains_user(password, user_inputs):
        return f"{TOO_EASY} {HAS_NAME}"
    result = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=_known_words(user_inputs))
    if result["score"] >= MIN_SCORE:
        return None
    hint = result["feedback"]["warning"] or "Add another word or two."
    return f"{TOO_EASY} {hint}"
