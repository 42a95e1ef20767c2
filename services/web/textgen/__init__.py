"""textgen: the machine-text engine (GPT-2, TensorFlow, XLA).  Never imports Flask.

gen = load_generator()               # TEXTGEN_BACKEND: tf (default) or ctranslate2
gen.generate(["prompt one", "two"])  # continuations, batched internally
gen.generate([Request("prompt", new_tokens=40, mode="sample", seed=7)])
"""

import os

from ._xla_cache import configure_xla_cache

# Before TensorFlow is imported: with oneDNN's CPU allocator every compiled
# program kept ~0.4 GB more resident (124M: 3.4 GB after warm-up vs 2.1 GB),
# and XLA-compiled generation does not use oneDNN kernels anyway.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# TensorFlow's C++ info and warning lines (ignored asserts, CUDA probes on a
# CPU machine) would bury the worker's own log; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
configure_xla_cache()  # must precede the first XLA compile

from .backends import load_generator  # noqa: E402
from .loading import ModelInfo, ModelLoadError, resolve_model_reference  # noqa: E402
from .settings import GenerationSettings  # noqa: E402


def __getattr__(name):
    # The TF engine is imported on first use, not with the package: a worker
    # on TEXTGEN_BACKEND=ctranslate2 (or a GPU machine without TensorFlow)
    # never loads TensorFlow.
    if name == "Generator":
        from .engine import Generator

        return Generator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GenerationSettings",
    "Generator",
    "load_generator",
    "ModelInfo",
    "ModelLoadError",
    "resolve_model_reference",
]
