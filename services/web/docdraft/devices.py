"""A short readable name for the device behind a User-Agent ("Chrome on Android").

Only good enough for a person to recognise their own sessions on the account
page; nothing is decided by it. Pure functions: no Flask, no database.
"""

# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari" too,
# Android says "Linux" too, and iPhones say "like Mac OS X".
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("Opera", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)
DEVICE_MAX = 60


def _first(user_agent, table):
    return next((name for marker, name in table if marker in user_agent), None)


def device_name(user_agent):
    """'Browser on System', either part alone when the other is unknown."""
    user_agent = user_agent or ""
    browser = _first(user_agent, _BROWSERS)
    system = _first(user_agent, _SYSTEMS)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
