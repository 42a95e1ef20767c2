"""The process's TensorFlow runtime settings, set once by each entry point.

TensorFlow reads these environment variables when it is first imported (or,
for XLA's flags, at its first compile), so `setup()` must run before that:
the Celery worker, the in-process worker, the pipeline, the bench scripts
and the test suite call it first.  Importing `textgen` changes nothing.
A variable the operator set already is kept: setup only fills defaults.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("textgen")
_XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"
_OFF_WORDS = ("", "0", "off", "false", "no")
# What the first setup() applied (onednn, xla cache); None: not run yet.
_applied: tuple[bool, Path | None] | None = None


def setup(*, onednn: bool = False) -> dict[str, str]:
    """Set TensorFlow's environment for this process; idempotent.

    onednn=False (generation): with oneDNN's CPU allocator every compiled
    program kept ~0.4 GB more resident (124M: 3.4 GB after warm-up vs
    2.1 GB), and XLA-compiled generation does not use oneDNN kernels anyway.
    onednn=True (the pipeline's training): TensorFlow's default, which the
    seed model was trained with.  TensorFlow's C++ info and warning lines
    (ignored asserts, CUDA probes on a CPU machine) are silenced; errors
    still show.  TEXTGEN_XLA_CACHE, when set, names XLA's persistent
    compile cache (see `xla_cache_directory`).

    Returns the variables as they stand after the call.  A later call that
    asks for other settings, or a call after TensorFlow was imported, logs
    a warning: those settings cannot take effect in this process.
    """
    global _applied
    wanted = (onednn, xla_cache_directory())
    if _applied is not None:
        if wanted != _applied:
            log.warning(
                "textgen runtime already set up with onednn=%s, XLA cache %s; "
                "onednn=%s, XLA cache %s ignored",
                *_applied,
                *wanted,
            )
        return _current()
    if "tensorflow" in sys.modules:
        log.warning(
            "TensorFlow was imported before textgen.runtime.setup(): its oneDNN "
            "and logging settings cannot take effect in this process"
        )
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1" if onednn else "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _configure_xla_cache(wanted[1])
    _applied = wanted
    return _current()


def _current() -> dict[str, str]:
    names = ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "TF_XLA_FLAGS")
    return {name: os.environ[name] for name in names if name in os.environ}


def xla_cache_directory() -> Path | None:
    """TEXTGEN_XLA_CACHE's directory, or None (unset, or 0/off/false/no).

    Opt-in because, measured on 2 cores, a warm start was no faster
    (tracing, not compiling, dominates: 41 s warm vs 37 s cold at 124M), and
    loading entries makes XLA log CPU-feature mismatch errors; a cache copied
    to a machine with another CPU could even run code it cannot execute.
    """
    value = os.environ.get("TEXTGEN_XLA_CACHE", "")
    if value.strip().lower() in _OFF_WORDS:
        return None
    return Path(value)


def _configure_xla_cache(directory: Path | None) -> Path | None:
    """Add the cache flag to TF_XLA_FLAGS (unless one is there already)."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if directory is None or _XLA_CACHE_FLAG in flags:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("XLA compile cache disabled: cannot create %s (%s)", directory, exc)
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} {_XLA_CACHE_FLAG}={directory}".strip()
    return directory
