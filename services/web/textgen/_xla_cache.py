"""XLA's persistent compilation cache, so a restarted worker skips recompiling.

TF reads TF_XLA_FLAGS when XLA is first used, so this must run before the first
compile (textgen/__init__ calls it on import).  TEXTGEN_XLA_CACHE picks the
directory; "off" disables it; the default is ~/.cache/textgen/xla.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("textgen")
_FLAG = "--tf_xla_persistent_cache_directory"


def cache_directory() -> Path | None:
    value = os.environ.get("TEXTGEN_XLA_CACHE")
    if value is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "textgen" / "xla"
    if value.strip().lower() in ("", "0", "off", "false", "no"):
        return None
    return Path(value)


def configure_xla_cache() -> Path | None:
    """Add the cache flag to TF_XLA_FLAGS (unless one is there already)."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    directory = cache_directory()
    if directory is None or _FLAG in flags:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("XLA compile cache disabled: cannot create %s (%s)", directory, exc)
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} {_FLAG}={directory}".strip()
    return directory
