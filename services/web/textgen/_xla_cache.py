"""XLA's persistent compilation cache, so a restarted worker skips recompiling.

TF reads TF_XLA_FLAGS when XLA is first used, so this must run before the first
compile (textgen/__init__ calls it on import).  Opt-in: TEXTGEN_XLA_CACHE names
the directory.  It is off by default because, measured on 2 cores, a warm start
was no faster (tracing, not compiling, dominates: 41 s warm vs 37 s cold at
124M), and loading entries makes XLA log CPU-feature mismatch errors; a cache
copied to a machine with another CPU could even run code it cannot execute.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("textgen")
_FLAG = "--tf_xla_persistent_cache_directory"


def cache_directory() -> Path | None:
    value = os.environ.get("TEXTGEN_XLA_CACHE", "")
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
