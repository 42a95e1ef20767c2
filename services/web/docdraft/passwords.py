"""Password rules: length bounds and a strength estimate (zxcvbn).

zxcvbn knows the common password lists, keyboard walks, dates, repeats and
l33t substitutions ("P@ssw0rd"), which a refusal list cannot.
"""

from zxcvbn import zxcvbn

PASSWORD_MIN = 8
PASSWORD_MAX = 128
MIN_SCORE = 3  # of 0-4: "safely unguessable" for an online attack
_ESTIMATED_PREFIX = 64  # zxcvbn slows down on long input; the rest only adds


def weakness(password, *user_inputs):
    """Why `password` is too easy to guess, or None when it is strong enough.

    `user_inputs` (name, email...) count as known words.
    """
    result = zxcvbn((password or "")[:_ESTIMATED_PREFIX], user_inputs=list(user_inputs))
    if result["score"] >= MIN_SCORE:
        return None
    hint = result["feedback"]["warning"] or "Add another word or two."
    return f"This password is too easy to guess. {hint}"
