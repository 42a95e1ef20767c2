"""Redirect targets taken from user input must stay on this site."""

from urllib.parse import urlsplit


def is_safe_next(target):
    """True for a plain path on this site, such as '/sponsor/documents'.

    Refuses absolute and scheme-relative URLs ('//evil.com', '/\\evil.com'),
    backslashes, which some browsers read as slashes, and control or
    whitespace characters, which browsers strip before resolving.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) <= 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
