"""The suggestion vocabulary, defined once: lengths (in new tokens) and modes.

The forms, the services and the engine all read these.  This module imports
nothing, so the web processes use it without loading the engine.
"""

LENGTHS = {"short": 40, "medium": 100, "long": 200}
DEFAULT_LENGTH = "medium"
MODES = ("beam", "sample")
DEFAULT_MODE = "beam"
