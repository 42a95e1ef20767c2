"""textgen: the machine-text engine (GPT-2, TensorFlow, XLA).  Never imports Flask.

gen = Generator.load()                # resolve, load once, compile
gen.generate(["prompt one", "two"])  # continuations, batched internally
"""

from ._xla_cache import configure_xla_cache

configure_xla_cache()  # must precede the first XLA compile

from .engine import Generator  # noqa: E402
from .loading import ModelInfo, ModelLoadError, resolve_model_reference  # noqa: E402
from .settings import GenerationSettings  # noqa: E402

__all__ = [
    "GenerationSettings",
    "Generator",
    "ModelInfo",
    "ModelLoadError",
    "resolve_model_reference",
]
